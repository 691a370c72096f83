/**
 * The version table (`version_table.ts`) against the machine's Postgres: it answers what the
 * per-request queries answer; a write through the API, through a second server process, and
 * one made with `psql` or another connection each flip the version the next request sees
 * on every process (the delay from COMMIT to visible is printed, never asserted); with the
 * listener's backend killed, requests fall back to the query and stay correct, and the
 * table recovers by itself.
 */
import assert from "node:assert/strict";
import { freePort, startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { connectPostgres, type Db } from "./db.ts";
import { createTestDatabase, loadSmallFixture, type TestDatabase } from "./testing/pg.ts";
import { connectTestStore, xCache } from "./testing/redis_mode.ts";
import { startServer } from "./testing/server_process.ts";
import { VersionTable } from "./version_table.ts";
import { queryVersions } from "./versions.ts";
import { terminateVersionListener, until } from "./testing/until.ts";

const ADMIN = "version-table-admin-7c41e2d9-0f3b5a18c6e2";
const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
const quiet = () => {};

const waitTrusted = async (table: VersionTable) =>
  assert.ok(await until(() => table.trusted), `still ${table.state} after 15 s`);

/** Nearest-rank quantile of `values` (ms). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function report(what: string, delays: number[]): void {
  console.log(
    `COMMIT -> visible, ${what}: n=${delays.length} p50 ${quantile(delays, 0.5).toFixed(2)} ms, ` +
      `p99 ${quantile(delays, 0.99).toFixed(2)} ms, max ${Math.max(...delays).toFixed(2)} ms`,
  );
}

/** Touches a presentation object's `last_updated` on `db`; the new version once committed. */
async function touchPo(db: Db, poId: string): Promise<string> {
  const [row] = await db.query<{ v: string }>(
    `UPDATE presentation_objects SET last_updated = clock_timestamp() WHERE po_id = $1
     RETURNING iso_ts(last_updated) AS v`,
    [poId],
  );
  return row.v;
}

async function everyEntity(database: TestDatabase) {
  const pos = await database.db.query<{ projectId: string; poId: string }>(
    `SELECT project_id AS "projectId", po_id AS "poId" FROM presentation_objects ORDER BY 2`,
  );
  const metrics = await database.db.query<{ projectId: string; metricId: string }>(
    `SELECT project_id AS "projectId", metric_id AS "metricId" FROM metrics ORDER BY 2`,
  );
  return { pos, metrics };
}

Deno.test("VersionTable answers what the per-request queries answer, and flips on a write by another connection", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const other = connectPostgres(database.url, { max: 1 }); // "psql": not this process's pool
  const table = new VersionTable({ db: database.db, url: database.url, log: quiet });
  try {
    table.start();
    await waitTrusted(table);
    const query = queryVersions(database.db);
    const compare = async () => {
      const { pos, metrics } = await everyEntity(database);
      assert.ok(pos.length > 3 && metrics.length > 0);
      const reads = table.stats.queryReads;
      for (const { projectId, poId } of pos) {
        assert.deepEqual(
          await table.poVersions(projectId, poId),
          await query.poVersions(projectId, poId),
        );
      }
      const ids = pos.map((p) => p.poId);
      assert.deepEqual(
        await table.poVersionsMany(pos[0].projectId, ids),
        await query.poVersionsMany(pos[0].projectId, ids),
      );
      for (const { projectId, metricId } of metrics) {
        assert.deepEqual(
          await table.metricVersion(projectId, metricId),
          await query.metricVersion(projectId, metricId),
        );
      }
      for (const id of ["hmis", "hfa"] as const) {
        assert.equal(await table.datasetVersion(id), await query.datasetVersion(id));
      }
      assert.equal(await table.structureVersion(), await query.structureVersion());
      assert.equal(table.stats.queryReads, reads, "every known id was answered by the table");
    };
    await compare();

    // Unknown ids, and known ids under another project: the query decides (a 404).
    const { pos } = await everyEntity(database);
    const reads = table.stats.queryReads;
    assert.equal(await table.poVersions(pos[0].projectId, "no-such-po"), undefined);
    assert.equal(await table.poVersions("no-such-project", pos[0].poId), undefined);
    assert.equal(await table.metricVersion(pos[0].projectId, "no-such-metric"), undefined);
    assert.equal(table.stats.queryReads, reads + 3);

    // Writes by another connection, to every versioned table: the table follows.
    await other.exec(`UPDATE modules SET last_run = clock_timestamp()`);
    await other.exec(`UPDATE dataset_versions SET version = version + 1`);
    await other.exec(`UPDATE structure_meta SET version = version + 1`);
    await other.exec(`DELETE FROM presentation_objects WHERE po_id = '${pos[1].poId}'`);
    await other.exec(
      `INSERT INTO presentation_objects (po_id, project_id, metric_id, label, config)
       SELECT 'po_new_from_psql', project_id, metric_id, 'new', config
         FROM presentation_objects WHERE po_id = '${pos[0].poId}'`,
    );
    await table.settle(); // a marker sent after those commits: they are all applied now
    await compare();
    assert.equal(await table.poVersions(pos[1].projectId, pos[1].poId), undefined);
    assert.ok(await table.poVersions(pos[0].projectId, "po_new_from_psql"));

    // COMMIT -> visible in this process's table, 50 writes by another connection.
    const delays: number[] = [];
    for (let i = 0; i < 50; i++) {
      const version = await touchPo(other, pos[0].poId);
      const committed = performance.now();
      assert.ok(
        await until(async () =>
          (await table.poVersions(pos[0].projectId, pos[0].poId))?.lastUpdated === version
        ),
        `write ${i} never became visible`,
      );
      delays.push(Math.max(0, performance.now() - committed));
    }
    report("another connection -> VersionTable (in process)", delays);
    assert.equal(table.stats.lost, 0);
  } finally {
    await table.close();
    await other.close();
  }
});

Deno.test("VersionTable reloads after a TRUNCATE of a versioned table, and answers from the query meanwhile", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const other = connectPostgres(database.url, { max: 1 });
  const lines: string[] = [];
  const table = new VersionTable({
    db: database.db,
    url: database.url,
    log: (line) => lines.push(line),
  });
  try {
    table.start();
    await waitTrusted(table);
    const [po] = (await everyEntity(database)).pos;
    assert.ok(await table.poVersions(po.projectId, po.poId));
    // TRUNCATE fires no row trigger: its statement trigger asks for a full reload.
    await other.exec("TRUNCATE presentation_objects");
    assert.ok(
      await until(() => table.stats.loads === 2 && table.trusted),
      `no reload after TRUNCATE: ${lines.join("\n")}`,
    );
    const reads = table.stats.queryReads;
    assert.equal(await table.poVersions(po.projectId, po.poId), undefined);
    assert.equal(table.stats.queryReads, reads + 1, "an id the table lacks is asked of the query");
    assert.ok(lines.some((line) => line.includes('"version_table_reload"')));
    assert.equal(table.stats.lost, 0);
  } finally {
    await table.close();
    await other.close();
  }
});

Deno.test("VersionTable with Postgres unreachable: never blocks, the routes' versions come from the query", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const table = new VersionTable({
    db: database.db,
    url: `postgres://postgres@127.0.0.1:${freePort()}/nowhere`, // nothing listens there
    retryMs: 50,
    connectTimeoutS: 1,
    log: quiet,
  });
  table.start();
  try {
    const [po] = (await everyEntity(database)).pos;
    const query = queryVersions(database.db);
    assert.equal(table.trusted, false);
    assert.deepEqual(
      await table.poVersions(po.projectId, po.poId),
      await query.poVersions(po.projectId, po.poId),
    );
    await table.settle(); // returns at once when not trusted
    assert.equal(table.trusted, false);
  } finally {
    await table.close();
  }
  assert.equal(table.state, "closed");
});

Deno.test("listener cut: requests fall back to the query and stay correct, the table recovers by itself", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const store = await connectTestStore(redis.url, { commandTimeoutMs: 300 });
  const other = connectPostgres(database.url, { max: 1 });
  // A long reconnect wait holds the outage open while the test writes and reads through it.
  const table = new VersionTable({
    db: database.db,
    url: database.url,
    retryMs: 4000,
    log: quiet,
  });
  try {
    table.start();
    const app = await createApp({
      openAccess: true,
      db: database.db,
      caches: createServerCaches({ store, log: quiet }),
      adminToken: ADMIN,
      log: quiet,
      versions: table,
    });
    await waitTrusted(table);
    const [po] = (await everyEntity(database)).pos;
    const path = `/api/projects/${po.projectId}/presentation_objects/${po.poId}`;
    const get = async () => {
      const response = await app.request(path);
      assert.equal(response.status, 200);
      return { xCache: response.headers.get("x-cache"), body: await response.json() };
    };
    await get();
    let reads = table.stats.queryReads;
    assert.equal((await get()).xCache, xCache("HIT"));
    assert.equal(table.stats.queryReads, reads, "a trusted table answers without a query");
    assert.equal((await (await app.request("/healthz")).json()).versions, "trusted");

    // A write through the API is seen by the very next request (settle), from the table.
    const patched = await app.request(path, {
      method: "PATCH",
      headers: admin,
      body: JSON.stringify({ label: "patched through the API" }),
    });
    assert.equal(patched.status, 200);
    const patchedVersion = (await patched.json()).lastUpdated;
    const afterPatch = await get();
    assert.equal(afterPatch.body.lastUpdated, patchedVersion);
    assert.equal(afterPatch.body.label, "patched through the API");
    assert.equal(table.stats.queryReads, reads);

    // Kill the listener's backend.
    assert.equal(await terminateVersionListener(other), 1);
    assert.ok(await until(() => !table.trusted), "the table noticed the lost connection");
    assert.equal((await (await app.request("/healthz")).json()).versions, "connecting");

    // A write during the outage is seen, through the query.
    const outageVersion = await touchPo(other, po.poId);
    reads = table.stats.queryReads;
    const during = await get();
    assert.equal(during.body.lastUpdated, outageVersion);
    assert.equal(during.xCache, xCache("MISS"));
    assert.equal(table.stats.queryReads, reads + 1, "served through the per-request query");
    assert.equal(table.trusted, false, "still in the outage (retryMs holds it open)");

    // It recovers by itself: reconnects, LISTENs, reloads (the outage's write included).
    await waitTrusted(table);
    assert.equal(table.stats.lost, 1);
    assert.equal(table.stats.loads, 2);
    reads = table.stats.queryReads;
    const after = await get();
    assert.equal(after.body.lastUpdated, outageVersion);
    assert.equal(after.xCache, xCache("HIT"));
    assert.equal(table.stats.queryReads, reads, "trusted again: no query");

    // And follows writes again.
    const nextVersion = await touchPo(other, po.poId);
    assert.ok(
      await until(async () => (await get()).body.lastUpdated === nextVersion),
      "a write after the recovery became visible",
    );
  } finally {
    await table.close();
    await other.close();
    await store.close();
  }
});

Deno.test("two server processes: a write through either one's API or with psql flips the version on both", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    ADMIN_TOKEN: ADMIN,
    OPEN_ACCESS: "true",
    WB_INSTANCE: "vt",
    LOG_FORMAT: "raw",
  };
  await using a = await startServer(env);
  await using b = await startServer(env);
  const [po] = (await everyEntity(database)).pos;
  const path = `/api/projects/${po.projectId}/presentation_objects/${po.poId}`;
  const versionOn = async (base: string) => {
    const response = await fetch(base + path);
    assert.equal(response.status, 200);
    return (await response.json()).lastUpdated as string;
  };
  for (const server of [a, b]) {
    assert.ok(
      await until(async () => {
        const health = await (await fetch(`${server.url}/healthz`)).json();
        return health.versions === "trusted";
      }),
      `server ${server.port} never trusted its version table:\n${server.logs()}`,
    );
  }
  const patch = async (base: string, i: number) => {
    const response = await fetch(base + path, {
      method: "PATCH",
      headers: admin,
      body: JSON.stringify({ label: `write ${i}` }),
    });
    assert.equal(response.status, 200);
    return (await response.json()).lastUpdated as string;
  };
  const WRITES = 20;
  const delays = { viaA: [] as number[], viaB: [] as number[], psql: [] as number[] };
  for (let i = 0; i < WRITES; i++) {
    // Through A's API: A's next request sees it at once; B within the NOTIFY's delay.
    const version = await patch(a.url, i);
    const answered = performance.now();
    assert.equal(await versionOn(a.url), version, "the writer's next request");
    assert.ok(await until(async () => (await versionOn(b.url)) === version));
    delays.viaA.push(performance.now() - answered);
    // Through B's API, seen by A.
    const versionB = await patch(b.url, i);
    const answeredB = performance.now();
    assert.equal(await versionOn(b.url), versionB);
    assert.ok(await until(async () => (await versionOn(a.url)) === versionB));
    delays.viaB.push(performance.now() - answeredB);
  }
  // With psql (its own session, autocommit): seen by both.
  const psqlUrl = database.url;
  for (let i = 0; i < WRITES; i++) {
    const out = await new Deno.Command("psql", {
      args: [
        psqlUrl,
        "-qAt",
        "-c",
        `UPDATE presentation_objects SET last_updated = clock_timestamp() WHERE po_id = '${po.poId}' RETURNING iso_ts(last_updated)`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const committed = performance.now(); // psql exits after the COMMIT
    const version = new TextDecoder().decode(out.stdout).trim().split("\n")[0];
    assert.match(version, /^\d{4}-\d\d-\d\dT/);
    assert.ok(await until(async () => (await versionOn(a.url)) === version));
    assert.ok(await until(async () => (await versionOn(b.url)) === version));
    delays.psql.push(performance.now() - committed);
  }
  report("PATCH on A -> next request on B (HTTP round trips included)", delays.viaA);
  report("PATCH on B -> next request on A (HTTP round trips included)", delays.viaB);
  report("psql UPDATE -> next requests on A and B (HTTP round trips included)", delays.psql);
  for (const server of [a, b]) {
    const health = await (await fetch(`${server.url}/healthz`)).json();
    assert.equal(health.versions, "trusted");
    assert.doesNotMatch(server.logs(), /version_table_lost|version_table_error/);
  }
});
