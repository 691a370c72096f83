/**
 * Uniqueness hashes and Redis keys cannot collide across parameters or prefixes, whatever
 * separators (`:`, `,`, `"`, `\`) or glob characters (`*`, `?`, `[`, `]`) the parameters
 * carry (fast-check properties):
 *
 * - `canonicalJson` is injective on JSON values and blind to key order;
 * - every server cache's key is `cache:<prefix>:<64 hex>`: nothing of the input reaches the
 *   key, different parameters (however a string is split between fields) give different
 *   keys, and no two caches share a key;
 * - module run ids (`<project>.<module>.<runId>`) are injective: `.` is not an id character;
 * - a `TimCacheC` prefix with `:` is refused, so `cache:<prefix>:` never starts another
 *   prefix's keys; `clearAll()` on a prefix full of glob characters deletes its own keys
 *   and nothing else (a real redis-server started here, in both suite modes).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createClient } from "redis";
import { type HashFuncs, type RedisClient, TimCacheC } from "../../lib/mod.ts";
import { startRedis } from "../../lib/testing/redis_server.ts";
import { canonicalJson, createServerCaches, stableHash, uniquenessHashOf } from "../caches.ts";
import { fuzzParameters, nastyString } from "./_fuzz.ts";
import { RedisStore } from "../../lib/mod.ts";

/** `value` with the keys of every object in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]),
    );
  }
  return value;
}

Deno.test("canonicalJson(): injective on JSON values (it parses back to the value) and blind to key order", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const canonical = canonicalJson(value);
      // Parses back to the value (as JSON sees it: -0 is 0).
      assert.deepEqual(JSON.parse(canonical), JSON.parse(JSON.stringify(value)));
      assert.equal(canonicalJson(reversedKeys(value)), canonical);
      assert.equal(stableHash(reversedKeys(value)), stableHash(value));
    }),
    fuzzParameters(5),
  );
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
      // Equal canonical forms only for equal values; equal hashes only for equal forms.
      const same = canonicalJson(a) === canonicalJson(b);
      assert.equal(
        same,
        JSON.stringify(JSON.parse(canonicalJson(a))) === JSON.stringify(
          JSON.parse(canonicalJson(b)),
        ),
      );
      assert.equal(stableHash(a) === stableHash(b), same);
    }),
    fuzzParameters(5),
  );
});

const caches = createServerCaches({ store: RedisStore.over(() => undefined), log: () => {} });
const ROUTE_CACHES = {
  po_detail: caches.poDetail,
  po_items: caches.poItems,
  metric_info: caches.metricInfo,
  replicant_opts: caches.replicantOpts,
  ds_hmis: caches.dsHmis,
  ds_hfa: caches.dsHfa,
} as const;
type Prefix = keyof typeof ROUTE_CACHES;
const keyOf = (prefix: Prefix, params: unknown) =>
  ROUTE_CACHES[prefix].keyFor(uniquenessHashOf(params));

/** Separators and glob characters a string might be split around. */
const separator = fc.constantFrom(
  ":",
  "*",
  "?",
  "[",
  "]",
  ",",
  '"',
  "\\",
  "",
  "\u0000",
  "}{",
  "::",
);

/** Parameters of each route cache, with hostile strings. */
const paramsOf: Record<Prefix, fc.Arbitrary<unknown>> = {
  po_detail: fc.record({ projectId: nastyString, poId: nastyString }),
  po_items: fc.record({
    projectId: nastyString,
    resultsObjectId: nastyString,
    fetch: fc.jsonValue({ maxDepth: 3 }),
  }),
  metric_info: fc.record({ projectId: nastyString, metricId: nastyString }),
  replicant_opts: fc.record({
    projectId: nastyString,
    metricId: nastyString,
    replicateBy: nastyString,
  }),
  ds_hmis: fc.record({
    indicatorId: fc.option(nastyString, { nil: undefined }),
    level: fc.option(fc.oneof(fc.constantFrom(2, 3, 4), fc.constantFrom("2", "3")), {
      nil: undefined,
    }),
  }, { requiredKeys: [] }),
  ds_hfa: fc.constant({}),
};

const prefixArb = fc.constantFrom(...(Object.keys(ROUTE_CACHES) as Prefix[]));
const paramsArb = prefixArb.chain((prefix) =>
  paramsOf[prefix].map((params) => ({ prefix, params }))
);

Deno.test("server cache keys are cache:<prefix>:<sha256>: different parameters or caches never share a key", () => {
  fc.assert(
    fc.property(paramsArb, paramsArb, (a, b) => {
      const keyA = keyOf(a.prefix, a.params);
      const keyB = keyOf(b.prefix, b.params);
      assert.match(keyA, new RegExp(`^cache:${a.prefix}:[0-9a-f]{64}$`));
      const sameParams = canonicalJson(a.params) === canonicalJson(b.params);
      assert.equal(keyA === keyB, a.prefix === b.prefix && sameParams);
    }),
    fuzzParameters(5),
  );
});

Deno.test("a string split differently between two fields (around :, glob characters, quotes) never gives the same key", () => {
  fc.assert(
    fc.property(nastyString, nastyString, nastyString, separator, (x, y, z, sep) => {
      const left = { projectId: `${x}${sep}${y}`, poId: z };
      const right = { projectId: x, poId: `${y}${sep}${z}` };
      fc.pre(left.projectId !== right.projectId || left.poId !== right.poId);
      assert.notEqual(keyOf("po_detail", left), keyOf("po_detail", right));
      const three = { projectId: x, metricId: `${y}${sep}${z}`, replicateBy: "indicator_id" };
      const shifted = { projectId: `${x}${sep}${y}`, metricId: z, replicateBy: "indicator_id" };
      fc.pre(three.projectId !== shifted.projectId);
      assert.notEqual(keyOf("replicant_opts", three), keyOf("replicant_opts", shifted));
    }),
    fuzzParameters(5),
  );
  // A number and its text are different parameters; an absent field and an undefined one
  // are the same.
  assert.notEqual(keyOf("ds_hmis", { level: 3 }), keyOf("ds_hmis", { level: "3" }));
  assert.equal(
    keyOf("ds_hmis", { indicatorId: undefined, level: 3 }),
    keyOf("ds_hmis", { level: 3 }),
  );
});

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const idArb = fc.stringMatching(ID);

Deno.test("module run ids <project>.<module>.<runId> are injective over valid ids ('.' is not an id character)", () => {
  fc.assert(
    fc.property(fc.tuple(idArb, idArb, idArb), fc.tuple(idArb, idArb, idArb), (a, b) => {
      assert.equal(a.join(".") === b.join("."), a.every((part, i) => part === b[i]));
    }),
    fuzzParameters(5),
  );
  fc.assert(
    fc.property(idArb, idArb, (id, other) => {
      // The run cache and its existence flags live under different prefixes.
      assert.notEqual(`cache:module_run:${id}`, `cache:module_run_exists:${other}`);
    }),
    fuzzParameters(),
  );
});

const funcs: HashFuncs<string, number, { id: string; rev: number }> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => String(rev),
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: String(d.rev) }),
};
const quiet = { log: () => {} };

Deno.test("TimCacheC refuses a prefix with ':'; without one, (prefix, hash) -> key is injective", () => {
  fc.assert(
    fc.property(nastyString, nastyString, (before, after) => {
      assert.throws(
        () =>
          new TimCacheC(`${before}:${after}`, funcs, { ...quiet, store: RedisStore.disabled() }),
        TypeError,
      );
    }),
    fuzzParameters(0.25),
  );
  // A pool of hostile prefixes (a cache is not free to build), any hashes.
  const pool = [
    ...new Set([
      "a",
      "ab",
      "a*",
      "a?",
      "[a]",
      "a\\",
      ...fc.sample(nastyString.map((s) => s.replaceAll(":", "")), { numRuns: 40, seed: 1 }),
    ]),
  ].filter((p) => p.length > 0).map((p) =>
    new TimCacheC(p, funcs, { store: RedisStore.over(() => undefined), ...quiet })
  );
  const cache = fc.constantFrom(...pool);
  fc.assert(
    fc.property(cache, nastyString, cache, nastyString, (c1, h1, c2, h2) => {
      assert.equal(c1.keyFor(h1) === c2.keyFor(h2), c1.prefix === c2.prefix && h1 === h2);
      assert.ok(c1.keyFor(h1).startsWith(`cache:${c1.prefix}:`));
    }),
    fuzzParameters(5),
  );
});

Deno.test("clearAll() on prefixes full of glob characters deletes its own keys and no other prefix's", async () => {
  await using redis = await startRedis();
  const client = createClient({ url: redis.url }) as unknown as RedisClient;
  await client.connect();
  try {
    const globPrefix = fc.string({
      unit: fc.constantFrom("a", "b", "*", "?", "[", "]", "\\", "^", "-", "!", "{", "}"),
      minLength: 1,
      maxLength: 4,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(globPrefix, { minLength: 2, maxLength: 6 }),
        fc.nat(),
        async (prefixes, pick) => {
          await client.flushDb();
          const all = prefixes.map((p) =>
            new TimCacheC(p, funcs, {
              store: RedisStore.over(() => client),
              clearBatchSize: 2,
              ...quiet,
            })
          );
          for (const cache of all) {
            for (const id of ["k0", "k*", "k?"]) {
              await cache.setPromise(Promise.resolve({ id, rev: 1 }), id, 1);
            }
          }
          await client.set("unrelated", "1");
          const target = all[pick % all.length];
          await target.clearAll();
          for (const cache of all) {
            const left = await client.exists(["k0", "k*", "k?"].map((id) => cache.keyFor(id)));
            assert.equal(
              left,
              cache === target ? 0 : 3,
              `'${cache.prefix}' after clearing '${target.prefix}'`,
            );
          }
          assert.equal(await client.get("unrelated"), "1");
        },
      ),
      fuzzParameters(0.1, 20),
    );
  } finally {
    client.destroy();
  }
});
