/**
 * The session cache (`session_cache.ts`) fed by the version table's listener, against the
 * machine's Postgres: a live session is served from memory while the listener is trusted;
 * a logout, a revocation, a removed user and an admin flag change made on another connection
 * (as `wb user` or `psql` would) reach it through `wb_sessions` and the next lookup sees them;
 * with the listener cut, every lookup goes to the database and stays correct; a lookup that
 * raced an invalidation does not store what it read.
 */
import assert from "node:assert/strict";
import { connectPostgres, type Db } from "./db.ts";
import { migrate } from "./migrate.ts";
import { SessionCache } from "./session_cache.ts";
import { createTestDatabase } from "./testing/pg.ts";
import {
  endSession,
  hashToken,
  issueLoginToken,
  redeemLoginToken,
  removeUser,
  upsertUser,
} from "./users.ts";
import { VersionTable } from "./version_table.ts";
import { terminateVersionListener, until } from "./testing/until.ts";

const quiet = () => {};

/** A user with a live session (logged in through a login link, as the browser does). */
async function loggedIn(db: Db, email: string, isAdmin = false) {
  const { user } = await upsertUser(db, email, { isAdmin });
  const { token } = await issueLoginToken(db, user.userId);
  const session = await redeemLoginToken(db, token);
  assert.ok(session);
  return { user, sessionToken: session.sessionToken };
}

Deno.test("session cache: served from memory while trusted; logout, revoke, removal and an admin change made elsewhere reach it", async () => {
  await using database = await createTestDatabase();
  await migrate(database.db);
  const other = connectPostgres(database.url, { max: 1 }); // "psql" / `wb user`: not the pool
  const table = new VersionTable({ db: database.db, url: database.url, log: quiet });
  try {
    table.start();
    assert.ok(await until(() => table.trusted), `still ${table.state}`);
    const sessions = table.sessions;
    const ana = await loggedIn(database.db, "ana@example.org");
    const bo = await loggedIn(database.db, "bo@example.org");
    const cy = await loggedIn(database.db, "cy@example.org", true);

    // First lookup from the database, then from memory.
    assert.equal((await sessions.sessionUser(ana.sessionToken))?.email, "ana@example.org");
    const lookups = sessions.stats.lookups;
    assert.equal((await sessions.sessionUser(ana.sessionToken))?.email, "ana@example.org");
    assert.equal(sessions.stats.lookups, lookups, "the second lookup went to the database");
    assert.equal(await sessions.sessionUser("no-such-session"), undefined);

    // A logout on another connection.
    await endSession(other, ana.sessionToken);
    assert.ok(
      await until(async () => (await sessions.sessionUser(ana.sessionToken)) === undefined),
      "a logout made elsewhere is still served",
    );

    // `wb user remove`: the user's sessions go by ON DELETE CASCADE.
    assert.ok(await sessions.sessionUser(bo.sessionToken));
    await removeUser(other, "bo@example.org");
    assert.ok(
      await until(async () => (await sessions.sessionUser(bo.sessionToken)) === undefined),
      "a removed user's session is still served",
    );

    // An admin flag change made with psql applies to the cached session.
    assert.equal((await sessions.sessionUser(cy.sessionToken))?.isAdmin, true);
    await other.query("UPDATE users SET is_admin = false WHERE email = 'cy@example.org'");
    assert.ok(
      await until(async () => (await sessions.sessionUser(cy.sessionToken))?.isAdmin === false),
      "the admin flag change is not seen",
    );

    // `wb user revoke`: every session of the user deleted.
    await other.query("DELETE FROM sessions WHERE user_id = $1", [cy.user.userId]);
    assert.ok(
      await until(async () => (await sessions.sessionUser(cy.sessionToken)) === undefined),
      "a revoked session is still served",
    );
  } finally {
    await table.close();
    await other.close();
  }
});

Deno.test("session cache: with the listener cut every lookup asks the database and stays correct, then memory serves again", async () => {
  await using database = await createTestDatabase();
  await migrate(database.db);
  const other = connectPostgres(database.url, { max: 1 });
  // A long reconnect wait holds the outage open while the test reads and writes through it.
  const table = new VersionTable({ db: database.db, url: database.url, retryMs: 3000, log: quiet });
  try {
    table.start();
    assert.ok(await until(() => table.trusted));
    const sessions = table.sessions;
    const dee = await loggedIn(database.db, "dee@example.org");
    await sessions.sessionUser(dee.sessionToken);
    assert.equal(sessions.size, 1);

    assert.equal(await terminateVersionListener(other), 1);
    assert.ok(await until(() => !table.trusted), "the table noticed the lost connection");
    assert.equal(sessions.size, 0, "the cache was not emptied when the listener was lost");

    // Meanwhile a logout nobody is told about: the lookup asks the database.
    const lookups = sessions.stats.lookups;
    assert.ok(await sessions.sessionUser(dee.sessionToken));
    await endSession(other, dee.sessionToken);
    assert.equal(await sessions.sessionUser(dee.sessionToken), undefined);
    assert.equal(sessions.stats.lookups, lookups + 2);
    assert.equal(sessions.size, 0, "stored while notifications could not arrive");

    // Recovered: memory serves again.
    assert.ok(await until(() => table.trusted, 20_000), `still ${table.state}`);
    const eve = await loggedIn(database.db, "eve@example.org");
    await sessions.sessionUser(eve.sessionToken);
    const before = sessions.stats.lookups;
    assert.equal((await sessions.sessionUser(eve.sessionToken))?.email, "eve@example.org");
    assert.equal(sessions.stats.lookups, before);
  } finally {
    await table.close();
    await other.close();
  }
});

Deno.test("session cache: a lookup that raced an invalidation does not store what it read", async () => {
  await using database = await createTestDatabase();
  await migrate(database.db);
  const fay = await loggedIn(database.db, "fay@example.org");
  // The lookup's query waits at a gate; the invalidation comes while it waits.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  const gated: Db = {
    ...database.db,
    query: async <R>(text: string, params?: unknown[]) => {
      const rows = await database.db.query<R>(text, params);
      await gate;
      return rows;
    },
  };
  const cache = new SessionCache(gated, { live: () => true });
  const reading = cache.sessionUser(fay.sessionToken);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the query has run; the gate holds
  cache.apply(
    JSON.stringify({ t: "sessions", op: "DELETE", session_hash: hashToken(fay.sessionToken) }),
  );
  open();
  assert.equal((await reading)?.email, "fay@example.org"); // read before the invalidation
  assert.equal(cache.size, 0, "a read from before the invalidation was stored");
  // Without a race, the next lookup is stored; an unreadable payload empties the cache.
  await cache.sessionUser(fay.sessionToken);
  assert.equal(cache.size, 1);
  cache.apply("not json");
  assert.equal(cache.size, 0);
});
