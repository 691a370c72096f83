/**
 * The national benchmark's hits under cold load (`national_bench.ts`): a HIT and a control
 * probed in turn, idle and while cold computations run, for one `FILL_CONCURRENCY`.
 *
 * @module
 */
import { DEMO_PROJECT_ID } from "../server/load/mod.ts";
import type { FillerObject } from "./national_db.ts";
import { countBy, fmtMs } from "./national_report.ts";
import {
  type AppProcess,
  itemsPath,
  type RedisProcess,
  startBareRoute,
  type Timed,
  timedGet,
} from "./national_services.ts";
import { quantile } from "./stats.ts";

/**
 * The hit rows under cold load for one `FILL_CONCURRENCY`: `hitPo`'s items (a HIT) and a
 * bare route answering the same bytes from Redis, probed in turn, 2,000 times each idle, then
 * for 10 s while `bench/cold_load.ts` (its own process) requests the `cold` objects 10 at a
 * time. Adds two rows (the app, the control) through `add`.
 */
export async function hitsUnderColdLoad(
  app: AppProcess,
  redis: RedisProcess,
  databaseUrl: string,
  hitPo: string,
  cold: FillerObject[],
  fillConcurrency: number,
  add: (measure: string, value: string) => void,
): Promise<void> {
  const hitUrl = app.url + itemsPath(DEMO_PROJECT_ID, hitPo);
  const hitBody = new Uint8Array(await (await fetch(hitUrl)).arrayBuffer());
  const bare = await startBareRoute(redis, databaseUrl, DEMO_PROJECT_ID, hitPo, hitBody);
  const idle: Timed[] = [];
  const idleBare: Timed[] = [];
  const busy: Timed[] = [];
  const busyBare: Timed[] = [];
  const urlFile = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    for (let i = 0; i < 2000; i++) {
      idle.push(await timedGet(hitUrl));
      idleBare.push(await timedGet(bare.url));
    }
    // The cold computations come from another process: this one only times the hits, so
    // what it measures is the app's wait, not its own.
    await Deno.writeTextFile(
      urlFile,
      cold.map((f) => app.url + itemsPath(f.projectId, f.poId)).join("\n"),
    );
    const loader = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./cold_load.ts", import.meta.url).pathname, urlFile, "10"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1000));
    const tBusy = performance.now();
    while (performance.now() - tBusy < 10_000) {
      busy.push(await timedGet(hitUrl));
      busyBare.push(await timedGet(bare.url));
    }
    loader.kill("SIGTERM");
    const loaded = JSON.parse(new TextDecoder().decode((await loader.output()).stdout)) as {
      done: number;
      ms: number[];
    };
    const idleVsBusy = (idle: Timed[], busy: Timed[]) => {
      const idleP99 = quantile(idle.map((r) => r.ms), 0.99);
      const busyP99 = quantile(busy.map((r) => r.ms), 0.99);
      return `idle ${fmtMs(quantile(idle.map((r) => r.ms), 0.5))} / ${fmtMs(idleP99)}; busy ` +
        `${fmtMs(quantile(busy.map((r) => r.ms), 0.5))} / ${fmtMs(busyP99)} ` +
        `(${(busyP99 / idleP99).toFixed(1)}x; ${countBy(busy)})`;
    };
    add(
      `FILL_CONCURRENCY=${fillConcurrency}: \`${hitPo}\` HIT p50 / p99 idle vs while 10 cold ` +
        `filler requests run (${loaded.done} cold done in the 11 s, cold p50 ` +
        `${fmtMs(quantile(loaded.ms, 0.5))})`,
      idleVsBusy(idle, busy),
    );
    add(
      `FILL_CONCURRENCY=${fillConcurrency}: control, probed in turn with the row above: a bare ` +
        "Hono route answering one Redis GET of the same bytes (bench/bare_server.ts), p50 / p99 " +
        "idle vs busy",
      idleVsBusy(idleBare, busyBare),
    );
  } finally {
    await Deno.remove(urlFile).catch(() => {});
    await bare.stop();
  }
}
