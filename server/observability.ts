/**
 * Observability of the caches: Prometheus metrics (npm `prom-client`), one structured log
 * line per cache operation, and OpenTelemetry spans (npm `@opentelemetry/api`, exported
 * by Deno's built-in OpenTelemetry when `OTEL_DENO=true`; a no-op otherwise).
 *
 * The library reports every cache operation to its observers (`lib/observe.ts`); this
 * module turns those reports into metrics and log lines.
 *
 * @module
 */
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CacheOperation, RedisStore } from "../lib/mod.ts";
import type { Db } from "./db.ts";

/** `REDIS_LOG_LEVEL`: which cache log lines are written. */
export type CacheLogLevel = "debug" | "info" | "warn" | "error" | "silent";

const LEVELS: Record<CacheLogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

/** Parses `REDIS_LOG_LEVEL`. @throws {RangeError} For an unknown level. */
export function parseLogLevel(text: string | undefined): CacheLogLevel {
  const level = (text ?? "info").toLowerCase();
  if (!(level in LEVELS)) {
    throw new RangeError(
      `REDIS_LOG_LEVEL must be one of ${Object.keys(LEVELS).join(", ")}, got '${text}'`,
    );
  }
  return level as CacheLogLevel;
}

/** What {@linkcode installObservability} returns. */
export interface Observability {
  /** The metrics registry (`GET /metrics` renders it). */
  registry: Registry;
  /** Stops observing (tests). */
  uninstall(): void;
}

/**
 * Registers the gauges of the cold computations' queue (`bounded_db.ts`) on `registry`:
 * `db_fills_running` (statements running, at most `FILL_CONCURRENCY`) and
 * `db_fills_queued` (statements waiting for a slot).
 */
export function observeFillQueue(
  registry: Registry,
  queue: { readonly running: number; readonly queued: number },
): void {
  new Gauge({
    name: "db_fills_running",
    help: "Cold computations' statements running on Postgres (at most FILL_CONCURRENCY)",
    registers: [registry],
    collect() {
      this.set(queue.running);
    },
  });
  new Gauge({
    name: "db_fills_queued",
    help: "Cold computations' statements waiting in the app for a slot (FILL_CONCURRENCY)",
    registers: [registry],
    collect() {
      this.set(queue.queued);
    },
  });
}

/**
 * Registers the metrics and the cache log on the operation reports of the caches built on
 * `options.store`.
 *
 * Metrics: `cache_hits_total`, `cache_misses_total`, `cache_bypass_total` (per cache),
 * `cache_errors_total` (per cache and op), `cache_operation_duration_seconds` (histogram
 * per cache and op), `cache_fills_total` (per cache and fill outcome),
 * `cache_values_too_large_total` (per cache), `redis_up`, `cache_l1_entries`,
 * `cache_l1_bytes`, `cache_l1_hits_total`, `cache_l1_invalidations_total`.
 *
 * Log: one JSON line per operation at `info` (`event`, `cache`, `op`, `result`,
 * `latencyMs`), the key only at `debug`; errors at `warn`. `fill` reports are not logged
 * here (the cache writes its own `cache_fill` line).
 */
export function installObservability(
  options: { store: RedisStore; logLevel?: CacheLogLevel; log?: (line: string) => void },
): Observability {
  const store = options.store;
  const level = LEVELS[options.logLevel ?? "info"];
  const log = options.log ?? ((line: string) => console.error(line));
  const registry = new Registry();
  // Reads are the hot path (two per cached hit): counted in plain maps per cache and added
  // to the counters when they are scraped (`collect`), not through prom-client's label
  // validation and hashing on every read.
  const hits = new PendingCounts();
  const misses = new PendingCounts();
  const bypass = new PendingCounts();
  readCounter(registry, "cache_hits_total", "Cache reads served from the cache", hits);
  readCounter(registry, "cache_misses_total", "Cache reads that computed the value", misses);
  readCounter(
    registry,
    "cache_bypass_total",
    "Cache reads computed without a cache (Redis off or down)",
    bypass,
  );
  const errors = new Counter({
    name: "cache_errors_total",
    help: "Cache operations that failed (Redis errors, producer errors)",
    labelNames: ["cache", "op"],
    registers: [registry],
  });
  const fills = new Counter({
    name: "cache_fills_total",
    help: "Miss fills by outcome (leader, follower_hit, ...)",
    labelNames: ["cache", "outcome"],
    registers: [registry],
  });
  const fillWait = new Histogram({
    name: "cache_fill_wait_seconds",
    help: "How long a miss waited before its value or its own computation (a follower: for " +
      "its leader), by fill outcome",
    labelNames: ["cache", "outcome"],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const takeovers = new Counter({
    name: "cache_fill_takeovers_total",
    help: "Fills taken over from another process's leader: dead (stopped extending its lease), " +
      "cap (alive past maxWaitMs) or free (it ended without a value)",
    labelNames: ["cache", "reason"],
    registers: [registry],
  });
  const timeouts = new Counter({
    name: "cache_fill_timeouts_total",
    help: "Fills abandoned at the cache's producer timeout",
    labelNames: ["cache"],
    registers: [registry],
  });
  const tooLarge = new Counter({
    name: "cache_values_too_large_total",
    help: "Values not stored because they exceed maxValueBytes",
    labelNames: ["cache"],
    registers: [registry],
  });
  // prom-client's own histogram: the exposition stays the library's, not a copy of it. Its
  // observe validates and hashes the labels and converts each fractional bound to a property
  // name, 2 to 2.5 µs per operation on a 2-core EPYC (CPU profile of `server_bench`'s load,
  // more than the rest of an L1 hit): reads answered by the L1 are counted
  // (`cache_hits_total`, `cache_l1_hits_total`) but not timed.
  const duration = new Histogram({
    name: "cache_operation_duration_seconds",
    help: "Cache operation latency (reads answered by the in-process L1 are not timed: they " +
      "take microseconds; cache_l1_hits_total counts them)",
    labelNames: ["cache", "op"],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "redis_up",
    help:
      "1 when the instance's Redis answers, 0 when it is configured but down (absent when disabled)",
    registers: [registry],
    collect() {
      const status = store.status();
      if (status !== "disabled") this.set(status === "up" ? 1 : 0);
    },
  });
  const l1 = (
    name: string,
    help: string,
    read: (s: NonNullable<ReturnType<typeof l1Stats>>) => number,
  ) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const stats = l1Stats();
        if (stats) this.set(read(stats));
      },
    });
  const l1Stats = () => store.l1?.stats();
  l1("cache_l1_entries", "Entries in the in-process L1", (s) => s.entries);
  l1("cache_l1_bytes", "Bytes held by the in-process L1", (s) => s.bytes);
  l1("cache_l1_hits_total", "Reads served by the in-process L1", (s) => s.hits);
  l1(
    "cache_l1_invalidations_total",
    "Invalidation pushes received from Redis",
    (s) => s.invalidations,
  );

  const uninstall = store.observers.add((operation: CacheOperation) => {
    const { cache, op, result } = operation;
    if (!operation.local) duration.observe({ cache, op }, operation.latencyMs / 1000);
    if (op === "fill") {
      fills.inc({ cache, outcome: result });
      if (result === "timeout") timeouts.inc({ cache });
      const detail = operation.detail as { waitedMs?: number; tookOver?: string } | undefined;
      if (typeof detail?.waitedMs === "number") {
        fillWait.observe({ cache, outcome: result }, detail.waitedMs / 1000);
      }
      if (detail?.tookOver) takeovers.inc({ cache, reason: detail.tookOver });
      return;
    }
    if (op === "get" || op === "get_or_set" || op === "get_many") {
      if (result === "hit") hits.add(cache);
      else if (result === "miss") misses.add(cache);
      else if (result === "bypass") bypass.add(cache);
    }
    if (result === "error") errors.inc({ cache, op });
    if (result === "too_large") tooLarge.inc({ cache });
    const lineLevel = result === "error" || result === "too_large" ? LEVELS.warn : LEVELS.info;
    if (lineLevel < level) return;
    log(JSON.stringify({
      event: "cache_op",
      cache,
      op,
      result,
      latencyMs: Math.round(operation.latencyMs * 1000) / 1000,
      ...(level <= LEVELS.debug && operation.key !== undefined ? { key: operation.key } : {}),
    }));
  });
  return { registry, uninstall };
}

/** Counts per cache since the last scrape. */
class PendingCounts {
  readonly #counts = new Map<string, number>();

  /** Counts one for `cache`. */
  add(cache: string): void {
    this.#counts.set(cache, (this.#counts.get(cache) ?? 0) + 1);
  }

  /** Hands the counts to `to` and starts again from zero. */
  drain(to: (cache: string, count: number) => void): void {
    for (const [cache, count] of this.#counts) to(cache, count);
    this.#counts.clear();
  }
}

/** A counter per cache whose increments are {@linkcode PendingCounts} added at each scrape. */
function readCounter(registry: Registry, name: string, help: string, pending: PendingCounts) {
  return new Counter({
    name,
    help,
    labelNames: ["cache"],
    registers: [registry],
    collect() {
      pending.drain((cache, count) => this.inc({ cache }, count));
    },
  });
}

const tracer = trace.getTracer("wb-server");
/** The span `inSpan` hands out while nothing traces (records nothing). */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether spans go anywhere: a tracer provider is registered with the OpenTelemetry API
 * (Deno's built-in one under `OTEL_DENO=true`, or an SDK). Checked per call, so a provider
 * registered after this module loaded is used from then on.
 */
export function tracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) ||
    provider.getDelegateTracer("wb-server") !== undefined;
}

/**
 * Runs `fn` in an OpenTelemetry span (exported by Deno's built-in OpenTelemetry when
 * `OTEL_DENO=true`); errors are recorded on the span and rethrown.
 */
export function inSpan<R>(
  name: string,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<R>,
): Promise<R> {
  // Without a tracer provider the span would be a no-op that still costs a context switch
  // (about 7% of a cache hit's CPU): run `fn` directly then.
  if (!tracing()) return fn(NO_SPAN);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: String((error as Error)?.message ?? error),
      });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Wraps a database so every query runs in a `db.query` span (statement text as attribute). */
export function tracedDb(db: Db): Db {
  return {
    ...db,
    query: (text, params) =>
      inSpan(
        "db.query",
        { "db.system": "postgresql", "db.statement": text.slice(0, 500) },
        () => db.query(text, params),
      ),
    transaction: (fn) =>
      inSpan(
        "db.transaction",
        { "db.system": "postgresql" },
        () => db.transaction((tx) => fn(tracedDb(tx))),
      ),
    close: () => db.close(),
    exec: (sql) => db.exec(sql),
    copyRows: (table, columns, rows) => db.copyRows(table, columns, rows),
  };
}
