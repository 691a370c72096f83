/**
 * Login with a one-time link, logout, and who am I:
 *
 * - `POST /api/auth/login` `{ "token": "<login token>" }`: redeems the token (single use,
 *   24 h) and sets the session cookie; `{ email, isAdmin }`. 401 for an unknown, used or
 *   expired token. The link `GET /login?token=…` opens the web client, which posts the token
 *   when the user confirms (a link scanner that fetches the link does not use it up). Over
 *   plain HTTP the answer carries a `warning` (and the log one line per process): the
 *   cookie then reaches every service on the same host.
 * - `POST /api/auth/logout`: ends the session, its event streams (at once in this process;
 *   within a sweep, about 0.5 s, in the others) and clears the cookie.
 * - `GET /api/auth/me`: `{ role, via, email?, isAdmin, openAccess, instance }` (anonymous
 *   callers get `role: null`; this route never answers 401).
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  callerOf,
  clearSessionCookie,
  isHttps,
  sessionTokenOf,
  setSessionCookie,
} from "../auth.ts";
import type { Db } from "../db.ts";
import { jsonObjectBody } from "../http.ts";
import type { OpenStreams } from "../open_streams.ts";
import { endSession, hashToken, redeemLoginToken } from "../users.ts";
import type { LoginAnswer, Me } from "../wire.ts";
import type { SessionSource } from "../session_cache.ts";

/** What a login over plain HTTP answers in `warning`. */
export const PLAIN_HTTP_WARNING =
  "This instance is served over plain HTTP: the session cookie is sent unencrypted and to " +
  "every other web service on this host. Serve it on its own host name behind TLS (wb proxy).";

/** What the auth routes need. */
export interface AuthRoutesDeps {
  db: Db;
  instance: string;
  openAccess: boolean;
  log: (line: string) => void;
  /** The open event streams; a logout ends its session's. */
  streams?: OpenStreams;
  /** The session cache; a logout forgets its session at once. */
  sessions?: SessionSource;
}

/** Routes under `/api/auth`. */
export function authRoutes(
  { db, instance, openAccess, log, streams, sessions }: AuthRoutesDeps,
): Hono {
  const app = new Hono();
  let warnedPlainHttp = false;

  app.post("/login", async (c) => {
    const body = await jsonObjectBody(c);
    const token = body.token;
    if (typeof token !== "string" || token.length === 0 || token.length > 128) {
      throw new HTTPException(400, { message: "'token' must be the login link's token" });
    }
    const redeemed = await redeemLoginToken(db, token);
    if (!redeemed) {
      log(JSON.stringify({ event: "login_refused", instance }));
      throw new HTTPException(401, {
        message: "This login link is not valid: unknown, already used or expired. " +
          "Ask an administrator for a new one (wb user add).",
      });
    }
    setSessionCookie(c, instance, redeemed.sessionToken);
    log(JSON.stringify({ event: "login", instance, email: redeemed.user.email }));
    const secure = isHttps(c);
    if (!secure && !warnedPlainHttp) {
      warnedPlainHttp = true;
      log(JSON.stringify({ event: "plain_http_session", instance, warning: PLAIN_HTTP_WARNING }));
    }
    return c.json(
      {
        email: redeemed.user.email,
        isAdmin: redeemed.user.isAdmin,
        ...(secure ? {} : { warning: PLAIN_HTTP_WARNING }),
      } satisfies LoginAnswer,
    );
  });

  app.post("/logout", async (c) => {
    const token = sessionTokenOf(c, instance);
    if (token !== undefined) {
      await endSession(db, token);
      sessions?.forget?.(hashToken(token));
      streams?.endSession(hashToken(token));
    }
    clearSessionCookie(c, instance);
    return c.json({ ok: true });
  });

  app.get("/me", async (c) => {
    const caller = await callerOf(c);
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        role: caller.role ?? null,
        via: caller.via,
        ...(caller.user ? { email: caller.user.email } : {}),
        isAdmin: caller.role === "admin",
        openAccess,
        secureTransport: isHttps(c),
        instance,
      } satisfies Me,
    );
  });

  return app;
}
