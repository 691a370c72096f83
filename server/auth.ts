/**
 * Who is calling: the caller's role from a bearer token. The one place that knows about
 * credentials (a later change adds sessions here).
 *
 * | credential                                        | role     |
 * | ------------------------------------------------- | -------- |
 * | `Authorization: Bearer <ADMIN_TOKEN>`             | `admin`  |
 * | `Authorization: Bearer <VIEWER_TOKEN>`            | `viewer` |
 * | `?access_token=<token>` (only where allowed: SSE) | the same |
 *
 * `EventSource` cannot send headers, hence the query parameter on the event streams. Tokens
 * are compared in constant time (both sides hashed to equal length first).
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { createHash, timingSafeEqual } from "node:crypto";

/** A caller's role; `admin` may do everything a `viewer` may. */
export type Role = "viewer" | "admin";

/** The instance's tokens. Unset tokens grant nothing. */
export interface AuthTokens {
  /** `ADMIN_TOKEN`. */
  adminToken?: string;
  /** `VIEWER_TOKEN`. */
  viewerToken?: string;
}

/** Options of {@linkcode requireRole}. */
export interface RequireRoleOptions {
  /** Also accept the token as the `access_token` query parameter. @default {false} */
  allowQueryToken?: boolean;
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
 * Checks that the caller has at least `minimum`.
 *
 * @returns The caller's role.
 * @throws {HTTPException} 401 without a token; 403 with a token that grants nothing or
 *   too little, or when no token that could grant `minimum` is configured.
 * @example
 * ```ts
 * app.get("/api/events", (c) => {
 *   const role = requireRole(c, { adminToken, viewerToken }, "viewer", { allowQueryToken: true });
 *   // ...
 * });
 * ```
 */
export function requireRole(
  c: Context,
  tokens: AuthTokens,
  minimum: Role,
  options: RequireRoleOptions = {},
): Role {
  const token = bearerToken(c, options.allowQueryToken);
  const noun = minimum === "admin" ? "An admin" : "A viewer or admin";
  if (!token) {
    c.header("WWW-Authenticate", 'Bearer realm="wb"');
    throw new HTTPException(401, { message: `${noun} bearer token is required` });
  }
  if (!tokens.adminToken && (minimum === "admin" || !tokens.viewerToken)) {
    throw new HTTPException(403, {
      message: minimum === "admin"
        ? "Admin actions are disabled: ADMIN_TOKEN is not set"
        : "Disabled: neither VIEWER_TOKEN nor ADMIN_TOKEN is set",
    });
  }
  const role = roleOf(token, tokens);
  if (!role || (minimum === "admin" && role !== "admin")) {
    throw new HTTPException(403, {
      message: minimum === "admin" ? "The admin token is not valid" : "The token is not valid",
    });
  }
  return role;
}

/**
 * Checks `Authorization: Bearer <token>` against the instance's admin token.
 *
 * @throws {HTTPException} 401 without a bearer token; 403 with a wrong one, or when the
 *   instance has no admin token configured (the action is then disabled).
 */
export function requireAdmin(c: Context, adminToken: string | undefined): void {
  requireRole(c, { adminToken }, "admin");
}
