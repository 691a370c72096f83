import assert from "node:assert/strict";
import { join } from "node:path";
import { APP_ENTRY_POINTS, appBuildSteps, depsImage, lockedPackages } from "./app_build.ts";
import { defaultRepoRoot } from "./context.ts";

Deno.test("lockedPackages() lists every npm package of deno.lock once (scoped names kept whole)", async () => {
  assert.deepEqual(
    lockedPackages(JSON.stringify({
      npm: { "@types/node@22.0.0": {}, "hono@4.0.0": {}, "hono@3.0.0": {}, "a@1.0.0_b@2.0.0": {} },
    })),
    ["@types/node", "a", "hono"],
  );
  assert.throws(() => lockedPackages("{"), /deno\.lock is not JSON/);
  // A package for another platform is not installed, so not copied (CI's fresh cache has
  // only this platform's esbuild binary).
  const platforms = JSON.stringify({
    npm: {
      "esbuild@0.28.2": {},
      "@esbuild/linux-x64@0.28.2": { os: ["linux"], cpu: ["x64"] },
      "@esbuild/linux-arm64@0.28.2": { os: ["linux"], cpu: ["arm64"] },
      "@esbuild/darwin-x64@0.28.2": { os: ["darwin"], cpu: ["x64"] },
      "fsevents@2.3.3": { os: ["!linux", "!win32"] },
      "anywhere@1.0.0": { os: ["!win32"] },
    },
  });
  assert.deepEqual(lockedPackages(platforms, { os: "linux", cpu: "x64" }), [
    "@esbuild/linux-x64",
    "anywhere",
    "esbuild",
  ]);
  assert.deepEqual(lockedPackages(platforms, { os: "linux", cpu: "arm64" }), [
    "@esbuild/linux-arm64",
    "anywhere",
    "esbuild",
  ]);
  const lock = await Deno.readTextFile(join(defaultRepoRoot(), "deno.lock"));
  for (const name of ["hono", "redis", "postgres", "esbuild", "@electric-sql/pglite"]) {
    assert.ok(lockedPackages(lock).includes(name), name);
  }
});

Deno.test("depsImage() is named by its base and the lock: another lock or base, another image", async () => {
  const a = await depsImage("wb-local/deno:2.9.6", "{}");
  assert.match(a, /^wb-build\/deno-deps:[0-9a-f]{16}$/);
  assert.equal(await depsImage("wb-local/deno:2.9.6", "{}"), a);
  assert.notEqual(await depsImage("wb-local/deno:2.9.6", '{"npm":{}}'), a);
  assert.notEqual(await depsImage("denoland/deno:2.9.6", "{}"), a);
});

Deno.test("appBuildSteps() caches on the host, then builds without network: the deps image on the base, the app on it", () => {
  const build = {
    image: "wb-server:1.4",
    base: "wb-local/deno:2.9.6",
    deps: "wb-build/deno-deps:0123456789abcdef",
    ids: ["web"],
  };
  const paths = { repoRoot: "/repo", deno: "/usr/bin/deno", depsContext: "/tmp/ctx" };
  const steps = appBuildSteps(build, paths, false);
  assert.deepEqual([steps.cache.command, ...steps.cache.args], [
    "/usr/bin/deno",
    "cache",
    "--frozen",
    ...APP_ENTRY_POINTS,
  ]);
  assert.equal(steps.cache.cwd, "/repo");
  assert.deepEqual(steps.deps?.args, [
    "build",
    "--network",
    "none",
    "--build-arg",
    "DENO_IMAGE=wb-local/deno:2.9.6",
    "-t",
    "wb-build/deno-deps:0123456789abcdef",
    "/tmp/ctx",
  ]);
  assert.deepEqual(steps.app.args, [
    "build",
    "--network",
    "none",
    "--build-arg",
    "DENO_IMAGE=wb-build/deno-deps:0123456789abcdef",
    "-t",
    "wb-server:1.4",
    "/repo",
  ]);
  assert.equal(
    appBuildSteps(build, paths, true).deps,
    undefined,
    "an existing deps image is reused",
  );
});

Deno.test("APP_ENTRY_POINTS are what the Dockerfile caches", async () => {
  const dockerfile = await Deno.readTextFile(join(defaultRepoRoot(), "Dockerfile"));
  const cached = [...dockerfile.matchAll(/^RUN deno cache --frozen ([^&\n]+)/gm)]
    .flatMap((m) => m[1].trim().split(/\s+/));
  assert.deepEqual([...cached].sort(), [...APP_ENTRY_POINTS].sort());
});
