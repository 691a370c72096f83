import assert from "node:assert/strict";
import { checkFillPolicy } from "../lib/mod.ts";
import { SERVER_CACHES } from "./cache_registry.ts";
import { createServerCaches } from "./caches.ts";
import { RedisStore } from "../lib/mod.ts";

Deno.test("SERVER_CACHES registers every route cache, and every fill policy keeps its invariants", () => {
  const prefixes = ["po_detail", "po_items", "metric_info", "replicant_opts", "ds_hmis", "ds_hfa"];
  assert.deepEqual([...SERVER_CACHES.keys()].sort(), [...prefixes].sort());
  for (const [prefix, policy] of SERVER_CACHES) {
    if (policy.fleet) assert.ok(policy.fill, `${prefix} is fleet-coordinated without a policy`);
    if (policy.fill) checkFillPolicy(prefix, policy.fill);
  }
  const caches = createServerCaches({ store: RedisStore.disabled(), log: () => {} });
  assert.equal(caches.poItems.prefix, "po_items");
});

Deno.test("deno task registry:check prints the table and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("./registry_check.ts", import.meta.url).pathname],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stdout), /OK: 6 caches/);
});
