import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBasePort, tempWb } from "./_test_helpers.ts";
import { loadConfig } from "./config.ts";
import { type DemoReport, formatDemoReport, kanoCsvPath, runDemo } from "./demo.ts";
import { describeMissing } from "./prerequisites.ts";
import { isPortFree } from "./process.ts";

const FAKE_APP = [
  Deno.execPath(),
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  new URL("./testdata/fake_app.ts", import.meta.url).pathname,
];

/** A loader that creates and fills `facilities` and records its arguments. */
const FAKE_LOADER = [
  "sh",
  "-c",
  'echo "$*" >> "$LOADER_LOG"; psql "$DATABASE_URL" -qc "create table if not exists facilities (id int); insert into facilities select generate_series(1, 3)"',
  "loader",
];

Deno.test({
  name:
    "runDemo() measures cold, warm and after-restart per presentation object; the second run reuses the data",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const csv = join(await Deno.makeTempDir(), "kano.csv");
    await Deno.writeTextFile(csv, "OBJECTID,globalid\n");
    await using wb = await tempWb({ appCommand: FAKE_APP, loaderCommand: FAKE_LOADER });
    wb.context.env = { LOADER_LOG: join(wb.home, "loader.log") };

    const first = await runDemo(wb.context, {
      once: true,
      facilitiesCsv: csv,
      port: randomBasePort(),
    });
    assert.equal(first.instance.runtime, "native");
    assert.equal(first.realData, true);
    assert.equal(first.facilities, 3);
    assert.deepEqual(
      first.rows.map((r) => [r.label, r.cold.xCache, r.warm.xCache, r.afterRestart.xCache]),
      [
        ["Chart A", "MISS", "HIT", "HIT"],
        ["Table B", "MISS", "HIT", "HIT"],
      ],
    );
    assert.equal(first.keysBefore, 2);
    assert.equal(first.keysAfter, 2);
    assert.equal(first.allHitAfterRestart, true);
    assert.equal(
      (await Deno.readTextFile(wb.context.env.LOADER_LOG)).trim(),
      `--facilities ${csv}`,
    );
    assert.ok(isPortFree(first.instance.port), "--once stops the server");

    const text = formatDemoReport(first);
    assert.match(
      text,
      /Presentation object \| cold ms \| warm ms \| after-restart ms \| X-Cache \(cold\/warm\/after\)/,
    );
    assert.match(text, /Chart A +\| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \| MISS\/HIT\/HIT/);
    assert.match(text, /Redis keys: 2 before restart, 2 after restart/);
    assert.match(
      text.split("\n").at(-1)!,
      /^OK: every after-restart request \(2 of 2\) was X-Cache: HIT$/,
    );

    const second = await runDemo(wb.context, { once: true, facilitiesCsv: csv });
    assert.equal(second.instance.port, first.instance.port, "the demo instance is reused");
    assert.equal((await loadConfig(wb.home)).instances.length, 1);
    assert.equal(
      (await Deno.readTextFile(wb.context.env.LOADER_LOG)).trim().split("\n").length,
      1,
      "no reload",
    );
    assert.deepEqual(
      second.rows.map((r) => r.cold.xCache),
      ["MISS", "MISS"],
      "the first pass is cold again",
    );
    assert.equal(second.allHitAfterRestart, true);
  },
});

Deno.test({
  name: "runDemo() says the data is synthetic when the Kano CSV is absent",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using wb = await tempWb({ appCommand: FAKE_APP, loaderCommand: FAKE_LOADER });
    wb.context.env = { LOADER_LOG: join(wb.home, "loader.log") };
    const report = await runDemo(wb.context, {
      once: true,
      facilitiesCsv: join(wb.home, "missing.csv"),
      port: randomBasePort(),
    });
    assert.equal(report.realData, false);
    assert.equal(
      (await Deno.readTextFile(wb.context.env.LOADER_LOG)).trim(),
      "",
      "no --facilities",
    );
    assert.ok(
      wb.context.reporter.lines.some((l) => l.level === "warn" && /SYNTHETIC/.test(l.message)),
    );
    assert.match(formatDemoReport(report), /3 SYNTHETIC facilities/);
  },
});

Deno.test("formatDemoReport() ends with FAIL when an after-restart request was not a HIT", () => {
  const request = (xCache: string) => ({ ms: 1.25, status: 200, xCache });
  const failed = { ms: 3, status: 400, xCache: "-", error: "Invalid stored 'config.fetch'" };
  const report: DemoReport = {
    instance: {
      id: "demo",
      label: "Demo",
      port: 1,
      instanceDir: "/x",
      runtime: "native",
      tags: [],
    },
    url: "http://127.0.0.1:1",
    realData: true,
    facilitiesCsv: "/k.csv",
    facilities: 10,
    rows: [
      {
        projectId: "p",
        poId: "a",
        label: "A",
        cold: request("MISS"),
        warm: request("HIT"),
        afterRestart: request("HIT"),
      },
      {
        projectId: "p",
        poId: "b",
        label: "B",
        cold: request("MISS"),
        warm: request("HIT"),
        afterRestart: request("MISS"),
      },
    ],
    keysBefore: 2,
    keysAfter: 0,
    restartMs: 1234,
    allHitAfterRestart: false,
  };
  const lines = formatDemoReport(report).split("\n");
  assert.equal(lines.at(-1), "FAIL: only 1 of 2 after-restart requests were X-Cache: HIT");
  assert.ok(lines.includes("Restart took 1.2 s"));
  assert.ok(
    lines.includes("B                   |     1.3 |     1.3 |              1.3 | MISS/HIT/MISS"),
    lines.join("\n"),
  );

  report.rows.push({
    projectId: "p",
    poId: "c",
    label: "C",
    cold: failed,
    warm: failed,
    afterRestart: failed,
  });
  const withErrors = formatDemoReport(report).split("\n");
  assert.ok(
    withErrors.includes("C                   | HTTP 400 | HTTP 400 |         HTTP 400 | -/-/-"),
    withErrors.join("\n"),
  );
  assert.ok(
    withErrors.includes("  HTTP 400: Invalid stored 'config.fetch' (first: C (cold))"),
    withErrors.join("\n"),
  );
});

Deno.test("formatDemoReport() of no rows says nothing was measured", () => {
  const report: DemoReport = {
    instance: {
      id: "demo",
      label: "Demo",
      port: 1,
      instanceDir: "/x",
      runtime: "native",
      tags: [],
    },
    url: "http://127.0.0.1:1",
    realData: false,
    facilities: 0,
    rows: [],
    restartMs: 1234,
    allHitAfterRestart: false,
  };
  assert.equal(
    formatDemoReport(report).split("\n").at(-1),
    "FAIL: the app listed no presentation objects, nothing was measured",
  );
});

Deno.test("kanoCsvPath() is ../shared/data next to the repo; describeMissing() lists both runtimes' gaps", () => {
  assert.equal(
    kanoCsvPath("/work/main"),
    "/work/shared/data/grid3_nga_health_facilities_v2_kano.csv",
  );
  assert.equal(describeMissing({ dockerEngine: false, nativeMissing: [] }), undefined);
  assert.equal(
    describeMissing({
      dockerEngine: false,
      dockerError: "Cannot connect to the Docker daemon",
      nativeMissing: ["initdb", "redis-server"],
    }),
    [
      "Neither runtime can run on this machine:",
      "- docker: no engine answers `docker info` (Cannot connect to the Docker daemon)",
      "- native: missing initdb, redis-server (install PostgreSQL and Redis)",
    ].join("\n"),
  );
});
