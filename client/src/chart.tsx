/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * A chart (uPlot, canvas): grouped bars over categories, or lines over months, one panel
 * per measure (each with its own y axis, titled with the measure and its unit). Ticks are
 * short ("1.2M"), the axis is as wide as its longest tick, months are calendar months.
 *
 * For assistive technology the chart is an image with a one-sentence summary
 * (`aria-label`), and its data can be shown as a table; it can be saved as a PNG (the
 * panels with their titles and legends). `data-rendered` is set once every panel has drawn.
 *
 * @module
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import {
  type BarOrder,
  type ChartModel,
  type ChartPanel,
  chartSummary,
  monthOfIndex,
} from "./chart_data.ts";
import { download, fileNameOf } from "./download.ts";
import { compactNumber, formatNumber } from "./labels.ts";

const COLORS = ["#3a6f95", "#d1495b", "#2a9d8f", "#c48a00", "#8d6a9f", "#264653", "#e07a32"];

/** Height of one panel's plot, in CSS pixels. */
const PLOT_HEIGHT = 260;

/** Bars of each series side by side within a category's slot. */
function groupedBars(groups: number, log: boolean): uPlot.Series.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    const fill = new Path2D();
    const slot = Math.abs(u.valToPos(1, "x", true) - u.valToPos(0, "x", true)) * 0.8;
    const width = slot / groups;
    // On a log scale bars stand on the bottom of the axis (there is no 0).
    const base = u.valToPos(log ? u.scales.y.min ?? 1 : 0, "y", true);
    for (let i = idx0; i <= idx1; i++) {
      const value = ys[i];
      if (value === null || value === undefined || (log && value <= 0)) continue;
      const left = u.valToPos(xs[i], "x", true) - slot / 2 + (seriesIdx - 1) * width;
      const top = u.valToPos(value, "y", true);
      fill.rect(left, Math.min(top, base), Math.max(1, width * 0.9), Math.abs(base - top));
    }
    return { stroke: fill, fill };
  };
}

/** Every `step`-th index, so labels of about `labelPx` fit in `widthPx`. */
function stepFor(count: number, widthPx: number, labelPx: number): number {
  return Math.max(1, Math.ceil((count * labelPx) / Math.max(widthPx, 1)));
}

/** Whether a panel's positive values span so much that small ones vanish on a linear axis. */
export function wideRange(panel: ChartPanel): boolean {
  const values = panel.series.flatMap((s) => s.values).filter((v): v is number => v !== null);
  const positive = values.filter((v) => v > 0);
  return positive.length > 1 && Math.max(...positive) / Math.min(...positive) >= 30;
}

function plotOptions(
  model: ChartModel,
  panel: ChartPanel,
  width: number,
  log: boolean,
  host: HTMLElement,
  onDrawn: (u: uPlot) => void,
): uPlot.Options {
  const bars = model.kind === "bar";
  // Slanted category labels only when they do not fit side by side.
  const longest = Math.min(22, Math.max(0, ...model.labels.map((l) => l.length))) * 7;
  const many = bars && longest > (width - 80) / Math.max(model.labels.length, 1);
  const xLabel = (v: number) =>
    bars ? model.labels[Math.round(v)] ?? "" : monthOfIndex(Math.round(v));
  const first = model.xs[0] ?? 0;
  const last = model.xs[model.xs.length - 1] ?? 0;
  return {
    width,
    height: PLOT_HEIGHT + (many ? Math.round(longest * 0.72) - 10 : 0),
    legend: { show: true, live: true },
    // Room on the right for the last slanted category label.
    padding: [8, many ? 56 : bars ? 16 : 32, 0, 0],
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: bars
        ? { time: false, range: [-0.5, model.labels.length - 0.5] }
        : { time: false, range: first === last ? [first - 1, last + 1] : [first, last] },
      y: log ? { distr: 3, log: 10 } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
    },
    axes: [
      {
        splits: (u) => {
          const plotWidth = u.bbox.width / (devicePixelRatio || 1);
          const needed = stepFor(model.xs.length, plotWidth, bars ? (many ? 16 : 90) : 72);
          if (bars) return model.xs.filter((_, i) => i % needed === 0);
          // Months: steps of the calendar (every 3rd month is Jan, Apr, Jul, Oct; every 12th
          // a January).
          const step = [1, 2, 3, 4, 6, 12].find((s) => s >= needed) ??
            12 * Math.ceil(needed / 12);
          const ticks = model.xs.filter((x) => x % step === 0);
          return ticks.length > 0 ? ticks : model.xs.slice(0, 1);
        },
        values: (_u, splits) => {
          const texts = splits.map((v) => {
            const text = xLabel(v);
            return text.length > 22 ? `${text.slice(0, 21)}…` : text;
          });
          host.dataset.xTicks = JSON.stringify(texts);
          return texts;
        },
        rotate: many ? -45 : 0,
        size: many ? Math.round(longest * 0.72) + 24 : 40,
      },
      {
        values: (_u, splits) =>
          splits.map((v) => {
            if (!log) return compactNumber(v, panel.format);
            // Log axes: label the 1, 2, 5 of each decade (the other lines stay unlabelled).
            const mantissa = Math.round(v / 10 ** Math.floor(Math.log10(v)));
            return [1, 2, 5].includes(mantissa) ? compactNumber(v, panel.format) : "";
          }),
        size: (u, values) => {
          if (!values) return 50;
          u.ctx.font = "12px system-ui, sans-serif";
          const widest = Math.max(...values.map((v) => u.ctx.measureText(v).width));
          return Math.ceil(widest / (devicePixelRatio || 1)) + 24;
        },
      },
    ],
    series: [
      { label: model.xTitle, value: (_u, v) => (v === null ? "–" : xLabel(v)) },
      ...panel.series.map((series, i) => ({
        label: series.label,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? COLORS[i % COLORS.length] : undefined,
        width: bars ? 0 : 2,
        paths: bars ? groupedBars(panel.series.length, log) : undefined,
        points: { show: !bars },
        value: (_u: uPlot, v: number | null) => formatNumber(v, panel.format),
      })),
    ],
    hooks: { draw: [onDrawn] },
  };
}

/** One panel: its axis title and its plot. */
function Panel(
  { model, panel, index, log, onDrawn, register }: {
    model: ChartModel;
    panel: ChartPanel;
    index: number;
    /** A logarithmic y axis (values of 0 and below are not drawn). */
    log: boolean;
    /** Called at each draw, with the panel's host (`data-drawn` is set). */
    onDrawn: (host: HTMLElement) => void;
    register: (index: number, plot: uPlot | undefined) => void;
  },
) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current!;
    delete element.dataset.drawn;
    delete element.closest<HTMLElement>(".chart")?.dataset.rendered;
    const width = Math.max(200, element.clientWidth || 640);
    const plot = new uPlot(
      plotOptions(model, panel, width, log, element, (u) => {
        // The top of the y scale: each panel's axis fits its own measure.
        element.dataset.yMax = String(u.scales.y.max);
        element.dataset.drawn = "true";
        onDrawn(element);
      }),
      [
        model.xs,
        ...panel.series.map((series) =>
          log ? series.values.map((v) => (v !== null && v > 0 ? v : null)) : series.values
        ),
      ] as uPlot.AlignedData,
      element,
    );
    register(index, plot);
    const resize = new ResizeObserver(() => {
      const next = Math.max(200, element.clientWidth);
      if (Math.abs(next - plot.width) > 4) plot.setSize({ width: next, height: plot.height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      register(index, undefined);
      plot.destroy();
    };
  }, [model, panel, log]);
  return (
    <div class="panel">
      <p class="axis-title" data-panel={index}>
        {panel.title} <span class="unit">({panel.unit}{log ? ", logarithmic scale" : ""})</span>
      </p>
      <div class="plot" ref={host} />
    </div>
  );
}

/** The chart of `model`; `title` names the PNG. */
export function Chart(
  { model, title, order, onOrder }: {
    model: ChartModel;
    title: string;
    /** Bars: the current order and how to change it (no toggle without it). */
    order?: BarOrder;
    onOrder?: (order: BarOrder) => void;
  },
) {
  const root = useRef<HTMLDivElement>(null);
  const plots = useRef<(uPlot | undefined)[]>([]);
  const [showTable, setShowTable] = useState(false);
  const canLog = useMemo(() => model.panels.some(wideRange), [model]);
  const [log, setLog] = useState(false);
  const summary = useMemo(() => chartSummary(model, formatNumber), [model]);
  const tableId = useMemo(() => `chart-data-${Math.random().toString(36).slice(2, 8)}`, []);
  const onDrawn = (host: HTMLElement) => {
    const chart = host.closest<HTMLElement>(".chart");
    if (chart && chart.querySelectorAll(".plot[data-drawn]").length >= model.panels.length) {
      chart.dataset.rendered = "true";
    }
  };
  const savePng = async () => {
    const blob = await chartPng(title, model, plots.current.filter((p): p is uPlot => !!p));
    if (blob) download(blob, fileNameOf(title, "png"));
  };
  return (
    <div class="chart-block">
      <div class="chart-tools">
        {model.kind === "bar" && onOrder && (
          <label>
            Order bars{" "}
            <select
              value={order}
              onChange={(event) =>
                onOrder((event.currentTarget as HTMLSelectElement).value as BarOrder)}
            >
              <option value="value">largest first</option>
              <option value="name">by name</option>
            </select>
          </label>
        )}
        {canLog && (
          <label>
            Scale{" "}
            <select
              class="chart-scale"
              value={log ? "log" : "linear"}
              onChange={(event) =>
                setLog((event.currentTarget as HTMLSelectElement).value === "log")}
            >
              <option value="linear">linear</option>
              <option value="log">logarithmic</option>
            </select>
          </label>
        )}
        <button
          type="button"
          class="secondary"
          aria-expanded={showTable}
          aria-controls={tableId}
          onClick={() => setShowTable(!showTable)}
        >
          {showTable ? "Hide the chart's data" : "Show the chart's data"}
        </button>
        <button type="button" class="secondary save-png" onClick={savePng}>
          Save chart as PNG
        </button>
      </div>
      <div
        class="chart"
        ref={root}
        role="img"
        aria-label={summary}
        data-kind={model.kind}
        data-panels={model.panels.length}
      >
        {model.panels.map((panel, i) => (
          <Panel
            key={i}
            model={model}
            panel={panel}
            index={i}
            log={log && canLog}
            onDrawn={onDrawn}
            register={(index, plot) => plots.current[index] = plot}
          />
        ))}
      </div>
      {model.omitted > 0 && (
        <p class="hint">
          The chart shows the first {model.labels.length} of {model.labels.length + model.omitted}
          {" "}
          {model.xTitle} values; the table below has every row.
        </p>
      )}
      {showTable && <ChartTable id={tableId} model={model} />}
    </div>
  );
}

/** The chart's data as a table (its text alternative). */
function ChartTable({ id, model }: { id: string; model: ChartModel }) {
  const columns = model.panels.flatMap((panel) =>
    panel.series.map((series) => ({
      header: model.panels.length > 1 || panel.series.length === 1
        ? panel.series.length === 1 ? series.label : `${panel.title}: ${series.label}`
        : series.label,
      values: series.values,
      format: panel.format,
    }))
  );
  return (
    <div
      class="table-scroll chart-table"
      id={id}
      tabIndex={0}
      role="region"
      aria-label="The chart's data"
    >
      <table>
        <caption>The chart's data</caption>
        <thead>
          <tr>
            <th scope="col">{model.xTitle}</th>
            {columns.map((c) => <th scope="col" key={c.header}>{c.header}</th>)}
          </tr>
        </thead>
        <tbody>
          {model.labels.map((label, i) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              {columns.map((c) => (
                <td class="num" key={c.header}>{formatNumber(c.values[i], c.format)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The chart as one PNG: its title, then each panel's axis title, plot and legend, on white.
 */
function chartPng(title: string, model: ChartModel, plots: uPlot[]): Promise<Blob | null> {
  const ratio = devicePixelRatio || 1;
  const pad = 12 * ratio;
  const line = 20 * ratio;
  const width = Math.max(...plots.map((p) => p.ctx.canvas.width), 400 * ratio);
  const legendRows = (panel: ChartPanel) => Math.ceil(panel.series.length / 3);
  const height = pad + line * 1.5 +
    plots.reduce(
      (sum, plot, i) => sum + line + plot.ctx.canvas.height + legendRows(model.panels[i]) * line,
      0,
    ) + pad;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#1d2433";
  ctx.textBaseline = "top";
  ctx.font = `600 ${16 * ratio}px system-ui, sans-serif`;
  ctx.fillText(title, pad, pad);
  let y = pad + line * 1.5;
  plots.forEach((plot, i) => {
    const panel = model.panels[i];
    ctx.font = `${13 * ratio}px system-ui, sans-serif`;
    ctx.fillStyle = "#1d2433";
    ctx.fillText(`${panel.title} (${panel.unit})`, pad, y);
    y += line;
    ctx.drawImage(plot.ctx.canvas, 0, y);
    y += plot.ctx.canvas.height;
    panel.series.forEach((series, j) => {
      const x = pad + (j % 3) * (width - 2 * pad) / 3;
      const rowY = y + Math.floor(j / 3) * line + 4 * ratio;
      ctx.fillStyle = COLORS[j % COLORS.length];
      ctx.fillRect(x, rowY, 12 * ratio, 12 * ratio);
      ctx.fillStyle = "#1d2433";
      ctx.fillText(series.label, x + 18 * ratio, rowY);
    });
    y += legendRows(panel) * line;
  });
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}
