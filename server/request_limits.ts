/**
 * Request bodies are bounded before anything reads, parses or authenticates them:
 *
 * 1. **Size**, per route ({@linkcode BODY_LIMITS}, else {@linkcode DEFAULT_BODY_LIMIT_BYTES}):
 *    a `Content-Length` above the limit is a 413 at once, without reading a byte; a chunked
 *    body is read up to the limit and is a 413 (its upload cancelled) as soon as it passes
 *    it. The server never holds more than the limit of one body per request.
 * 2. **Nesting**: the (bounded) body is scanned once, linearly, before any JSON parser
 *    sees it; nesting deeper than {@linkcode MAX_BODY_DEPTH} levels is a 400 naming the
 *    top-level field it is under.
 *
 * The middleware runs first, before the caller is resolved: a hostile body costs the server
 * its limit in memory and one linear scan, whatever the credentials.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { MAX_JSON_DEPTH, ValidationError } from "./model/mod.ts";

/** A body size limit for one route. */
export interface BodyLimitRule {
  /** HTTP method (`POST`, `PATCH`, ...). */
  method: string;
  /** Route pattern as registered on the app (`/api/projects/:projectId/...`). */
  path: string;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
}

const KIB = 1024;

/** Body limit of every route not in {@linkcode BODY_LIMITS}, in bytes (their bodies are ignored). */
export const DEFAULT_BODY_LIMIT_BYTES = 1 * KIB;

/**
 * Routes that read a body, and how much they may send. Small for login (a 43-character
 * token) and invalidations (a few ids); a presentation object's edit carries its config.
 */
export const BODY_LIMITS: readonly BodyLimitRule[] = Object.freeze([
  { method: "POST", path: "/api/auth/login", maxBytes: 4 * KIB },
  { method: "POST", path: "/api/cache/invalidate", maxBytes: 16 * KIB },
  {
    method: "PATCH",
    path: "/api/projects/:projectId/presentation_objects/:poId",
    maxBytes: 64 * KIB,
  },
]);

/**
 * How deep a request body may nest, in levels of objects and arrays: the model's
 * {@linkcode MAX_JSON_DEPTH} for a value, plus the body's own object around it.
 */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 1;

/** Options of {@linkcode requestLimits}. */
export interface RequestLimitsOptions {
  /** Per-route limits. @default {BODY_LIMITS} */
  rules?: readonly BodyLimitRule[];
  /** Limit of the other routes, in bytes. @default {DEFAULT_BODY_LIMIT_BYTES} */
  defaultMaxBytes?: number;
  /** Deepest nesting accepted, in levels. @default {MAX_BODY_DEPTH} */
  maxDepth?: number;
}

/** Where a body nests too deep: its depth, and the top-level key it is under (if any). */
export interface NestingViolation {
  /** The depth reached when the limit was passed (`maxDepth + 1`). */
  depth: number;
  /** The top-level object key whose value nests too deep; absent for a top-level array. */
  field?: string;
}

/**
 * Scans JSON text for nesting deeper than `maxDepth`, without parsing it: brackets outside
 * strings are counted, in one pass, in constant memory. Malformed text is not an error here
 * (the parser refuses it later); only its nesting is measured.
 *
 * @param text The body.
 * @param maxDepth Deepest nesting accepted, in levels (`{}` is 1, `{"a":[]}` is 2).
 * @returns `undefined` when the text nests at most `maxDepth` levels, else where it passes.
 * @example Refuse a body nested 100,000 deep
 * ```ts
 * import { jsonNestingViolation } from "./request_limits.ts";
 * jsonNestingViolation('{"a":' + "[".repeat(100_000), 64); // { depth: 65, field: "a" }
 * jsonNestingViolation('{"a":[1,{"b":2}]}', 64); // undefined
 * ```
 */
export function jsonNestingViolation(text: string, maxDepth: number): NestingViolation | undefined {
  let depth = 0;
  let inString = false;
  let stringStart = -1;
  let lastTopLevelString: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i++; // backslash: skip the escaped character
      else if (char === 0x22) {
        inString = false;
        if (depth === 1) lastTopLevelString = text.slice(stringStart, i + 1);
      }
      continue;
    }
    if (char === 0x22) {
      inString = true;
      stringStart = i;
    } else if (char === 0x5b || char === 0x7b) { // [ {
      if (++depth > maxDepth) {
        return { depth, field: topLevelKey(text, lastTopLevelString) };
      }
      if (depth === 2 && text.charCodeAt(firstNonSpaceBefore(text, i)) !== 0x3a) {
        lastTopLevelString = undefined; // a container in a top-level array, not under a key
      }
    } else if (char === 0x5d || char === 0x7d) { // ] }
      if (depth > 0) depth--;
    }
  }
  return undefined;
}

function firstNonSpaceBefore(text: string, index: number): number {
  let i = index - 1;
  while (i >= 0 && /\s/.test(text[i])) i--;
  return i;
}

function topLevelKey(text: string, quoted: string | undefined): string | undefined {
  if (quoted === undefined || text.trimStart()[0] !== "{") return undefined;
  try {
    const key = JSON.parse(quoted);
    return typeof key === "string" && key.length <= 64 ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The body limit of a request's method and path: the first matching rule's, else the
 * default.
 */
export function bodyLimitOf(
  method: string,
  path: string,
  options: Pick<RequestLimitsOptions, "rules" | "defaultMaxBytes"> = {},
): number {
  const rule = (options.rules ?? BODY_LIMITS).find((r) =>
    r.method === method && compilePattern(r.path).test(path)
  );
  return rule?.maxBytes ?? options.defaultMaxBytes ?? DEFAULT_BODY_LIMIT_BYTES;
}

function compilePattern(path: string): RegExp {
  const source = path.split("/").map((segment) =>
    segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${source}/?$`);
}

/**
 * The middleware: size limit per route (413), then the nesting scan (400). Mount it first.
 *
 * A `Content-Length` above the limit is refused without reading; a body without one is read
 * up to the limit, and on the first byte past it the upload is cancelled (its connection
 * stops being read) and refused. Hono's `bodyLimit` does the same checks but leaves a refused
 * chunked body's reader open: under Deno the rest of that upload was then buffered (3,000
 * refused 600 MiB uploads: +400 MiB RSS), so the reading is done here.
 *
 * @throws {HTTPException} 413 when the body is larger than the route's limit.
 * @throws {ValidationError} When the body nests deeper than `maxDepth` (a 400 naming the
 *   top-level field).
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { requestLimits } from "./request_limits.ts";
 * const app = new Hono();
 * app.use("*", requestLimits());
 * ```
 */
export function requestLimits(options: RequestLimitsOptions = {}): MiddlewareHandler {
  const maxDepth = options.maxDepth ?? MAX_BODY_DEPTH;
  const rules = (options.rules ?? BODY_LIMITS).map((rule) => ({
    method: rule.method,
    pattern: compilePattern(rule.path),
    maxBytes: rule.maxBytes,
  }));
  const defaultMaxBytes = options.defaultMaxBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return await next();
    const method = c.req.method;
    const path = c.req.path;
    const maxBytes = rules.find((r) => r.method === method && r.pattern.test(path))?.maxBytes ??
      defaultMaxBytes;
    const tooLarge = () => {
      body.cancel().catch(() => {}); // stop receiving the rest
      return new HTTPException(413, {
        message:
          `The request body is larger than ${maxBytes} bytes, the limit of ${method} ${path}`,
      });
    };
    const announced = c.req.header("content-length");
    if (
      announced !== undefined && c.req.header("transfer-encoding") === undefined &&
      Number(announced) > maxBytes
    ) {
      throw tooLarge();
    }
    const bytes = await readAtMost(body, maxBytes);
    if (bytes === undefined) throw tooLarge();
    c.req.raw = new Request(c.req.raw, { body: bytes });
    const violation = jsonNestingViolation(new TextDecoder().decode(bytes), maxDepth);
    if (violation) {
      const what = violation.field === undefined ? "The request body" : `'${violation.field}'`;
      throw new ValidationError(
        `${what} must not nest more than ${MAX_JSON_DEPTH} levels deep`,
        violation.field,
      );
    }
    await next();
  };
}

/**
 * Reads a stream to its end, or cancels it as soon as it passes `maxBytes`.
 *
 * @returns The bytes, or `undefined` when there were more than `maxBytes`.
 */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel("request body too large").catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
