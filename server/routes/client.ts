/**
 * The web client: static files from `client/`, read once at start-up.
 *
 * @module
 */
import { Hono } from "hono";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  json: "application/json",
};

/** Serves every file of `dir` (not recursive) at `/<name>`, and `index.html` at `/`. */
export async function clientRoutes(
  dir: URL = new URL("../../client/", import.meta.url),
): Promise<Hono> {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  for await (const entry of Deno.readDir(dir)) {
    const extension = entry.name.split(".").pop() ?? "";
    if (!entry.isFile || !(extension in TYPES)) continue;
    files.set(entry.name, {
      body: await Deno.readFile(new URL(entry.name, dir)),
      type: TYPES[extension],
    });
  }
  const app = new Hono();
  const serve = (name: string) => {
    const file = files.get(name);
    if (!file) return undefined;
    return new Response(file.body as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": file.type, "cache-control": "no-cache" },
    });
  };
  app.get("/", (c) => serve("index.html") ?? c.notFound());
  app.get(
    "/:name{[A-Za-z0-9_.-]+\\.(?:js|css|svg|json|html)}",
    (c) => serve(c.req.param("name")) ?? c.notFound(),
  );
  return app;
}
