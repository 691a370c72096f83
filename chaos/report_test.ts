import assert from "node:assert/strict";
import type { Sample } from "./load.ts";
import { isFailure, markdownRow, passes, quantile, type Row, tally } from "./report.ts";

function sample(overrides: Partial<Sample>): Sample {
  return {
    path: "/p",
    server: "http://127.0.0.1:1",
    startedAt: 0,
    endedAt: 10,
    status: 200,
    xCache: "HIT",
    retryAfter: null,
    bodyOk: true,
    ...overrides,
  };
}

Deno.test("quantile() takes the nearest rank and is 0 for no values", () => {
  assert.equal(quantile([], 0.5), 0);
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.equal(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99), 99);
  assert.equal(quantile([7], 0.99), 7);
});

Deno.test("isFailure() accepts a 503 only with Retry-After inside the window", () => {
  const inWindow = () => true;
  assert.equal(isFailure(sample({ status: 503, retryAfter: "5" }), inWindow), false);
  assert.equal(isFailure(sample({ status: 503, retryAfter: null }), inWindow), true);
  assert.equal(isFailure(sample({ status: 503, retryAfter: "5" }), () => false), true);
  assert.equal(isFailure(sample({ status: 500 }), inWindow), true);
  assert.equal(isFailure(sample({ status: 0, error: "refused" }), inWindow), true);
  assert.equal(isFailure(sample({ bodyOk: false }), inWindow), true);
  assert.equal(isFailure(sample({}), () => false), false);
});

Deno.test("tally() counts failures, windowed 503s and X-Cache, with failure examples", () => {
  const result = tally([
    sample({ xCache: "MISS", endedAt: 30 }),
    sample({ status: 503, retryAfter: "5", xCache: null }),
    sample({ status: 200, bodyOk: false, error: "unexpected body: {}" }),
    sample({ xCache: "BYPASS" }),
  ], (s) => s.status === 503);
  assert.equal(result.requests, 4);
  assert.equal(result.failed, 1);
  assert.equal(result.windowed503, 1);
  assert.deepEqual([result.hit, result.miss, result.bypass], [1, 1, 1]);
  assert.equal(result.maxMs, 30);
  assert.deepEqual(result.examples, ["200 /p: unexpected body: {}"]);
});

Deno.test("passes() needs no failure, no lost key and no problem; the row says so", () => {
  const row: Row = {
    scenario: "s",
    requests: 1,
    failed: 0,
    windowed503: 0,
    p50Ms: 1.25,
    p99Ms: 12.5,
    maxMs: 40,
    hit: 1,
    miss: 0,
    bypass: 0,
    producerRuns: 0,
    keysBefore: 2,
    keysAfter: 2,
    keysLost: 0,
    seconds: 1,
    problems: [],
    notes: [],
  };
  assert.equal(passes(row), true);
  assert.match(
    markdownRow(row),
    /^\| s \| 1 \| 0 \| 0 \| 1\.3 \| 13 \| 40 \| 1 \/ 0 \/ 0 .* PASS \|$/,
  );
  assert.equal(passes({ ...row, keysLost: 1 }), false);
  assert.equal(passes({ ...row, problems: ["x"] }), false);
  assert.match(markdownRow({ ...row, failed: 2 }), /FAIL \|$/);
});
