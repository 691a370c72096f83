import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { EXIT, main } from "./main.ts";

async function withHome(fn: (env: Record<string, string>, home: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "wb-main-test-" });
  try {
    await fn({ WB_HOME: home, NO_COLOR: "1" }, home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("main() exits 2 on usage errors: unknown command, bad id, bad port, bad runtime", async () => {
  await withHome(async (env) => {
    assert.equal(await main(["frobnicate"], env), EXIT.usage);
    assert.equal(await main(["init", "Bad_Id"], env), EXIT.usage);
    assert.equal(await main(["init", "ok", "--port", "99999"], env), EXIT.usage);
    assert.equal(await main(["init", "ok", "--runtime", "podman"], env), EXIT.usage);
    assert.equal(await main(["run"], env), EXIT.usage, "targets are required");
  });
});

Deno.test("main() init stores the instance; an unknown target exits 1", async () => {
  await withHome(async (env, home) => {
    assert.equal(
      await main(
        ["init", "alpha", "--port", "18500", "--tag", "blue", "green", "--label", "Alpha"],
        env,
      ),
      EXIT.ok,
    );
    const [alpha] = (await loadConfig(home)).instances;
    assert.deepEqual(
      {
        id: alpha.id,
        port: alpha.port,
        tags: alpha.tags,
        label: alpha.label,
        pg: alpha.postgresPort,
        redis: alpha.redisPort,
      },
      {
        id: "alpha",
        port: 18500,
        tags: ["blue", "green"],
        label: "Alpha",
        pg: 28500,
        redis: 38500,
      },
    );
    assert.equal(await main(["init", "alpha"], env), EXIT.failure, "ids are unique");
    assert.equal(await main(["stop", "nope"], env), EXIT.failure);
    assert.equal(await main(["status", "@blue"], env), EXIT.ok);
    assert.equal(await main(["--help"], env), EXIT.ok);
  });
});
