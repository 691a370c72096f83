/**
 * Server entry for `deno serve`, to run several app processes (isolates) on one instance:
 *
 * ```sh
 * DENO_JOBS=4 deno serve -A --parallel --port 8000 --host 0.0.0.0 server/serve.ts
 * ```
 *
 * Each worker (`--parallel`: one per CPU, or `DENO_JOBS`) evaluates `server/main.ts`, so it
 * boots exactly as `deno run server/main.ts` does, with its own Postgres pool, Redis
 * connection (a node or a cluster), event bus subscriber and in-process caches; the workers
 * share the instance's Redis: its entries, the fill lock (one producer run per cold key for
 * the whole instance), the stale-while-revalidate windows and the event fan-out. The port and
 * address are `deno serve`'s `--port`/`--host` (not `PORT`/`HOST`).
 *
 * On SIGTERM/SIGINT the runtime stops accepting and drains connections; each worker ends its
 * event streams, waits for its running requests, and closes Redis and Postgres (`main.ts`).
 *
 * Without `DATABASE_URL`, every worker opens its own embedded Postgres: fine for one worker,
 * wrong for several (each would have its own data), so set `DATABASE_URL` with `--parallel`.
 *
 * @module
 */
import { handler, onListen } from "./main.ts";

if (!Deno.env.get("DATABASE_URL")) {
  console.error(JSON.stringify({
    event: "serve_embedded_database",
    effect: "this worker has its own embedded Postgres; set DATABASE_URL to share one",
  }));
}

export default {
  fetch: handler,
  onListen: (address) => onListen(address as Deno.NetAddr),
} satisfies Deno.ServeDefaultExport;
