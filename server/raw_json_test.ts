import assert from "node:assert/strict";
import { bodyValue, isRawJson, jsonWithFields, rawJson } from "./raw_json.ts";
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
