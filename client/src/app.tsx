/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The web client's entry: who is calling and which release the server runs, then the pages.
 *
 * On load, the release the browser last saw (`localStorage`) is compared with
 * `GET /api/instance_meta`: on a change the browser cache is cleared, and an
 * administrator's browser also asks the server to flush (`POST /caches/flush-all`; the
 * server flushes once per new cache format by itself at boot, so nobody else needs to).
 *
 * @module
 */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiGet, apiPost, type InstanceMeta, type Me } from "./api.ts";
import { BrowserCache } from "./browser_cache.ts";
import { CachesPage } from "./caches_page.tsx";
import { type Services, ServicesContext, useFeed, useServices } from "./context.ts";
import { Link } from "./link.tsx";
import { LoginPage } from "./login_page.tsx";
import { OverviewPage } from "./overview_page.tsx";
import { ProfilePage } from "./profile_page.tsx";
import { ProjectsPage } from "./projects_page.tsx";
import { RELEASE_KEY, releaseChanged, releaseOf } from "./release.ts";
import { parseRoute, type Route } from "./routes.ts";
import { VersionFeed } from "./version_feed.ts";

interface Boot {
  me: Me;
  meta: InstanceMeta;
  /** What the release check did, when the release changed. */
  notice?: string;
}

/** Reads who is calling and the release; clears caches when the release changed. */
async function bootstrap(cache: BrowserCache): Promise<Boot> {
  const [me, meta] = await Promise.all([
    apiGet<Me>("/api/auth/me").then((r) => r.body),
    apiGet<InstanceMeta>("/api/instance_meta").then((r) => r.body),
  ]);
  const release = releaseOf(meta);
  const lastSeen = localStorage.getItem(RELEASE_KEY);
  let notice: string | undefined;
  if (releaseChanged(lastSeen, release)) {
    const done = [`The server was updated (${lastSeen} → ${release}).`];
    if (me.role === "admin") {
      await apiPost("/caches/flush-all").then(
        () => done.push("Its shared cache was flushed."),
        (error) => done.push(`Its shared cache was not flushed: ${error.message}.`),
      );
    }
    await cache.clear();
    done.push("This browser's cache was cleared.");
    notice = done.join(" ");
  }
  localStorage.setItem(RELEASE_KEY, release);
  document.documentElement.dataset.release = notice ? "changed" : "same";
  return { me, meta, notice };
}

function useRoute(): [Route, Services["navigate"]] {
  const [at, setAt] = useState(() => ({
    path: location.pathname,
    search: location.search,
  }));
  useEffect(() => {
    const onPop = () => setAt({ path: location.pathname, search: location.search });
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const navigate: Services["navigate"] = (path, options = {}) => {
    if (options.replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    const url = new URL(path, location.href);
    setAt({ path: url.pathname, search: url.search });
  };
  return [parseRoute(at.path, at.search), navigate];
}

function Root() {
  const cache = useMemo(() => new BrowserCache(), []);
  const [boot, setBoot] = useState<Boot | string>();
  const [route, navigate] = useRoute();
  const load = () =>
    bootstrap(cache).then(
      setBoot,
      (error) => setBoot(`Could not reach the server: ${error.message}`),
    );
  useEffect(() => {
    load();
  }, []);
  if (typeof boot === "string") return <p class="error">{boot}</p>;
  if (!boot) return <p class="loading">Loading…</p>;
  if (route.page === "login" || boot.me.role === null) {
    return (
      <>
        <header>
          <h1>wb analytics</h1>
          <span id="instance">{boot.meta.instance} · v{boot.meta.serverVersion}</span>
        </header>
        <main>
          <LoginPage
            token={route.page === "login" ? route.token : undefined}
            instance={boot.meta.instance}
            onLoggedIn={() => {
              history.replaceState(null, "", "/");
              location.reload();
            }}
          />
        </main>
      </>
    );
  }
  return <SignedIn boot={boot} cache={cache} route={route} navigate={navigate} />;
}

function SignedIn(
  { boot, cache, route, navigate }: {
    boot: Boot;
    cache: BrowserCache;
    route: Route;
    navigate: Services["navigate"];
  },
) {
  const feed = useMemo(
    () => new VersionFeed({ onInvalidated: (caches) => cache.clearCaches(caches) }),
    [],
  );
  useEffect(() => () => feed.close(), []);
  const services: Services = { me: boot.me, meta: boot.meta, cache, feed, navigate };
  return (
    <ServicesContext.Provider value={services}>
      <Header route={route} />
      {boot.notice && <p id="notice" role="status">{boot.notice}</p>}
      <main>
        <Page route={route} />
      </main>
    </ServicesContext.Provider>
  );
}

function Header({ route }: { route: Route }) {
  const feed = useFeed();
  const { me, meta } = useServices();
  const live = feed.status === "live"
    ? feed.lastEvent
      ? `live · ${feed.lastEvent.type} at ${new Date(feed.lastEvent.at).toLocaleTimeString()}`
      : "live"
    : feed.status;
  return (
    <header>
      <h1>wb analytics</h1>
      <span id="instance">{meta.instance} · v{meta.serverVersion}</span>
      <nav aria-label="Pages">
        <Link href="/projects" current={route.page === "projects"}>Projects</Link>
        <Link href="/overview" current={route.page === "overview"}>Overview</Link>
        {me.role === "admin" && (
          <Link href="/admin/caches" current={route.page === "caches"}>Caches</Link>
        )}
        <Link href="/profile" current={route.page === "profile"}>Profile</Link>
      </nav>
      <span id="who">
        {me.email ?? (me.via === "open" ? "open access" : "token")} ·{" "}
        {me.role === "admin" ? "administrator" : "viewer"}
      </span>
      <span
        id="live"
        data-state={feed.status}
        data-last-seq={feed.lastEvent?.seq ?? ""}
        title="Versions from the server's event stream"
      >
        {live}
      </span>
    </header>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "projects":
      return <ProjectsPage projectId={route.projectId} poId={route.poId} />;
    case "overview":
      return <OverviewPage />;
    case "profile":
      return <ProfilePage />;
    case "caches":
      return <CachesPage />;
    case "login":
      return null;
    case "not_found":
      return <p>No page at {route.path}.</p>;
  }
}

render(<Root />, document.getElementById("app")!);
