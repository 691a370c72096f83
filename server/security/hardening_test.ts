/**
 * The smaller defences: the `Host` allowlist (DNS rebinding), `nosniff` and
 * `Cache-Control: private, no-store` on API JSON, `/metrics` loopback-only without its
 * token, the login rate limit per client address, the `__Host-` session cookie over HTTPS
 * and the plain-HTTP warning, and the rules on tokens at boot.
 */
import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import { readConfig } from "../config.ts";
import { PLAIN_HTTP_WARNING } from "../routes/auth.ts";
import {
  ADMIN_TOKEN,
  createSecurityFixture,
  INSTANCE,
  METRICS_TOKEN,
  routesOf,
  SAME_ORIGIN,
  type SecurityFixture,
  VIEWER_TOKEN,
} from "./_fixture.ts";

let fixture: SecurityFixture | undefined;

async function setup(): Promise<SecurityFixture> {
  fixture ??= await createSecurityFixture();
  return fixture;
}

/** `c.env` as `Deno.serve` gives it: the peer's address. */
const peer = (hostname: string) => ({ remoteAddr: { hostname, port: 40_000, transport: "tcp" } });

Deno.test("Host allowlist: under OPEN_ACCESS a foreign host name is 421 (DNS rebinding), addresses and localhost pass; ALLOWED_HOSTS admits its names only", async () => {
  const f = await setup();
  for (const host of ["evil.example", "rebind.attacker.test:8000", "wb.example.org."]) {
    const response = await f.open.request(`http://${host}/api/projects`);
    assert.equal(response.status, 421, host);
    assert.match((await response.json()).message, /does not answer for host/);
  }
  for (const host of ["127.0.0.1:8000", "localhost:8710", "[::1]:8000", "192.0.2.10"]) {
    const response = await f.open.request(`http://${host}/api/projects`);
    assert.equal(response.status, 200, host);
    await response.body?.cancel();
  }
  // Without OPEN_ACCESS every read needs a credential a rebinding page does not have: any host.
  const plain = await f.app.request("http://evil.example/healthz");
  assert.equal(plain.status, 200);
  const named = await createApp({ ...f.deps, allowedHosts: ["wb.example.org"] });
  assert.equal((await named.request("http://wb.example.org/healthz")).status, 200);
  assert.equal((await named.request("http://WB.example.org.:443/healthz")).status, 200);
  assert.equal((await named.request("http://other.example.org/healthz")).status, 421);
  // Before anything else: a refused host never reaches the database.
  const from = f.queries.length;
  await f.open.request("http://evil.example/api/projects/demo/presentation_objects");
  assert.equal(f.queries.length, from);
});

Deno.test("every JSON answer says nosniff and, unless its route caches on purpose, Cache-Control: private, no-store", async () => {
  const f = await setup();
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  for (const route of routesOf(f.app)) {
    const [method, pattern] = route.split(" ");
    if (method !== "GET") continue;
    const path = await f.concretePath(pattern);
    const response = await f.app.request(
      path.endsWith("/replicant_options") ? `${path}?replicateBy=indicator_id` : path,
      { headers: pattern === "/metrics" ? { authorization: `Bearer ${METRICS_TOKEN}` } : auth },
    );
    await response.body?.cancel();
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", route);
    if (response.headers.get("content-type")?.startsWith("application/json")) {
      const expected = pattern === "/api/instance/overview"
        ? /^private, max-age=\d+$/ // windowed: the browser may keep it until the boundary
        : pattern === "/api/labels"
        ? /^private, no-cache$/ // revalidated by its ETag on every use
        : /^private, no-store$|^no-store$/;
      assert.match(response.headers.get("cache-control") ?? "", expected, route);
    }
  }
  for (
    const [path, init] of [
      ["/api/projects", {}],
      ["/nope", {}],
      ["/api/auth/login", { method: "POST", headers: SAME_ORIGIN, body: "{" }],
    ] as [string, RequestInit][]
  ) {
    const response = await f.app.request(path, init);
    await response.body?.cancel();
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(response.headers.get("cache-control"), "private, no-store", path);
  }
});

Deno.test("/metrics without METRICS_TOKEN answers a loopback peer only, and not through a proxy", async () => {
  const f = await setup();
  const app = await createApp({ ...f.deps, metricsToken: undefined });
  const server = Deno.serve({ hostname: "0.0.0.0", port: 0, onListen() {} }, app.fetch);
  try {
    const local = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
    assert.equal(local.status, 200);
    assert.match(local.headers.get("content-type") ?? "", /^text\/plain/);
    await local.body?.cancel();
    const proxied = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`, {
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    assert.equal(proxied.status, 403);
    assert.match((await proxied.json()).message, /loopback only/);
    // A peer that is not loopback: this machine's own non-loopback address, if it has one.
    const address = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    )?.address;
    if (address) {
      const remote = await fetch(`http://${address}:${server.addr.port}/metrics`);
      assert.equal(remote.status, 403, `from ${address}`);
      await remote.body?.cancel();
    }
  } finally {
    await server.shutdown();
  }
  // No socket at all (app.request): refused too.
  assert.equal((await app.request("/metrics")).status, 403);
});

Deno.test("failed logins are limited per client address: the 21st failure is 429 with Retry-After, even with a valid link; another address, or a proxy's client, is counted apart", async () => {
  const f = await setup();
  const app = await createApp(f.deps);
  const login = (env: object, token: string, headers: Record<string, string> = {}) =>
    app.request("/api/auth/login", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/json", ...headers },
      body: JSON.stringify({ token }),
    }, env);
  for (let i = 0; i < 20; i++) {
    const response = await login(peer("198.51.100.7"), `wrong-${i}`);
    assert.equal(response.status, 401);
    await response.body?.cancel();
  }
  const valid = await f.loginToken("limited@example.org", false);
  const limited = await login(peer("198.51.100.7"), valid);
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.match((await limited.json()).message, /Too many failed logins/);
  // Another address is not affected, and its success does not count.
  const other = await login(peer("198.51.100.8"), valid);
  assert.equal(other.status, 200);
  await other.body?.cancel();
  // Behind a trusted proxy (loopback), X-Forwarded-For's last hop is the client...
  const proxied = await login(peer("127.0.0.1"), "wrong", {
    "x-forwarded-for": "198.51.100.7",
  });
  assert.equal(proxied.status, 429);
  await proxied.body?.cancel();
  const proxiedOther = await login(peer("127.0.0.1"), "wrong", {
    "x-forwarded-for": "198.51.100.7, 198.51.100.9",
  });
  assert.equal(proxiedOther.status, 401, "only the hop the proxy added counts");
  await proxiedOther.body?.cancel();
  // ...but a peer that is not a trusted proxy cannot choose its address.
  const spoofed = await login(peer("198.51.100.7"), "wrong", { "x-forwarded-for": "192.0.2.1" });
  assert.equal(spoofed.status, 429);
  await spoofed.body?.cancel();
});

Deno.test("over HTTPS the session cookie is __Host- (Secure, Path=/, no Domain) and no warning is given; over plain HTTP the answer warns; each scheme reads only its own cookie", async () => {
  const f = await setup();
  const loginOver = async (proto: "https" | "http") => {
    const response = await f.app.request("/api/auth/login", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/json", "x-forwarded-proto": proto },
      body: JSON.stringify({ token: await f.loginToken(`tls-${proto}@example.org`, false) }),
    });
    assert.equal(response.status, 200);
    return { cookie: response.headers.get("set-cookie")!, json: await response.json() };
  };
  const https = await loginOver("https");
  assert.match(
    https.cookie,
    new RegExp(`^__Host-wb_session_${INSTANCE}=[A-Za-z0-9_-]{43};`),
  );
  assert.match(https.cookie, /; Secure/);
  assert.match(https.cookie, /; Path=\//);
  assert.match(https.cookie, /; HttpOnly/);
  assert.match(https.cookie, /; SameSite=Strict/);
  assert.doesNotMatch(https.cookie, /Domain=/i);
  assert.equal(https.json.warning, undefined);
  const http = await loginOver("http");
  assert.match(http.cookie, new RegExp(`^wb_session_${INSTANCE}=`));
  assert.equal(http.json.warning, PLAIN_HTTP_WARNING);

  const pair = https.cookie.split(";")[0];
  const me = async (cookie: string, proto: string) =>
    (await (await f.app.request("/api/auth/me", {
      headers: { cookie, "x-forwarded-proto": proto },
    })).json()).role;
  assert.equal(await me(pair, "https"), "viewer");
  assert.equal(await me(pair, "http"), null, "a __Host- cookie is not read over plain HTTP");
  // The same token under the plain name is not read over HTTPS either.
  assert.equal(await me(pair.replace(/^__Host-/, ""), "https"), null);
  const meOverHttps = await (await f.app.request("/api/auth/me", {
    headers: { cookie: pair, "x-forwarded-proto": "https" },
  })).json();
  assert.equal(meOverHttps.secureTransport, true);
});

Deno.test("ADMIN_TOKEN, VIEWER_TOKEN, METRICS_TOKEN and MIRROR_SECRET: shorter than 32 characters or equal to another is refused at boot", async () => {
  const good = {
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    METRICS_TOKEN,
    MIRROR_SECRET: "m".repeat(32),
  };
  assert.equal(readConfig(good).adminToken, ADMIN_TOKEN);
  for (const name of Object.keys(good)) {
    assert.throws(
      () => readConfig({ ...good, [name]: "x".repeat(31) }),
      (error: Error) =>
        error instanceof RangeError && error.message.startsWith(`${name} must have at least 32`) &&
        !error.message.includes("x".repeat(31)),
    );
  }
  assert.throws(
    () => readConfig({ ...good, VIEWER_TOKEN: ADMIN_TOKEN }),
    /VIEWER_TOKEN must differ from ADMIN_TOKEN/,
  );
  assert.throws(
    () => readConfig({ ...good, METRICS_TOKEN: VIEWER_TOKEN }),
    /METRICS_TOKEN must differ from VIEWER_TOKEN/,
  );
  // The server process refuses to start, and says why without the value.
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname],
    env: { ADMIN_TOKEN: "1", PORT: "0", HOST: "127.0.0.1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(child.stderr);
  assert.notEqual(child.code, 0);
  assert.match(stderr, /ADMIN_TOKEN must have at least 32 characters \(it has 1\)/);
});

Deno.test("hardening teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
