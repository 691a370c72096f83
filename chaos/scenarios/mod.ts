/**
 * Every scenario of `deno task chaos`, in the order they run.
 *
 * @module
 */
import type { Harness } from "../harness.ts";
import type { Row } from "../report.ts";
import { aofKillAfterBurst } from "./aof_kill_burst.ts";
import { aofRestart } from "./aof_restart.ts";
import { clientPauseAll, clientPauseWrite } from "./client_pause.ts";
import { foreignValues, swappedEntries } from "./foreign_values.ts";
import { leaderSigkill } from "./leader_sigkill.ts";
import { postgresRestart } from "./postgres_restart.ts";
import { redisSigkill } from "./redis_sigkill.ts";
import { redisAofWriteError, redisMisconf, redisOom } from "./write_refusals.ts";

/** A named scenario. */
export interface Scenario {
  /** Short id for `--only`. */
  id: string;
  run(harness: Harness): Promise<Row>;
  /** Upper bound of its run time, in ms (it is abandoned and fails after this). */
  timeoutMs: number;
}

/** The scenarios, in order. */
export const SCENARIOS: Scenario[] = [
  { id: "redis-kill", run: redisSigkill, timeoutMs: 60_000 },
  { id: "pause-all", run: clientPauseAll, timeoutMs: 60_000 },
  { id: "pause-write", run: clientPauseWrite, timeoutMs: 150_000 },
  { id: "oom", run: redisOom, timeoutMs: 120_000 },
  { id: "misconf", run: redisMisconf, timeoutMs: 60_000 },
  { id: "aof-error", run: redisAofWriteError, timeoutMs: 120_000 },
  { id: "aof-restart", run: aofRestart, timeoutMs: 60_000 },
  { id: "postgres", run: postgresRestart, timeoutMs: 90_000 },
  { id: "leader-kill", run: leaderSigkill, timeoutMs: 120_000 },
  { id: "foreign", run: foreignValues, timeoutMs: 60_000 },
  { id: "swapped", run: swappedEntries, timeoutMs: 60_000 },
  { id: "aof-burst", run: aofKillAfterBurst, timeoutMs: 60_000 },
];
