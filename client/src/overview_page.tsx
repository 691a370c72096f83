/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The instance overview (`GET /api/instance/overview`), refreshed by itself just after
 * each of the server's window boundaries (`X-Window-Next-Boundary` plus a lag), when the
 * fleet has already refreshed the value. Not kept in the browser cache: it has no version.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { apiGet } from "./api.ts";
import { Chart } from "./chart.tsx";
import { periodToEpochS } from "./chart_data.ts";
import { refreshDelayMs } from "./refresh.ts";

interface Overview {
  latestPeriod: number | null;
  facilities: number;
  reportingByMonth: { periodId: number; facilitiesReporting: number }[];
  completenessByLga: { adminArea3: string; facilities: number; completeness: number }[];
  latestTotals: { indicatorId: string; label: string; total: number }[];
  computedAt: string;
}

interface Loaded {
  overview: Overview;
  xCache: string | null;
  nextBoundary: string | null;
  nextRefreshAt: number;
  loads: number;
}

/** `/overview`. */
export function OverviewPage() {
  const [loaded, setLoaded] = useState<Loaded>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let loads = 0;
    const load = async () => {
      try {
        const { body, headers } = await apiGet<Overview>("/api/instance/overview");
        if (stopped) return;
        const nextBoundary = headers.get("x-window-next-boundary");
        const delay = refreshDelayMs(nextBoundary, Date.now());
        setLoaded({
          overview: body,
          xCache: headers.get("x-cache"),
          nextBoundary,
          nextRefreshAt: Date.now() + delay,
          loads: ++loads,
        });
        setError(undefined);
        timer = setTimeout(load, delay);
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
  if (!loaded) {
    return error ? <p class="error">Could not load: {error}</p> : <p class="loading">Loading…</p>;
  }
  const { overview } = loaded;
  const reporting = {
    kind: "timeseries" as const,
    xLabel: "month",
    labels: overview.reportingByMonth.map((m) => String(m.periodId)),
    xs: overview.reportingByMonth.map((m) => periodToEpochS(m.periodId)),
    series: [{
      label: "facilities reporting",
      values: overview.reportingByMonth.map((m) => m.facilitiesReporting),
    }],
  };
  return (
    <section
      class="overview"
      data-loads={loaded.loads}
      data-x-cache={loaded.xCache ?? ""}
      data-next-boundary={loaded.nextBoundary ?? ""}
    >
      <h2>Instance overview</h2>
      <p class="meta" id="overview-meta">
        {overview.facilities.toLocaleString("en")} facilities · latest period{" "}
        {overview.latestPeriod ?? "none"} · computed{" "}
        {new Date(overview.computedAt).toLocaleTimeString()} (X-Cache:{" "}
        {loaded.xCache}) · next refresh at{" "}
        {new Date(loaded.nextRefreshAt).toLocaleTimeString()}, just after the server's window
        boundary{error ? ` · last refresh failed: ${error}` : ""}
      </p>
      {reporting.xs.length > 0 && <Chart data={reporting} />}
      <div class="columns">
        <table>
          <caption>Totals, {overview.latestPeriod}</caption>
          <thead>
            <tr>
              <th>Indicator</th>
              <th>Total</th>
            </tr>
          </thead>
          <tbody>
            {overview.latestTotals.map((row) => (
              <tr key={row.indicatorId}>
                <td>{row.label}</td>
                <td class="num">{row.total.toLocaleString("en")}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table>
          <caption>Reporting completeness by LGA, last 12 months</caption>
          <thead>
            <tr>
              <th>LGA</th>
              <th>Facilities</th>
              <th>Complete</th>
            </tr>
          </thead>
          <tbody>
            {overview.completenessByLga.map((row) => (
              <tr key={row.adminArea3}>
                <td>{row.adminArea3}</td>
                <td class="num">{row.facilities}</td>
                <td class="num">{(row.completeness * 100).toFixed(1)} %</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
