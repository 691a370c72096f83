/**
 * The server's caches: one `TimCacheC` per cached route family, named by the prefixes of
 * the plan (`po_detail`, `po_items`, `metric_info`, `replicant_opts`, `ds_hmis`, `ds_hfa`),
 * and the in-memory structure cache (1-hour TTL).
 *
 * Every cached value is an {@linkcode Cached} envelope carrying the uniqueness and version
 * hashes it was computed for, so `parseData` can refuse a value that does not belong to
 * the key it is about to be stored under.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import {
  type DataCodec,
  type HashFuncs,
  ImmutableCache,
  type RedisStore,
  TimCacheB,
  TimCacheC,
} from "../lib/mod.ts";
import { canonicalJson } from "./canonical_json.ts";
import { SERVER_CACHES } from "./cache_registry.ts";
import { CACHE_FORMAT_VERSION } from "./version.ts";
import type { PoItemsBody } from "./model/items.ts";
import { RAW_BODY_ENVELOPE } from "./raw_json.ts";

export { canonicalJson } from "./canonical_json.ts";

/** A cached body with the hashes it was computed for. */
export interface Cached<B> {
  uniquenessHash: string;
  versionHash: string;
  body: B;
}

/**
 * A stable hash of any JSON-like value: SHA-256 (hex) of its canonical JSON (object keys
 * sorted), so `{a, b}` and `{b, a}` hash alike and no two different values collide through
 * separators.
 */
export function stableHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

/** How many params/version hashes are remembered. */
export const MAX_HASHES_REMEMBERED = 10_000;

/**
 * Hashes already computed, by the plain `JSON.stringify` of the value (cheaper than the
 * canonical form and SHA-256, which every cache hit would otherwise pay twice per cache).
 * Two spellings of one value (keys in another order) are two entries with the same hash.
 * Bounded: at most {@linkcode MAX_HASHES_REMEMBERED} entries, least recently used dropped.
 */
const hashes = new LRUCache<string, string>({ max: MAX_HASHES_REMEMBERED });

/**
 * Hashes of frozen values by identity (a route that hands the same frozen params object to
 * every request, as the items route does for an L1 detail, pays one `WeakMap` lookup, not a
 * `JSON.stringify` of its fetch config twice per cache call). Only frozen values: a value
 * that may still change cannot be remembered by identity. They must be deeply frozen (the
 * L1's values are, and what is made from them).
 */
const frozenHashes = { u: new WeakMap<object, string>(), v: new WeakMap<object, string>() };

function rememberedHash(kind: "u" | "v", value: unknown): string {
  if (typeof value === "object" && value !== null && Object.isFrozen(value)) {
    let hash = frozenHashes[kind].get(value);
    if (hash === undefined) {
      hash = plainRememberedHash(kind, value);
      frozenHashes[kind].set(value, hash);
    }
    return hash;
  }
  return plainRememberedHash(kind, value);
}

function plainRememberedHash(kind: "u" | "v", value: unknown): string {
  const plain = kind + JSON.stringify(value);
  let hash = hashes.get(plain);
  if (hash === undefined) {
    hash = kind === "u" ? stableHash(value) : `f${CACHE_FORMAT_VERSION}:${stableHash(value)}`;
    hashes.set(plain, hash);
  }
  return hash;
}

/**
 * Frozen params (or versions) by a string that names them exactly, so a route hands the
 * same frozen object to the cache for the same request, and its hashes are remembered by
 * identity (one `Map` lookup instead of a `JSON.stringify` and an LRU lookup per cache call).
 * Bounded: emptied when it holds `max` entries (the next requests make them again).
 *
 * @example One object per presentation object
 * ```ts
 * import { FrozenValues } from "./caches.ts";
 * const detailParams = new FrozenValues<{ projectId: string; poId: string }>();
 * const a = detailParams.get("p1/po1", () => ({ projectId: "p1", poId: "po1" }));
 * a === detailParams.get("p1/po1", () => ({ projectId: "p1", poId: "po1" })); // true
 * ```
 */
export class FrozenValues<T extends object> {
  readonly #values = new Map<string, Readonly<T>>();
  readonly #max: number;

  /** @param max Entries held at most. @default {MAX_HASHES_REMEMBERED} */
  constructor(max = MAX_HASHES_REMEMBERED) {
    this.#max = max;
  }

  /** The value named `key`, if one was made and not dropped since. */
  find(key: string): T | undefined {
    return this.#values.get(key) as T | undefined;
  }

  /**
   * The frozen value named `key`, made by `make` the first time. `key` must determine the
   * value: two different values under one key would share a cache entry.
   */
  get(key: string, make: () => T): T {
    let value = this.#values.get(key);
    if (value === undefined) {
      if (this.#values.size >= this.#max) this.#values.clear();
      value = Object.freeze(make());
      this.#values.set(key, value);
    }
    return value as T;
  }
}

/** The uniqueness hash of an envelope cache's params: {@linkcode stableHash} (remembered). */
export function uniquenessHashOf(params: unknown): string {
  return rememberedHash("u", params);
}

/** The version hash of an envelope cache's version params (includes the cache format). */
export function versionHashOf(version: unknown): string {
  return rememberedHash("v", version);
}

/** Wraps a body in the envelope for `params` at `version`. */
export function envelope<B>(params: unknown, version: unknown, body: B): Cached<B> {
  return { uniquenessHash: uniquenessHashOf(params), versionHash: versionHashOf(version), body };
}

/** Hash functions for an envelope cache: params and version are hashed canonically. */
export function envelopeFuncs<U, V, B>(): HashFuncs<U, V, Cached<B>> {
  return {
    uniquenessHashFromParams: uniquenessHashOf,
    versionHashFromParams: versionHashOf,
    parseData: (data) => ({
      shouldStore: true,
      uniquenessHash: data.uniquenessHash,
      versionHash: data.versionHash,
    }),
  };
}

/** A Redis-backed route cache holding envelopes. */
export type RouteCache<U, V, B> = TimCacheC<U, V, Cached<B>>;

/** Parameters and versions of each cache. Versions are ISO timestamps or counters. */
export interface ServerCaches {
  /** The instance's Redis the caches were built on (the app's Redis: status, flush, stats). */
  store: RedisStore;
  /** A presentation object's detail; version: its `last_updated`. */
  poDetail: RouteCache<{ projectId: string; poId: string }, { lastUpdated: string }, unknown>;
  /** Items of a fetch config over a results object; version: the module's `last_run`. */
  poItems: RouteCache<
    { projectId: string; resultsObjectId: string; fetch: unknown },
    { lastRun: string | null },
    PoItemsBody
  >;
  /** A metric's info; version: the module's `last_run`. */
  metricInfo: RouteCache<
    { projectId: string; metricId: string },
    { lastRun: string | null },
    unknown
  >;
  /** Options to replicate a metric by; version: the module's `last_run`. */
  replicantOpts: RouteCache<
    { projectId: string; metricId: string; replicateBy: string },
    { lastRun: string | null },
    unknown
  >;
  /** HMIS dataset summaries; version: the HMIS dataset version. */
  dsHmis: RouteCache<{ indicatorId?: string; level?: number }, { version: string }, unknown>;
  /** HFA dataset summaries; version: the HFA dataset version. */
  dsHfa: RouteCache<Record<string, never>, { version: string }, unknown>;
  /** The admin-area structure, in memory for one hour; version: the structure version. */
  structure: TimCacheB<"structure", { version: string }, Cached<unknown>>;
  /**
   * Finished module runs' result summaries by run id (`<project>.<module>.<runId>`):
   * immutable, no TTL, positive only; existence pre-warmed when the run finishes.
   */
  moduleRuns: ImmutableCache<unknown>;
}

/** The id of a module run: its `last_run` without separators, e.g. `20251231T103000123456Z`. */
export function runIdOf(lastRun: string): string {
  return lastRun.replace(/[-:.]/g, "");
}

/** Options of {@linkcode createServerCaches}. */
export interface ServerCachesOptions {
  /** The instance's Redis: the route caches keep their entries there; its flush empties them all. */
  store: RedisStore;
  /** Where cache errors are reported. @default {console.error} */
  log?: (line: string) => void;
}

/**
 * Creates the server's caches, each configured from its entry in the cache table
 * (`SERVER_CACHES`: fleet fill policy, TTLs).
 *
 * @throws {TypeError} If a cache has no entry in the table.
 */
export function createServerCaches(options: ServerCachesOptions): ServerCaches {
  const route = <U, V, B>(prefix: string, dataCodec?: DataCodec<Cached<B>>) => {
    const policy = SERVER_CACHES.get(prefix);
    if (!policy) throw new TypeError(`Cache '${prefix}' is missing from SERVER_CACHES`);
    return new TimCacheC<U, V, Cached<B>>(prefix, envelopeFuncs<U, V, B>(), {
      ...options,
      dataCodec,
      fill: policy.fleet ? policy.fill : undefined,
      minWriteTtlS: policy.writeTtlS?.min,
      maxWriteTtlS: policy.writeTtlS?.max,
      readRefreshTtlS: policy.readRefreshTtlS,
    });
  };
  return {
    store: options.store,
    poDetail: route("po_detail"),
    // Items are only ever sent: their bodies stay JSON text (RawJson) from Postgres to the socket.
    poItems: route("po_items", RAW_BODY_ENVELOPE as DataCodec<Cached<PoItemsBody>>),
    metricInfo: route("metric_info"),
    replicantOpts: route("replicant_opts"),
    dsHmis: route("ds_hmis"),
    dsHfa: route("ds_hfa"),
    structure: new TimCacheB(envelopeFuncs<"structure", { version: string }, unknown>(), {
      ttlMs: 60 * 60 * 1000,
      name: "structure",
      store: options.store,
    }),
    moduleRuns: new ImmutableCache("module_run", options),
  };
}
