/**
 * Who is on the other end of a request: the peer's address (from `Deno.serve`'s handler
 * info, which Hono passes as `c.env`), the client's address behind a trusted reverse proxy
 * (`X-Forwarded-For`), and whether a request may name this server as its `Host`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { isIP } from "node:net";

/**
 * The address of the connection's peer (`127.0.0.1`, `::1`, ...), or `undefined` when the
 * request did not come over a socket (`app.request()` in tests).
 */
export function peerAddress(c: Context): string | undefined {
  const info = c.env as { remoteAddr?: { hostname?: string; transport?: string } } | undefined;
  const address = info?.remoteAddr;
  if (!address || (address.transport !== undefined && address.transport !== "tcp")) {
    return undefined;
  }
  return normalizeAddress(address.hostname);
}

/** `::ffff:127.0.0.1` → `127.0.0.1`; `[::1]` → `::1`; lower case. */
function normalizeAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const bare = address.replace(/^\[|\]$/g, "").toLowerCase();
  return bare.startsWith("::ffff:") && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
}

/** Whether `address` is a loopback address (`127.0.0.0/8`, `::1`). */
export function isLoopbackAddress(address: string | undefined): boolean {
  const bare = normalizeAddress(address);
  return bare !== undefined && (bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127.")));
}

/** Whether the request passed through a proxy that says so (`X-Forwarded-For`, `Forwarded`). */
export function isForwarded(c: Context): boolean {
  return c.req.header("x-forwarded-for") !== undefined || c.req.header("forwarded") !== undefined;
}

/**
 * The client's address: the peer's, or, when the peer is one of `trustedProxies`, the last
 * address of `X-Forwarded-For` (the one the proxy itself added; earlier entries are the
 * client's word and are ignored).
 *
 * @param trustedProxies Peer addresses whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
 * @returns The address, or `undefined` without a socket.
 */
export function clientAddress(c: Context, trustedProxies: readonly string[]): string | undefined {
  const peer = peerAddress(c);
  if (peer === undefined || !trustedProxies.includes(peer)) return peer;
  const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
  const client = normalizeAddress(forwarded);
  return client !== undefined && isIP(client) !== 0 ? client : peer;
}

/** What {@linkcode hostAllowlist} admits. */
export interface HostPolicy {
  /**
   * Host names (no port) the server answers to, lower case; `["*"]` admits any. IP
   * literals and `localhost` are always admitted: DNS rebinding needs a name the attacker
   * controls, never an address.
   */
  allowedHosts: readonly string[];
}

/** The host name of a `Host` header value, without port or trailing dot, lower case. */
export function hostNameOf(host: string): string {
  const trimmed = host.trim().toLowerCase();
  const name = trimmed.startsWith("[")
    ? trimmed.slice(0, trimmed.indexOf("]") + 1)
    : trimmed.replace(/:\d*$/, "");
  return name.replace(/\.$/, "");
}

/** Whether `host` (a `Host` header value) is admitted by `policy`. */
export function hostAllowed(host: string | undefined, policy: HostPolicy): boolean {
  if (host === undefined) return false;
  const name = hostNameOf(host);
  if (name === "localhost" || isIP(name.replace(/^\[|\]$/g, "")) !== 0) return true;
  return policy.allowedHosts.includes("*") || policy.allowedHosts.includes(name);
}

/** `Host` values whose decision {@linkcode hostAllowlist} remembers. */
const MAX_HOST_DECISIONS = 256;

/**
 * Refuses requests naming another host (`Host`, or HTTP/2 `:authority`) with 421
 * Misdirected Request, before anything else runs: a page on an attacker's domain that
 * re-resolves to this server (DNS rebinding) cannot read what it answers.
 *
 * @throws {HTTPException} 421 naming the refused host.
 */
export function hostAllowlist(policy: HostPolicy): MiddlewareHandler {
  // Decisions by `Host` value: a pure function of it and the policy, and nearly every
  // request names one of a few hosts. Bounded: emptied when full.
  const decisions = new Map<string, boolean>();
  const allowed = (host: string | undefined) => {
    if (host === undefined) return false;
    let decision = decisions.get(host);
    if (decision === undefined) {
      if (decisions.size >= MAX_HOST_DECISIONS) decisions.clear();
      decision = hostAllowed(host, policy);
      decisions.set(host, decision);
    }
    return decision;
  };
  return async (c, next) => {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!allowed(host)) {
      throw new HTTPException(421, {
        message: `This server does not answer for host '${
          hostNameOf(host ?? "").slice(0, 100)
        }' (ALLOWED_HOSTS)`,
      });
    }
    await next();
  };
}
