/**
 * How the national benchmark (`bench/national_bench.ts`) reports what it measures: a row
 * sink ({@linkcode AddRow}), durations and sizes formatted for its table, requests counted by
 * status and `X-Cache`, and its progress log on stderr.
 *
 * @module
 */
import type { Timed } from "./national_services.ts";

/** Bytes in a mebibyte. */
export const MIB = 1024 * 1024;

/**
 * Adds a row to the benchmark's table.
 *
 * @param measure What was measured.
 * @param value The figure, formatted.
 * @param command The command that reproduces it (the benchmark's own command by default).
 */
export type AddRow = (measure: string, value: string, command?: string) => void;

/** Writes a progress line to stderr, prefixed with the UTC time (`HH:MM:SS`). */
export function log(line: string): void {
  console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
}

/** Formats milliseconds: `12.3 s`, `1.23 s`, `123 ms` or `1.23 ms`. */
export function fmtMs(x: number): string {
  return x >= 10_000
    ? `${(x / 1000).toFixed(1)} s`
    : x >= 1000
    ? `${(x / 1000).toFixed(2)} s`
    : x >= 10
    ? `${x.toFixed(0)} ms`
    : `${x.toFixed(2)} ms`;
}

/** Formats bytes in GiB (from 1 GiB) or MiB. */
export function fmtBytes(b: number): string {
  return b >= 1024 * MIB ? `${(b / 1024 / MIB).toFixed(2)} GiB` : `${(b / MIB).toFixed(1)} MiB`;
}

/** Counts requests by status and `X-Cache`: `"98× 200 HIT, 2× 200 MISS"`, or `"none"`. */
export function countBy(results: Timed[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = `${r.status} ${r.xCache}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(", ") || "none";
}
