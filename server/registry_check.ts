/**
 * `deno task registry:check`: loads the server's cache table (which checks every policy)
 * and prints it. Exits 1 with the RangeError's message when a policy breaks an invariant.
 *
 * @module
 */
import { DEFAULT_MAX_WAIT_MS, heartbeatMs } from "../lib/mod.ts";

try {
  const { SERVER_CACHES } = await import("./cache_registry.ts");
  console.log(
    "prefix          fleet  leaseMs  maxWaitMs  waitMs  pollMinMs  pollMaxMs  heartbeatMs",
  );
  for (const [prefix, policy] of SERVER_CACHES) {
    const f = policy.fill;
    console.log(
      [
        prefix.padEnd(15),
        String(policy.fleet).padEnd(6),
        String(f?.leaseMs ?? "-").padStart(7),
        String(f ? f.maxWaitMs ?? DEFAULT_MAX_WAIT_MS : "-").padStart(10),
        String(f?.waitMs ?? "-").padStart(7),
        String(f?.pollMinMs ?? "-").padStart(10),
        String(f?.pollMaxMs ?? "-").padStart(10),
        String(f ? heartbeatMs(f) : "-").padStart(12),
      ].join(" "),
    );
  }
  console.log(`OK: ${SERVER_CACHES.size} caches, every fill policy keeps its invariants`);
} catch (error) {
  console.error(String((error as Error)?.message ?? error));
  Deno.exit(1);
}
