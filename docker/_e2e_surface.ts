/**
 * What an operator and the network see of the docker suite's instances (`docker/wb_e2e.ts`):
 * `wb redis-cli`, `wb logs`, `wb flush-cache` and `wb user add` (its login link opened in a
 * browser) against containers, and what is published: Postgres and Redis only on their
 * instance's network, the app port on loopback. The test bodies only; `wb_e2e.ts` registers
 * them, in order, on the instances its first test started.
 *
 * @module
 */

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { dbsize, docker, dockerOk, get, objectPaths, redisKeys, wb, wbOk } from "./_e2e_world.ts";
import { alpha, beta } from "./_e2e_fixture.ts";

/**
 * `wb redis-cli`, `wb logs <id> redis|postgres|app|admin`, `wb flush-cache` (through the
 * running app) and `wb user add`, whose login link opens the built web client in Chromium.
 *
 * @throws {AssertionError} If any of that does not hold.
 */
export async function operatorCommands(): Promise<void> {
  assert.match(await wbOk("redis-cli", "alpha", "PING"), /PONG/);
  assert.match(
    await wbOk("redis-cli", "alpha", "CONFIG", "GET", "maxmemory-policy"),
    /allkeys-lru/,
  );

  const logs: [string, RegExp][] = [
    ["redis", /Ready to accept connections/],
    ["postgres", /database system is ready to accept connections/],
    ["app", /\S/],
  ];
  for (const [service, pattern] of logs) {
    const out = await wb("logs", "alpha", service, "-n", "50");
    assert.equal(out.code, 0, out.stderr);
    assert.match(`${out.stdout}${out.stderr}`, pattern, `wb logs alpha ${service}`);
  }
  const admin = await wb("logs", "beta", "admin", "-n", "5");
  assert.equal(admin.code, 0, admin.stderr);

  // Through the app while it runs: its caches and its Redis are emptied.
  assert.ok(await dbsize("beta") > 0);
  assert.match(await wbOk("flush-cache", "beta"), /Flushed the caches of 'beta' through the app/);
  assert.deepEqual((await redisKeys("beta")).filter((k) => k.startsWith("cache:")), []);
  const paths = await objectPaths(beta);
  assert.equal((await get(beta, paths[0])).xCache, "MISS");

  const added = await wbOk("user", "add", "alpha", "ada@example.org", "--admin");
  const link = added.match(/http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+/)?.[0];
  assert.ok(link, added);
  assert.ok(link.startsWith(`http://127.0.0.1:${alpha.port}/`));
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(link);
    await page.click("#login");
    await page.waitForSelector("#who");
    assert.equal(await page.textContent("#who"), "ada@example.org · administrator");
    await page.click('a[data-po-id="po_anc_by_lga"]');
    await page.waitForSelector(".po-view .chart[data-rendered] canvas", { timeout: 30_000 });
  } finally {
    await browser.close();
  }
}

/**
 * Nothing is published beyond what the docs say, checked from the host: no port binding but
 * the app's, on 127.0.0.1; docker-proxy binds only the two app ports; each container on its
 * own instance's network and no other.
 *
 * @throws {AssertionError} If any of that does not hold.
 */
export async function nothingPublished(): Promise<void> {
  const hostAddresses = Deno.networkInterfaces()
    .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    .map((i) => i.address);
  for (const instance of [alpha, beta]) {
    const { id } = instance;
    for (const service of ["postgres", "redis", ...(id === "beta" ? ["admin"] : [])]) {
      const name = `${id}-${service}`;
      assert.equal(
        await dockerOk("inspect", "--format", "{{json .HostConfig.PortBindings}}", name),
        "{}\n",
        name,
      );
      assert.equal((await dockerOk("port", name)).trim(), "", `${name} publishes nothing`);
    }
    const bindings = JSON.parse(
      await dockerOk("inspect", "--format", "{{json .HostConfig.PortBindings}}", id),
    );
    assert.deepEqual(bindings, {
      "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(instance.port) }],
    });
    for (const address of hostAddresses) {
      const refused = await Deno.connect({ hostname: address, port: instance.port }).then(
        (conn) => (conn.close(), false),
        () => true,
      );
      assert.ok(refused, `${id}'s app port is not reachable on ${address}`);
    }
  }
  // On the host, docker-proxy binds only the two app ports, on loopback.
  const ips = new Set<string>();
  for (
    const name of [
      "alpha",
      "alpha-postgres",
      "alpha-redis",
      "beta",
      "beta-postgres",
      "beta-redis",
      "beta-admin",
    ]
  ) {
    const ip = (await dockerOk(
      "inspect",
      "--format",
      "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      name,
    )).trim();
    ips.add(`${name} ${ip}`);
  }
  const proxies: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const argv = (() => {
      try {
        return Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      } catch {
        return [];
      }
    })();
    if (!argv[0]?.endsWith("docker-proxy")) continue;
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1];
    const target = [...ips].find((x) => x.endsWith(` ${arg("-container-ip")}`));
    if (target) proxies.push(`${target.split(" ")[0]} ${arg("-host-ip")}:${arg("-host-port")}`);
  }
  assert.deepEqual(proxies.sort(), [
    `alpha 127.0.0.1:${alpha.port}`,
    `beta 127.0.0.1:${beta.port}`,
  ]);
  // Each container is on its own instance's network and no other; by name, alpha's
  // Redis is known on alpha's network and unknown on beta's. (A name the engine does not
  // know goes to the host's resolver from a container without a route out, so each
  // negative lookup waits for its timeout: one is enough.)
  for (const instance of [alpha, beta]) {
    const services = ["postgres", "redis", ...(instance.id === "beta" ? ["admin"] : [])];
    for (const name of [instance.id, ...services.map((s) => `${instance.id}-${s}`)]) {
      const networks = JSON.parse(
        await dockerOk("inspect", "--format", "{{json .NetworkSettings.Networks}}", name),
      );
      assert.deepEqual(Object.keys(networks), [instance.id], name);
    }
  }
  const lookup = (container: string, name: string) =>
    docker("exec", container, "getent", "hosts", name).then((o) => o.code);
  assert.equal(
    await lookup("alpha-postgres", "alpha-redis"),
    0,
    "alpha-redis on alpha's network",
  );
  assert.notEqual(await lookup("beta-postgres", "alpha-redis"), 0, "alpha-redis not on beta's");
}
