import assert from "node:assert/strict";
import fc from "fast-check";
import { jitteredBackoffMs } from "./backoff.ts";

Deno.test("jitteredBackoffMs: the ceiling doubles from minMs up to maxMs; full jitter stays in [minMs, ceiling], equal jitter in [ceiling/2, ceiling]", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 10_000 }),
    fc.integer({ min: 0, max: 100_000 }),
    fc.integer({ min: -3, max: 80 }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    (minMs, extra, attempt, r) => {
      const maxMs = minMs + extra;
      const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt));
      const full = jitteredBackoffMs(attempt, { minMs, maxMs }, () => r);
      assert.ok(full >= minMs && full <= ceiling, `full ${full} outside [${minMs}, ${ceiling}]`);
      const equal = jitteredBackoffMs(attempt, { minMs, maxMs, jitter: "equal" }, () => r);
      assert.ok(equal >= ceiling / 2 && equal <= ceiling, `equal ${equal}`);
    },
  ));
  // The extremes of the draw reach the bounds.
  assert.equal(jitteredBackoffMs(3, { minMs: 10, maxMs: 1000 }, () => 0), 10);
  assert.equal(jitteredBackoffMs(3, { minMs: 10, maxMs: 1000, jitter: "equal" }, () => 0), 40);
  assert.equal(jitteredBackoffMs(30, { minMs: 10, maxMs: 1000 }, () => 1 - 1e-12) < 1000, true);
});

Deno.test("jitteredBackoffMs refuses bounds that cannot hold", () => {
  assert.throws(() => jitteredBackoffMs(0, { minMs: -1, maxMs: 5 }), RangeError);
  assert.throws(() => jitteredBackoffMs(0, { minMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => jitteredBackoffMs(0, { minMs: NaN, maxMs: 5 }), RangeError);
});
