/**
 * Postgres stopped (`pg_ctl stop -m fast`) mid-load for 5 s and started again. While it
 * is down every route that needs it (all cached routes first read their version from it)
 * answers 503 with `Retry-After`; no error is ever cached; the server is back by itself
 * once Postgres accepts connections. The documented window: from the stop until one
 * `Retry-After` (5 s) after Postgres is up again.
 *
 * @module
 */
import { DB_RETRY_AFTER_S } from "../../server/db.ts";
import { entryProblem, withClient } from "../entries.ts";
import type { Harness } from "../harness.ts";
import type { Sample } from "../load.ts";
import type { Row } from "../report.ts";
import { duration, underLoad } from "./_under_load.ts";

/** A request held longer than this during the outage is not a "clear 503". */
const HUNG_MS = 2000;

/** Runs the scenario. */
export function postgresRestart(harness: Harness): Promise<Row> {
  let stopIssuedAt = Infinity;
  let upAt = Infinity;
  const windowEnd = () => upAt + DB_RETRY_AFTER_S * 1000;
  const sinceUp = (at: number) =>
    `${duration(Math.abs(at - upAt))} ${at < upAt ? "before" : "after"} Postgres was up`;
  return underLoad(harness, {
    scenario: "Postgres restarted mid-load (down 5 s)",
    durationMs: 14_000,
    slowMs: Infinity, // checked against HUNG_MS below
    // A 503 answered after the window (Postgres up for one Retry-After) is a failure.
    allow503: (s: Sample) => s.endedAt >= stopIssuedAt && s.endedAt <= windowEnd(),
    async fault({ harness, at, notes }) {
      await at(3000);
      stopIssuedAt = performance.now();
      await harness.pg.stop();
      const stoppedAt = performance.now();
      await at(8000);
      await harness.pg.start();
      upAt = performance.now();
      notes.push(
        `stop took ${duration(stoppedAt - stopIssuedAt)}, down ${duration(upAt - stoppedAt)}`,
      );
    },
    async check({ redis, notes, problems }, load, final) {
      const unavailable = load.filter((s) => s.status === 503);
      const hints = new Set(unavailable.map((s) => s.retryAfter));
      notes.push(`${unavailable.length} × 503, Retry-After ${[...hints].join("/") || "-"}`);
      if (unavailable.length > 0) {
        notes.push(`last 503 answered ${sinceUp(Math.max(...unavailable.map((s) => s.endedAt)))}`);
      }
      const slowest503 = Math.max(0, ...unavailable.map((s) => s.endedAt - s.startedAt));
      if (slowest503 > 0) notes.push(`slowest 503 took ${duration(slowest503)}`);
      // "Clear 503s while it is down": an answer, not a request held for seconds.
      const held = load.filter((s) => s.endedAt - s.startedAt > HUNG_MS);
      if (held.length > 0) {
        const worst = Math.max(...held.map((s) => s.endedAt - s.startedAt));
        problems.push(
          `${held.length} requests were held more than ${duration(HUNG_MS)} (up to ${
            duration(worst)
          }) instead of a prompt 503 or 200: ${
            held.filter((s) => s.status === 200).length
          } ended 200, ${held.filter((s) => s.status === 503).length} ended 503, the last ${
            sinceUp(Math.max(...held.map((s) => s.endedAt)))
          }`,
        );
      }
      // Recovery: the first request sent after Postgres was up that got a 200 (the final
      // sweep included: held fetchers may send nothing new during the load).
      const firstOk = [...load, ...final].find((s) => s.startedAt >= upAt && s.status === 200);
      if (firstOk) {
        notes.push(
          `first 200 to a request sent after Postgres was up: ${sinceUp(firstOk.endedAt)}`,
        );
      } else problems.push("no 200 after Postgres came back");
      // Errors are never cached: every key still holds a well-formed entry of its own.
      const keys = [...await redis.cacheKeys()];
      const broken = await withClient(redis.url, async (client) => {
        const found: string[] = [];
        for (const key of keys) {
          const problem = await entryProblem(client, key);
          if (problem) found.push(problem);
        }
        return found;
      });
      if (broken.length > 0) problems.push(...broken.slice(0, 3));
      else notes.push(`all ${keys.length} keys hold well-formed entries (no error cached)`);
    },
  });
}
