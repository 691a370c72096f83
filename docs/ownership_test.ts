/**
 * The ownership rules of docs/architecture.md ("Who owns what"), checked on the source:
 *
 * - lib keeps no module-level mutable state: every piece of process state (the client, the
 *   breakers and deadlines, the observers, the live caches, the TTL-refresh record) belongs
 *   to a `RedisStore` instance, so two stores in one process share nothing;
 * - only entry files read `Deno.env`: everything else takes its configuration as parameters
 *   (the house style, ../shared/STYLE.md).
 *
 * Test code (`*_test.ts`, `testing/`, `testdata/`, test helpers) is out of scope; so are
 * `bench/`, `chaos/`, `docker/` and `docs/`, whose files are each a program of their own.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Files that are programs: they read the environment and pass it down. */
const ENTRY_FILES = new Set([
  "server/main.ts", // the server
  "server/serve.ts", // the server under `deno serve --parallel`
  "server/load.ts", // `deno task load`
  "server/user_add.ts", // `deno run server/user_add.ts`
  "server/user_admin.ts", // `deno run server/user_admin.ts`
  "cli/main.ts", // `wb`
]);

/** Test support outside `*_test.ts` files. */
const TEST_SUPPORT = [
  /_test\.ts$/,
  /(^|\/)testing\//,
  /(^|\/)testdata\//,
  /_test_helpers\.ts$/,
  /^server\/security\/_(fuzz|fixture)\.ts$/,
];

/** Every file under `dir` whose name matches `name`, as absolute paths. */
async function* walk(dir: URL, name: RegExp): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url, name);
    else if (entry.isFile && name.test(entry.name)) yield url.pathname;
  }
}

async function sourceFiles(dirs: string[]): Promise<{ path: string; text: string }[]> {
  const files: { path: string; text: string }[] = [];
  for (const dir of dirs) {
    for await (const path of walk(new URL(dir, ROOT), /\.tsx?$/)) {
      const relative = path.slice(new URL(ROOT).pathname.length);
      if (TEST_SUPPORT.some((pattern) => pattern.test(relative))) continue;
      // lib/deps_test.ts writes a short-lived `_deps_probe_*.ts` into lib/: not source.
      if (/(^|\/)_deps_probe_[^/]*\.ts$/.test(relative)) continue;
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // removed since the listing
        throw error;
      }
      files.push({ path: relative, text });
    }
  }
  return files;
}

/**
 * Top-level declarations holding mutable state: `let`/`var`, and `const` bound to a new
 * object, array or instance that is not frozen. A stateless helper instance (a text
 * encoder) is allowed.
 */
export function moduleLevelState(text: string): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    const statement = line.replace(/^export /, "");
    if (/^(let|var)\s/.test(statement)) {
      found.push(`${index + 1}: ${line}`);
      continue;
    }
    const binding = statement.match(/^const\s+\w+(?:\s*:[^=]+)?\s*=\s*(.*)$/);
    if (!binding) continue;
    const value = binding[1];
    if (/^new (TextEncoder|TextDecoder)\(\)/.test(value)) continue;
    if (/^(new\s|\[|\{)/.test(value)) found.push(`${index + 1}: ${line}`);
  }
  return found;
}

/** `text` without its comments (a docstring's example may show `Deno.env`). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

Deno.test("moduleLevelState() finds let, var, and unfrozen objects, arrays and instances", () => {
  const source = [
    "let connection;",
    "export let timeoutMs = 1000;",
    "const live = new Set();",
    "const observers: Observer[] = [];",
    "const READ = { op: 'get' };",
    "const FROZEN = Object.freeze({ op: 'get' });",
    "const encoder = new TextEncoder();",
    "const TICK_MS = 10;",
    "  let inside = 1;",
  ].join("\n");
  assert.deepEqual(moduleLevelState(source).map((found) => Number(found.split(":")[0])), [
    1,
    2,
    3,
    4,
    5,
  ]);
});

Deno.test("lib keeps no module-level mutable state (it all belongs to a RedisStore)", async () => {
  const files = await sourceFiles(["lib/"]);
  assert.ok(files.some((file) => file.path === "lib/redis_store.ts"));
  const offenders = files.flatMap((file) =>
    moduleLevelState(file.text).map((found) => `${file.path}:${found}`)
  );
  assert.deepEqual(offenders, []);
});

Deno.test("only entry files read Deno.env", async () => {
  const files = await sourceFiles(["lib/", "server/", "cli/", "client/src/"]);
  assert.ok(files.length > 100, `only ${files.length} files found`);
  const readers = files.filter((file) => /\bDeno\.env\b/.test(withoutComments(file.text)))
    .map((file) => file.path);
  assert.deepEqual(readers.filter((path) => !ENTRY_FILES.has(path)), []);
  // The list stays true: every entry file named still reads the environment.
  for (const entry of ENTRY_FILES) assert.ok(readers.includes(entry), `${entry} reads no Deno.env`);
});

Deno.test("no source file outside the tests is over 500 lines (split by concept instead)", async () => {
  const files = await sourceFiles([
    "lib/",
    "server/",
    "cli/",
    "client/",
    "bench/",
    "chaos/",
    "docker/",
  ]);
  assert.ok(files.length > 150, `only ${files.length} files found`);
  const long = files.map((file) => ({ path: file.path, lines: file.text.split("\n").length - 1 }))
    .filter((file) => file.lines > 500)
    .map((file) => `${file.path}: ${file.lines} lines`);
  assert.deepEqual(long, []);
});
