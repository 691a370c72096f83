/**
 * Mirroring: the instance contacts only its configured `CACHE_MIRRORS`, whatever a request
 * says, and refuses signed requests that are replayed, stale, early, forged or tampered
 * with.
 *
 * Two real listeners on loopback record every request they get: the configured mirror and
 * an "attacker" whose URL the requests try to inject (the request's own host, forwarding
 * headers, query parameters, body fields, a signed peer's `iss` and `origin`). After every
 * attempt the attacker has seen nothing, and the configured mirror has seen exactly one
 * signed `POST /api/cache/invalidate` per local invalidation, never one of the attacker's
 * strings.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { createApp } from "../app.ts";
import {
  createCacheEventLog,
  createServerEvents,
  MIRROR_AUDIENCE,
  type ServerEvents,
  signMirrorRequest,
} from "../events/mod.ts";
import {
  ADMIN_TOKEN,
  createSecurityFixture,
  INSTANCE,
  MIRROR_SECRET,
  type SecurityFixture,
} from "./_fixture.ts";
import { fuzzParameters } from "./_fuzz.ts";
import { RedisStore } from "../../lib/mod.ts";

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface Recorder {
  url: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** A listener on 127.0.0.1 that records every request and answers like a mirror. */
function startRecorder(): Recorder {
  const requests: Recorded[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    requests.push({
      method: req.method,
      url: req.url,
      headers: Object.fromEntries(req.headers),
      body: await req.text(),
    });
    return Response.json({ applied: true });
  });
  const { port } = server.addr;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => server.shutdown(),
  };
}

interface Fixture {
  f: SecurityFixture;
  events: ServerEvents;
  mirror: Recorder;
  attacker: Recorder;
  logLines: () => Record<string, unknown>[];
}

let fixture: Fixture | undefined;

async function setup(): Promise<Fixture> {
  if (fixture) return fixture;
  const mirror = startRecorder();
  const attacker = startRecorder();
  const lines: string[] = [];
  let events: ServerEvents | undefined;
  const f = await createSecurityFixture((db, store) => {
    events = createServerEvents({
      db,
      instance: INSTANCE,
      store,
      mirrors: [mirror.url],
      mirrorSecret: MIRROR_SECRET,
      mirrorRetry: { attempts: 2, baseDelayMs: 10, timeoutMs: 2000 },
      log: createCacheEventLog({ instance: INSTANCE, destination: (line) => lines.push(line) }),
    });
    return { events };
  });
  fixture = {
    f,
    events: events!,
    mirror,
    attacker,
    logLines: () => lines.map((line) => JSON.parse(line)),
  };
  return fixture;
}

/** How a request may try to name a URL for the server to contact. */
const INJECT_HEADERS = [
  "x-forwarded-host",
  "forwarded",
  "referer",
  "x-mirror-url",
  "x-callback-url",
  "x-original-url",
  "x-rewrite-url",
  "x-forwarded-for",
  "link",
];
const INJECT_QUERY = ["mirror", "mirrors", "url", "callback", "target", "CACHE_MIRRORS", "next"];
const INJECT_FIELDS = ["mirrors", "url", "callback", "origin", "target", "webhook", "mirror"];

function attackerUrls(attacker: Recorder): string[] {
  return [
    attacker.url,
    `${attacker.url}/api/cache/invalidate`,
    `//127.0.0.1:${attacker.port}`,
    `127.0.0.1:${attacker.port}`,
    `for=127.0.0.1;host=127.0.0.1:${attacker.port};proto=http`,
    `<${attacker.url}>; rel="mirror"`,
  ];
}

type Kind = "invalidate" | "patch" | "peer";

/** Sends one request of `kind` with `url` injected in a header, the query and a body field. */
async function inject(
  x: Fixture,
  kind: Kind,
  url: string,
  where: { header: string; query: string; field: string; hostIsAttacker: boolean },
): Promise<Response> {
  const host = where.hostIsAttacker ? `http://127.0.0.1:${x.attacker.port}` : "http://localhost";
  const query = `?${where.query}=${encodeURIComponent(url)}`;
  const headers: Record<string, string> = {
    [where.header]: url,
    "content-type": "application/json",
  };
  if (kind === "patch") {
    return await x.f.app.request(
      `${host}/api/projects/demo/presentation_objects/${x.f.ids.poId}${query}`,
      {
        method: "PATCH",
        headers: { ...headers, authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ label: "injected", [where.field]: url }),
      },
    );
  }
  const body = JSON.stringify({
    entity: "windowed_aggregate",
    eventId: crypto.randomUUID(),
    ...(kind === "peer" ? { mirror: false, origin: url } : {}),
    [where.field]: where.field === "mirror" && kind === "peer" ? false : url,
  });
  const token = kind === "peer"
    ? await signMirrorRequest(body, MIRROR_SECRET, { issuer: url })
    : ADMIN_TOKEN;
  return await x.f.app.request(`${host}/api/cache/invalidate${query}`, {
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${token}` },
    body,
  });
}

Deno.test("only the configured mirror is ever contacted: URLs injected in the host, headers, query and body are ignored", async () => {
  const x = await setup();
  const urls = attackerUrls(x.attacker);
  // A module run (a versioned write) with everything injected at once.
  const run = await x.f.app.request(
    `http://127.0.0.1:${x.attacker.port}/api/projects/demo/modules/m001/run?mirror=${
      encodeURIComponent(x.attacker.url)
    }`,
    {
      method: "POST",
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        "x-forwarded-host": `127.0.0.1:${x.attacker.port}`,
        forwarded: `host=127.0.0.1:${x.attacker.port}`,
      },
    },
  );
  assert.equal(run.status, 200);
  await run.body?.cancel();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<Kind>("invalidate", "patch", "peer"),
      fc.constantFrom(...urls),
      fc.record({
        header: fc.constantFrom(...INJECT_HEADERS),
        query: fc.constantFrom(...INJECT_QUERY),
        field: fc.constantFrom(...INJECT_FIELDS),
        hostIsAttacker: fc.boolean(),
      }),
      async (kind, url, where) => {
        const response = await inject(x, kind, url, where);
        const text = await response.text();
        assert.ok(response.status < 500, `${response.status} ${text}`);
      },
    ),
    fuzzParameters(0.25),
  );
  // Every local invalidation that was to be mirrored reaches the configured mirror.
  const expected = () =>
    x.logLines().filter((l) =>
      l.event === "invalidate" && Array.isArray(l.mirrors) && l.mirrors.length > 0
    );
  const deadline = Date.now() + 15_000;
  while (x.mirror.requests.length < expected().length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(expected().length >= 2, "local invalidations were mirrored");
  for (const line of expected()) assert.deepEqual(line.mirrors, [x.mirror.url]);
  assert.equal(x.mirror.requests.length, expected().length, "one delivery per local event");
  assert.deepEqual(x.attacker.requests, [], "the attacker's listener was never contacted");
  for (const request of x.mirror.requests) {
    assert.equal(request.method, "POST");
    assert.equal(new URL(request.url).pathname, "/api/cache/invalidate");
    assert.equal(new URL(request.url).search, "");
    const token = request.headers.authorization.replace(/^Bearer /, "");
    const { payload } = await jwtVerify(token, new TextEncoder().encode(MIRROR_SECRET), {
      audience: MIRROR_AUDIENCE,
      algorithms: ["HS256"],
    });
    assert.equal(payload.iss, INSTANCE);
    assert.equal(payload.bsh, createHash("sha256").update(request.body).digest("base64url"));
    const body = JSON.parse(request.body);
    assert.equal(body.mirror, false);
    assert.equal(body.origin, INSTANCE);
    assert.ok(
      !request.body.includes(`127.0.0.1:${x.attacker.port}`),
      `an injected URL was forwarded: ${request.body}`,
    );
  }
  // Signed peer requests were applied but never forwarded.
  const received = x.logLines().filter((l) => l.event === "mirror_received");
  assert.ok(received.length > 0, "some peer requests were applied");
});

/** POSTs a signed (or otherwise authorized) invalidation; returns status and message. */
async function post(x: Fixture, body: string, token: string) {
  const response = await x.f.app.request("/api/cache/invalidate", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
  });
  const json = await response.json();
  return { status: response.status, message: String(json.message ?? ""), json };
}

const peerBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    entity: "windowed_aggregate",
    eventId: crypto.randomUUID(),
    mirror: false,
    origin: "peer",
    ...extra,
  });

const key = new TextEncoder().encode(MIRROR_SECRET);
const nowS = () => Math.floor(Date.now() / 1000);
const bodyHash = (body: string) => createHash("sha256").update(body).digest("base64url");

Deno.test("a replayed mirror token is 401, also with another body or once its event is applied", async () => {
  const x = await setup();
  const body = peerBody();
  const token = await signMirrorRequest(body, MIRROR_SECRET, { issuer: "peer" });
  assert.equal((await post(x, body, token)).status, 200);
  const replay = await post(x, body, token);
  assert.deepEqual([replay.status, replay.message], [
    401,
    "Mirror credential refused: token replayed",
  ]);
  const other = await post(x, peerBody(), token);
  assert.equal(other.status, 401, "the token signs one body only");
  // A fresh token for an applied event is a duplicate, answered without applying it again.
  const again = await post(
    x,
    body,
    await signMirrorRequest(body, MIRROR_SECRET, { issuer: "peer" }),
  );
  assert.deepEqual([again.status, again.json.duplicate, again.json.applied], [200, true, false]);
});

Deno.test("mirror tokens are accepted only within their window: stale and future iat are 401", async () => {
  const x = await setup();
  // The window: 60 s of age, 5 s of clock tolerance either way. Offsets near its edges are
  // left out (a second may tick between signing and checking).
  const offset = fc.integer({ min: -3600, max: 3600 }).filter((s) =>
    !(s >= -70 && s <= -58) && !(s >= 1 && s <= 9)
  );
  await fc.assert(
    fc.asyncProperty(offset, async (offsetS) => {
      const body = peerBody();
      const token = await signMirrorRequest(body, MIRROR_SECRET, {
        issuer: "peer",
        issuedAtS: nowS() + offsetS,
      });
      const { status, message } = await post(x, body, token);
      const inside = offsetS > -58 && offsetS < 1;
      assert.equal(status, inside ? 200 : 401, `iat ${offsetS} s from now: ${message}`);
    }),
    fuzzParameters(0.25),
  );
  // A long `exp` does not stretch the window: age counts from `iat`.
  const body = peerBody();
  const longLived = await new SignJWT({ bsh: bodyHash(body) })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("peer")
    .setAudience(MIRROR_AUDIENCE)
    .setIssuedAt(nowS() - 600)
    .setExpirationTime(nowS() + 86_400)
    .setJti(crypto.randomUUID())
    .sign(key);
  const stale = await post(x, body, longLived);
  assert.equal(stale.status, 401);
  assert.match(stale.message, /too old/);
});

Deno.test("forged mirror tokens are refused: another secret, another algorithm, alg none, wrong audience, missing claims, no body hash", async () => {
  const x = await setup();
  const body = peerBody();
  const claims = (extra: Record<string, unknown> = {}) => ({ bsh: bodyHash(body), ...extra });
  const base = (payload: Record<string, unknown> = claims()) =>
    new SignJWT(payload).setIssuer("peer").setAudience(MIRROR_AUDIENCE).setIssuedAt()
      .setExpirationTime("60s").setJti(crypto.randomUUID());
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const cases: [string, string][] = [
    [
      "another secret",
      await base().setProtectedHeader({ alg: "HS256" }).sign(key.map((b) => b ^ 1)),
    ],
    ["HS512", await base().setProtectedHeader({ alg: "HS512" }).sign(key)],
    [
      "alg none",
      `${b64({ alg: "none" })}.${
        b64({
          ...claims(),
          iss: "peer",
          aud: MIRROR_AUDIENCE,
          iat: nowS(),
          exp: nowS() + 60,
          jti: crypto.randomUUID(),
        })
      }.`,
    ],
    [
      "alg none with a signature part",
      `${b64({ alg: "none" })}.${
        b64({
          ...claims(),
          iss: "peer",
          aud: MIRROR_AUDIENCE,
          iat: nowS(),
          exp: nowS() + 60,
          jti: crypto.randomUUID(),
        })
      }.AAAA`,
    ],
    [
      "wrong audience",
      await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).setIssuer("peer")
        .setAudience("wb:something-else").setIssuedAt().setExpirationTime("60s")
        .setJti(crypto.randomUUID()).sign(key),
    ],
    [
      "no jti",
      await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).setIssuer("peer")
        .setAudience(MIRROR_AUDIENCE).setIssuedAt().setExpirationTime("60s").sign(key),
    ],
    [
      "no iat",
      await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).setIssuer("peer")
        .setAudience(MIRROR_AUDIENCE).setExpirationTime("60s").setJti(crypto.randomUUID())
        .sign(key),
    ],
    [
      "no iss",
      await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).setAudience(MIRROR_AUDIENCE)
        .setIssuedAt().setExpirationTime("60s").setJti(crypto.randomUUID()).sign(key),
    ],
    ["no body hash", await base({}).setProtectedHeader({ alg: "HS256" }).sign(key)],
  ];
  for (const [name, token] of cases) {
    const { status, message } = await post(x, body, token);
    assert.ok(status === 401 || status === 403, `${name}: ${status} ${message}`);
  }
});

Deno.test("any change to a valid mirror token's bytes is refused (never 2xx, never 5xx)", async () => {
  const x = await setup();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  await fc.assert(
    fc.asyncProperty(
      fc.nat(),
      fc.constantFrom(...alphabet),
      async (position, replacement) => {
        const body = peerBody();
        const token = await signMirrorRequest(body, MIRROR_SECRET, { issuer: "peer" });
        const i = position % token.length;
        const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
        // Base64url's last character carries spare bits: a change there may decode to the
        // same bytes, which is the same token.
        fc.pre(tampered !== token && !sameBytes(token, tampered));
        const { status, message } = await post(x, body, tampered);
        assert.ok(status === 401 || status === 403, `${status} ${message}`);
      },
    ),
    fuzzParameters(0.25),
  );
});

function sameBytes(a: string, b: string): boolean {
  const pa = a.split(".");
  const pb = b.split(".");
  if (pa.length !== 3 || pb.length !== 3) return false;
  try {
    decodeProtectedHeader(b);
  } catch {
    return false;
  }
  return pa.every((part, i) =>
    Buffer.from(part, "base64url").equals(Buffer.from(pb[i], "base64url")) &&
    /^[A-Za-z0-9_-]*$/.test(pb[i])
  );
}

Deno.test("an instance without MIRROR_SECRET refuses every signed request", async () => {
  const x = await setup();
  const app = await createApp({ ...x.f.deps, mirrorSecret: undefined });
  const body = peerBody();
  const response = await app.request("/api/cache/invalidate", {
    method: "POST",
    headers: {
      authorization: `Bearer ${await signMirrorRequest(body, MIRROR_SECRET, { issuer: "peer" })}`,
    },
    body,
  });
  assert.equal(response.status, 401);
  assert.match((await response.json()).message, /no MIRROR_SECRET/);
});

Deno.test("a mirror that answers with a redirect is not followed: the signed request goes nowhere else (301, 302, 303, 307, 308)", async () => {
  const x = await setup();
  const attacker = startRecorder();
  let status = 307;
  const redirector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(null, {
      status,
      headers: { location: `${attacker.url}/api/cache/invalidate` },
    });
  });
  const lines: string[] = [];
  const events = createServerEvents({
    db: x.f.deps.db,
    instance: "redirected",
    store: RedisStore.disabled(),
    mirrors: [`http://127.0.0.1:${redirector.addr.port}`],
    mirrorSecret: MIRROR_SECRET,
    mirrorRetry: { attempts: 2, baseDelayMs: 10, timeoutMs: 2000 },
    log: createCacheEventLog({ instance: "redirected", destination: (line) => lines.push(line) }),
  });
  try {
    for (status of [301, 302, 303, 307, 308]) {
      const before = lines.length;
      await events.invalidate("windowed_aggregate", undefined, { mirror: true });
      const deadline = Date.now() + 10_000;
      const gaveUp = () =>
        lines.slice(before).map((line) => JSON.parse(line)).find((l) =>
          l.event === "mirror_gave_up"
        );
      while (!gaveUp() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.match(
        String(gaveUp()?.error),
        new RegExp(`HTTP ${status}: a redirect .* not followed`),
      );
    }
    assert.deepEqual(attacker.requests, [], "the redirect target was never contacted");
  } finally {
    await events.close();
    await redirector.shutdown();
    await attacker.close();
  }
});

Deno.test("mirror security teardown", async () => {
  if (!fixture) return;
  await fixture.events.close();
  await fixture.mirror.close();
  await fixture.attacker.close();
  await fixture.f[Symbol.asyncDispose]();
  fixture = undefined;
});
