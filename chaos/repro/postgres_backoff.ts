/**
 * Reproduction: npm:postgres's default reconnect backoff holds queries for seconds while
 * Postgres is down and after it is back. Six workers query `SELECT 1` through a pool
 * configured as `server/db.ts` configures it; Postgres is stopped for 5 s and started
 * again. With the default backoff (`(0.5..1) × min(3^retries / 100, 20)` s, `retries`
 * shared by the pool and reset only by a successful connection) queries wait up to ~20 s
 * and fail long after Postgres is back; with `backoff: () => 0.1` they fail at once while
 * it is down and succeed as soon as it is up.
 *
 * Run: `deno run -A chaos/repro/postgres_backoff.ts` (about 40 s).
 *
 * @module
 */
import postgres from "postgres";
import { startPostgres } from "../postgres.ts";

async function trial(label: string, backoff?: () => number): Promise<void> {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, {
    max: 10,
    connect_timeout: 10,
    onnotice: () => {},
    ...(backoff ? { backoff } : {}),
  });
  await sql`SELECT 1`;
  const t0 = performance.now();
  const results: { start: number; end: number; ok: boolean }[] = [];
  const worker = async () => {
    while (performance.now() - t0 < 14_000) {
      const start = performance.now();
      const ok = await sql`SELECT 1`.then(() => true, () => false);
      results.push({ start, end: performance.now(), ok });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const workers = Array.from({ length: 6 }, worker);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await pg.stop();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  await pg.start();
  const upAt = performance.now();
  await Promise.all(workers);
  await sql.end({ timeout: 1 });
  const failed = results.filter((r) => !r.ok);
  const firstOk = results.find((r) => r.ok && r.start >= upAt);
  console.log(
    `${label}: ${results.length} queries, ${failed.length} failed, slowest ${
      Math.round(Math.max(...results.map((r) => r.end - r.start)))
    } ms, last failure ${
      Math.round(Math.max(...failed.map((r) => r.end)) - upAt)
    } ms after Postgres was up, first success after it: ${
      firstOk ? `${Math.round(firstOk.end - upAt)} ms` : "none within the run"
    }`,
  );
}

await trial("default backoff");
await trial("backoff: () => 0.1", () => 0.1);
