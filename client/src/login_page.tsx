/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Logging in with a one-time link (`/login?token=…`, made by `wb user add`). The token is
 * posted only when the person clicks "Log in", so a mail or chat scanner that fetches the
 * link does not use it up; it is removed from the address bar afterwards.
 *
 * @module
 */
import { useState } from "preact/hooks";
import { apiPost } from "./api.ts";
import type { LoginAnswer } from "../../server/wire.ts";

/** `/login` (and every page while logged out). */
export function LoginPage(
  { token, instance, onLoggedIn }: {
    token?: string;
    instance: string;
    onLoggedIn: () => void;
  },
) {
  const [status, setStatus] = useState<string>();
  // Browsers scope cookies by host, not port: over plain HTTP the session cookie reaches every
  // other web service on this host (and travels unencrypted).
  const plainHttp = globalThis.location?.protocol === "http:";
  const [busy, setBusy] = useState(false);
  const login = async () => {
    setBusy(true);
    try {
      const user = await apiPost<LoginAnswer>("/api/auth/login", {
        token,
      });
      setStatus(`Logged in as ${user.email}`);
      onLoggedIn();
    } catch (error) {
      setStatus((error as Error).message);
      setBusy(false);
    }
  };
  return (
    <section class="login">
      <h2>Log in to {instance}</h2>
      {plainHttp && (
        <p id="plain-http-warning" class="warning" role="alert">
          This instance is served over plain HTTP: your session cookie travels unencrypted and
          reaches every other web service on this host. Ask its operator to serve it on its own host
          name behind TLS (<code>wb proxy</code>).
        </p>
      )}
      {token
        ? (
          <>
            <p>This one-time link logs you in on this browser.</p>
            <button id="login" type="button" disabled={busy} onClick={login}>Log in</button>
          </>
        )
        : (
          <p>
            Ask an administrator for a login link. On the server:{" "}
            <code>wb user add {instance} you@example.org</code>
          </p>
        )}
      <p id="login-status" role="status">{status}</p>
    </section>
  );
}
