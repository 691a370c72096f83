import assert from "node:assert/strict";
import { createClient } from "redis";
import { type RedisClient, RedisStore } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createServerCaches, envelope } from "./caches.ts";
import { bodyValue, isRawJson, jsonWithFields, RAW_BODY_ENVELOPE, rawJson } from "./raw_json.ts";
import { jsonBytes } from "./http.ts";

Deno.test("a raw JSON body is served as its text and parsed only on request", () => {
  const text = '{"status":"ok","items":[{"a":1.5,"b":"x"}],"dateRange":{"min":1,"max":2}}';
  const body = Object.freeze(rawJson(text));
  assert.ok(isRawJson(body));
  assert.ok(!isRawJson({ status: "ok" }) && !isRawJson({ $json: 1 }) && !isRawJson(null));
  assert.equal(new TextDecoder().decode(jsonBytes(body)), text);
  assert.equal(jsonBytes(body), jsonBytes(body), "a frozen body's bytes are made once");
  assert.deepEqual(bodyValue(body), JSON.parse(text));
  assert.deepEqual(bodyValue({ status: "no_data_available" }), { status: "no_data_available" });
});

Deno.test("jsonWithFields() splices a raw body as {...fields, ...body} would", () => {
  const cases: unknown[] = [
    { status: "ok", items: [{ a: 1 }] },
    {},
    { poId: "overridden", status: "too_many_items", limit: 3 },
  ];
  for (const value of cases) {
    for (const text of [JSON.stringify(value), `  ${JSON.stringify(value, null, 2)}`]) {
      const spliced = jsonWithFields({ poId: "p", xCache: "HIT" }, rawJson(text));
      assert.deepEqual(JSON.parse(spliced), { poId: "p", xCache: "HIT", ...value as object });
    }
    assert.deepEqual(
      JSON.parse(jsonWithFields({ poId: "p" }, value)),
      { poId: "p", ...value as object },
    );
  }
  assert.equal(jsonWithFields({}, rawJson('{"a":1}')), '{"a":1}');
  assert.throws(() => jsonWithFields({ poId: "p" }, rawJson("[1]")), TypeError);
});

Deno.test("RAW_BODY_ENVELOPE writes a raw body in place and reads every body back as text", () => {
  const head = { uniquenessHash: "ab12", versionHash: 'f3:"q"\\' };
  const body = { status: "ok", items: [{ a: 1.5, b: 'x"y\\z' }], dateRange: { min: 1, max: 2 } };
  const text = JSON.stringify(body);
  // A raw body is written as the same body stored as objects would be.
  const written = RAW_BODY_ENVELOPE.stringify({ ...head, body: rawJson(text) });
  assert.equal(written, JSON.stringify({ ...head, body }));
  // Both entries read back with the body's text, not parsed.
  for (const json of [written, JSON.stringify({ ...head, body })]) {
    const read = RAW_BODY_ENVELOPE.parse(json);
    assert.equal(read.uniquenessHash, head.uniquenessHash);
    assert.equal(read.versionHash, head.versionHash);
    assert.ok(isRawJson(read.body));
    assert.equal(read.body.$json, text);
  }
  // A body that is not an object's text, or another shape, is parsed whole.
  for (const other of [{ ...head, body: "s" }, { ...head, body: [1] }, { body: {}, ...head }]) {
    assert.deepEqual(RAW_BODY_ENVELOPE.parse(JSON.stringify(other)), other);
  }
});

Deno.test("po_items entries round-trip through Redis with the body as text", async () => {
  await using redis = await startRedis();
  const client = createClient({ url: redis.url }) as unknown as RedisClient;
  await client.connect();
  const store = RedisStore.over(() => client);
  try {
    const caches = createServerCaches({ store, log: () => {} });
    const params = { projectId: "p", resultsObjectId: "r", fetch: { values: [] } };
    const version = { lastRun: "2026-01-01T00:00:00.000000Z" };
    const text = JSON.stringify({ status: "ok", items: [{ q: 'say "hi"' }] });
    const produced = await caches.poItems.getOrSet(
      params,
      version,
      () => Promise.resolve(envelope(params, version, rawJson(text))),
    );
    assert.equal(produced.outcome, "miss");
    const stored = JSON.parse(
      (await client.get(caches.poItems.keyFor(produced.value.uniquenessHash)))!,
    );
    assert.deepEqual(stored.data.body, JSON.parse(text), "stored as the body's JSON, unescaped");
    store.l1?.clear();
    const hit = await caches.poItems.getOrSet(params, version, () => {
      throw new Error("a hit does not compute");
    });
    assert.equal(hit.outcome, "hit");
    assert.ok(isRawJson(hit.value.body));
    assert.equal(hit.value.body.$json, text);
  } finally {
    await store.close();
    client.destroy();
  }
});
