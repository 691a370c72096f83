import assert from "node:assert/strict";
import type { Instance } from "./instance_schema.ts";
import {
  asPostgresUser,
  nativePaths,
  nativePostgresSteps,
  nativeRedisListen,
  nativeRedisSteps,
  pgHbaText,
  socketPathProblems,
} from "./native_plan.ts";
import { nativeAppEnv } from "./native_app_plan.ts";
import { parseRedisInfo, redisConfigText } from "./redis_config.ts";
import { resolveImages } from "./images.ts";
import {
  loaderArgs,
  SERVICE_DEPENDENCIES,
  START_ORDER,
  startOrderOf,
  STOP_ORDER,
  stopOrderOf,
  SUBDIRECTORIES,
} from "./plan.ts";
import { imagesToPull, pullStep } from "./image_pulls.ts";
import {
  dockerRedisListen,
  planDockerRestart,
  planDockerStart,
  planDockerStop,
} from "./docker_plan.ts";
import { dockerLoadStep, dockerLogsStep, dockerRollbackPlan } from "./docker_ops_plan.ts";

const instance: Instance = {
  id: "demo",
  label: "Demo",
  port: 8710,
  instanceDir: "/wb/instances/demo",
  runtime: "docker",
  tags: [],
};
const secrets = {
  adminToken: "tok-s3cr3t",
  postgresPassword: "pw-s3cr3t/+",
  redisPassword: "redis-s3cr3t",
};
const argv = (steps: { command: string; args: string[] }[]) =>
  steps.map((s) => [s.command, ...s.args]);
const LABEL = ["--label", "dev.wb.instance=demo"];

/** The exact docker start plan of `instance`, written out by hand. */
const EXPECTED_START = [
  ["docker", "network", "create", ...LABEL, "demo"],
  ["docker", "rm", "demo-postgres"],
  [
    "docker",
    "run",
    "-d",
    "--name",
    "demo-postgres",
    "--network",
    "demo",
    ...LABEL,
    "-e",
    "POSTGRES_PASSWORD",
    "-e",
    "POSTGRES_DB=wb",
    "-v",
    "/wb/instances/demo/databases:/var/lib/postgresql/data",
    "postgres:17.4",
  ],
  [
    "docker",
    "exec",
    "demo-postgres",
    "pg_isready",
    "-h",
    "127.0.0.1",
    "-U",
    "postgres",
    "-d",
    "wb",
  ],
  ["docker", "rm", "demo-redis"],
  [
    "docker",
    "run",
    "-d",
    "--name",
    "demo-redis",
    "--network",
    "demo",
    ...LABEL,
    "-v",
    "/wb/instances/demo/redis:/data",
    "redis:7-alpine",
    "redis-server",
    "/data/redis.conf",
  ],
  ["docker", "exec", "-e", "REDISCLI_AUTH", "demo-redis", "redis-cli", "PING"],
  ["docker", "rm", "demo"],
  [
    "docker",
    "run",
    "-d",
    "--name",
    "demo",
    "--network",
    "demo",
    ...LABEL,
    "-p",
    "127.0.0.1:8710:8000",
    "-e",
    "PORT=8000",
    "-e",
    "DATABASE_URL",
    "-e",
    "REDIS_URL",
    "-e",
    "ADMIN_TOKEN",
    "-e",
    "WB_INSTANCE=demo",
    "wb-server:latest",
  ],
]; // deno-fmt-ignore

const EXPECTED_STOP = [
  ["docker", "stop", "demo"],
  ["docker", "stop", "demo-redis"],
  ["docker", "stop", "-t", "30", "demo-postgres"],
  ["docker", "network", "rm", "demo"],
];

Deno.test("START_ORDER is computed from the dependencies; STOP_ORDER is its reverse", () => {
  assert.deepEqual(START_ORDER, ["network", "postgres", "redis", "admin", "app"]);
  assert.deepEqual(STOP_ORDER, ["app", "admin", "redis", "postgres", "network"]);
  assert.deepEqual(startOrderOf(SERVICE_DEPENDENCIES), START_ORDER);
  assert.deepEqual(stopOrderOf({}), ["app", "redis", "postgres", "network"]);
  assert.deepEqual(stopOrderOf({ adminVersion: "1" }), STOP_ORDER);
});

Deno.test("startOrderOf() puts dependencies first and rejects cycles", () => {
  assert.deepEqual(startOrderOf<string>({ c: ["b"], b: ["a"], a: [] }), ["a", "b", "c"]);
  assert.throws(() => startOrderOf<string>({ a: ["b"], b: ["a"] }), RangeError);
});

Deno.test("planDockerStart() is the exact argv list, in start order", () => {
  assert.deepEqual(argv(planDockerStart(instance, { secrets })), EXPECTED_START);
});

Deno.test("planDockerStart() passes secrets by name, never in argv", () => {
  const steps = planDockerStart(instance, { secrets });
  for (const step of steps) {
    assert.ok(!step.args.join(" ").includes("s3cr3t"), step.args.join(" "));
  }
  const postgres = steps.find((s) => s.args.includes("demo-postgres") && s.args[0] === "run")!;
  assert.deepEqual(postgres.env, { POSTGRES_PASSWORD: "pw-s3cr3t/+" });
  const app = steps.at(-1)!;
  assert.deepEqual(app.env, {
    DATABASE_URL: "postgres://postgres:pw-s3cr3t%2F%2B@demo-postgres:5432/wb",
    REDIS_URL: "redis://:redis-s3cr3t@demo-redis:6379",
    ADMIN_TOKEN: "tok-s3cr3t",
  });
  const ping = steps.find((s) => s.args.includes("PING"))!;
  assert.deepEqual(ping.env, { REDISCLI_AUTH: "redis-s3cr3t" });
});

Deno.test("planDockerStart() publishes no Redis port; only the app has -p", () => {
  const runs = planDockerStart(instance, { secrets }).filter((s) => s.args[0] === "run");
  assert.deepEqual(
    runs.filter((s) => s.args.includes("-p")).map((s) => s.args[s.args.indexOf("--name") + 1]),
    ["demo"],
  );
});

Deno.test("planDockerStart() polls pg_isready and Redis PING with timeouts; makes only Redis optional", () => {
  const steps = planDockerStart(instance, { secrets, postgresReadyMs: 5000, redisReadyMs: 700 });
  const pg = steps.find((s) => s.args.includes("pg_isready"))!;
  assert.equal(pg.retryForMs, 5000);
  assert.equal(pg.notReadyMessage, "Postgres of 'demo' did not accept connections");
  const ping = steps.find((s) => s.args.includes("PING"))!;
  assert.equal(ping.retryForMs, 700);
  assert.equal(ping.expectStdout, "^(PONG|LOADING)");
  assert.deepEqual(
    steps.filter((s) => s.optional).map((s) => s.args.slice(0, 2)),
    [["rm", "demo-redis"], ["run", "-d"], ["exec", "-e"]],
  );
  assert.ok(steps.filter((s) => s.optional).every((s) => s.args.some((a) => a.includes("redis"))));
});

Deno.test("planDockerStart() adds the admin container before the app when adminVersion is set", () => {
  const withAdmin = { ...instance, adminVersion: "2.1", serverVersion: "1.4" };
  const names = argv(planDockerStart(withAdmin, { secrets }))
    .filter((a) => a[1] === "run").map((a) => a[a.indexOf("--name") + 1]);
  assert.deepEqual(names, ["demo-postgres", "demo-redis", "demo-admin", "demo"]);
  const admin = planDockerStart(withAdmin, { secrets }).find((s) =>
    s.args.includes("demo-admin") && s.args[0] === "run"
  )!;
  assert.equal(admin.args.at(-1), "wb-admin:2.1");
  assert.equal(planDockerStart(withAdmin, { secrets }).at(-1)!.args.at(-1), "wb-server:1.4");
  assert.deepEqual(argv(planDockerStop(withAdmin)).map((a) => a.at(-1)), [
    "demo",
    "demo-admin",
    "demo-redis",
    "demo-postgres",
    "demo",
  ]);
});

Deno.test("planDockerStart() runs the configured images and publishes the app on the configured address", () => {
  const configured: Instance = {
    ...instance,
    serverVersion: "1.4",
    images: { postgres: "registry.example.org/postgres:17.4", app: "registry.example.org/wb" },
    publishAddress: "0.0.0.0",
  };
  const images = resolveImages(configured, {
    config: { redis: "wb-local/redis:7", postgres: "ignored/postgres:1" },
    env: { redis: "ignored/redis:1", deno: "wb-local/deno:2.9.6" },
  });
  assert.deepEqual(images.sources, {
    postgres: "instance",
    redis: "servers.json",
    app: "instance",
    deno: "environment",
  });
  const runs = planDockerStart(configured, { secrets, images }).filter((s) => s.args[0] === "run");
  const run = (name: string) => runs.find((s) => s.args.includes(name))!.args;
  assert.equal(run("demo-postgres").at(-1), "registry.example.org/postgres:17.4");
  assert.deepEqual(run("demo-redis").slice(-3), [
    "wb-local/redis:7",
    "redis-server",
    "/data/redis.conf",
  ]);
  const app = runs.find((s) => s.args.includes("demo") && s.args.includes("-p"))!.args;
  assert.equal(app[app.indexOf("-p") + 1], "0.0.0.0:8710:8000");
  assert.equal(app.at(-1), "registry.example.org/wb:1.4");
  // Without settings: the upstream images, the app on loopback only.
  assert.equal(resolveImages(instance).postgres, "postgres:17.4");
  const plain = planDockerStart(instance, { secrets }).at(-1)!.args;
  assert.equal(plain[plain.indexOf("-p") + 1], "127.0.0.1:8710:8000");
});

Deno.test("planDockerStart() readiness polls give up at once when the container is gone", () => {
  const steps = planDockerStart(instance, { secrets });
  for (const poll of steps.filter((s) => s.retryForMs !== undefined)) {
    assert.ok(
      new RegExp(poll.giveUpIfStderr!).test(
        "Error response from daemon: Container 0a1b is not running",
      ),
    );
    assert.ok(new RegExp(poll.giveUpIfStderr!).test("Error: No such container: demo-redis"));
  }
});

Deno.test("planDockerStop() is the exact argv list, Postgres with a 30 s grace", () => {
  assert.deepEqual(argv(planDockerStop(instance)), EXPECTED_STOP);
});

Deno.test("planDockerRestart() is the stop plan, then the start plan", () => {
  assert.deepEqual(argv(planDockerRestart(instance, { secrets })), [
    ...EXPECTED_STOP,
    ...EXPECTED_START,
  ]);
  assert.deepEqual(
    planDockerRestart(instance, { secrets }).slice(0, EXPECTED_STOP.length),
    planDockerStop(instance),
    "restart uses the very same stop steps as stop",
  );
});

Deno.test("SUBDIRECTORIES; imagesToPull() lists each image once with the services that run it", () => {
  assert.deepEqual(SUBDIRECTORIES, ["databases", "sandbox", "exports", "assets", "redis"]);
  const uses = imagesToPull([
    { id: "a", images: resolveImages(instance) },
    { id: "b", images: resolveImages({ ...instance, serverVersion: "2", adminVersion: "3" }) },
    {
      id: "c",
      images: resolveImages({ ...instance, images: { redis: "wb-local/redis:7" } }, {
        env: { postgres: "wb-local/postgres:15" },
      }),
    },
  ]);
  assert.deepEqual(uses.map((u) => [u.image, u.usedBy, u.own]), [
    ["postgres:17.4", ["a postgres", "b postgres"], false],
    ["redis:7-alpine", ["a redis", "b redis"], false],
    ["wb-server:latest", ["a app", "c app"], true],
    ["wb-admin:3", ["b admin"], true],
    ["wb-server:2", ["b app"], true],
    ["wb-local/postgres:15", ["c postgres"], false],
    ["wb-local/redis:7", ["c redis"], false],
  ]); // deno-fmt-ignore
  assert.deepEqual(argv(uses.slice(0, 3).map(pullStep)), [
    ["docker", "pull", "postgres:17.4"],
    ["docker", "pull", "redis:7-alpine"],
    ["docker", "pull", "wb-server:latest"],
  ]);
});

Deno.test("loaderArgs() and dockerLoadStep() mount the CSV and run server/load.ts on the network", () => {
  assert.deepEqual(loaderArgs({}), []);
  assert.deepEqual(loaderArgs({ facilitiesCsv: "/f.csv", scale: 2, months: 24 }), [
    "--facilities",
    "/f.csv",
    "--scale",
    "2",
    "--months",
    "24",
  ]); // deno-fmt-ignore
  const step = dockerLoadStep(instance, secrets, { facilitiesCsv: "/data/kano.csv", scale: 1 });
  assert.deepEqual([step.command, ...step.args], [
    "docker",
    "run",
    "--rm",
    "--network",
    "demo",
    ...LABEL,
    "-e",
    "DATABASE_URL",
    "-e",
    "REDIS_URL",
    "-v",
    "/data/kano.csv:/input/facilities.csv:ro",
    "wb-server:latest",
    "deno",
    "run",
    "-A",
    "server/load.ts",
    "--facilities",
    "/input/facilities.csv",
    "--scale",
    "1",
  ]); // deno-fmt-ignore
});

Deno.test("native plan: Postgres on its Unix socket only (SCRAM), Redis on its socket, the app on loopback; secrets never in argv", () => {
  const native: Instance = { ...instance, runtime: "native" };
  const paths = nativePaths(native.instanceDir);
  const pg = nativePostgresSteps(native, paths, false, secrets.postgresPassword);
  assert.deepEqual([pg.start.command, ...pg.start.args], [
    "pg_ctl",
    "-D",
    "/wb/instances/demo/databases/pg",
    "-o",
    "-p 18710 -k '/wb/instances/demo/run' -c unix_socket_permissions=0700 -c listen_addresses='' -c log_timezone=UTC",
    "-l",
    "/wb/instances/demo/logs/postgres.log",
    "-w",
    "-t",
    "60",
    "start",
  ]); // deno-fmt-ignore
  const tcp = nativePostgresSteps({ ...native, tcp: true }, paths, false, "pw");
  assert.match(tcp.start.args[3], /-c listen_addresses=127\.0\.0\.1 /);
  assert.deepEqual(pg.stop.args, [
    "-D",
    "/wb/instances/demo/databases/pg",
    "-m",
    "fast",
    "-t",
    "30",
    "-w",
    "stop",
  ]);
  assert.deepEqual(pg.ready.args, [
    "-h",
    "/wb/instances/demo/run",
    "-p",
    "18710",
    "-U",
    "postgres",
  ]);
  assert.equal(pg.databaseExists.env?.PGPASSWORD, secrets.postgresPassword);
  assert.equal(pg.setPassword.command, "postgres");
  assert.match(pg.setPassword.stdin!, /^ALTER ROLE postgres PASSWORD '/, "the password on stdin");
  const hba = pgHbaText();
  assert.match(hba, /^local all all scram-sha-256$/m);
  assert.doesNotMatch(hba, /trust|peer|0\.0\.0\.0/);
  const asRoot = nativePostgresSteps(native, paths, true, "pw");
  assert.deepEqual(asRoot.start.args.slice(0, 4), ["-u", "postgres", "--", "pg_ctl"]);
  assert.equal(asRoot.start.command, "runuser");
  assert.equal(asRoot.ready.command, "pg_isready", "client tools run as us, on the socket");
  const redis = nativeRedisSteps(native, paths, secrets.redisPassword);
  assert.deepEqual(
    [redis.start.command, ...redis.start.args],
    [
      "sh",
      "-c",
      'umask 077 && exec redis-server "$1"',
      "sh",
      "/wb/instances/demo/redis/redis.conf",
    ],
    "everything, the password included, comes from the generated config file",
  );
  assert.deepEqual(redis.shutdown.args, ["-s", "/wb/instances/demo/redis/redis.sock", "shutdown"]);
  assert.deepEqual(nativeRedisListen(native, paths), {
    port: 0,
    bind: "127.0.0.1",
    unixsocket: "/wb/instances/demo/redis/redis.sock",
    dir: "/wb/instances/demo/redis",
    daemonize: false,
    pidfile: "/wb/instances/demo/redis/redis.pid",
    logfile: "/wb/instances/demo/logs/redis.log",
  });
  assert.equal(nativeRedisListen({ ...native, tcp: true }, paths).port, 28710);
  for (const step of [...Object.values(redis), ...Object.values(pg)]) {
    assert.ok(!step.args.join(" ").includes("s3cr3t"), step.args.join(" "));
    if (step.command === "redis-cli") assert.deepEqual(step.env, { REDISCLI_AUTH: "redis-s3cr3t" });
  }
  assert.deepEqual(nativeAppEnv(native, paths, secrets), {
    PORT: "8710",
    HOST: "127.0.0.1",
    DATABASE_URL: `postgres://postgres:${
      encodeURIComponent(secrets.postgresPassword)
    }@localhost:18710/wb?host=%2Fwb%2Finstances%2Fdemo%2Frun`,
    REDIS_URL: "unix://:redis-s3cr3t@/wb/instances/demo/redis/redis.sock",
    ADMIN_TOKEN: "tok-s3cr3t",
    WB_INSTANCE: "demo",
  });
  assert.deepEqual(asPostgresUser(pg.status, false), pg.status);
  assert.deepEqual(socketPathProblems(native, paths), []);
  assert.match(
    socketPathProblems(native, nativePaths(`/${"x".repeat(120)}`))[0],
    /longer than 107 bytes/,
  );
});

Deno.test("nativePaths() puts Postgres files in postgresHome when given", () => {
  const paths = nativePaths("/root/.wb/instances/demo", "/var/lib/wb/postgres/demo-1234");
  assert.equal(paths.pgDataDir, "/var/lib/wb/postgres/demo-1234/pg");
  assert.equal(paths.pgSocketDir, "/var/lib/wb/postgres/demo-1234/run");
  assert.equal(paths.redisDir, "/root/.wb/instances/demo/redis");
  assert.equal(paths.appPidFile, "/root/.wb/instances/demo/app.pid");
});

Deno.test("dockerRollbackPlan() finds the instance's resources by label and removes them", () => {
  const plan = dockerRollbackPlan("demo");
  assert.deepEqual(
    argv([
      plan.listContainers,
      plan.removeContainers(["demo-postgres", "demo-redis"]),
      plan.listNetworks,
      plan.removeNetworks(["demo"]),
    ]),
    [
      ["docker", "ps", "-a", "--filter", "label=dev.wb.instance=demo", "--format", "{{.Names}}"],
      ["docker", "rm", "-f", "demo-postgres", "demo-redis"],
      [
        "docker",
        "network",
        "ls",
        "--filter",
        "label=dev.wb.instance=demo",
        "--format",
        "{{.Name}}",
      ],
      ["docker", "network", "rm", "demo"],
    ],
  );
  assert.deepEqual(dockerLogsStep("demo", "app", { follow: true, tailLines: 5 }).args, [
    "logs",
    "--follow",
    "--tail",
    "5",
    "demo",
  ]);
});

Deno.test("redisConfigText() is the shipped profile, then the instance's settings and password", async () => {
  const profile = await Deno.readTextFile(new URL("./redis.conf", import.meta.url));
  for (
    const directive of [
      "appendonly yes",
      "appendfsync everysec",
      "aof-use-rdb-preamble yes",
      "lazyfree-lazy-user-flush yes",
      "maxmemory-policy allkeys-lru",
    ]
  ) {
    assert.match(profile, new RegExp(`^${directive}$`, "m"), directive);
  }
  const native = { ...instance, runtime: "native" as const, redisMaxmemory: "64mb" };
  const text = redisConfigText(
    profile,
    native,
    nativeRedisListen(native, nativePaths(native.instanceDir)),
    "pw",
  );
  assert.ok(text.indexOf("appendonly yes") < text.indexOf("requirepass pw"));
  const tail = text.slice(text.indexOf("# --- instance 'demo' ---")).trim().split("\n").slice(1);
  assert.deepEqual(tail, [
    "port 0",
    "unixsocket /wb/instances/demo/redis/redis.sock",
    "unixsocketperm 700",
    "dir /wb/instances/demo/redis",
    "daemonize no",
    "pidfile /wb/instances/demo/redis/redis.pid",
    "logfile /wb/instances/demo/logs/redis.log",
    "maxmemory 64mb",
    "maxmemory-policy allkeys-lru",
    "requirepass pw",
  ]);
  const docker = redisConfigText(profile, instance, dockerRedisListen(), 'a "b');
  assert.match(docker, /^bind 0\.0\.0\.0$/m);
  assert.match(docker, /^dir \/data$/m);
  assert.match(docker, /^logfile ""$/m, "docker logs Redis to stdout");
  assert.match(docker, /^requirepass "a \\"b"$/m, "a password with spaces or quotes is quoted");
});

Deno.test("parseRedisInfo() reads keys, memory and AOF state; refuses an error reply", () => {
  const info = parseRedisInfo(
    [
      "# Server",
      "redis_version:7.0.15",
      "uptime_in_seconds:12",
      "# Memory",
      "used_memory:1048576",
      "used_memory_human:1.00M",
      "maxmemory:268435456",
      "maxmemory_human:256.00M",
      "maxmemory_policy:allkeys-lru",
      "# Persistence",
      "aof_enabled:1",
      "aof_rewrite_in_progress:0",
      "aof_last_bgrewrite_status:ok",
      "aof_last_write_status:ok",
      "loading:0",
      "# Stats",
      "evicted_keys:7",
      "# Keyspace",
      "db0:keys=42,expires=40,avg_ttl=100",
    ].join("\r\n"),
  );
  assert.deepEqual(info, {
    keys: 42,
    usedMemoryBytes: 1048576,
    usedMemoryHuman: "1.00M",
    maxmemoryBytes: 268435456,
    maxmemoryHuman: "256.00M",
    maxmemoryPolicy: "allkeys-lru",
    aofEnabled: true,
    aofLastWriteStatus: "ok",
    aofLastRewriteStatus: "ok",
    aofRewriteInProgress: false,
    evictedKeys: 7,
    loading: false,
    loadingPercent: undefined,
    uptimeS: 12,
    version: "7.0.15",
  });
  assert.equal(parseRedisInfo("NOAUTH Authentication required.\n"), undefined);
});
