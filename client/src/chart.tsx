/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * A chart (uPlot, canvas): grouped bars over categories, or lines over months. Drawn again
 * whenever its data changes; `data-rendered` is set once uPlot has drawn.
 *
 * @module
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { ChartData } from "./chart_data.ts";

const COLORS = ["#457b9d", "#e76f51", "#2a9d8f", "#e9c46a", "#8d6a9f", "#264653", "#f4a261"];

/** Bars of each series side by side within a category's slot. */
function groupedBars(groups: number): uPlot.Series.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    const fill = new Path2D();
    const slot = Math.abs(u.valToPos(1, "x", true) - u.valToPos(0, "x", true)) * 0.8;
    const width = slot / groups;
    const base = u.valToPos(0, "y", true);
    for (let i = idx0; i <= idx1; i++) {
      const value = ys[i];
      if (value === null || value === undefined) continue;
      const left = u.valToPos(xs[i], "x", true) - slot / 2 + (seriesIdx - 1) * width;
      const top = u.valToPos(value, "y", true);
      fill.rect(left, Math.min(top, base), Math.max(1, width * 0.9), Math.abs(base - top));
    }
    return { stroke: fill, fill };
  };
}

function options(data: ChartData, width: number, onDrawn: () => void): uPlot.Options {
  const bars = data.kind === "bar";
  return {
    width,
    height: 320,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: bars ? { time: false, range: [-0.5, data.labels.length - 0.5] } : { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
    },
    axes: [
      bars
        ? {
          splits: () => data.xs,
          values: (_u, splits) => splits.map((v) => data.labels[v]?.slice(0, 18) ?? ""),
          rotate: data.labels.length > 8 ? -40 : 0,
          size: data.labels.length > 8 ? 90 : 40,
        }
        : {},
      { size: 70 },
    ],
    series: [
      bars
        ? { label: data.xLabel, value: (_u, v) => data.labels[v] ?? "" }
        : { label: data.xLabel },
      ...data.series.map((series, i) => ({
        label: series.label,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? COLORS[i % COLORS.length] : undefined,
        width: bars ? 0 : 2,
        paths: bars ? groupedBars(data.series.length) : undefined,
        points: { show: !bars },
      })),
    ],
    hooks: { draw: [onDrawn] },
  };
}

/** The chart of `data`. */
export function Chart({ data }: { data: ChartData }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current!;
    delete element.dataset.rendered;
    const width = Math.max(320, element.clientWidth || 640);
    const plot = new uPlot(
      options(data, width, () => element.dataset.rendered = "true"),
      [data.xs, ...data.series.map((series) => series.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() => {
      const next = Math.max(320, element.clientWidth);
      if (Math.abs(next - plot.width) > 4) plot.setSize({ width: next, height: 320 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data]);
  return <div class="chart" ref={host} data-kind={data.kind} />;
}
