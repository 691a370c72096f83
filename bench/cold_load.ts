/**
 * A load generator in its own process: `concurrency` workers GET the URLs of a file (one per
 * line, each once, in order) until the list ends or the process gets `SIGTERM`, then print
 * one JSON line `{ "done": n, "ms": [...] }` (each finished request's time, in ms).
 *
 * The national benchmark runs its cold computations through this, so the process that times
 * the hits does not also receive ten 1.3 MB answers: a prober sharing its event loop with
 * the load measures its own waits.
 *
 * ```sh
 * deno run -A bench/cold_load.ts urls.txt [concurrency]
 * ```
 *
 * @module
 */
const [file, concurrencyArg] = Deno.args;
if (!file) {
  console.error("Usage: deno run -A bench/cold_load.ts <file of URLs> [concurrency]");
  Deno.exit(2);
}
const urls = (await Deno.readTextFile(file)).split("\n").filter(Boolean);
const concurrency = Number(concurrencyArg ?? 10);
let next = 0;
let stopping = false;
const ms: number[] = [];
Deno.addSignalListener("SIGTERM", () => stopping = true);
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (!stopping && next < urls.length) {
    const url = urls[next++];
    const started = performance.now();
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) ms.push(performance.now() - started);
    } catch {
      // a failed request is not a finished computation
    }
  }
}));
console.log(JSON.stringify({ done: ms.length, ms }));
