/**
 * Login with a one-time link, logout, and who am I:
 *
 * - `POST /api/auth/login` `{ "token": "<login token>" }`: redeems the token (single use,
 *   24 h) and sets the session cookie; `{ email, isAdmin }`. 401 for an unknown, used or
 *   expired token. The link `GET /login?token=…` opens the web client, which posts the token
 *   when the user confirms (a link scanner that fetches the link does not use it up).
 * - `POST /api/auth/logout`: ends the session and clears the cookie.
 * - `GET /api/auth/me`: `{ role, via, email?, isAdmin, openAccess, instance }` (anonymous
 *   callers get `role: null`; this route never answers 401).
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { callerOf, clearSessionCookie, sessionTokenOf, setSessionCookie } from "../auth.ts";
import type { Db } from "../db.ts";
import { jsonObjectBody } from "../http.ts";
import { endSession, redeemLoginToken } from "../users.ts";

/** What the auth routes need. */
export interface AuthRoutesDeps {
  db: Db;
  instance: string;
  openAccess: boolean;
  log: (line: string) => void;
}

/** Routes under `/api/auth`. */
export function authRoutes({ db, instance, openAccess, log }: AuthRoutesDeps): Hono {
  const app = new Hono();

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
    return c.json({ email: redeemed.user.email, isAdmin: redeemed.user.isAdmin });
  });

  app.post("/logout", async (c) => {
    const token = sessionTokenOf(c, instance);
    if (token !== undefined) await endSession(db, token);
    clearSessionCookie(c, instance);
    return c.json({ ok: true });
  });

  app.get("/me", async (c) => {
    const caller = await callerOf(c);
    c.header("Cache-Control", "no-store");
    return c.json({
      role: caller.role ?? null,
      via: caller.via,
      ...(caller.user ? { email: caller.user.email } : {}),
      isAdmin: caller.role === "admin",
      openAccess,
      instance,
    });
  });

  return app;
}
