/**
 * What a `TimCacheC` tells its log and the observers (`observe.ts`): Redis failures (at
 * most one line per second per cache), one `cache_fill` line per `getOrSet` miss, one
 * `cache_clear` line per clear, and its writes (observers only). A log line names a key only
 * by a short hash.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { FillLogFields } from "./_fleet_fill.ts";
import type { CacheObservers } from "./observe.ts";
import type { ClearResult } from "./types.ts";

/** The log lines and observer reports of one cache. */
export class CacheReport {
  #lastErrorLogMs = 0;

  /**
   * @param cache The cache's name (its prefix) in every line and report.
   * @param log Receives the JSON lines.
   * @param observers Receive the reports (the store's observers).
   */
  constructor(
    private readonly cache: string,
    private readonly log: (line: string) => void,
    private readonly observers: CacheObservers | undefined,
  ) {}

  /** A failed Redis call `op`: reported to observers, logged at most once per second. */
  error(op: string, error: unknown): void {
    this.observers?.report({ cache: this.cache, op, result: "error", latencyMs: 0 });
    const now = Date.now();
    if (now - this.#lastErrorLogMs < 1000) return;
    this.#lastErrorLogMs = now;
    this.log(JSON.stringify({
      event: "cache_error",
      cache: this.cache,
      op,
      error: String((error as Error)?.message ?? error),
    }));
  }

  /** One JSON line (and an observer report) per `getOrSet` miss of `key`. */
  fill(key: string, outcome: string, fields: FillLogFields): void {
    if (this.observers?.any) {
      this.observers.report({
        cache: this.cache,
        op: "fill",
        result: outcome,
        latencyMs: fields.waitedMs + fields.computeMs,
        key,
        detail: { ...fields },
      });
    }
    this.log(JSON.stringify({
      event: "cache_fill",
      cache: this.cache,
      keyHash: hashOf(key),
      outcome,
      ...fields,
      waitedMs: round1(fields.waitedMs),
      computeMs: round1(fields.computeMs),
    }));
  }

  /** A write of `key` that started at `started` (`performance.now()`), for observers; `bytes` stored. */
  set(key: string, result: string, started: number, bytes?: number): void {
    if (!this.observers?.any) return;
    this.observers.report({
      cache: this.cache,
      op: "set",
      result,
      latencyMs: performance.now() - started,
      key,
      detail: bytes === undefined ? undefined : { bytes },
    });
  }

  /** One JSON line per clear of `scope` (a key's hash, or `all`) that started at `started`. */
  clear(scope: string, result: ClearResult, started: number): void {
    this.log(JSON.stringify({
      event: "cache_clear",
      cache: this.cache,
      scope,
      status: result.status,
      ...(result.deleted === undefined ? {} : { deleted: result.deleted }),
      ms: round1(performance.now() - started),
      ...(result.status === "pending"
        ? { effect: "Redis unreachable: this process bypasses the entries; retrying" }
        : {}),
    }));
  }
}

/** A short hash of a key, for logs (12 hex digits of its SHA-256). */
export function hashOf(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
