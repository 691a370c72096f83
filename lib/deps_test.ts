/**
 * lib is a workspace member (issue 17): its dependencies are the `imports` of `lib/deno.json`
 * (npm redis and lru-cache), enforced by Deno's resolver rather than by convention. A package
 * only lib's tests use (fast-check) is mapped for those test files alone, by the root
 * deno.json's `scopes` (a member's deno.json cannot hold `scopes`, and has no dev-only imports).
 * These tests ask the resolver itself (`deno check`, `deno info --json`), not a regex over
 * import lines.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const LIB = fileURLToPath(new URL("./", import.meta.url));
const ROOT = join(LIB, "..");

/** The `imports` keys of a deno.json (prefix keys such as `hono/` left out). */
async function importsOf(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, dir, "deno.json"));
  const config = JSON.parse(text) as { imports?: Record<string, string> };
  return Object.keys(config.imports ?? {}).filter((key) => !key.endsWith("/"));
}

/** The root deno.json: the workspace's members, its import map and its scopes. */
async function rootConfig(): Promise<{
  workspace: string[];
  imports?: Record<string, string>;
  scopes?: Record<string, Record<string, string>>;
}> {
  return JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
}

/** Runs `deno <args>` at the repository root; exit code and output without colours. */
async function deno(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("lib resolves its own imports and none that another workspace member declares", async () => {
  const root = await rootConfig();
  // Anything in the root's import map would reach every member, lib included.
  assert.deepEqual(Object.keys(root.imports ?? {}), [], "the root deno.json declares no imports");
  const own = await importsOf("lib");
  const others = new Set<string>();
  for (const member of root.workspace.map((m) => m.replace(/^\.\//, ""))) {
    if (member === "lib") continue;
    for (const name of await importsOf(member)) if (!own.includes(name)) others.add(name);
  }
  // Packages the root maps for test files only (scopes) are not lib's either.
  for (const map of Object.values(root.scopes ?? {})) {
    for (const name of Object.keys(map)) if (!own.includes(name)) others.add(name);
  }
  for (const name of ["hono", "postgres", "preact", "fast-check"]) {
    assert.ok(others.has(name), `${name} is not among ${[...others].join(", ")}`);
  }
  // One probe file inside lib imports lib's own packages and every other member's.
  const probe = await Deno.makeTempFile({ dir: LIB, prefix: "_deps_probe_", suffix: ".ts" });
  try {
    const lines = [...own, ...others].map((name) => `import "${name}";`);
    await Deno.writeTextFile(probe, `${lines.join("\n")}\nexport {};\n`);
    const checked = await deno(["check", "--frozen", relative(ROOT, probe)]);
    assert.notEqual(checked.code, 0, "deno check accepted a package lib does not declare");
    const refused = [...checked.stderr.matchAll(/Import "([^"]+)" not a dependency/g)]
      .map((m) => m[1]).sort();
    assert.deepEqual(refused, [...others].sort(), checked.stderr);
  } finally {
    await Deno.remove(probe);
  }
});

Deno.test("lib's code (the graph of mod.ts) reaches npm redis and lru-cache only, and no other member's files", async () => {
  const info = await deno(["info", "--json", "--frozen", "lib/mod.ts"]);
  assert.equal(info.code, 0, info.stderr);
  const { modules } = JSON.parse(info.stdout) as {
    modules: {
      kind: string;
      specifier: string;
      npmPackage?: string;
      error?: string;
      dependencies?: { code?: { error?: string }; type?: { error?: string } }[];
    }[];
  };
  // deno info exits 0 on an import it cannot resolve; the error sits in the graph.
  const errors = modules.flatMap((m) => [
    m.error,
    ...(m.dependencies ?? []).flatMap((d) => [d.code?.error, d.type?.error]),
  ]).filter((error) => error !== undefined);
  assert.deepEqual(errors, [], "lib/mod.ts imports what lib's resolver refuses");
  const packages = modules.filter((m) => m.kind === "npm")
    .map((m) => m.npmPackage!.slice(0, m.npmPackage!.indexOf("@", 1))).sort();
  const shipped = (await importsOf("lib")).sort();
  assert.deepEqual(shipped, ["lru-cache", "redis"]);
  assert.deepEqual(
    packages,
    shipped,
    "the npm packages lib's code reaches (actual) are lib/deno.json's non-test imports (expected)",
  );
  const outside = modules.filter((m) => m.specifier.startsWith("file:"))
    .map((m) => relative(ROOT, fileURLToPath(m.specifier)))
    .filter((path) => !path.startsWith("lib/"));
  assert.deepEqual(outside, [], "lib imports files of other members");
});

Deno.test("the root's scopes give packages to test files only, each of which exists", async () => {
  const scoped = Object.keys((await rootConfig()).scopes ?? {});
  assert.ok(scoped.includes("./lib/backoff_test.ts"), scoped.join(", "));
  for (const key of scoped) {
    // A scope key is a URL prefix: a folder (ending in /) would reach that folder's code too.
    assert.match(key, /^\.\/[\w/.-]+_test\.ts$/, `scope ${key} is not one test file`);
    assert.ok((await Deno.stat(join(ROOT, key))).isFile, `scope ${key}: no such file`);
  }
});
