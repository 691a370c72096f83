/**
 * The "other client" of the clearAll benchmark: sequential `GET`s of one key, back to back,
 * on its own connection in its own process, until its stdin closes. Prints one JSON line:
 * `{ samples: [[epochMs, latencyMs], ...] }` (epoch from `performance.timeOrigin`, so the
 * parent can place each sample before or during the clear).
 *
 * Usage: deno run -A get_probe_worker.ts <redisUrl> <key>
 */
import { createClient } from "redis";

const [redisUrl, key] = Deno.args;
const client = createClient({ url: redisUrl });
await client.connect();
let stop = false;
(async () => {
  for await (const _ of Deno.stdin.readable) { /* wait for the parent to close stdin */ }
  stop = true;
})();
const samples: [number, number][] = [];
console.log("ready");
const deadline = performance.now() + 120_000; // bounded even if the parent never closes stdin
while (!stop && performance.now() < deadline) {
  const t0 = performance.now();
  if ((await client.get(key)) === null) throw new Error(`probe key ${key} is gone`);
  const t1 = performance.now();
  samples.push([performance.timeOrigin + t0, t1 - t0]);
}
client.destroy();
console.log(JSON.stringify({ samples }));
