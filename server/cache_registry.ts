/**
 * The server's caches, as one declarative table (issue 3): prefix, whether misses are
 * coordinated across the fleet, the fill policy (ms), and TTLs. Checked when this module
 * loads (`defineCacheRegistry` throws a RangeError for a broken invariant), by a test,
 * and by `deno task registry:check`.
 *
 * Fill policies (issue 21): followers wait for a leader as long as it heartbeats (every
 * second; a leader silent for 2.5 s is taken over), up to `maxWaitMs`, which sits well above
 * the slowest cold computation measured at national size (docs/performance.md, "National
 * scale": HMIS dataset summaries 40-54 s, the slowest presentation object about 11 s), so a
 * live leader is abandoned only when it is stuck. No cache sets `waitMs`: a follower never
 * recomputes what a live leader is computing.
 *
 * @module
 */
import { type CacheRegistry, defineCacheRegistry, type FillPolicy } from "../lib/mod.ts";

/**
 * Heavy aggregates over the results or datasets (Kano cold: 10 ms to ~2 s; national: up to
 * 54 s): wait for a live leader up to 3 minutes, over 3x the slowest national fill.
 */
const HEAVY: FillPolicy = { leaseMs: 30_000, maxWaitMs: 180_000, pollMinMs: 20, pollMaxMs: 500 };
/**
 * Lighter metadata queries (Kano cold: ~100-300 ms; national: a few seconds): up to 1 minute.
 */
const LIGHT: FillPolicy = { leaseMs: 20_000, maxWaitMs: 60_000, pollMinMs: 10, pollMaxMs: 250 };

/** Every server cache, by prefix. */
export const SERVER_CACHES: CacheRegistry = defineCacheRegistry([
  {
    prefix: "po_detail",
    fleet: false,
    description: "presentation object detail; one indexed row, cheaper than a lock round trip",
  },
  { prefix: "po_items", fleet: true, fill: HEAVY, description: "presentation object items" },
  {
    prefix: "metric_info",
    fleet: true,
    fill: LIGHT,
    description: "metric periods and disaggregations",
  },
  {
    prefix: "replicant_opts",
    fleet: true,
    fill: LIGHT,
    description: "values a metric can be replicated by",
  },
  { prefix: "ds_hmis", fleet: true, fill: HEAVY, description: "HMIS dataset summaries" },
  { prefix: "ds_hfa", fleet: true, fill: LIGHT, description: "HFA dataset summaries" },
]);
