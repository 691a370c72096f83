/**
 * The load: N concurrent fetchers for a bounded time over the server's cached routes,
 * recording each request's status, latency, `X-Cache`, `Retry-After` and whether its body
 * is the one Postgres gives (the oracle taken with Redis disabled).
 *
 * @module
 */
import { sleep } from "./process.ts";

/** One route the load requests. */
export interface Target {
  /** Path and query, e.g. `/api/projects/demo/presentation_objects/po_x/items`. */
  path: string;
  /** Drops what legitimately differs between answers (the batch route's per-entry `xCache`). */
  normalize?: (body: unknown) => unknown;
}

/** What one request got. Times are `performance.now()` readings. */
export interface Sample {
  path: string;
  /** Base URL of the server asked. */
  server: string;
  startedAt: number;
  endedAt: number;
  /** HTTP status; 0 when there was no response (connection error, timeout). */
  status: number;
  xCache: string | null;
  retryAfter: string | null;
  /** `true` when a 200's body equals the oracle's. */
  bodyOk: boolean;
  /** The connection error, or the start of an unexpected body. */
  error?: string;
}

/** The expected body of each path, as canonical text. */
export type Oracle = Map<string, string>;

/** The canonical text of a body: parsed, normalized, serialized again. */
export function canonicalBody(target: Target, text: string): string {
  const parsed = JSON.parse(text);
  return JSON.stringify(target.normalize ? target.normalize(parsed) : parsed);
}

/** Options of {@linkcode request}. */
export interface RequestOptions {
  /** Give up (status 0) after this long, in ms. @default {60_000} */
  timeoutMs?: number;
  /** Request headers (the viewer's bearer token). */
  headers?: Record<string, string>;
}

/** Requests `target` from `server` once. */
export async function request(
  server: string,
  target: Target,
  oracle: Oracle | undefined,
  options: RequestOptions = {},
): Promise<Sample> {
  const startedAt = performance.now();
  try {
    const response = await fetch(server + target.path, {
      headers: options.headers,
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
    const text = await response.text();
    const sample: Sample = {
      path: target.path,
      server,
      startedAt,
      endedAt: performance.now(),
      status: response.status,
      xCache: response.headers.get("x-cache"),
      retryAfter: response.headers.get("retry-after"),
      bodyOk: false,
    };
    if (response.status === 200) {
      let canonical: string | undefined;
      try {
        canonical = canonicalBody(target, text);
      } catch { /* not JSON: wrong */ }
      const expected = oracle?.get(target.path);
      sample.bodyOk = expected === undefined || canonical === expected;
      if (!sample.bodyOk) sample.error = `unexpected body: ${text.slice(0, 120)}`;
    } else {
      sample.error = text.slice(0, 200);
    }
    return sample;
  } catch (error) {
    return {
      path: target.path,
      server,
      startedAt,
      endedAt: performance.now(),
      status: 0,
      xCache: null,
      retryAfter: null,
      bodyOk: false,
      error: String((error as Error)?.message ?? error),
    };
  }
}

/** Options of {@linkcode startLoad}. */
export interface LoadOptions {
  /** Base URLs of the servers; requests go round-robin. */
  servers: string[];
  targets: Target[];
  oracle: Oracle;
  /** Concurrent fetchers. @default {6} */
  concurrency?: number;
  /** How long the load runs, in ms; it stops by itself. */
  durationMs: number;
  /** Pause of each fetcher between two requests, in ms (the machine is shared). @default {4} */
  thinkMs?: number;
  /** Per-request timeout, in ms. @default {60_000} */
  timeoutMs?: number;
  /** Request headers (the viewer's bearer token). */
  headers?: Record<string, string>;
}

/** A running load. */
export interface RunningLoad {
  /** Resolves with every sample once the duration is over and the last requests ended. */
  done: Promise<Sample[]>;
  /** Ends it early (requests in flight still finish). */
  stop(): void;
}

/** Starts the load in the background; it stops by itself after `durationMs`. */
export function startLoad(options: LoadOptions): RunningLoad {
  const samples: Sample[] = [];
  const endAt = performance.now() + options.durationMs;
  let stopped = false;
  let next = 0;
  const fetcher = async () => {
    while (!stopped && performance.now() < endAt) {
      const i = next++;
      const target = options.targets[i % options.targets.length];
      const server =
        options.servers[Math.floor(i / options.targets.length) % options.servers.length];
      samples.push(await request(server, target, options.oracle, options));
      await sleep(options.thinkMs ?? 4);
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency ?? 6 }, fetcher)).then(() =>
    samples.sort((a, b) => a.startedAt - b.startedAt)
  );
  return { done, stop: () => void (stopped = true) };
}

/** Requests every target once from `server`, in order (a warm-up or a final check). */
export async function sweep(
  server: string,
  targets: Target[],
  oracle: Oracle | undefined,
  headers?: Record<string, string>,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const target of targets) samples.push(await request(server, target, oracle, { headers }));
  return samples;
}
