/**
 * The server release a browser last saw, kept in `localStorage`: when it changes, the
 * browser cache is cleared (and an administrator's browser also asks the server to flush).
 *
 * @module
 */
import type { InstanceMeta } from "../../server/wire.ts";

/** What `GET /api/instance_meta` says about the release. */
export type ReleaseMeta = Pick<InstanceMeta, "serverVersion" | "cacheFormatVersion">;

/** The `localStorage` key of the last release seen. */
export const RELEASE_KEY = "wb.release";

/** A release as one string: `<serverVersion>+cache<cacheFormatVersion>`. */
export function releaseOf(meta: ReleaseMeta): string {
  return `${meta.serverVersion}+cache${meta.cacheFormatVersion}`;
}

/**
 * Whether the browser saw another release before (a first visit is not a change).
 *
 * @example
 * ```ts
 * releaseChanged(null, "0.2.0+cache1"); // false
 * releaseChanged("0.1.0+cache1", "0.2.0+cache1"); // true
 * ```
 */
export function releaseChanged(lastSeen: string | null, current: string): boolean {
  return lastSeen !== null && lastSeen !== current;
}
