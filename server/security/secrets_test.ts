/**
 * Secrets never appear in logs or responses. The real server (`server/main.ts`, a child
 * process) runs with a Redis password in `REDIS_URL`, `ADMIN_TOKEN`, `VIEWER_TOKEN`,
 * `METRICS_TOKEN`, `MIRROR_SECRET`, a mirror that is down, and `REDIS_LOG_LEVEL=debug` (the
 * most it logs); it is made to fail every way it can (wrong
 * and near-miss tokens, forged and replayed mirror credentials, bad input, failing mirror
 * deliveries, Redis killed and restarted), then two more processes start with a wrong Redis
 * password and Postgres URLs with a password that fail (a database that does not exist, a
 * port nobody listens on). Everything each wrote to stdout and stderr, and every response
 * body and header, is searched for each secret, raw and URL-encoded, and for any JWT. A
 * mirror URL with a password in it is refused at start, without showing the password (it
 * was accepted, then written to every mirror log line, and broke the signed request).
 *
 * The only place a secret may appear: the session cookie in the `Set-Cookie` of a login,
 * which is its purpose.
 */
import assert from "node:assert/strict";
import { freePort, startRedis } from "../../lib/testing/redis_server.ts";
import { readConfig } from "../config.ts";
import { MirrorSender, signMirrorRequest } from "../events/mod.ts";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { REDIS_ENABLED } from "../testing/redis_mode.ts";
import { type ServerProcess, startServer } from "../testing/server_process.ts";
import { issueLoginToken, upsertUser } from "../users.ts";

const SECRETS = {
  REDIS_PASSWORD: "sec-redis/pw@7f3a:9c1e+5b2d",
  WRONG_REDIS_PASSWORD: "sec-wrong-redis-pw-41d8c2",
  PG_PASSWORD: "sec-pg-pw@e9b7:1c4f",
  ADMIN_TOKEN: "sec-admin-token-a81f6c0d2e4b9735",
  VIEWER_TOKEN: "sec-viewer-token-5c2e9b71f03d8a46",
  METRICS_TOKEN: "sec-metrics-token-0d7a3f9e6b1c4285",
  MIRROR_SECRET: "sec-mirror-secret-6e1b9d4a7c2f08e3b5d1a9c7e4f2b0d8",
  MIRROR_URL_PASSWORD: "sec-mirror-basic-pw-9a4e2c",
};
const url = (password: string) => encodeURIComponent(password);

interface Exchange {
  what: string;
  status: number;
  headers: [string, string][];
  body: string;
}

/** Searches `text` for every secret (raw and URL-encoded) and any JWT; returns what it found. */
function leaks(text: string, extra: Record<string, string> = {}): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries({ ...SECRETS, ...extra })) {
    if (text.includes(secret)) found.push(name);
    else if (text.includes(url(secret))) found.push(`${name} (URL-encoded)`);
  }
  const jwt = /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.exec(text);
  if (jwt) found.push(`a JWT (${jwt[0].slice(0, 20)}…)`);
  return found;
}

/** A small client that records every exchange with a server. */
function client(server: ServerProcess, exchanges: Exchange[]) {
  return async (what: string, path: string, init: RequestInit = {}) => {
    const response = await fetch(`${server.url}${path}`, init);
    const stream = response.headers.get("content-type")?.startsWith("text/event-stream");
    const body = stream ? "" : await response.text();
    if (stream) await response.body?.cancel();
    exchanges.push({ what, status: response.status, headers: [...response.headers], body });
    return { status: response.status, body, headers: response.headers };
  };
}

/** Waits until `predicate` holds (a bound against hanging, not an assertion). */
async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

Deno.test("secrets (Redis and Postgres passwords, tokens, the mirror secret) never appear in logs or responses, whatever fails", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis({ password: SECRETS.REDIS_PASSWORD });
  const deadMirrorPort = freePort();
  const exchanges: Exchange[] = [];
  const outputs: { name: string; text: string }[] = [];
  const sessionSecrets: Record<string, string> = {};

  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: `redis://:${url(SECRETS.REDIS_PASSWORD)}@127.0.0.1:${redis.port}`,
    ADMIN_TOKEN: SECRETS.ADMIN_TOKEN,
    VIEWER_TOKEN: SECRETS.VIEWER_TOKEN,
    METRICS_TOKEN: SECRETS.METRICS_TOKEN,
    MIRROR_SECRET: SECRETS.MIRROR_SECRET,
    CACHE_MIRRORS: `http://127.0.0.1:${deadMirrorPort}`,
    REDIS_LOG_LEVEL: "debug",
    WB_INSTANCE: "secrets",
  };
  const server = await startServer(env, { captureStdout: true });
  try {
    const call = client(server, exchanges);
    const admin = { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` };
    const json = { "content-type": "application/json" };

    const health = await call("healthz", "/healthz");
    assert.equal(JSON.parse(health.body).redis, REDIS_ENABLED ? "up" : "disabled");

    // Wrong, near-miss and right credentials, on every kind of check.
    for (const token of ["wrong", `${SECRETS.ADMIN_TOKEN}x`, SECRETS.ADMIN_TOKEN.slice(0, -1)]) {
      await call("wrong admin token", "/caches/flush-all", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      await call("wrong token on a read", "/api/projects", {
        headers: { authorization: `Bearer ${token}` },
      });
      await call("wrong metrics token", "/metrics", {
        headers: { authorization: `Bearer ${token}` },
      });
      await call("wrong stream token", `/api/events?access_token=${token}`);
    }
    await call("viewer read", "/api/projects", {
      headers: { authorization: `Bearer ${SECRETS.VIEWER_TOKEN}` },
    });
    await call("metrics", "/metrics", {
      headers: { authorization: `Bearer ${SECRETS.METRICS_TOKEN}` },
    });
    await call("cache page", "/api/admin/caches", { headers: admin });
    await call("me", "/api/auth/me", { headers: admin });
    await call("instance meta", "/api/instance_meta");

    // Bad input, as an administrator.
    await call("bad id", "/api/projects/%00/presentation_objects", { headers: admin });
    await call("bad json", "/api/cache/invalidate", {
      method: "POST",
      headers: { ...admin, ...json },
      body: "{",
    });
    await call("bad config", "/api/projects/demo/presentation_objects/po_anc_by_lga", {
      method: "PATCH",
      headers: { ...admin, ...json },
      body: JSON.stringify({ config: { fetch: { values: "DROP TABLE" } } }),
    });
    await call("bad level", "/api/datasets/hmis/summary?level=9", { headers: admin });

    // Mirror credentials: forged, valid, replayed; local invalidations that fail to deliver.
    const body = JSON.stringify({
      entity: "windowed_aggregate",
      eventId: crypto.randomUUID(),
      mirror: false,
      origin: "peer",
    });
    const jwt = await signMirrorRequest(body, SECRETS.MIRROR_SECRET, { issuer: "peer" });
    const forged = await signMirrorRequest(body, "x".repeat(40), { issuer: "peer" });
    for (const [what, token] of [["forged", forged], ["valid", jwt], ["replayed", jwt]]) {
      await call(`${what} mirror token`, "/api/cache/invalidate", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, ...json },
        body,
      });
    }
    await call("garbage jwt", "/api/cache/invalidate", {
      method: "POST",
      headers: { authorization: "Bearer eyJhbGciOiJub25lIn0.e30.x", ...json },
      body,
    });
    await call("admin invalidate", "/api/cache/invalidate", {
      method: "POST",
      headers: { ...admin, ...json },
      body: JSON.stringify({ entity: "datasets", id: "hmis" }),
    });
    await call("module run", "/api/projects/demo/modules/m001/run", {
      method: "POST",
      headers: admin,
    });
    await server.waitForLog((l) => l.event === "mirror_failed");

    // A user logs in: the cookie is the one place the session token may appear.
    const { user } = await upsertUser(database.db, "secrets@example.org", { isAdmin: true });
    const { token: loginToken } = await issueLoginToken(database.db, user.userId);
    sessionSecrets.loginToken = loginToken;
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: "POST",
      headers: { ...json, "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ token: loginToken }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    sessionSecrets.sessionToken = cookie.slice(cookie.indexOf("=") + 1);
    exchanges.push({
      what: "login (without its Set-Cookie)",
      status: login.status,
      headers: [...login.headers].filter(([name]) => name !== "set-cookie"),
      body: await login.text(),
    });
    await call("session read", "/api/admin/caches", { headers: { cookie } });
    await call("flush", "/caches/flush-all", {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "same-origin" },
    });

    if (REDIS_ENABLED) {
      // Redis dies: errors, a bypassed cache, reconnection attempts; then it comes back.
      await redis.kill();
      for (
        const path of [
          "/api/projects/demo/presentation_objects/po_anc_by_lga/items",
          "/api/structure",
        ]
      ) {
        await call("read while Redis is down", path, { headers: admin });
      }
      await call("flush while Redis is down", "/caches/flush-all", {
        method: "POST",
        headers: admin,
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await redis.restart();
      await until(() => server.logs().split('"redis_ready"').length > 2, 5000);
      await call("health after restart", "/healthz");
    }
  } finally {
    await server.stop();
    outputs.push({ name: "server", text: server.logs() + server.stdout() });
  }
  assert.ok(outputs[0].text.includes("mirror_failed"), "the failing mirror was logged");
  if (REDIS_ENABLED) assert.ok(/redis/i.test(outputs[0].text), "Redis events were logged");

  // A wrong Redis password, and Postgres URLs with a password that fail.
  const failing: [string, Record<string, string>][] = [
    ["wrong Redis password, missing database", {
      ...env,
      REDIS_URL: `redis://:${url(SECRETS.WRONG_REDIS_PASSWORD)}@127.0.0.1:${redis.port}`,
      DATABASE_URL: `postgres://postgres:${url(SECRETS.PG_PASSWORD)}@127.0.0.1:5432/wb_missing_${
        crypto.randomUUID().slice(0, 8)
      }`,
      CACHE_MIRRORS: "",
    }],
    ["Postgres and Redis nobody listens on", {
      ...env,
      REDIS_URL: `redis://:${url(SECRETS.REDIS_PASSWORD)}@127.0.0.1:${freePort()}`,
      DATABASE_URL: `postgres://wb:${url(SECRETS.PG_PASSWORD)}@127.0.0.1:${freePort()}/wb`,
      CACHE_MIRRORS: "",
    }],
  ];
  for (const [name, failingEnv] of failing) {
    const broken = await startServer(failingEnv, { captureStdout: true });
    try {
      const call = client(broken, exchanges);
      const reads = ["/api/projects", "/api/datasets/hfa/summary", "/api/admin/caches"];
      for (const path of reads) {
        const answer = await call(`${name}: ${path}`, path, {
          headers: { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` },
        });
        assert.ok(
          answer.status >= 500 || path === "/api/admin/caches",
          `${path}: ${answer.status}`,
        );
      }
      await call(`${name}: flush`, "/caches/flush-all", {
        method: "POST",
        headers: { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` },
      });
      await call(`${name}: health`, "/healthz");
    } finally {
      await broken.stop();
      outputs.push({ name, text: broken.logs() + broken.stdout() });
    }
  }

  for (const { name, text } of outputs) {
    assert.ok(text.length > 0, `${name} wrote nothing`);
    assert.deepEqual(leaks(text, sessionSecrets), [], `${name}'s output:\n${text}`);
  }
  for (const exchange of exchanges) {
    const text = JSON.stringify(exchange.headers) + exchange.body;
    assert.deepEqual(leaks(text, sessionSecrets), [], `${exchange.what}: ${text}`);
  }
  console.log(
    `searched ${outputs.map((o) => `${o.name}: ${o.text.split("\n").length} lines`).join("; ")}; ` +
      `${exchanges.length} responses`,
  );
});

Deno.test("CACHE_MIRRORS with a password in a URL is refused at start, and the message hides it (it was logged on every delivery)", async () => {
  const withPassword = `https://wb:${SECRETS.MIRROR_URL_PASSWORD}@mirror.example`;
  for (const mirrors of [withPassword, `ftp://wb:${SECRETS.MIRROR_URL_PASSWORD}@mirror.example`]) {
    assert.throws(
      () => readConfig({ CACHE_MIRRORS: mirrors, MIRROR_SECRET: SECRETS.MIRROR_SECRET }),
      (error: Error) =>
        error instanceof RangeError && /CACHE_MIRRORS/.test(error.message) &&
        error.message.includes("***@mirror.example") && leaks(error.message).length === 0,
    );
  }
  assert.throws(
    () =>
      new MirrorSender({
        mirrors: [withPassword],
        secret: SECRETS.MIRROR_SECRET,
        instance: "secrets",
        log: { info() {}, warn() {} },
      }),
    (error: Error) => error instanceof TypeError && leaks(error.message).length === 0,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: {
      CACHE_MIRRORS: withPassword,
      MIRROR_SECRET: SECRETS.MIRROR_SECRET,
      PORT: "0",
      DENO_NO_UPDATE_CHECK: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.notEqual(out.code, 0);
  assert.match(text, /CACHE_MIRRORS must not carry credentials/);
  assert.deepEqual(leaks(text), []);
});
