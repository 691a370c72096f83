/**
 * Keys only for things that exist: 2,000 requests naming random entities (indicators,
 * levels, metrics, `replicateBy`, projects, presentation objects, modules, runs, `poIds`)
 * are all refused (404 or 400) and create no key in the instance's Redis (a redis-server
 * this suite starts); the same routes with real ids do create keys.
 */
import assert from "node:assert/strict";
import { REDIS_ENABLED } from "../testing/redis_mode.ts";
import { ADMIN_TOKEN, createSecurityFixture } from "./_fixture.ts";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const REQUESTS = 2000;

/** A random id that names nothing (`[A-Za-z0-9_-]`, 1-40 characters). */
function randomId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  const length = 1 + Math.floor(Math.random() * 40);
  return Array.from({ length }, () => alphabet[Math.floor(Math.random() * alphabet.length)])
    .join("");
}

Deno.test({
  name: "2,000 requests with random entity ids are 404 or 400 and create no cache key; real ids do",
  ignore: !REDIS_ENABLED,
  async fn() {
    await using f = await createSecurityFixture();
    const { projectId, moduleId, poId, metricId } = f.ids;
    const runId = await f.runId();
    const paths: ((id: string) => string)[] = [
      (id) => `/api/datasets/hmis/summary?indicatorId=${id}`,
      (id) => `/api/datasets/hmis/summary?indicatorId=${id}&level=3`,
      (id) => `/api/datasets/hmis/summary?level=${id.length + 4}`,
      (id) => `/api/projects/${projectId}/metrics/${metricId}/replicant_options?replicateBy=${id}`,
      (id) => `/api/projects/${projectId}/metrics/${id}/replicant_options`,
      (id) => `/api/projects/${projectId}/metrics/${id}/info`,
      (id) => `/api/projects/${id}/metrics/${metricId}/info`,
      (id) => `/api/projects/${projectId}/presentation_objects/${id}`,
      (id) => `/api/projects/${projectId}/presentation_objects/${id}/items`,
      (id) => `/api/projects/${id}/presentation_objects/${poId}/items`,
      (id) => `/api/projects/${projectId}/items?poIds=${id},${randomId()}`,
      (id) => `/api/projects/${projectId}/modules/${moduleId}/runs/${id}`,
      (id) => `/api/projects/${projectId}/modules/${id}/runs/${runId}`,
      (id) => `/api/projects/${id}/events`,
    ];
    const keys = async () => (await f.redis.cli("KEYS", "*")).split("\n").sort();
    const before = await keys();
    const statuses = new Map<number, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const path = paths[i % paths.length](randomId());
      const response = await f.app.request(path, { headers: admin });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (path.includes("?poIds=")) {
        // A batch answers per entry: each of them "not_found".
        const { items } = await response.json();
        assert.ok(items.every((item: { error?: string }) => item.error === "not_found"), path);
        continue;
      }
      await response.body?.cancel();
      assert.ok(response.status === 404 || response.status === 400, `${path}: ${response.status}`);
    }
    const after = await keys();
    console.log(`${REQUESTS} requests with random ids:`, Object.fromEntries(statuses));
    // A cache's own bookkeeping (its clear generation, one key per cache, made on first use)
    // is not an entity's key; nothing else may appear.
    const created = after.filter((key) => !before.includes(key));
    const perEntity = created.filter((key) => !/^\{cache:[a-z_]+\}:gen$/.test(key));
    assert.deepEqual(perEntity, [], "keys made by random ids");
    assert.ok(created.length <= 8, `at most one bookkeeping key per cache: ${created.join(", ")}`);

    // The same routes with real ids do create keys (this test can fail).
    for (
      const path of [
        "/api/datasets/hmis/summary?indicatorId=anc1",
        `/api/projects/${projectId}/metrics/${metricId}/replicant_options?replicateBy=indicator_id`,
        `/api/projects/${projectId}/presentation_objects/${poId}/items`,
      ]
    ) {
      const response = await f.app.request(path, { headers: admin });
      assert.equal(response.status, 200, `${path}: ${await response.text()}`);
    }
    assert.ok((await keys()).length >= after.length + 3, "real ids created their keys");
  },
});
