/**
 * Strict `servers.json` (issue 15): unknown keys are errors naming the closest known key,
 * messages name the instance and field without dumping it, no edit drops a key it does not
 * know, and `wb c update` takes targets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { closestKey, validateInstance } from "./instance_validation.ts";
import { tagInstances } from "./config_commands.ts";
import { updateInstance } from "./config_update.ts";
import { CliError, UsageError } from "./errors.ts";
import { initInstance } from "./init_instance.ts";
import { main } from "./main.ts";

Deno.test("closestKey() suggests a near known key and nothing for a far one", () => {
  const keys = ["tags", "port", "redisMaxmemory", "serverVersion"];
  assert.equal(closestKey("tgas", keys), "tags");
  assert.equal(closestKey("redisMaxMemory", keys), "redisMaxmemory");
  assert.equal(closestKey("server_version", keys), "serverVersion");
  assert.equal(closestKey("colour", keys), undefined);
});

Deno.test("validateInstance() names the instance and field, never dumps the object", () => {
  const cases: [unknown, RegExp][] = [
    [
      { id: "web1", port: 8710, tgas: ["x"] },
      /^servers\.json: instance 'web1' \(entry 3\): unknown key 'tgas' \(did you mean 'tags'\?\)/,
    ],
    [{ port: 8710 }, /^servers\.json: instance \(entry 3\), field 'id': missing$/],
    [{ id: "web1" }, /^servers\.json: instance 'web1' \(entry 3\), field 'port': missing$/],
    [{ id: "web1", port: "8710" }, /field 'port': must be a number$/],
    [{ id: "web1", port: 8710, tcp: "yes" }, /field 'tcp': must be true or false$/],
    [{ id: "web1", port: 8710, publicUrl: "ftp://x" }, /field 'publicUrl': Invalid public URL/],
    [{ id: "web1", port: 8710, workers: "4" }, /field 'workers': must be a number, got string$/],
    ["web1", /^servers\.json: instance \(entry 3\) must be an object$/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => validateInstance(raw, "/wb", 3), (error) => {
      assert.ok(error instanceof CliError && error.code === "config");
      assert.match(error.message, message);
      assert.ok(!error.message.includes("{"), `no object in: ${error.message}`);
      return true;
    });
  }
});

Deno.test("an unknown key stops every command that reads servers.json; no edit drops it", async () => {
  await using wb = await tempWb();
  await initInstance(wb.context, "web1", { port: 18111, runtime: "docker" });
  const path = join(wb.home, "servers.json");
  const raw = JSON.parse(await Deno.readTextFile(path));
  raw.instances[0].tgas = ["prod"];
  await Deno.writeTextFile(path, JSON.stringify(raw));
  const before = await Deno.readTextFile(path);
  await assert.rejects(loadConfig(wb.home), /unknown key 'tgas' \(did you mean 'tags'\?\)/);
  await assert.rejects(tagInstances(wb.context, ["web1"], ["canary"]), /unknown key 'tgas'/);
  assert.equal(await Deno.readTextFile(path), before, "the file is untouched");
  const env = { WB_HOME: wb.home, NO_COLOR: "1", CI: "true" };
  assert.equal(await main(["c", "validate"], env), 1, "validate fails on it");
  assert.equal(await main(["c", "tag", "web1", "x"], env), 1);
  assert.equal(await Deno.readTextFile(path), before);
});

Deno.test("wb c update takes targets: @tag and server=<version> update every match; a port for several is refused", async () => {
  await using wb = await tempWb();
  await initInstance(wb.context, "p1", { port: 18211, runtime: "docker", tags: ["prod"] });
  await initInstance(wb.context, "p2", { port: 18212, runtime: "docker", tags: ["prod"] });
  await initInstance(wb.context, "s1", { port: 18213, runtime: "docker" });
  // The bug of issue 15: a version change of a group clashed with the instances' own ports.
  const updated = await updateInstance(wb.context, ["@prod"], { serverVersion: "2.0.0" });
  assert.deepEqual(updated.map((i) => i.id), ["p1", "p2"]);
  let config = await loadConfig(wb.home);
  assert.deepEqual(config.instances.map((i) => i.serverVersion), ["2.0.0", "2.0.0", undefined]);
  await updateInstance(wb.context, ["server=2.0.0"], { serverVersion: "2.0.1", label: "Prod" });
  config = await loadConfig(wb.home);
  assert.deepEqual(config.instances.map((i) => [i.serverVersion, i.label]), [
    ["2.0.1", "Prod"],
    ["2.0.1", "Prod"],
    [undefined, "s1"],
  ]);
  await assert.rejects(updateInstance(wb.context, ["@prod"], { port: 18300 }), UsageError);
  await updateInstance(wb.context, "p1", { port: 18211 }); // its own port: no clash
  await assert.rejects(
    updateInstance(wb.context, "p1", { port: 18213 }),
    /'p1': port 18213 is already the app port of 's1'/,
  );
  await updateInstance(wb.context, "s1", { publicUrl: "https://s1.example.org/" });
  assert.equal(
    (await loadConfig(wb.home)).instances[2].publicUrl,
    "https://s1.example.org",
  );
  const env = { WB_HOME: wb.home, NO_COLOR: "1", CI: "true" };
  assert.equal(await main(["c", "update", "@prod", "--server-version", "3.0.0"], env), 0);
  assert.deepEqual(
    (await loadConfig(wb.home)).instances.map((i) => i.serverVersion),
    ["3.0.0", "3.0.0", undefined],
  );
});
