/**
 * The root Dockerfile (the `wb-server` image of the docker runtime). No docker engine runs
 * here, so these check what the image is built from against the code it must run.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultRepoRoot } from "./context.ts";
import { DEFAULT_IMAGES } from "./images.ts";
import { CONTAINER_APP_PORT } from "./docker_plan.ts";
import { dockerLoadStep } from "./docker_ops_plan.ts";

const root = defaultRepoRoot();
const dockerfile = await Deno.readTextFile(join(root, "Dockerfile"));
const instructions = dockerfile.replace(/\\\n\s*/g, " ").split("\n")
  .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const copied = instructions.filter((l) => l.startsWith("COPY ")).flatMap((l) =>
  l.split(/\s+/).slice(1, -1)
);

/** Repository files a module graph reaches (`deno info --json`). */
async function localModules(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(out.stdout));
  return (modules as { specifier: string }[])
    .filter((m) => m.specifier.startsWith("file:"))
    .map((m) => relative(root, fileURLToPath(m.specifier)));
}

Deno.test("Dockerfile copies every repository module the server and the loader import", async () => {
  const inImage = (path: string) =>
    copied.some((c) => (c.endsWith("/") ? path.startsWith(c) : path === c));
  for (
    const entry of ["server/main.ts", "server/load.ts", "server/user_add.ts", "client/build.ts"]
  ) {
    const missing = (await localModules(entry)).filter((path) => !inImage(path));
    assert.deepEqual(missing, [], `${entry} imports files the image lacks`);
  }
  for (const readAtRuntime of ["server/migrations/001_structure.sql", "client/index.html"]) {
    assert.ok(inImage(readAtRuntime), `${readAtRuntime} is read at run time`);
  }
});

Deno.test("Dockerfile copies every workspace member's deno.json, and .dockerignore lets it through", async () => {
  // `deno cache --frozen` in the image needs the whole workspace the root deno.json names: a
  // missing member is skipped, and the lock's per-member dependency lists then do not match.
  const { workspace } = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))) as {
    workspace: string[];
  };
  const ignore = (await Deno.readTextFile(join(root, ".dockerignore"))).split("\n")
    .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const ignored = (path: string) =>
    !ignore.includes(`!${path}`) &&
    ignore.some((l) => !l.startsWith("!") && (path === l || path.startsWith(`${l}/`)));
  const inImage = (path: string) =>
    copied.some((c) => (c.endsWith("/") ? path.startsWith(c) : path === c));
  assert.ok(workspace.length >= 4, workspace.join(", "));
  for (const member of workspace) {
    const config = `${member.replace(/^\.\//, "").replace(/\/$/, "")}/deno.json`;
    assert.ok((await Deno.stat(join(root, config))).isFile, config);
    assert.ok(inImage(config), `the Dockerfile does not copy ${config}`);
    assert.ok(!ignored(config), `.dockerignore leaves ${config} out of the build context`);
  }
});

Deno.test("Dockerfile pins the project's Deno, installs from the lock and runs what wb expects", async () => {
  const ci = await Deno.readTextFile(join(root, ".ci", "run"));
  const pinned = ci.match(/deno@(\d+\.\d+\.\d+)/)![1];
  // The base image is a build argument (wb build, the stand-in of docker:images), by default
  // the official image of the pinned Deno, which is also wb's default base image.
  assert.equal(instructions[0], `ARG DENO_IMAGE=denoland/deno:${pinned}`);
  assert.equal(instructions[1], "FROM ${DENO_IMAGE}");
  assert.equal(DEFAULT_IMAGES.deno, `denoland/deno:${pinned}`);
  assert.ok(copied.includes("deno.lock"));
  assert.match(dockerfile, /^RUN deno cache --frozen server\/main\.ts server\/load\.ts$/m);
  // The web client the server serves from client/dist/, built in the image as the app's user.
  assert.match(dockerfile, /^RUN .*deno run -A client\/build\.ts$/m);
  assert.match(dockerfile, /^COPY --chown=deno:deno client\/ client\/$/m);
  assert.match(dockerfile, /^USER deno$/m, "the app does not run as root");
  assert.ok(instructions.includes(`EXPOSE ${CONTAINER_APP_PORT}`), "the port wb publishes");
  assert.equal(instructions.at(-1), 'CMD ["run", "-A", "server/main.ts"]');
  const load = dockerLoadStep(
    { id: "x", label: "x", port: 1, instanceDir: "/x", runtime: "docker", tags: [] },
    { adminToken: "a", postgresPassword: "p", redisPassword: "r" },
    {},
  );
  const command = load.args.slice(load.args.indexOf("wb-server:latest") + 1);
  assert.deepEqual(command, ["deno", "run", "-A", "server/load.ts"]);
  assert.ok((await Deno.stat(join(root, command[3]))).isFile);
});
