import assert from "node:assert/strict";
import { defineCacheRegistry } from "./cache_registry.ts";
import { checkFillPolicy, type FillPolicy, heartbeatMs, livenessWindowMs } from "./fill_policy.ts";

const good: FillPolicy = { leaseMs: 3000, maxWaitMs: 60_000, pollMinMs: 10, pollMaxMs: 200 };

Deno.test("checkFillPolicy() accepts a policy that keeps every invariant", () => {
  assert.equal(checkFillPolicy("po_items", good), good);
});

Deno.test("checkFillPolicy() rejects each broken invariant with a RangeError naming the cache and values", () => {
  const cases: [Partial<FillPolicy>, RegExp][] = [
    [{ waitMs: 60_000 }, /'po_items': 'waitMs' \(60000\) must be below 'maxWaitMs' \(60000\)/],
    [{ pollMinMs: 0 }, /'pollMinMs' \(0\) must be a positive finite number/],
    [{ pollMinMs: -5, pollMaxMs: 10 }, /'pollMinMs' \(-5\) must be a positive/],
    [
      { pollMinMs: 300, pollMaxMs: 200 },
      /'pollMaxMs' \(200\) must be at least 'pollMinMs' \(300\)/,
    ],
    // The heartbeat is a third of the lease, at most 1 s: polls must be more frequent.
    [{ pollMaxMs: 1000 }, /'pollMaxMs' \(1000\) must be below the leader's heartbeat \(1000 ms/],
    [{ leaseMs: 600 }, /'pollMaxMs' \(200\) must be below the leader's heartbeat \(200 ms/],
    [{ maxWaitMs: 2000 }, /'maxWaitMs' \(2000\) must be above the liveness window \(2500 ms\)/],
    [{ leaseMs: Number.NaN }, /'leaseMs' \(NaN\) must be a positive finite number/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => checkFillPolicy("po_items", { ...good, ...change }), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${JSON.stringify(change)} threw ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("heartbeatMs() and livenessWindowMs(): a third of the lease, 10 ms to 1 s; 2.5 heartbeats", () => {
  assert.equal(heartbeatMs({ leaseMs: 600 }), 200);
  assert.equal(heartbeatMs({ leaseMs: 60_000 }), 1000);
  assert.equal(heartbeatMs({ leaseMs: 15 }), 10);
  assert.equal(livenessWindowMs({ leaseMs: 60_000 }), 2500);
});

Deno.test("checkFillPolicy(): maxWaitMs is optional (2 minutes), waitMs too", () => {
  const { maxWaitMs: _, ...noCap } = good;
  assert.equal(checkFillPolicy("x", noCap), noCap);
  assert.throws(
    () => checkFillPolicy("x", { ...noCap, waitMs: 130_000 }),
    /'maxWaitMs' \(120000\)/,
  );
});

Deno.test("defineCacheRegistry() checks every entry when the registry is built", () => {
  const registry = defineCacheRegistry([
    { prefix: "a", fleet: true, fill: good },
    { prefix: "b", fleet: false },
  ]);
  assert.deepEqual([...registry.keys()], ["a", "b"]);
  assert.throws(
    () => defineCacheRegistry([{ prefix: "a", fleet: true, fill: { ...good, waitMs: 90_000 } }]),
    /Cannot register cache 'a': 'waitMs' \(90000\) must be below 'maxWaitMs' \(60000\)/,
  );
  assert.throws(() => defineCacheRegistry([{ prefix: "a", fleet: true }]), RangeError);
  assert.throws(
    () => defineCacheRegistry([{ prefix: "a", fleet: false }, { prefix: "a", fleet: false }]),
    TypeError,
  );
  assert.throws(() => defineCacheRegistry([{ prefix: "a:b", fleet: false }]), TypeError);
  assert.throws(
    () => defineCacheRegistry([{ prefix: "a", fleet: false, writeTtlS: { min: 10, max: 5 } }]),
    RangeError,
  );
});
