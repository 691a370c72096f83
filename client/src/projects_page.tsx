/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Projects and their presentation objects, each drawn as a chart and a table. Lists,
 * details and items go through the browser cache under the versions of the event stream,
 * so a module run or an edit elsewhere redraws the open chart by itself.
 *
 * @module
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiGet, seg } from "./api.ts";
import type { CacheSource } from "./browser_cache.ts";
import { Chart } from "./chart.tsx";
import { type BarOrder, chartModel, type Display } from "./chart_data.ts";
import { useFeed, useServices, useTitle } from "./context.ts";
import { DataTable } from "./data_table.tsx";
import { type FetchValue, valueText } from "./labels.ts";
import { ModuleRun } from "./module_run.tsx";
import type {
  ListAnswer,
  PoDetail as PoDetailWire,
  PoItemsResult as ItemsBody,
  PoSummary,
  ProjectSummary,
} from "../../server/wire.ts";
import { Link } from "./link.tsx";
import { projectPath } from "./routes.ts";
import { poDetailVersion, poItemsVersion, poListVersion } from "./versions.ts";

/** A presentation object's detail, with the part of its stored config the client reads. */
interface PoDetail extends Omit<PoDetailWire, "config"> {
  config: { display?: Display; fetch?: { values?: FetchValue[] } };
}

/** A fetched body and the `X-Cache` the server answered it with. */
interface Fetched<T> {
  body: T;
  xCache: string | null;
}

const fetched = async <T,>(path: string): Promise<Fetched<T>> => {
  const { body, headers } = await apiGet<T>(path);
  return { body, xCache: headers.get("x-cache") };
};

/** `/projects[/:projectId[/:poId]]`. */
export function ProjectsPage({ projectId, poId }: { projectId?: string; poId?: string }) {
  const { navigate } = useServices();
  const [projects, setProjects] = useState<ProjectSummary[] | string>();
  useEffect(() => {
    apiGet<ListAnswer<ProjectSummary>>("/api/projects").then(
      ({ body }) => setProjects(body.items),
      (error) => setProjects(`Could not load the projects: ${error.message}`),
    );
  }, []);
  useEffect(() => {
    if (projectId === undefined && Array.isArray(projects) && projects.length > 0) {
      navigate(projectPath(projects[0].projectId), { replace: true });
    }
  }, [projectId, projects]);
  if (typeof projects === "string") return <p class="error">{projects}</p>;
  if (!projects) return <p class="loading">Loading projects…</p>;
  if (projects.length === 0) return <p>No projects yet: load data with `wb load`.</p>;
  return (
    <div class="projects">
      <nav class="project-tabs" aria-label="Projects">
        {projects.map((project) => (
          <Link
            href={projectPath(project.projectId)}
            current={project.projectId === projectId}
            key={project.projectId}
          >
            {project.label}
          </Link>
        ))}
      </nav>
      {projectId !== undefined && <Project projectId={projectId} poId={poId} />}
    </div>
  );
}

function Project({ projectId, poId }: { projectId: string; poId?: string }) {
  const { cache, navigate } = useServices();
  const feed = useFeed();
  const version = poListVersion(feed.state, projectId);
  const [list, setList] = useState<PoSummary[] | string>();
  useEffect(() => {
    let current = true;
    if (feed.state === undefined && feed.status === "connecting") return;
    cache.get(
      "po_list",
      { projectId },
      version,
      () =>
        apiGet<ListAnswer<PoSummary>>(`/api/projects/${seg(projectId)}/presentation_objects`)
          .then(({ body }) => body.items),
    ).then(
      ({ value }) => current && setList(value),
      (error) => current && setList(`Could not load: ${error.message}`),
    );
    return () => current = false;
  }, [projectId, version, feed.status === "connecting", feed.invalidations]);
  const open = Array.isArray(list) ? list.find((po) => po.poId === poId) : undefined;
  useTitle(
    open ? undefined : poId && Array.isArray(list) ? "Presentation object not found" : "Projects",
  );
  return (
    <div class="project">
      <section class="po-list" aria-labelledby="po-list-title">
        <h2 id="po-list-title">Presentation objects</h2>
        {typeof list === "string" && <p class="error">{list}</p>}
        {list === undefined && <p class="loading">Loading…</p>}
        {Array.isArray(list) && (
          <label class="po-select">
            <span class="visually-hidden">Presentation object</span>
            <select
              value={poId ?? ""}
              onChange={(event) => {
                const value = (event.currentTarget as HTMLSelectElement).value;
                if (value) navigate(projectPath(projectId, value));
              }}
            >
              {!open && <option value="">Choose a presentation object…</option>}
              {list.map((po) => <option key={po.poId} value={po.poId}>{po.label}</option>)}
            </select>
          </label>
        )}
        {Array.isArray(list) && (
          <ul>
            {list.map((po) => (
              <li key={po.poId}>
                <Link
                  href={projectPath(projectId, po.poId)}
                  current={po.poId === poId}
                  data-po-id={po.poId}
                >
                  {po.label}
                </Link>
              </li>
            ))}
          </ul>
        )}
      </section>
      {open ? <PoView projectId={projectId} po={open} key={open.poId} /> : (
        <section class="po-view">
          <h2>{poId ? `No presentation object '${poId}'` : "Select a presentation object"}</h2>
          {!poId && <p>Pick one in the list to see its chart and its rows.</p>}
        </section>
      )}
    </div>
  );
}

interface Shown {
  detail: PoDetail;
  items: Fetched<ItemsBody>;
  source: CacheSource;
  version: string;
  ms: number;
}

/** A version timestamp (ISO-8601 with microseconds) as a local date and time. */
export function whenText(iso: string): string {
  const date = new Date(iso.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** Where the rows came from, in words. */
function sourceText(shown: Shown): string {
  if (shown.source === "memory") return "Already open in this tab.";
  if (shown.source === "indexeddb") {
    return `Opened from this browser's saved copy in ${shown.ms} ms (nothing downloaded).`;
  }
  switch (shown.items.xCache) {
    case "HIT":
      return `Loaded from the server's cache in ${shown.ms} ms.`;
    case "MISS":
      return `Computed by the server just now, in ${shown.ms} ms (cached for everyone next time).`;
    case "BYPASS":
      return `Computed by the server in ${shown.ms} ms (its cache is unavailable right now).`;
    default:
      return `Loaded from the server in ${shown.ms} ms.`;
  }
}

/** One presentation object: its chart (unless a table) and its rows. */
function PoView({ projectId, po }: { projectId: string; po: PoSummary }) {
  const { cache, labels, me } = useServices();
  const feed = useFeed();
  useTitle(po.label);
  const itemsVersion = poItemsVersion(feed.state, projectId, po);
  const detailVersion = poDetailVersion(feed.state, projectId, po.poId);
  const [shown, setShown] = useState<Shown | string>();
  const [order, setOrder] = useState<BarOrder>("value");
  const waiting = feed.state === undefined && feed.status === "connecting";
  useEffect(() => {
    if (waiting) return;
    let current = true;
    const started = performance.now();
    const base = `/api/projects/${seg(projectId)}/presentation_objects/${seg(po.poId)}`;
    Promise.all([
      cache.get(
        "po_detail",
        { projectId, poId: po.poId },
        detailVersion,
        () => apiGet<PoDetail>(base).then(({ body }) => body),
      ),
      cache.get(
        "po_items",
        { projectId, poId: po.poId },
        itemsVersion,
        () => fetched<ItemsBody>(`${base}/items`),
        (value) => value.body.status === "ok",
      ),
    ]).then(
      ([detail, items]) =>
        current && setShown({
          detail: detail.value,
          items: items.value,
          source: items.source,
          version: itemsVersion ?? "unversioned",
          ms: Math.round(performance.now() - started),
        }),
      (error) => current && setShown(`Could not load: ${error.message}`),
    );
    return () => current = false;
  }, [projectId, po.poId, itemsVersion, detailVersion, waiting, feed.invalidations]);

  const body = typeof shown === "object" ? shown.items.body : undefined;
  const display = typeof shown === "object" ? shown.detail.config.display ?? {} : {};
  const values = typeof shown === "object" ? shown.detail.config.fetch?.values ?? [] : [];
  const model = useMemo(
    () =>
      body?.status === "ok"
        ? chartModel(display, values, body.items, labels, { order })
        : undefined,
    [body, labels, order],
  );

  if (typeof shown === "string" || !shown || !body) {
    return (
      <section class="po-view">
        <h2>{po.label}</h2>
        {typeof shown === "string" ? <p class="error">{shown}</p> : <p class="loading">Loading…</p>}
      </section>
    );
  }
  const lastRun = feed.state?.projects[projectId]?.modules[po.moduleId];
  const range = body.status === "ok" ? body.dateRange : undefined;
  const asOf = lastRun
    ? `Data as of ${whenText(lastRun)} (the last module run)`
    : lastRun === null
    ? "Data not computed yet: its module has not run since the last data load"
    : "Data as of the last module run";
  return (
    <section
      class="po-view"
      data-po-id={po.poId}
      data-version={shown.version}
      data-source={shown.source}
      data-x-cache={shown.items.xCache ?? ""}
    >
      <h2>{shown.detail.label}</h2>
      <p class="as-of" id="po-as-of">
        {asOf}
        {range
          ? `, periods ${valueText(labels, "period_id", range.min)}–${
            valueText(labels, "period_id", range.max)
          }.`
          : "."}
      </p>
      <p class="meta" id="po-meta">
        {body.status === "ok" ? `${body.items.length.toLocaleString("en")} rows. ` : ""}
        {sourceText(shown)} {feed.status === "live"
          ? "Up to date: it redraws by itself after the next module run."
          : "Live updates are off: reload the page to check for newer data."}
      </p>
      {me.role === "admin" && <ModuleRun projectId={projectId} moduleId={po.moduleId} />}
      {model && <Chart model={model} title={shown.detail.label} order={order} onOrder={setOrder} />}
      {body.status === "ok"
        ? (
          <DataTable
            items={body.items}
            values={values}
            labels={labels}
            title={shown.detail.label}
            seriesColumn={display.series}
          />
        )
        : (
          <p>
            {body.status === "too_many_items"
              ? `Too many rows (more than ${body.limit.toLocaleString("en")}): narrow the filters.`
              : "No data for this presentation object."}
          </p>
        )}
    </section>
  );
}
