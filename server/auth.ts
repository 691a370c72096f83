/**
 * Who is calling, decided in one place: the caller's role from a bearer token, a session
 * cookie, or the instance's open access.
 *
 * | credential                                          | role                       |
 * | --------------------------------------------------- | -------------------------- |
 * | `Authorization: Bearer <ADMIN_TOKEN>`               | `admin`                    |
 * | `Authorization: Bearer <VIEWER_TOKEN>`              | `viewer`                   |
 * | `?access_token=<token>` (only where allowed: SSE)   | the same                   |
 * | session cookie (a live session, see below)           | `admin` or `viewer` (flag) |
 * | nothing, with `OPEN_ACCESS=true`                    | `viewer` (never `admin`)   |
 * | nothing                                             | none (401 where needed)    |
 *
 * A bearer token wins over a cookie. Tokens are compared in constant time (both sides
 * hashed to equal length first); sessions are looked up by the SHA-256 of their token.
 *
 * The session cookie is `__Host-wb_session_<instance>` over HTTPS (directly, or behind a
 * proxy that says `X-Forwarded-Proto: https`): `Secure`, `Path=/`, no `Domain`, so the
 * browser sends it to this exact origin's host over TLS only and nothing else on the host
 * can set it. Over plain HTTP it is `wb_session_<instance>`, which a browser also sends to
 * every other port of the same host: serve each instance on its own host name behind TLS
 * (`wb proxy`). Each scheme reads only its own name.
 *
 * Cross-site request forgery: a browser attaches the session cookie by itself, so every
 * unsafe request (not GET/HEAD/OPTIONS) from a browser must come from this origin:
 * `Sec-Fetch-Site` must be `same-origin` when the browser sends it, else `Origin` must name
 * this host (the `Host` the request came to), and a request carrying the session cookie with neither header is refused.
 * Scripts (bearer tokens, no cookie, no `Origin`) are not affected. The cookie is also
 * `SameSite=Strict`, and no route answers CORS, so no other origin can read a response.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Db } from "./db.ts";
import { hashToken, SESSION_TTL_S, sessionUser, type User } from "./users.ts";
import type { SessionSource } from "./session_cache.ts";

/** A caller's role; `admin` may do everything a `viewer` may. */
export type Role = "viewer" | "admin";

/** The instance's tokens. Unset tokens grant nothing. */
export interface AuthTokens {
  /** `ADMIN_TOKEN`. */
  adminToken?: string;
  /** `VIEWER_TOKEN`. */
  viewerToken?: string;
}

/** What {@linkcode authentication} needs. */
export interface AuthConfig extends AuthTokens {
  /** Where sessions live; absent: no sessions (bearer tokens only). */
  db?: Db;
  /**
   * Where a session's user comes from: the session cache kept by the version table's
   * listener (`session_cache.ts`), so a logged-in hit needs no pool connection.
   * @default {a lookup in `db` per request}
   */
  sessions?: SessionSource;
  /** The instance id: part of the cookie's name, so instances on one host keep apart. */
  instance: string;
  /** `OPEN_ACCESS`: anonymous callers are viewers (never admins). @default {false} */
  openAccess?: boolean;
  /** Receives refusals (JSON lines). @default {no log} */
  log?: (line: string) => void;
}

/** Who is calling. */
export interface Caller {
  /** The role, or `undefined` for an anonymous caller without open access. */
  role?: Role;
  /** How the role was decided. `bearer-invalid`: a token was sent that matches nothing. */
  via: "bearer" | "bearer-invalid" | "session" | "open" | "none";
  /** The user, for a session. */
  user?: User;
  /** The SHA-256 (hex) of the session's token, for a session. */
  sessionHash?: string;
}

/** Options of {@linkcode requireRole}. */
export interface RequireRoleOptions {
  /** Also accept the token as the `access_token` query parameter. @default {false} */
  allowQueryToken?: boolean;
}

interface AuthState {
  config: AuthConfig;
  /** The caller resolved without, and with, the query token (each at most once). */
  caller?: Promise<Caller>;
  callerWithQueryToken?: Promise<Caller>;
}

declare module "hono" {
  interface ContextVariableMap {
    wbAuth: AuthState;
    /** The caller, once {@linkcode requireRole} (or {@linkcode requireAdmin}) admitted it. */
    caller: Caller;
  }
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Whether `candidate` equals `token`, in constant time; false when `token` is unset. */
export function tokenMatches(candidate: string, token: string | undefined): boolean {
  return token !== undefined && timingSafeEqual(digest(candidate), digest(token));
}

/** The bearer token of a request (header first, then `access_token` when allowed). */
export function bearerToken(c: Context, allowQueryToken = false): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  if (match) return match[1];
  return allowQueryToken ? c.req.query("access_token") || undefined : undefined;
}

/** The role a token grants, or `undefined`. */
export function roleOf(token: string, tokens: AuthTokens): Role | undefined {
  // Both comparisons always run: the time taken does not tell which token matched.
  const admin = tokenMatches(token, tokens.adminToken);
  const viewer = tokenMatches(token, tokens.viewerToken);
  return admin ? "admin" : viewer ? "viewer" : undefined;
}

/**
 * The session cookie's name for an instance: `wb_session_<instance>`, with the `__Host-`
 * prefix when `secure` (the request came over HTTPS).
 */
export function sessionCookieName(instance: string, secure = false): string {
  return `${secure ? "__Host-" : ""}wb_session_${instance.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/**
 * Installs the caller resolution (lazy: a session is looked up only when a route asks)
 * and the cross-origin refusal of unsafe requests. Mount it before every route.
 *
 * @example
 * ```ts
 * app.use("*", authentication({ db, instance: "demo", adminToken }));
 * app.post("/caches/flush-all", async (c) => {
 *   await requireAdmin(c);
 *   // ...
 * });
 * ```
 */
export function authentication(config: AuthConfig): MiddlewareHandler {
  return async (c, next) => {
    c.set("wbAuth", { config });
    const refusal = crossOriginRefusal(c, config.instance);
    if (refusal) {
      config.log?.(JSON.stringify({
        event: "cross_origin_refused",
        method: c.req.method,
        path: c.req.path,
        reason: refusal,
      }));
      throw new HTTPException(403, {
        message: `Cross-origin request refused (${refusal}): writes must come from this site`,
      });
    }
    await next();
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why an unsafe request must be refused as cross-origin, or `undefined` when it may go on.
 * See the module documentation for the rule.
 */
export function crossOriginRefusal(c: Context, instance: string): string | undefined {
  if (SAFE_METHODS.has(c.req.method)) return undefined;
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) {
    return site === "same-origin" ? undefined : `Sec-Fetch-Site: ${site}`;
  }
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch { /* "null" or garbage */ }
    // The request URL's host is the Host header (HTTP/1.1) or :authority (HTTP/2).
    return host !== undefined && host === new URL(c.req.url).host ? undefined : `Origin: ${origin}`;
  }
  return getCookie(c, sessionCookieName(instance)) === undefined &&
      getCookie(c, sessionCookieName(instance, true)) === undefined
    ? undefined
    : "a session cookie without Origin or Sec-Fetch-Site";
}

/**
 * The caller of a request (memoized per request).
 *
 * @throws {Error} If {@linkcode authentication} is not installed (a programming error).
 * @throws {DatabaseUnavailableError} If the session cannot be looked up.
 */
export function callerOf(c: Context, options: RequireRoleOptions = {}): Promise<Caller> {
  const state = c.get("wbAuth");
  if (!state) throw new Error("authentication() is not installed on this app");
  const allowQuery = options.allowQueryToken ?? false;
  if (allowQuery) return state.callerWithQueryToken ??= resolveCaller(c, state.config, true);
  return state.caller ??= resolveCaller(c, state.config, false);
}

async function resolveCaller(c: Context, config: AuthConfig, allowQuery: boolean) {
  const token = bearerToken(c, allowQuery);
  if (token !== undefined) {
    const role = roleOf(token, config);
    return role ? { role, via: "bearer" } as Caller : { via: "bearer-invalid" } as Caller;
  }
  // Most reads carry no cookie at all: no URL parse (`isHttps`) nor cookie parse for them.
  const session = config.db && c.req.header("cookie") !== undefined
    ? sessionTokenOf(c, config.instance)
    : undefined;
  if (session !== undefined && session.length <= 128) {
    const user = config.sessions
      ? await config.sessions.sessionUser(session)
      : await sessionUser(config.db!, session);
    if (user) {
      const role = user.isAdmin ? "admin" : "viewer";
      return { role, via: "session", user, sessionHash: hashToken(session) } as Caller;
    }
  }
  return config.openAccess ? { role: "viewer", via: "open" } as Caller : { via: "none" } as Caller;
}

/**
 * Checks that the caller has at least `minimum`: the check behind {@linkcode requireRole},
 * for a handler that decides the role it needs while it runs.
 *
 * @returns The caller.
 * @throws {HTTPException} 401 without credentials (or anonymous under open access asking
 *   for admin); 403 with a token that grants nothing, a role too low, or a bearer token
 *   when no token that could grant `minimum` is configured.
 */
export async function authorize(
  c: Context,
  minimum: Role,
  options: RequireRoleOptions = {},
): Promise<Caller> {
  const caller = await callerOf(c, options);
  const { config } = c.get("wbAuth");
  if (caller.role === "admin" || caller.role === minimum) return caller;
  const noun = minimum === "admin" ? "An administrator" : "A viewer or administrator";
  if (caller.via === "none" || caller.via === "open") {
    c.header("WWW-Authenticate", 'Bearer realm="wb"');
    throw new HTTPException(401, {
      message: `${noun} is required: log in, or send a bearer token`,
    });
  }
  if (caller.via === "bearer-invalid") {
    if (!config.adminToken && (minimum === "admin" || !config.viewerToken)) {
      throw new HTTPException(403, {
        message: minimum === "admin"
          ? "Admin tokens are disabled: ADMIN_TOKEN is not set"
          : "Tokens are disabled: neither VIEWER_TOKEN nor ADMIN_TOKEN is set",
      });
    }
    throw new HTTPException(403, {
      message: minimum === "admin" ? "The admin token is not valid" : "The token is not valid",
    });
  }
  throw new HTTPException(403, {
    message: caller.via === "session"
      ? `Administrators only: ${caller.user!.email} is not an administrator`
      : "Administrators only: this token is a viewer's",
  });
}

/**
 * Middleware: the request goes on only if its caller has at least `minimum`; the handler
 * reads the caller with `c.get("caller")`. Declared with the route, so the rule is visible
 * where the route is, not inside its body.
 *
 * Answers 401 or 403 as {@linkcode authorize} throws them.
 *
 * @example
 * ```ts
 * app.get("/api/events", requireRole("viewer", { allowQueryToken: true }), (c) => {
 *   const caller = c.get("caller");
 *   // ...
 * });
 * ```
 */
export function requireRole(minimum: Role, options: RequireRoleOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    c.set("caller", await authorize(c, minimum, options));
    await next();
  };
}

/**
 * Middleware: administrators only (admin token, or an admin's session); see
 * {@linkcode requireRole}.
 */
export function requireAdmin(): MiddlewareHandler {
  return requireRole("admin");
}

/** Options of {@linkcode setSessionCookie}. */
export interface SessionCookieOptions {
  /** Lifetime in seconds. @default {SESSION_TTL_S} */
  maxAgeS?: number;
}

/**
 * Sets the session cookie: `HttpOnly`, `SameSite=Strict`, `Path=/`; over HTTPS (directly or
 * through a proxy that says `X-Forwarded-Proto`) named `__Host-…` and `Secure`.
 */
export function setSessionCookie(
  c: Context,
  instance: string,
  token: string,
  options: SessionCookieOptions = {},
): void {
  const secure = isHttps(c);
  setCookie(c, sessionCookieName(instance, secure), token, {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    secure,
    maxAge: options.maxAgeS ?? SESSION_TTL_S,
  });
}

/** Removes the session cookie (the name of the request's scheme). */
export function clearSessionCookie(c: Context, instance: string): void {
  const secure = isHttps(c);
  setCookie(c, sessionCookieName(instance, secure), "", {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    secure,
    maxAge: 0,
  });
}

/** The session token the request carries under its scheme's cookie name, if any. */
export function sessionTokenOf(c: Context, instance: string): string | undefined {
  return getCookie(c, sessionCookieName(instance, isHttps(c))) || undefined;
}

/**
 * Whether the request came over HTTPS: its URL, or `X-Forwarded-Proto: https` from a proxy
 * (believed from anyone: a client that lies about it only renames its own cookie).
 */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" ||
    c.req.header("x-forwarded-proto")?.split(",")[0].trim() === "https";
}
