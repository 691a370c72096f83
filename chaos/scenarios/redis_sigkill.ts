/**
 * Redis SIGKILLed mid-load, down 3 s, restarted on its AOF: the server answers from
 * Postgres meanwhile (BYPASS), reconnects by itself, and every key written before the kill
 * is back.
 *
 * @module
 */
import type { Harness } from "../harness.ts";
import type { Row } from "../report.ts";
import { duration, firstHitAfter, underLoad } from "./_under_load.ts";

/** Runs the scenario. */
export function redisSigkill(harness: Harness): Promise<Row> {
  let restartedAt = 0;
  return underLoad(harness, {
    scenario: "Redis SIGKILL mid-load, restart after 3 s",
    durationMs: 12_000,
    async fault({ redis, at, notes }) {
      await at(3000);
      await redis.kill();
      await at(6000);
      const restarting = performance.now();
      await redis.restart();
      restartedAt = performance.now();
      notes.push(`restart answered PONG in ${duration(restartedAt - restarting)} (AOF loaded)`);
    },
    async check({ notes, problems }, load) {
      const down = load.filter((s) => s.xCache === "BYPASS").length;
      notes.push(`${down} BYPASS answers while Redis was down`);
      const hit = firstHitAfter(load, restartedAt);
      if (hit) notes.push(`first HIT ${duration(hit.startedAt - restartedAt)} after the restart`);
      else problems.push("no HIT after the restart during the load");
      await Promise.resolve();
    },
  });
}
