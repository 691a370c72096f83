/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Cache statistics for administrators (`GET /api/admin/caches`): per prefix the keys in
 * Redis, their estimated memory, this server process's hit ratio, and the last flush.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { apiGet } from "./api.ts";
import { useTitle } from "./context.ts";
import type { CacheStatsAnswer as CacheStats } from "../../server/wire.ts";

const bytes = (n: number | null) =>
  n === null
    ? "–"
    : n < 1024
    ? `${n} B`
    : n < 1048576
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${(n / 1048576).toFixed(1)} MiB`;

/** What each server cache holds, in words (the prefix is its Redis key prefix). */
const CACHE_WORDS: Record<string, string> = {
  po_detail: "Presentation object settings",
  po_items: "Presentation object rows",
  metric_info: "Metric descriptions",
  replicant_opts: "Replication choices",
  ds_hmis: "HMIS dataset summaries",
  ds_hfa: "HFA dataset summaries",
};

/** The shared cache's state, in words. */
const REDIS_WORDS: Record<CacheStats["redis"], string> = {
  up: "The shared cache (Redis) is working",
  down: "The shared cache (Redis) is unreachable: answers are computed from the database",
  disabled: "The shared cache (Redis) is turned off on this server",
};

/** `/admin/caches`. */
export function CachesPage() {
  useTitle("Server caches");
  const [stats, setStats] = useState<CacheStats | string>();
  const load = () =>
    apiGet<CacheStats>("/api/admin/caches").then(
      ({ body }) => setStats(body),
      (error) => setStats(`Could not load: ${error.message}`),
    );
  useEffect(() => {
    load();
  }, []);
  if (typeof stats === "string") return <p class="error">{stats}</p>;
  if (!stats) return <p class="loading">Loading…</p>;
  return (
    <section class="caches" data-redis={stats.redis}>
      <h2>Server caches</h2>
      <p class="meta">
        {REDIS_WORDS[stats.redis]}
        {stats.redisUsedMemoryBytes !== null && ` (${bytes(stats.redisUsedMemoryBytes)} used)`} ·
        {" "}
        {stats.scannedKeys} keys scanned in {stats.scanMs} ms
        {stats.truncated && " (stopped early: counts are lower bounds)"}{" "}
        · hit counts of this server process since {new Date(stats.countsSince).toLocaleString()}
        {" "}
        <button type="button" onClick={load}>Refresh</button>
      </p>
      <div class="table-scroll" tabIndex={0} role="region" aria-label="Cache statistics">
        <table id="cache-table">
          <thead>
            <tr>
              <th scope="col">Cache</th>
              <th scope="col" class="num">Keys</th>
              <th scope="col" class="num">Memory (est.)</th>
              <th scope="col" class="num">Hits</th>
              <th scope="col" class="num">Misses</th>
              <th scope="col" class="num">Bypass</th>
              <th scope="col" class="num">Hit ratio</th>
            </tr>
          </thead>
          <tbody>
            {stats.prefixes.map((row) => (
              <tr key={row.prefix} data-prefix={row.prefix}>
                <td>
                  {CACHE_WORDS[row.prefix] ?? row.prefix}{" "}
                  {CACHE_WORDS[row.prefix] && <code class="prefix">{row.prefix}</code>}
                </td>
                <td class="num">{row.keys}</td>
                <td class="num" title={`MEMORY USAGE of ${row.memorySampled} keys`}>
                  {bytes(row.memoryBytes)}
                </td>
                <td class="num">{row.hits}</td>
                <td class="num">{row.misses}</td>
                <td class="num">{row.bypass}</td>
                <td class="num">
                  {row.hitRatio === null ? "–" : `${(row.hitRatio * 100).toFixed(1)} %`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {stats.l1 && (
        <p class="meta">
          In-process L1: {stats.l1.entries} entries, {bytes(stats.l1.bytes)}, {stats.l1.hits} hits,
          {" "}
          {stats.l1.invalidations} invalidations from Redis.
        </p>
      )}
      <p id="last-flush">
        Last flush: {stats.lastFlush
          ? `${
            new Date(stats.lastFlush.at).toLocaleString()
          } by ${stats.lastFlush.by} (${stats.lastFlush.reason}, Redis ${stats.lastFlush.redis})`
          : "none recorded"}
      </p>
    </section>
  );
}
