/**
 * The server-throughput benchmark's report (`server_bench.ts`): one Markdown table per
 * presentation object, with each target's ratio to the bare route and its CPU per request,
 * the Server-Timing line, and the occupied-pool rows.
 *
 * @module
 */
import type { ServerCase } from "./server_bench.ts";
import { markdownTable, ms } from "./stats.ts";
import type { WrkResult } from "./wrk.ts";

/** Renders one table per presentation object, with the ratio to the bare route. */
export function formatServer(cases: ServerCase[], connections = 64, durationS = 5): string {
  const out: string[] = [];
  for (const c of cases) {
    const bare = c.rows[1];
    out.push(
      `### \`${c.poId}\` items (${(c.bodyBytes / 1024).toFixed(1)} KiB body), ` +
        `wrk -t1 -c${connections} -d${durationS}s\n`,
    );
    out.push(markdownTable([
      [
        "target",
        "work per request",
        "requests/s",
        "p50",
        "p99",
        "vs bare GET",
        "CPU per request: its process + Redis",
        "errors",
      ],
      ...c.rows.map((r) => [
        r.target,
        r.path,
        Math.round(r.requestsPerS).toLocaleString("en-US"),
        ms(r.p50Ms),
        ms(r.p99Ms),
        `${(r.requestsPerS / bare.requestsPerS).toFixed(2)}x`,
        r.cpuUs ? `${r.cpuUs.app.toFixed(1)} + ${r.cpuUs.redis.toFixed(1)} µs` : "-",
        r.errors,
      ]),
    ]));
    if (c.timing) {
      const t = c.timing;
      const d = (x: number) => `${x.toFixed(1)} ms`; // the header's resolution
      out.push(
        `\nServer-Timing under the same load (${t.responses.toLocaleString("en-US")} responses, ` +
          `${t.hits === t.responses ? "all" : t.hits.toLocaleString("en-US")} X-Cache: HIT): ` +
          `cache p50 ${d(t.cacheP50)}, p99 ${d(t.cacheP99)}; ` +
          `db (the version query, pool wait included) p50 ${d(t.dbP50)}, p99 ${d(t.dbP99)}.`,
      );
    }
    if (c.occupied) {
      const o = c.occupied;
      out.push(
        `\nHits while ${o.cold} cold computations hold the server's pool (${o.coldWaiting} ` +
          `backends waiting on a lock on \`dataset_hmis\`), wrk -t1 -c16 -d${durationS}s, ` +
          `${o.rounds} interleaved rounds, the run with the median p99 of each:\n`,
      );
      out.push(markdownTable([
        ["hits on the warm items", "requests/s", "p50", "p99", "p99 vs idle", "errors"],
        ...[["idle", o.idle], [`${o.cold} cold computations in flight`, o.occupied]].map((
          [label, r],
        ) => {
          const w = r as WrkResult;
          return [
            label as string,
            Math.round(w.requestsPerS).toLocaleString("en-US"),
            ms(w.p50Ms),
            ms(w.p99Ms),
            `${(w.p99Ms / o.idle.p99Ms).toFixed(2)}x`,
            w.errors,
          ];
        }),
        ...(o.queryPath
          ? [["idle", o.queryPath.idle], [
            `${o.cold} cold computations in flight`,
            o.queryPath.occupied,
          ]]
            .map(([label, r]) => {
              const w = r as WrkResult;
              const none = `none answered in ${durationS} s`;
              return [
                `VERSION_TABLE=false (query per request), ${label as string}`,
                Math.round(w.requestsPerS).toLocaleString("en-US"),
                w.requests > 0 ? ms(w.p50Ms) : none,
                w.requests > 0 ? ms(w.p99Ms) : none,
                w.requests > 0 ? `${(w.p99Ms / o.queryPath!.idle.p99Ms).toFixed(2)}x` : "-",
                w.errors,
              ];
            })
          : []),
      ]));
    }
    out.push("");
  }
  return out.join("\n");
}
