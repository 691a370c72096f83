/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * What every page gets: who is logged in, the instance, the browser cache, the version
 * feed, and navigation.
 *
 * @module
 */
import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { InstanceMeta, Me } from "./api.ts";
import type { BrowserCache } from "./browser_cache.ts";
import type { Labels } from "./labels.ts";
import type { VersionFeed } from "./version_feed.ts";

/** The app's services. */
export interface Services {
  me: Me;
  meta: InstanceMeta;
  cache: BrowserCache;
  feed: VersionFeed;
  /** The label dictionary (`GET /api/labels`) every name on screen comes from. */
  labels: Labels;
  /** Goes to a path of the app (history push, no reload). */
  navigate(path: string, options?: { replace?: boolean }): void;
}

/** The services, provided by the app. */
export const ServicesContext = createContext<Services | null>(null);

/** The services of the app. @throws {Error} Outside the app. */
export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices() outside <ServicesContext.Provider>");
  return services;
}

/** The feed, re-rendering the caller at every change of the versions or the stream. */
export function useFeed(): VersionFeed {
  const { feed } = useServices();
  const [, setTick] = useState(0);
  useEffect(() => feed.subscribe(() => setTick((n) => n + 1)), [feed]);
  return feed;
}

/**
 * Sets `document.title` to `<page> · wb · <instance>` while the caller is shown (screen
 * readers announce it, tabs and history show it).
 */
export function useTitle(page: string | undefined): void {
  const { meta } = useServices();
  useEffect(() => {
    if (page !== undefined) document.title = `${page} · wb · ${meta.instance}`;
  }, [page, meta.instance]);
}
