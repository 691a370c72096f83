/**
 * The hit paths of the cache core before and after a change, in one run: the library of
 * `--baseline <rev>` (extracted with `git archive` into `.bench-baseline/<rev>/`, ignored by
 * git) and the working tree's, side by side on one redis-server, interleaved in rounds
 * (rotated each round) so machine noise hits both alike.
 *
 * Paths: `TimCacheC.getOrSet` and `get` hits from Redis (no L1), a `getOrSet` hit from the
 * L1, and a `TimCacheB.getOrSet` hit; 1 KB and 50 KB values; 1 caller, and 64 callers on 64
 * keys. Issue 13's target: no path slower than before.
 *
 * Run: `deno run -A bench/core_compare_bench.ts [--baseline 91302ae] [--rounds 6] [--turn-ms 300]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { itemsPayload } from "./cache_get_bench.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

type Lib = typeof import("../lib/mod.ts");

/** One hit path of one library version, ready to be driven. */
interface Path {
  read(index: number): Promise<unknown>;
  close(): Promise<void>;
}

const PATHS = ["C getOrSet, Redis", "C get, Redis", "C getOrSet, L1", "B getOrSet"] as const;
type PathName = (typeof PATHS)[number];

/** Imports the library at `rev` (a copy of its `lib/` under `.bench-baseline/`). */
async function baselineLib(rev: string): Promise<Lib> {
  const root = new URL("../", import.meta.url).pathname;
  const sha = new TextDecoder().decode(
    (await new Deno.Command("git", { args: ["-C", root, "rev-parse", "--short", rev] }).output())
      .stdout,
  ).trim();
  if (!sha) throw new Error(`Unknown revision '${rev}'`);
  const dir = `${root}.bench-baseline/${sha}`;
  try {
    await Deno.stat(`${dir}/lib/mod.ts`);
  } catch {
    await Deno.mkdir(dir, { recursive: true });
    const archive = await new Deno.Command("sh", {
      args: ["-c", `git -C '${root}' archive ${sha} lib | tar -x -C '${dir}'`],
    }).output();
    if (!archive.success) throw new Error(new TextDecoder().decode(archive.stderr));
  }
  return await import(`${dir}/lib/mod.ts`);
}

interface Value {
  id: string;
  v: string;
  payload: unknown;
}

async function makePath(lib: Lib, name: PathName, url: string, payload: unknown): Promise<Path> {
  const funcs = {
    uniquenessHashFromParams: (id: string) => id,
    versionHashFromParams: (v: string) => v,
    parseData: (d: Value) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
  };
  const value = (index: number): Value => ({ id: `k${index}`, v: "1", payload });
  if (name === "B getOrSet") {
    const cache = new lib.TimCacheB<string, string, Value>(funcs);
    for (let i = 0; i < 64; i++) await cache.setPromise(Promise.resolve(value(i)), `k${i}`, "1");
    return {
      read: (i) => cache.getOrSet(`k${i}`, "1", () => Promise.resolve(value(i))),
      close: () => Promise.resolve(),
    };
  }
  const withL1 = name === "C getOrSet, L1";
  const connection = await lib.connectRedis(url, {
    log: () => {},
    ...(withL1 ? {} : { l1: false }),
  });
  const prefix = `bench${crypto.randomUUID().slice(0, 8)}`;
  const cache = new lib.TimCacheC<string, string, Value>(prefix, funcs, {
    store: RedisStore.over(() => connection.ready()),
    l1: withL1 ? connection.l1 ?? false : false,
    log: () => {},
  });
  for (let i = 0; i < 64; i++) await cache.setPromise(Promise.resolve(value(i)), `k${i}`, "1");
  return {
    read: name === "C get, Redis"
      ? (i) => cache.get(`k${i}`, "1")
      : (i) => cache.getOrSet(`k${i}`, "1", () => Promise.resolve(value(i))),
    close: () => connection.close(),
  };
}

async function drive(path: Path, callers: number, durationMs: number) {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(Array.from({ length: callers }, async (_, caller) => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await path.read(caller);
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsedMs: performance.now() - started };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"),
    options: {
      baseline: { type: "string", default: "91302ae" },
      rounds: { type: "string", default: "6" },
      "turn-ms": { type: "string", default: "300" },
    },
  });
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  const versions: [string, Lib][] = [
    [`before (${values.baseline})`, await baselineLib(values.baseline!)],
    ["after (working tree)", await import("../lib/mod.ts")],
  ];
  const rows: string[][] = [];
  for (const size of [1024, 50 * 1024]) {
    const payload = itemsPayload(size);
    for (const name of PATHS) {
      for (const callers of [1, 64]) {
        const paths = await Promise.all(
          versions.map(([, lib]) => makePath(lib, name, redis.url, payload)),
        );
        const samples = paths.map(() => ({ latencies: [] as number[], calls: 0, ms: 0 }));
        for (const path of paths) await drive(path, callers, 100); // warm-up
        for (let round = 0; round < Number(values.rounds); round++) {
          for (let i = 0; i < paths.length; i++) {
            const at = (i + round) % paths.length;
            const { latencies, elapsedMs } = await drive(
              paths[at],
              callers,
              Number(values["turn-ms"]),
            );
            for (const x of latencies) samples[at].latencies.push(x);
            samples[at].calls += latencies.length;
            samples[at].ms += elapsedMs;
          }
        }
        for (const path of paths) await path.close();
        const perS = samples.map((s) => s.calls / (s.ms / 1000));
        rows.push([
          `${size / 1024} KB`,
          name,
          String(callers),
          ...samples.map((s) => ms(quantile(s.latencies, 0.5))),
          ...perS.map((x) => Math.round(x).toLocaleString("en-US")),
          `${(perS[1] / perS[0]).toFixed(2)}x`,
        ]);
      }
    }
  }
  console.log(markdownTable([
    [
      "value",
      "hit path",
      "callers",
      "p50 before",
      "p50 after",
      "hits/s before",
      "hits/s after",
      "after / before",
    ],
    ...rows,
  ]));
}
