/**
 * Redis stopped cleanly (`SHUTDOWN`, as `wb stop` does) mid-load and started again on its
 * AOF 2 s later: every key comes back and the server, reconnected by itself, serves HITs.
 *
 * @module
 */
import type { Harness } from "../harness.ts";
import type { Row } from "../report.ts";
import { duration, firstHitAfter, underLoad } from "./_under_load.ts";

/** Runs the scenario. */
export function aofRestart(harness: Harness): Promise<Row> {
  let restartedAt = 0;
  return underLoad(harness, {
    scenario: "Redis SHUTDOWN, restarted on its AOF",
    durationMs: 10_000,
    async fault({ redis, at, notes, problems }) {
      await at(3000);
      await redis.shutdown();
      await at(5000);
      const restarting = performance.now();
      await redis.restart();
      restartedAt = performance.now();
      const log = await redis.log();
      if (!/DB loaded from (append only file|base file)/.test(log)) {
        problems.push("the restart did not load the AOF");
      }
      notes.push(`restart answered PONG in ${duration(restartedAt - restarting)}`);
    },
    async check({ notes, problems }, load) {
      const hit = firstHitAfter(load, restartedAt);
      if (hit) notes.push(`first HIT ${duration(hit.startedAt - restartedAt)} after the restart`);
      else problems.push("no HIT after the restart during the load");
      await Promise.resolve();
    },
  });
}
