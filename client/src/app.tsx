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
import type { Labels } from "./labels.ts";
import { NotFoundPage } from "./not_found_page.tsx";
import { BrowserCache } from "./browser_cache.ts";
import { CachesPage } from "./caches_page.tsx";
import { type Services, ServicesContext, useFeed, useServices } from "./context.ts";
import type { ServerEvent } from "./versions.ts";
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
    document.title = `Log in · wb · ${boot.meta.instance}`;
    return (
      <>
        <header>
          <h1 class="brand">wb analytics</h1>
          <span id="instance">{boot.meta.instance} · v{boot.meta.serverVersion}</span>
        </header>
        <main id="main">
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
  const labels = useLabels(feed);
  if (typeof labels === "string") return <p class="error">{labels}</p>;
  if (!labels) return <p class="loading">Loading…</p>;
  const services: Services = { me: boot.me, meta: boot.meta, cache, feed, labels, navigate };
  return (
    <ServicesContext.Provider value={services}>
      <a class="skip" href="#main">Skip to the content</a>
      <Header route={route} />
      {boot.notice && <p id="notice" role="status">{boot.notice}</p>}
      <main id="main">
        <Page route={route} />
      </main>
    </ServicesContext.Provider>
  );
}

/**
 * The label dictionary, fetched again when the HMIS dataset's version moves (a new import
 * can bring indicators and months; the `ETag` makes an unchanged one cost nothing).
 */
function useLabels(feed: VersionFeed): Labels | string | undefined {
  const [labels, setLabels] = useState<Labels | string>();
  const [, setTick] = useState(0);
  useEffect(() => feed.subscribe(() => setTick((n) => n + 1)), [feed]);
  const version = feed.state?.datasets.hmis;
  useEffect(() => {
    let current = true;
    apiGet<Labels>("/api/labels").then(
      ({ body }) => current && setLabels(body),
      (error) =>
        current &&
        setLabels((previous) =>
          typeof previous === "object" ? previous : `Could not load the labels: ${error.message}`
        ),
    );
    return () => current = false;
  }, [version]);
  return labels;
}

/** What an event of the stream is, in words. */
const EVENT_WORDS: Record<ServerEvent["type"], string> = {
  module_run: "a module run",
  presentation_object_updated: "a chart's settings changed",
  dataset_imported: "new data imported",
  structure_imported: "a new facility list imported",
  invalidated: "caches cleared",
};

function Header({ route }: { route: Route }) {
  const feed = useFeed();
  const { me, meta } = useServices();
  const live = feed.status === "live"
    ? feed.lastEvent
      ? `Live updates on · last: ${EVENT_WORDS[feed.lastEvent.type]} at ${
        new Date(feed.lastEvent.at).toLocaleTimeString()
      }`
      : "Live updates on"
    : feed.status === "connecting"
    ? "Connecting to live updates…"
    : feed.status === "reconnecting"
    ? "Live updates interrupted: reconnecting…"
    : "Live updates off";
  return (
    <header>
      <h1 class="brand">wb analytics</h1>
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
        title="Charts redraw by themselves when the server's data changes"
        role="status"
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
      return <NotFoundPage path={route.path} />;
  }
}

render(<Root />, document.getElementById("app")!);
