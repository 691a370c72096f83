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
import { useEffect, useState } from "preact/hooks";
import { apiGet, seg } from "./api.ts";
import type { CacheSource } from "./browser_cache.ts";
import { Chart } from "./chart.tsx";
import { chartData, type Display, type Item } from "./chart_data.ts";
import { useFeed, useServices } from "./context.ts";
import { Link } from "./link.tsx";
import { projectPath } from "./routes.ts";
import { poDetailVersion, poItemsVersion, poListVersion } from "./versions.ts";

interface Project {
  projectId: string;
  label: string;
}

interface PoSummary {
  poId: string;
  label: string;
  metricId: string;
  moduleId: string;
  lastUpdated: string;
}

interface PoDetail extends PoSummary {
  config: { display?: Display };
}

type ItemsBody =
  | { status: "ok"; items: Item[] }
  | { status: "too_many_items"; limit: number }
  | { status: "no_data_available" };

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
  const [projects, setProjects] = useState<Project[] | string>();
  useEffect(() => {
    apiGet<{ items: Project[] }>("/api/projects").then(
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
  const { cache } = useServices();
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
        apiGet<{ items: PoSummary[] }>(`/api/projects/${seg(projectId)}/presentation_objects`)
          .then(({ body }) => body.items),
    ).then(
      ({ value }) => current && setList(value),
      (error) => current && setList(`Could not load: ${error.message}`),
    );
    return () => current = false;
  }, [projectId, version, feed.status === "connecting", feed.invalidations]);
  const open = Array.isArray(list) ? list.find((po) => po.poId === poId) : undefined;
  return (
    <div class="project">
      <section class="po-list" aria-labelledby="po-list-title">
        <h2 id="po-list-title">Presentation objects</h2>
        {typeof list === "string" && <p class="error">{list}</p>}
        {list === undefined && <p class="loading">Loading…</p>}
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

/** One presentation object: its chart (unless a table) and its rows. */
function PoView({ projectId, po }: { projectId: string; po: PoSummary }) {
  const { cache } = useServices();
  const feed = useFeed();
  const itemsVersion = poItemsVersion(feed.state, projectId, po);
  const detailVersion = poDetailVersion(feed.state, projectId, po.poId);
  const [shown, setShown] = useState<Shown | string>();
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

  if (typeof shown === "string") {
    return (
      <section class="po-view">
        <h2>{po.label}</h2>
        <p class="error">{shown}</p>
      </section>
    );
  }
  if (!shown) {
    return (
      <section class="po-view">
        <h2>{po.label}</h2>
        <p class="loading">Loading…</p>
      </section>
    );
  }
  const body = shown.items.body;
  const display = shown.detail.config.display ?? {};
  const data = body.status === "ok" ? chartData(display, body.items) : undefined;
  const from = shown.source === "network"
    ? `the server (X-Cache: ${shown.items.xCache ?? "-"})`
    : shown.source === "indexeddb"
    ? "the browser cache (IndexedDB)"
    : "the browser cache (memory)";
  return (
    <section
      class="po-view"
      data-po-id={po.poId}
      data-version={shown.version}
      data-source={shown.source}
    >
      <h2>{shown.detail.label}</h2>
      <p class="meta" id="po-meta">
        {body.status === "ok" ? `${body.items.length} items` : body.status} from {from} in{" "}
        {shown.ms} ms · version {shown.version}
      </p>
      {data && <Chart data={data} />}
      {body.status === "ok" ? <ItemsTable items={body.items} /> : (
        <p>
          {body.status === "too_many_items"
            ? `Too many items (more than ${body.limit}): narrow the filters.`
            : "No data for this presentation object."}
        </p>
      )}
    </section>
  );
}

function ItemsTable({ items }: { items: Item[] }) {
  if (items.length === 0) return <p>No items.</p>;
  const columns = Object.keys(items[0]);
  const shown = items.slice(0, 200);
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>{columns.map((column) => <th key={column}>{column}</th>)}</tr>
        </thead>
        <tbody>
          {shown.map((item, i) => (
            <tr key={i}>
              {columns.map((column) => {
                const value = item[column];
                const numeric = typeof value === "number" && column !== "period_id";
                return (
                  <td key={column} class={numeric ? "num" : undefined}>
                    {numeric ? value.toLocaleString("en") : value}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {items.length > shown.length && <p>… {items.length - shown.length} more rows</p>}
    </div>
  );
}
