/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Who you are, "Clear cache", and logging out.
 *
 * "Clear cache" does what the caller may: an administrator flushes the instance's shared
 * server cache (`POST /caches/flush-all`), then this browser's cache (IndexedDB), then
 * reloads; anyone else clears this browser's cache only (and reloads), and the button says
 * so: flushing the shared cache is an administrator's act, and asks for a confirmation
 * first (a modal dialog saying what it costs everyone).
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { apiPost } from "./api.ts";
import { useServices, useTitle } from "./context.ts";

/** Where the outcome waits for the reload (`sessionStorage`). */
export const CLEARED_KEY = "wb.cleared";

/** `/profile`. */
export function ProfilePage() {
  const { me, meta, cache } = useServices();
  useTitle("Profile");
  const confirm = useRef<HTMLDialogElement>(null);
  const [entries, setEntries] = useState<number>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  const admin = me.role === "admin";
  useEffect(() => {
    cache.count().then(setEntries, () => setEntries(undefined));
    const cleared = sessionStorage.getItem(CLEARED_KEY);
    if (cleared) {
      sessionStorage.removeItem(CLEARED_KEY);
      setStatus(cleared);
    }
  }, []);

  const clearCache = async () => {
    setBusy(true);
    setStatus("Clearing…");
    try {
      const done: string[] = [];
      if (admin) {
        await apiPost("/caches/flush-all");
        done.push("The server's shared cache was flushed.");
      }
      await cache.clear();
      done.push("This browser's cache was cleared.");
      sessionStorage.setItem(CLEARED_KEY, `${done.join(" ")} (${new Date().toLocaleTimeString()})`);
      location.reload();
    } catch (error) {
      setStatus(`Not cleared: ${(error as Error).message}`);
      setBusy(false);
    }
  };

  const logout = async () => {
    await apiPost("/api/auth/logout").catch(() => {});
    await cache.clear().catch(() => {});
    location.assign("/login");
  };

  return (
    <section class="profile">
      <h2>Profile</h2>
      <dl>
        <dt>Signed in as</dt>
        <dd id="profile-who">
          {me.via === "session"
            ? me.email
            : me.via === "open"
            ? "nobody (open access)"
            : "a bearer token"}
        </dd>
        <dt>Role</dt>
        <dd id="profile-role">{me.role === "admin" ? "administrator" : "viewer"}</dd>
        <dt>Instance</dt>
        <dd>
          {meta.instance} · server {meta.serverVersion} · cache format {meta.cacheFormatVersion}
        </dd>
        <dt>Browser cache</dt>
        <dd id="profile-entries">{entries === undefined ? "…" : `${entries} entries`}</dd>
      </dl>
      <button
        id="clear-cache"
        type="button"
        disabled={busy}
        data-scope={admin ? "server-and-browser" : "browser"}
        onClick={() => admin ? confirm.current!.showModal() : clearCache()}
      >
        {admin ? "Clear cache (server and this browser)" : "Clear this browser's cache"}
      </button>
      <p class="hint">
        {admin
          ? "Flushes the instance's shared server cache for every user, then this browser's."
          : "Only an administrator can flush the instance's shared server cache; this clears your browser's copy."}
      </p>
      <p id="clear-status" role="status">{status}</p>
      {admin && (
        <dialog
          ref={confirm}
          id="confirm-flush"
          aria-labelledby="confirm-flush-title"
          aria-describedby="confirm-flush-text"
        >
          <h3 id="confirm-flush-title">Flush the server's cache for everyone?</h3>
          <p id="confirm-flush-text">
            Every cached chart and table of {meta.instance}{" "}
            is dropped: each user's next view of each one is computed again from the database,
            slower until the cache is warm again. This browser's saved copies are cleared too.
          </p>
          <form method="dialog" class="dialog-buttons">
            <button type="submit" class="secondary" value="cancel" autofocus>Cancel</button>
            <button
              type="button"
              class="danger"
              id="confirm-flush-yes"
              onClick={() => {
                confirm.current!.close();
                clearCache();
              }}
            >
              Flush for everyone
            </button>
          </form>
        </dialog>
      )}
      {me.via === "session" && (
        <button id="logout" type="button" onClick={logout}>
          Log out
        </button>
      )}
    </section>
  );
}
