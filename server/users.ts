/**
 * Users of the web client: one-time login links and browser sessions (migration
 * `004_users.sql`).
 *
 * ```
 * wb user add <instance> <email> [--admin]
 *   └─ upsertUser + issueLoginToken ─▶ http://…/login?token=<login token>   (24 h, single use)
 * browser: POST /api/auth/login {token}
 *   └─ redeemLoginToken ─▶ Set-Cookie: wb_session_<instance>=<session token> (30 days)
 * every request with the cookie
 *   └─ sessionUser ─▶ { email, isAdmin } (one indexed lookup; an admin flag change applies at once)
 * ```
 *
 * Tokens are 32 random bytes (base64url); only their SHA-256 digests are stored.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Db } from "./db.ts";
import { ValidationError } from "./model/mod.ts";

/** A user of the web client. */
export interface User {
  userId: number;
  /** Lower-case. */
  email: string;
  /** Administrators may flush the shared cache, run modules, edit, and see cache statistics. */
  isAdmin: boolean;
}

/** How long a login link stays valid, in seconds (24 h). */
export const LOGIN_TOKEN_TTL_S = 24 * 60 * 60;
/** How long a session lasts, in seconds (30 days; not extended by use). */
export const SESSION_TTL_S = 30 * 24 * 60 * 60;

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** A new random token: 32 bytes from the CSPRNG, base64url (43 characters). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The stored form of a token: SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * An e-mail address as stored: trimmed, lower-case.
 *
 * @throws {ValidationError} If it is not `local@domain` or longer than 254 characters.
 */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > 254 || !EMAIL.test(normalized)) {
    throw new ValidationError(`'${email}' is not an e-mail address`, "email");
  }
  return normalized;
}

/**
 * Creates a user, or changes the role of an existing one. Without `isAdmin` an existing
 * user keeps its role (asking for a fresh login link never demotes an administrator) and a
 * new one is a viewer.
 *
 * @returns The user, and whether it was created now.
 * @throws {ValidationError} For a malformed address.
 * @example
 * ```ts
 * const { user, created } = await upsertUser(db, "Ada@example.org", { isAdmin: true });
 * // user.email === "ada@example.org"
 * ```
 */
export async function upsertUser(
  db: Db,
  email: string,
  options: { isAdmin?: boolean } = {},
): Promise<{ user: User; created: boolean }> {
  const [row] = await db.query<User & { created: boolean }>(
    `INSERT INTO users (email, is_admin) VALUES ($1, coalesce($2::boolean, false))
     ON CONFLICT (email) DO UPDATE SET is_admin = coalesce($2::boolean, users.is_admin)
     RETURNING user_id AS "userId", email, is_admin AS "isAdmin", (xmax = 0) AS created`,
    [normalizeEmail(email), options.isAdmin ?? null],
  );
  const { created, ...user } = row;
  return { user, created };
}

/** A user with what `wb user list` shows. */
export interface UserDetails extends User {
  /** When the user was created (ISO-8601). */
  createdAt: string;
  /** Sessions that have not expired. */
  activeSessions: number;
  /** Login links neither used nor expired. */
  pendingLinks: number;
}

/** Every user with its live sessions and pending links, by e-mail. */
export function listUserDetails(db: Db): Promise<UserDetails[]> {
  return db.query<UserDetails>(
    `SELECT u.user_id AS "userId", u.email, u.is_admin AS "isAdmin",
            iso_ts(u.created_at) AS "createdAt",
            (SELECT count(*)::int FROM sessions s
              WHERE s.user_id = u.user_id AND s.expires_at > now()) AS "activeSessions",
            (SELECT count(*)::int FROM login_tokens t
              WHERE t.user_id = u.user_id AND t.used_at IS NULL AND t.expires_at > now())
              AS "pendingLinks"
       FROM users u ORDER BY u.email`,
  );
}

/**
 * Ends every session of a user and voids its unused login links; the user stays.
 *
 * @returns How many sessions and links were removed, or `undefined` for an unknown user.
 * @throws {ValidationError} For a malformed address.
 */
export async function revokeUser(
  db: Db,
  email: string,
): Promise<{ sessions: number; links: number } | undefined> {
  return await db.transaction(async (tx) => {
    const [user] = await tx.query<{ userId: number }>(
      `SELECT user_id AS "userId" FROM users WHERE email = $1`,
      [normalizeEmail(email)],
    );
    if (!user) return undefined;
    const sessions = await tx.query(
      "DELETE FROM sessions WHERE user_id = $1 RETURNING 1",
      [user.userId],
    );
    const links = await tx.query(
      "DELETE FROM login_tokens WHERE user_id = $1 AND used_at IS NULL RETURNING 1",
      [user.userId],
    );
    return { sessions: sessions.length, links: links.length };
  });
}

/**
 * Removes a user: its sessions and login links go with it (`ON DELETE CASCADE`), so its
 * open browser sessions and unused links stop working at once.
 *
 * @returns Whether a user was removed.
 * @throws {ValidationError} For a malformed address.
 */
export async function removeUser(db: Db, email: string): Promise<boolean> {
  const rows = await db.query("DELETE FROM users WHERE email = $1 RETURNING 1", [
    normalizeEmail(email),
  ]);
  return rows.length > 0;
}

/** Every user, by e-mail. */
export function listUsers(db: Db): Promise<User[]> {
  return db.query<User>(
    `SELECT user_id AS "userId", email, is_admin AS "isAdmin" FROM users ORDER BY email`,
  );
}

/**
 * Issues a one-time login token for a user.
 *
 * @param ttlS How long it stays valid, in seconds. @default {LOGIN_TOKEN_TTL_S}
 * @returns The token (shown once, never stored) and when it expires (ISO-8601).
 */
export async function issueLoginToken(
  db: Db,
  userId: number,
  ttlS: number = LOGIN_TOKEN_TTL_S,
): Promise<{ token: string; expiresAt: string }> {
  const token = newToken();
  const [{ expiresAt }] = await db.query<{ expiresAt: string }>(
    `INSERT INTO login_tokens (token_hash, user_id, expires_at)
     VALUES ($1, $2, now() + $3::int * interval '1 second')
     RETURNING iso_ts(expires_at) AS "expiresAt"`,
    [hashToken(token), userId, ttlS],
  );
  return { token, expiresAt };
}

/**
 * Redeems a login token (once: it is marked used in the same statement that checks it)
 * and opens a session.
 *
 * @param ttlS How long the session lasts, in seconds. @default {SESSION_TTL_S}
 * @returns The user and the new session's token, or `undefined` when the token is unknown,
 *   used or expired.
 */
export function redeemLoginToken(
  db: Db,
  token: string,
  ttlS: number = SESSION_TTL_S,
): Promise<{ user: User; sessionToken: string; expiresAt: string } | undefined> {
  return db.transaction(async (tx) => {
    // Housekeeping on the rare write: expired sessions, links used or expired a week ago.
    await tx.query("DELETE FROM sessions WHERE expires_at < now()");
    await tx.query(
      "DELETE FROM login_tokens WHERE coalesce(used_at, expires_at) < now() - interval '7 days'",
    );
    const [user] = await tx.query<User>(
      `UPDATE login_tokens t SET used_at = now()
         FROM users u
        WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
          AND u.user_id = t.user_id
        RETURNING u.user_id AS "userId", u.email, u.is_admin AS "isAdmin"`,
      [hashToken(token)],
    );
    if (!user) return undefined;
    const sessionToken = newToken();
    const [{ expiresAt }] = await tx.query<{ expiresAt: string }>(
      `INSERT INTO sessions (session_hash, user_id, expires_at)
       VALUES ($1, $2, now() + $3::int * interval '1 second')
       RETURNING iso_ts(expires_at) AS "expiresAt"`,
      [hashToken(sessionToken), user.userId, ttlS],
    );
    return { user, sessionToken, expiresAt };
  });
}

/** The user of a live session and when it expires, or `undefined` (unknown or expired). */
export async function lookupSession(
  db: Db,
  sessionToken: string,
): Promise<{ user: User; expiresAtMs: number } | undefined> {
  const [row] = await db.query<User & { expiresAtMs: string | number }>(
    `SELECT u.user_id AS "userId", u.email, u.is_admin AS "isAdmin",
            (extract(epoch FROM s.expires_at) * 1000)::float8 AS "expiresAtMs"
       FROM sessions s JOIN users u ON u.user_id = s.user_id
      WHERE s.session_hash = $1 AND s.expires_at > now()`,
    [hashToken(sessionToken)],
  );
  if (!row) return undefined;
  const { expiresAtMs, ...user } = row;
  return { user, expiresAtMs: Number(expiresAtMs) };
}

/** The user of a live session, or `undefined` (unknown or expired). */
export async function sessionUser(db: Db, sessionToken: string): Promise<User | undefined> {
  return (await lookupSession(db, sessionToken))?.user;
}

/** Ends a session (logout). Unknown tokens are fine. */
export async function endSession(db: Db, sessionToken: string): Promise<void> {
  await db.query("DELETE FROM sessions WHERE session_hash = $1", [hashToken(sessionToken)]);
}
