/**
 * The server's caches, as one declarative table (issue 3): prefix, whether misses are
 * coordinated across the fleet, the fill policy (ms), and TTLs. Checked when this module
 * loads (`defineCacheRegistry` throws a RangeError for a broken invariant), by a test,
 * and by `deno task registry:check`.
 *
 * Fill policies follow each cache's cold cost on the full Kano data (see
 * docs/performance.md): `waitMs` sits well above the slowest normal computation, so a
 * follower computes itself only when its leader is stuck, and `leaseMs` above `waitMs`.
 *
 * @module
 */
import { type CacheRegistry, defineCacheRegistry, type FillPolicy } from "../lib/mod.ts";

/** Heavy aggregates over the results or datasets (cold: 10 ms to ~1 s; at scale, more). */
const HEAVY: FillPolicy = { leaseMs: 60_000, waitMs: 45_000, pollMinMs: 20, pollMaxMs: 500 };
/** Lighter metadata queries (cold: ~100-300 ms). */
const LIGHT: FillPolicy = { leaseMs: 20_000, waitMs: 15_000, pollMinMs: 10, pollMaxMs: 250 };

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
