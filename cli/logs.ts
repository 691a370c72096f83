/**
 * `wb logs --since`: reading the time of a native log line (the app's JSON `time`, Redis'
 * `06 Dec 2025 12:27:01.123`, Postgres' `2025-12-06 12:27:01.123 UTC`) and keeping the lines
 * of a time window. A line without a time of its own (a stack trace, a multi-line message)
 * belongs to the line before it.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a `--since` value: a duration back from `now` (`90s`, `10m`, `2h`, `1d`) or an
 * ISO 8601 date or time (`2025-06-01`, `2025-06-01T08:00:00Z`).
 *
 * @param value The option's value.
 * @param now The current time.
 * @returns The earliest time to show.
 * @throws {UsageError} For anything else.
 * @example
 * ```ts
 * import { parseSince } from "./logs.ts";
 * parseSince("10m", new Date("2025-06-01T08:10:00Z")).toISOString(); // "2025-06-01T08:00:00.000Z"
 * ```
 */
export function parseSince(value: string, now: Date): Date {
  const duration = value.trim().match(/^(\d+)\s*([smhd])$/i);
  if (duration) {
    return new Date(now.getTime() - Number(duration[1]) * UNITS[duration[2].toLowerCase()]);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const at = new Date(value.trim().replace(" ", "T"));
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new UsageError(
    `Invalid --since '${value}': use a duration (30s, 10m, 2h, 1d) or an ISO time (2025-06-01T08:00:00Z)`,
  );
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The time a log line was written, when it says.
 *
 * @param line One line of an app, Redis or Postgres log.
 * @returns The time, or `undefined` when the line carries none.
 * @example
 * ```ts
 * import { lineTime } from "./logs.ts";
 * lineTime('{"time":"2025-06-01T08:00:00.000Z","level":"info","event":"listening"}')?.toISOString();
 * // "2025-06-01T08:00:00.000Z"
 * lineTime("2025-06-01 08:00:00.123 UTC [42] LOG:  database system is ready")?.toISOString();
 * // "2025-06-01T08:00:00.123Z"
 * ```
 */
export function lineTime(line: string): Date | undefined {
  const json = line.match(/^\{"time":"([^"]+)"/);
  if (json) return valid(new Date(json[1]));
  const pg = line.match(/^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) (UTC|GMT)\b/);
  if (pg) return valid(new Date(`${pg[1]}T${pg[2]}Z`));
  // Redis: "<pid>:<role> 01 Jun 2025 08:00:00.123 * message", in the server's local time.
  const redis = line.match(
    /^\d+:[A-Z] (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/,
  );
  if (redis) {
    const month = MONTHS.indexOf(redis[2]);
    if (month < 0) return undefined;
    return valid(
      new Date(
        Number(redis[3]),
        month,
        Number(redis[1]),
        Number(redis[4]),
        Number(redis[5]),
        Number(redis[6]),
        Number((redis[7] ?? "0").padEnd(3, "0").slice(0, 3)),
      ),
    );
  }
  return undefined;
}

function valid(date: Date): Date | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * The lines of a log at or after `since` (lines without a time go with the line before;
 * leading ones without any time are dropped when `since` is given), then the last
 * `tailLines` of them.
 *
 * @param lines The log's lines, oldest first.
 * @param options `since` and `tailLines`.
 * @returns The lines to print.
 * @example
 * ```ts
 * import { selectLines } from "./logs.ts";
 * selectLines(['{"time":"2025-06-01T08:00:00Z"}', '{"time":"2025-06-01T09:00:00Z"}'], {
 *   since: new Date("2025-06-01T08:30:00Z"),
 * }).length; // 1
 * ```
 */
export function selectLines(
  lines: readonly string[],
  options: { since?: Date; tailLines?: number },
): string[] {
  let kept = [...lines];
  if (options.since) {
    const from = options.since.getTime();
    let current: number | undefined;
    kept = kept.filter((line) => {
      const at = lineTime(line);
      if (at) current = at.getTime();
      return current !== undefined && current >= from;
    });
  }
  if (options.tailLines !== undefined) kept = kept.slice(-options.tailLines);
  return kept;
}
