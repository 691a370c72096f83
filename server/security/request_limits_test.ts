/**
 * Hostile bodies: every unsafe route (read from `app.routes`) refuses a body above its limit
 * (413) and one nested too deep (400) before any credential is looked up or any statement
 * runs; against the real server process, 600 MiB and deeply nested bodies are answered while
 * the client is still sending, the process's peak RSS grows by less than 50 MiB, and
 * `/healthz` keeps answering meanwhile.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BODY_LIMITS,
  bodyLimitOf,
  jsonNestingViolation,
  MAX_BODY_DEPTH,
} from "../request_limits.ts";
import { startServer } from "../testing/server_process.ts";
import {
  slowUpload,
  type SlowUploadOptions,
  type SlowUploadResult,
} from "../testing/slow_upload.ts";
import {
  ADMIN_TOKEN,
  createSecurityFixture,
  METRICS_TOKEN,
  MIRROR_SECRET,
  routesOf,
  type SecurityFixture,
  VIEWER_TOKEN,
} from "./_fixture.ts";
import { fuzzParameters } from "./_fuzz.ts";

let fixture: SecurityFixture | undefined;

async function setup(): Promise<SecurityFixture> {
  fixture ??= await createSecurityFixture();
  return fixture;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const MIB = 1024 * 1024;
/** Waves of the process attack (every hostile request of every route, in parallel, per wave). */
const WAVES = 5;

/** `METHOD /concrete/path` of every unsafe route of the app. */
async function unsafeRoutes(f: SecurityFixture): Promise<{ method: string; path: string }[]> {
  const routes = [];
  for (const route of routesOf(f.app)) {
    const [method, pattern] = route.split(" ");
    if (UNSAFE.has(method)) routes.push({ method, path: await f.concretePath(pattern) });
  }
  return routes;
}

/** The depth of a JSON value, as `jsonNestingViolation` counts it. */
function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

Deno.test("jsonNestingViolation() measures the nesting of any JSON text as its parse does", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 12 }), (value, max) => {
      const text = JSON.stringify(value);
      const violation = jsonNestingViolation(text, max);
      assert.equal(violation !== undefined, depthOf(value) > max, text);
    }),
    fuzzParameters(),
  );
  assert.deepEqual(jsonNestingViolation('{"config":' + "[".repeat(100_000), 64), {
    depth: 65,
    field: "config",
  });
  // Brackets in strings (escaped quotes too) do not count.
  assert.equal(jsonNestingViolation(JSON.stringify({ a: '[[[["{{{{' }), 1), undefined);
  assert.equal(jsonNestingViolation("[".repeat(3) + "]".repeat(3), 2)?.depth, 3);
});

Deno.test("every rule of BODY_LIMITS names a route of the app", async () => {
  const f = await setup();
  const routes = new Set(routesOf(f.app));
  for (const rule of BODY_LIMITS) {
    assert.ok(routes.has(`${rule.method} ${rule.path}`), `${rule.method} ${rule.path}`);
  }
});

Deno.test("every unsafe route refuses a body above its limit (413) and one nested too deep (400), whoever sends it, before any statement runs", async () => {
  const f = await setup();
  const routes = await unsafeRoutes(f);
  assert.ok(routes.length >= 5, routes.map((r) => `${r.method} ${r.path}`).join(", "));
  const callers: Record<string, Record<string, string>> = {
    anonymous: {},
    admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
  };
  for (const { method, path } of routes) {
    const limit = bodyLimitOf(method, path);
    for (const [who, headers] of Object.entries(callers)) {
      const what = `${who} ${method} ${path}`;
      const from = f.queries.length;
      // Announced too large: refused from the header, nothing read.
      const announced = await f.app.request(path, {
        method,
        headers: { ...headers, "content-type": "application/json" },
        body: "x".repeat(limit + 1),
      });
      assert.equal(announced.status, 413, `${what}: ${await announced.clone().text()}`);
      assert.match((await announced.json()).message, new RegExp(`larger than ${limit} bytes`));
      // Unannounced (a stream without Content-Length): read up to the limit, then refused.
      let pulled = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += 1024;
          if (pulled > 64 * MIB) controller.close();
          else controller.enqueue(new Uint8Array(1024).fill(0x5b));
        },
      });
      const chunked = await f.app.request(path, {
        method,
        headers: { ...headers, "content-type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      assert.equal(chunked.status, 413, what);
      await chunked.body?.cancel();
      assert.ok(pulled <= limit + 64 * 1024, `${what}: read ${pulled} bytes of a stream`);
      // Within the limit but nested too deep: 400 naming the field, before parsing.
      const depth = Math.min(limit - 20, 10_000);
      const deep = await f.app.request(path, {
        method,
        headers: { ...headers, "content-type": "application/json" },
        body: '{"config":' + "[".repeat(depth),
      });
      assert.equal(deep.status, 400, `${what}: ${await deep.clone().text()}`);
      const json = await deep.json();
      assert.equal(json.field, "config", what);
      assert.match(json.message, /nest more than 64 levels/);
      assert.equal(f.queries.length, from, `${what}: a statement ran`);
    }
  }
  assert.equal(MAX_BODY_DEPTH, 65);
});

/** Resident and peak memory of a process, in bytes (Linux). */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

Deno.test("the server process answers 600 MiB and deeply nested bodies on every unsafe route while they are still being sent; peak RSS grows < 50 MiB; /healthz keeps answering", async () => {
  const f = await setup();
  const routes = await unsafeRoutes(f);
  await using server = await startServer({
    DATABASE_URL: f.database.url,
    REDIS_URL: f.redis.url,
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    METRICS_TOKEN,
    MIRROR_SECRET,
    WB_INSTANCE: "limits",
  });
  // Warm the paths, then take the baseline and reset the peak (VmHWM).
  for (const { method, path } of routes) {
    await slowUpload(server.port, { method, path, totalBytes: 8192, framing: "content-length" });
  }
  const before = await memoryOf(server.pid);
  await Deno.writeTextFile(`/proc/${server.pid}/clear_refs`, "5");

  // /healthz, polled all along.
  const health: number[] = [];
  let healthFailures = 0;
  let attacking = true;
  const polling = (async () => {
    while (attacking) {
      const started = performance.now();
      const response = await fetch(`${server.url}/healthz`).catch(() => undefined);
      if (response?.status === 200) health.push(performance.now() - started);
      else healthFailures++;
      await response?.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const SIZE = 600 * MIB;
  const attacks = routes.flatMap(({ method, path }): SlowUploadOptions[] => [
    // 600 MiB announced, then 600 MiB unannounced, both sent slowly, anonymous and as admin.
    { method, path, framing: "content-length" as const, totalBytes: SIZE, headers: {} },
    { method, path, framing: "chunked" as const, totalBytes: SIZE, headers: {} },
    {
      method,
      path,
      framing: "chunked" as const,
      totalBytes: SIZE,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    },
    // 1 MB nested 1,000,000 deep (the login blocker of the issue), and nested within the limit.
    { method, path, framing: "content-length" as const, totalBytes: 1_000_000, headers: {} },
    {
      method,
      path,
      framing: "content-length" as const,
      totalBytes: bodyLimitOf(method, path),
      headers: {},
    },
  ]);
  // Several waves, so /healthz is polled across a sustained attack.
  const waves: SlowUploadResult[][] = [];
  for (let wave = 0; wave < WAVES; wave++) {
    waves.push(
      await Promise.all(
        attacks.map((attack) =>
          slowUpload(server.port, { ...attack, chunkBytes: 64 * 1024, intervalMs: 5 })
        ),
      ),
    );
  }
  const results = waves[0];
  attacking = false;
  await polling;
  const after = await memoryOf(server.pid);

  const table = attacks.map((attack, i) => ({
    request: `${attack.method} ${attack.path}`,
    body: `${
      (attack.totalBytes / MIB).toFixed(attack.totalBytes >= MIB ? 0 : 3)
    } MiB ${attack.framing}`,
    status: results[i].status,
    sentKiB: Math.round(results[i].sentBeforeAnswer / 1024),
    ms: Number(results[i].msToAnswer.toFixed(1)),
  }));
  console.table(table);
  const answerMs = waves.flat().map((r) => r.msToAnswer);
  console.log(
    `${WAVES} waves of ${attacks.length} hostile requests in parallel: answer after the request head p50 ` +
      `${percentile(answerMs, 50).toFixed(1)} ms, max ${Math.max(...answerMs).toFixed(1)} ms; ` +
      `/healthz ${health.length} answers, p50 ${percentile(health, 50).toFixed(1)} ms, max ` +
      `${Math.max(...health).toFixed(1)} ms; RSS ${(before.rss / MIB).toFixed(1)} MiB before, ` +
      `peak ${(after.peak / MIB).toFixed(1)} MiB during (+${
        ((after.peak - before.rss) / MIB).toFixed(1)
      } MiB)`,
  );

  for (const [i, result] of waves.flatMap((wave) => [...wave.entries()])) {
    const what = `${table[i].request} ${table[i].body}`;
    const limit = bodyLimitOf(attacks[i].method, attacks[i].path);
    // Too large: 413. Within the limit (the last kind): 400 for its nesting.
    const expected = attacks[i].totalBytes > limit ? 413 : 400;
    assert.equal(result.status, expected, `${what}: ${result.text.slice(0, 300)}`);
    assert.ok(
      !result.bodyComplete || attacks[i].totalBytes <= limit,
      `${what}: answered only once sent`,
    );
    if (attacks[i].totalBytes > limit) {
      // Answered while the client was still sending: at most the limit and what was in flight.
      assert.ok(
        result.sentBeforeAnswer < attacks[i].totalBytes,
        `${what}: sent ${result.sentBeforeAnswer} bytes before the answer`,
      );
    }
  }
  assert.equal(healthFailures, 0, "/healthz failed during the attack");
  assert.ok(health.length > 0, "/healthz answered during the attack");
  assert.ok(
    after.peak - before.rss < 50 * MIB,
    `peak RSS grew by ${after.peak - before.rss} bytes`,
  );
  assert.ok(!/request_error|RangeError/.test(server.logs()), server.logs().slice(-2000));
});

Deno.test("request limits teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
