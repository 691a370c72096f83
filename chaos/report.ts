/**
 * Result rows: what a scenario's samples add up to, and the Markdown it prints.
 *
 * @module
 */
import type { Sample } from "./load.ts";

/** One scenario's result. Latencies in ms. */
export interface Row {
  scenario: string;
  /** Requests sent during the scenario (load and checks). */
  requests: number;
  /** Any 5xx outside the documented 503 window, any 500, connection error, wrong body or 4xx. */
  failed: number;
  /** 503s with `Retry-After` inside the documented window (the Postgres scenario only). */
  windowed503: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  hit: number;
  miss: number;
  bypass: number;
  /** Executions of the producer's SQL during the scenario (`pg_stat_statements`). */
  producerRuns: number;
  keysBefore: number;
  keysAfter: number;
  /** Keys present before the fault and missing at the end (beyond the AOF bound). */
  keysLost: number;
  seconds: number;
  /** Scenario checks that did not hold (empty: the row passes). */
  problems: string[];
  /** What happened, in a few short phrases. */
  notes: string[];
}

/** The `q`-quantile (0..1) of `values` by nearest rank; 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** Whether a sample failed, given the 503s the scenario documents as expected. */
export function isFailure(sample: Sample, allow503: (sample: Sample) => boolean): boolean {
  if (sample.status === 200) return !sample.bodyOk;
  if (sample.status === 503 && sample.retryAfter !== null && allow503(sample)) return false;
  return true;
}

/** Counts of a set of samples. */
export interface Tally {
  requests: number;
  failed: number;
  windowed503: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  hit: number;
  miss: number;
  bypass: number;
  /** Up to three distinct failures, as `status path: error`. */
  examples: string[];
}

/** Adds up samples; `allow503` says which 503s fall in the documented window. */
export function tally(
  samples: Sample[],
  allow503: (sample: Sample) => boolean = () => false,
): Tally {
  const latencies = samples.map((s) => s.endedAt - s.startedAt);
  const failures = samples.filter((s) => isFailure(s, allow503));
  const examples = [
    ...new Set(
      failures.map((s) => `${s.status} ${s.path}: ${(s.error ?? "").replace(/\s+/g, " ")}`),
    ),
  ].slice(0, 3);
  return {
    requests: samples.length,
    failed: failures.length,
    windowed503: samples.filter((s) => s.status === 503 && !isFailure(s, allow503)).length,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: Math.max(0, ...latencies),
    hit: samples.filter((s) => s.xCache === "HIT").length,
    miss: samples.filter((s) => s.xCache === "MISS").length,
    bypass: samples.filter((s) => s.xCache === "BYPASS").length,
    examples,
  };
}

/** The table's header and rule. */
export const HEADER =
  "| scenario | requests | failed | 503 in window | p50 ms | p99 ms | max ms | HIT / MISS / BYPASS | producer runs | keys before → after | keys lost | s | result |";
export const RULE = "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|";

/** Whether a row passes: no failure, no key lost, every scenario check held. */
export function passes(row: Row): boolean {
  return row.failed === 0 && row.keysLost === 0 && row.problems.length === 0;
}

/** One Markdown table row. */
export function markdownRow(row: Row): string {
  const ms = (value: number) => value < 10 ? value.toFixed(1) : value.toFixed(0);
  return `| ${row.scenario} | ${row.requests} | ${row.failed} | ${row.windowed503} | ${
    ms(row.p50Ms)
  } | ${ms(row.p99Ms)} | ${
    ms(row.maxMs)
  } | ${row.hit} / ${row.miss} / ${row.bypass} | ${row.producerRuns} | ${row.keysBefore} → ${row.keysAfter} | ${row.keysLost} | ${
    row.seconds.toFixed(1)
  } | ${passes(row) ? "PASS" : "FAIL"} |`;
}

/** The table of every row, with the header. */
export function markdownTable(rows: Row[]): string {
  return [HEADER, RULE, ...rows.map(markdownRow)].join("\n");
}

/** The notes and problems of every row, one bullet per scenario. */
export function markdownNotes(rows: Row[]): string {
  return rows.map((row) => {
    const problems = row.problems.map((p) => `**problem:** ${p}`);
    return `- **${row.scenario}**: ${[...row.notes, ...problems].join("; ")}.`;
  }).join("\n");
}
