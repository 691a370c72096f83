import assert from "node:assert/strict";
import { defineCacheRegistry } from "./cache_registry.ts";
import { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";

const good: FillPolicy = { leaseMs: 3000, waitMs: 2000, pollMinMs: 10, pollMaxMs: 200 };

Deno.test("checkFillPolicy() accepts a policy that keeps every invariant", () => {
  assert.equal(checkFillPolicy("po_items", good), good);
});

Deno.test("checkFillPolicy() rejects each broken invariant with a RangeError naming the cache and values", () => {
  const cases: [Partial<FillPolicy>, RegExp][] = [
    [{ waitMs: 3000 }, /'po_items': 'waitMs' \(3000\) must be below 'leaseMs' \(3000\)/],
    [{ waitMs: 5000 }, /'waitMs' \(5000\) must be below 'leaseMs' \(3000\)/],
    [{ pollMinMs: 0 }, /'pollMinMs' \(0\) must be above 0/],
    [{ pollMinMs: -5, pollMaxMs: 10 }, /'pollMinMs' \(-5\) must be above 0/],
    [
      { pollMinMs: 300, pollMaxMs: 200 },
      /'pollMaxMs' \(200\) must be at least 'pollMinMs' \(300\)/,
    ],
    [{ pollMaxMs: 2000 }, /'pollMaxMs' \(2000\) must be below 'waitMs' \(2000\)/],
    [{ leaseMs: Number.NaN }, /'leaseMs' \(NaN\) must be a finite number/],
  ];
  for (const [change, message] of cases) {
    assert.throws(() => checkFillPolicy("po_items", { ...good, ...change }), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${JSON.stringify(change)} threw ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("defineCacheRegistry() checks every entry when the registry is built", () => {
  const registry = defineCacheRegistry([
    { prefix: "a", fleet: true, fill: good },
    { prefix: "b", fleet: false },
  ]);
  assert.deepEqual([...registry.keys()], ["a", "b"]);
  assert.throws(
    () => defineCacheRegistry([{ prefix: "a", fleet: true, fill: { ...good, waitMs: 9000 } }]),
    /Cannot register cache 'a': 'waitMs' \(9000\) must be below 'leaseMs' \(3000\)/,
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
