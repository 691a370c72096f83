/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The instance overview (`GET /api/instance/overview`), one value per server window, kept
 * fresh by itself: it asks again just after each window boundary plus the server's refresh
 * time, and, if it is answered an older window's value (`X-Cache: STALE`), says so ("the
 * previous 5 minutes' figures, refreshing") and asks again until it holds the new window's
 * (see `refresh.ts`). Not kept in the browser cache: it has no version.
 *
 * @module
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiGet } from "./api.ts";
import { Chart } from "./chart.tsx";
import type { ChartModel } from "./chart_data.ts";
import { useServices, useTitle } from "./context.ts";
import { formatNumber, monthIndex, valueText } from "./labels.ts";
import { nextOverviewFetch } from "./refresh.ts";
import type { InstanceOverviewAnswer as Overview } from "../../server/wire.ts";

interface Loaded {
  overview: Overview;
  xCache: string | null;
  /** Whether this is the current window's value. */
  current: boolean;
  nextBoundaryMs: number;
  windowMs: number;
  nextFetchAt: number;
  loads: number;
}

const time = (ms: number) =>
  new Date(ms).toLocaleTimeString("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

/** "5 minutes", "3 seconds". */
function durationText(ms: number): string {
  if (!Number.isFinite(ms)) return "few minutes";
  const s = Math.round(ms / 1000);
  if (s % 60 === 0 && s >= 60) return `${s / 60} minute${s === 60 ? "" : "s"}`;
  return `${s} second${s === 1 ? "" : "s"}`;
}

/** `/overview`. */
export function OverviewPage() {
  const { labels } = useServices();
  useTitle("Overview");
  const [loaded, setLoaded] = useState<Loaded>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let loads = 0;
    let notCurrent = 0;
    const load = async () => {
      try {
        const { body, headers } = await apiGet<Overview>("/api/instance/overview");
        if (stopped) return;
        const refreshed = headers.get("x-window-refreshed-at") ?? body.computedAt;
        const refreshText = headers.get("x-refresh-ms");
        const answer = {
          xCache: headers.get("x-cache"),
          computedAtMs: Date.parse(refreshed),
          nextBoundaryMs: Date.parse(headers.get("x-window-next-boundary") ?? ""),
          windowMs: Number(headers.get("x-window-ms") ?? NaN),
          refreshMs: refreshText === null ? null : Number(refreshText),
        };
        const next = nextOverviewFetch(answer, Date.now(), notCurrent);
        notCurrent = next.current ? 0 : notCurrent + 1;
        setLoaded({
          overview: body,
          xCache: answer.xCache,
          current: next.current,
          nextBoundaryMs: answer.nextBoundaryMs,
          windowMs: answer.windowMs,
          nextFetchAt: Date.now() + next.delayMs,
          loads: ++loads,
        });
        setError(undefined);
        timer = setTimeout(load, next.delayMs);
      } catch (e) {
        if (stopped) return;
        setError((e as Error).message);
        timer = setTimeout(load, 30_000);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  const reporting = useMemo((): ChartModel | undefined => {
    const months = loaded?.overview.reportingByMonth ?? [];
    if (months.length === 0) return undefined;
    return {
      kind: "timeseries",
      xTitle: labels.columns.period_id ?? "Month",
      labels: months.map((m) => valueText(labels, "period_id", m.periodId)),
      xs: months.map((m) => monthIndex(m.periodId)),
      panels: [{
        title: "Facilities reporting",
        unit: "facilities with any report in the month",
        format: "integer",
        series: [{
          label: "Facilities reporting",
          values: months.map((m) => m.facilitiesReporting),
        }],
      }],
      omitted: 0,
    };
  }, [loaded?.overview, labels]);
  if (!loaded) {
    return error ? <p class="error">Could not load: {error}</p> : <p class="loading">Loading…</p>;
  }
  const { overview } = loaded;
  const months = overview.reportingByMonth;
  const latest = overview.latestPeriod === null
    ? "no data yet"
    : valueText(labels, "period_id", overview.latestPeriod);
  const window = durationText(loaded.windowMs);
  return (
    <section
      class="overview"
      data-loads={loaded.loads}
      data-x-cache={loaded.xCache ?? ""}
      data-current={String(loaded.current)}
      data-computed-at={overview.computedAt}
      data-next-boundary={Number.isFinite(loaded.nextBoundaryMs)
        ? new Date(loaded.nextBoundaryMs).toISOString()
        : ""}
    >
      <h2>Instance overview</h2>
      <p class="as-of" id="overview-as-of">
        Data as of {time(Date.parse(overview.computedAt))}
        {months.length > 0
          ? `, periods ${valueText(labels, "period_id", months[0].periodId)}–${
            valueText(labels, "period_id", months[months.length - 1].periodId)
          }`
          : ""}. {overview.facilities.toLocaleString("en")} facilities; latest month {latest}.
      </p>
      <p class="meta" id="overview-meta" role="status">
        {loaded.current
          ? `Current: the server recomputes these figures every ${window}; the next update appears shortly after ${
            time(loaded.nextBoundaryMs)
          }.`
          : `These are the previous ${window}' figures: the server is recomputing them, and they update here by themselves (next check at ${
            time(loaded.nextFetchAt)
          }).`}
        {error ? ` The last check failed (${error}); retrying.` : ""}
      </p>
      {reporting && <Chart model={reporting} title="Facilities reporting by month" />}
      <div class="columns">
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Totals">
          <table>
            <caption>Totals, {latest}</caption>
            <thead>
              <tr>
                <th scope="col">{labels.columns.indicator_id ?? "Indicator"}</th>
                <th scope="col" class="num">Total services</th>
              </tr>
            </thead>
            <tbody>
              {overview.latestTotals.map((row) => (
                <tr key={row.indicatorId}>
                  <td>{labels.indicators[row.indicatorId] ?? row.label}</td>
                  <td class="num">{formatNumber(row.total, "integer")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Reporting completeness">
          <table>
            <caption>
              Reporting completeness by {labels.columns.admin_area_3}, last 12 months
            </caption>
            <thead>
              <tr>
                <th scope="col">{labels.columns.admin_area_3 ?? "LGA"}</th>
                <th scope="col" class="num">Facilities</th>
                <th scope="col" class="num">Complete</th>
              </tr>
            </thead>
            <tbody>
              {overview.completenessByLga.map((row) => (
                <tr key={row.adminArea3}>
                  <td>{row.adminArea3}</td>
                  <td class="num">{formatNumber(row.facilities, "integer")}</td>
                  <td class="num">{formatNumber(row.completeness, "percent")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
