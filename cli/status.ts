/**
 * `wb status` for people: one row per instance with each service's state, the app's
 * health and version, and what its Redis holds (keys, memory, AOF), then the last restart.
 *
 * @module
 */

import type { Service } from "./plan.ts";
import { memoryRatio, type RedisInfo } from "./redis_config.ts";
import type { InstanceStatus } from "./runtime.ts";
import { renderTable } from "./table.ts";

/** One service's cell: docker's state word, or running/stopped natively. */
function serviceCell(status: InstanceStatus, service: Service): string {
  const state = status.services.find((s) => s.service === service);
  if (!state) return "-";
  return state.state ?? (state.running ? "running" : "stopped");
}

function healthCell(status: InstanceStatus): string {
  const { health, app } = status;
  if (app?.instance !== undefined && app.instance !== status.id) {
    return `answered by '${app.instance}'`;
  }
  if (health.ok) return `ok ${health.ms} ms${app?.redis ? `, redis ${app.redis}` : ""}`;
  if (health.status) {
    return `HTTP ${health.status}${app?.postgres === "down" ? ", postgres down" : ""}`;
  }
  return "down";
}

/** `used / maxmemory (share) policy, N evicted`, e.g. `231.2M / 256.00M (90%) allkeys-lru, 1,204 evicted`. */
function memoryCell(redis: RedisInfo | undefined): string {
  if (!redis) return "-";
  const max = redis.maxmemoryBytes
    ? redis.maxmemoryHuman ?? String(redis.maxmemoryBytes)
    : "unbounded";
  const ratio = memoryRatio(redis);
  const share = ratio === undefined ? "" : ` (${(ratio * 100).toFixed(0)}%)`;
  const evicted = redis.evictedKeys === undefined
    ? ""
    : `, ${redis.evictedKeys.toLocaleString("en-US")} evicted`;
  return `${redis.usedMemoryHuman ?? "?"} / ${max}${share}${
    redis.maxmemoryPolicy ? ` ${redis.maxmemoryPolicy}` : ""
  }${evicted}`;
}

function aofCell(redis: RedisInfo | undefined): string {
  if (!redis) return "-";
  if (redis.aofEnabled === false) return "off";
  const write = redis.aofLastWriteStatus ?? "?";
  const rewrite = redis.aofRewriteInProgress
    ? ", rewriting"
    : redis.aofLastRewriteStatus && redis.aofLastRewriteStatus !== "ok"
    ? `, last rewrite ${redis.aofLastRewriteStatus}`
    : "";
  return `on, ${write}${rewrite}`;
}

function lastStartCell(status: InstanceStatus, now: Date): string {
  const record = status.lastStart;
  if (!record) return "-";
  const ago = Math.max(0, Math.round((now.getTime() - Date.parse(record.at)) / 1000));
  const when = ago < 120
    ? `${ago} s ago`
    : ago < 7200
    ? `${Math.round(ago / 60)} min ago`
    : ago < 172800
    ? `${Math.round(ago / 3600)} h ago`
    : record.at.slice(0, 16).replace("T", " ");
  return `${when} (${record.action}, ${(record.ms / 1000).toFixed(1)} s)`;
}

/**
 * Formats statuses as a table (a `STATE` column with each verdict; `MEMORY`: Redis's used
 * memory against `maxmemory`, its share, the policy and the keys evicted since it started),
 * then every problem, then every warning (`redisWarnings`), one line each.
 *
 * @param statuses From `statusTargets`.
 * @param now The current time (for "5 min ago"). @default {new Date()}
 * @returns The table; an `ADMIN` column only when some instance has an admin service.
 * @example
 * ```ts
 * import { formatStatusTable } from "./status.ts";
 * formatStatusTable([]); // "No instances configured"
 * ```
 */
export function formatStatusTable(
  statuses: readonly InstanceStatus[],
  now: Date = new Date(),
): string {
  if (statuses.length === 0) return "No instances configured";
  const withAdmin = statuses.some((s) => s.services.some((x) => x.service === "admin"));
  const services: Service[] = [
    "postgres",
    "redis",
    ...(withAdmin ? ["admin" as const] : []),
    "app",
  ];
  const head = [
    "INSTANCE",
    "STATE",
    "RUNTIME",
    ...services.map((s) => s.toUpperCase()),
    "HEALTH",
    "VERSION",
    "KEYS",
    "MEMORY",
    "AOF",
    "LAST START",
  ];
  const rows = statuses.map((s) => [
    s.id,
    s.verdict,
    s.runtime,
    ...services.map((service) => serviceCell(s, service)),
    healthCell(s),
    s.app?.version ?? "-",
    s.redis ? String(s.redis.keys) : "-",
    memoryCell(s.redis),
    aofCell(s.redis),
    lastStartCell(s, now),
  ]);
  const problems = statuses.flatMap((s) => s.problems.map((p) => `  ${s.id}: ${p}`));
  const warnings = statuses.flatMap((s) => (s.warnings ?? []).map((w) => `  ${s.id}: ${w}`));
  return [
    renderTable(head, rows),
    ...(problems.length ? ["", "Problems:", ...problems] : []),
    ...(warnings.length ? ["", "Warnings:", ...warnings] : []),
  ].join("\n");
}

/**
 * One line per docker instance naming the image each service runs (what its container was
 * created from), and the configured one where a restart has not applied it yet.
 *
 * @param statuses From `statusTargets`.
 * @returns Lines such as `web images: postgres postgres:17.4, redis redis:7-alpine, app
 *   wb-server:1.4`; none for native instances.
 * @example
 * ```ts
 * import { formatImageLines } from "./status.ts";
 * formatImageLines([]); // []
 * ```
 */
export function formatImageLines(statuses: readonly InstanceStatus[]): string[] {
  const lines: string[] = [];
  for (const status of statuses.filter((s) => s.runtime === "docker")) {
    const parts = status.services.filter((s) => s.image || s.configuredImage).map((s) => {
      const image = s.image ?? "-";
      const pending = s.configuredImage && s.configuredImage !== image
        ? ` (configured: ${s.configuredImage}; applied by \`wb restart ${status.id}\`)`
        : "";
      return `${s.service} ${image}${pending}`;
    });
    if (parts.length > 0) lines.push(`${status.id} images: ${parts.join(", ")}`);
  }
  return lines;
}
