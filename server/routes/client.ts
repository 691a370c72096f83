/**
 * The web client: the built files of `client/dist/` (`deno task build`), read once at
 * start-up. The single-page app's own paths (`/`, `/login`, `/projects/…`, `/overview`,
 * `/profile`, `/admin/caches`) all answer its `index.html`; content-hashed assets
 * (`app-<HASH>.js`) are cached for a year, `index.html` is revalidated on every load.
 *
 * Without a build, those paths answer 503 with the command that builds it (the API works).
 * Any other path opened as a page (`Accept: text/html`, outside `/api/`) answers the
 * `index.html` with status 404: the app shows its own "page not found".
 *
 * @module
 */
import { type Context, Hono } from "hono";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  json: "application/json",
  map: "application/json",
};

/** Paths the single-page app routes itself. */
const APP_PATHS = [
  "/",
  "/login",
  "/overview",
  "/profile",
  "/admin/caches",
  "/projects",
  "/projects/*",
];

/** The names of the files served at `/<name>`. */
const ASSET_NAME = /^[A-Za-z0-9_.-]+\.(?:js|css|svg|json|map)$/;

/** A hashed asset name, as `client/build.ts` writes them. */
const HASHED = /-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/;

const HTML_HEADERS = {
  "cache-control": "no-cache",
  // The login link carries its token in the URL: never send it to anyone as a referrer.
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/**
 * Serves every file of `dir` (not recursive) at `/<name>`, and `index.html` at the app's
 * paths (and, with status 404, at any unknown path opened as a page: `notFoundPage`).
 *
 * @param dir The built client. @default {client/dist/}
 */
export async function clientRoutes(
  dir: URL = new URL("../../client/dist/", import.meta.url),
): Promise<ClientRoutes> {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const extension = entry.name.split(".").pop() ?? "";
      if (!entry.isFile || !(extension in TYPES)) continue;
      files.set(entry.name, {
        body: await Deno.readFile(new URL(entry.name, dir)),
        type: TYPES[extension],
      });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const app = new Hono();
  const index = files.get("index.html");
  const serveIndex = (status = 200) =>
    index
      ? new Response(index.body as Uint8Array<ArrayBuffer>, {
        status,
        headers: { "content-type": index.type, ...HTML_HEADERS },
      })
      : new Response(
        "<!doctype html><title>wb</title><p>The web client is not built. Run " +
          "<code>deno task build</code> and restart the server.</p>",
        { status: 503, headers: { "content-type": TYPES.html, ...HTML_HEADERS } },
      );
  for (const path of APP_PATHS) app.get(path, () => serveIndex());
  // One static route per file, not a pattern route at the root (`/:name{…}`): Hono's
  // SmartRouter cannot use its RegExpRouter with such a route beside the API's, and falls
  // back to its TrieRouter, which cost every request (the API's too) more to match. A name
  // without a file is the app's 404, as the pattern route answered it.
  for (const [name, file] of files) {
    if (!ASSET_NAME.test(name)) continue;
    app.get(`/${name}`, () =>
      new Response(file.body as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": file.type,
          "x-content-type-options": "nosniff",
          "cache-control": HASHED.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
        },
      }));
  }
  return { routes: app, notFoundPage: (c) => isPageRequest(c) ? serveIndex(404) : undefined };
}

/**
 * Whether a request no route answered was a person opening a page (`GET`, `Accept:
 * text/html`, outside `/api/`): the answer is then the app, with status 404, which shows
 * its own "page not found". API paths and scripts keep the JSON 404.
 */
function isPageRequest(c: Context): boolean {
  return (c.req.method === "GET" || c.req.method === "HEAD") &&
    !c.req.path.startsWith("/api/") && (c.req.header("accept") ?? "").includes("text/html");
}

/** What {@linkcode clientRoutes} returns. */
export interface ClientRoutes {
  /** The app's pages and files. */
  routes: Hono;
  /** The 404 of an unknown page opened in a browser (the app), or undefined for others. */
  notFoundPage: (c: Context) => Response | undefined;
}
