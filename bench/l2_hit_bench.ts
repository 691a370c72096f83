/**
 * L2 hit latency and throughput: every library of `peers.ts` reads a warm key from the same
 * redis-server (no memory tier anywhere), at 1 and 64 concurrent callers, for a 1 KB and a
 * 50 KB JSON value. At 64 callers every caller asks for the same key over and over (the
 * issue's case; libraries with in-process single flight serve concurrent callers from one
 * read), and, to show the cost of one read, for 64 distinct keys (one per caller).
 *
 * Targets (issue 7): p50 at most 1.15x raw GET + JSON.parse; throughput at least the best
 * peer's.
 *
 * @module
 */
import { createPeer, type Peer, PEER_IDS, PEER_LABELS, type PeerId } from "./peers.ts";
import { itemsPayload } from "./cache_get_bench.ts";
import { markdownTable, ms, quantile } from "./stats.ts";

/** One library in one configuration. */
export interface L2Row {
  peer: PeerId;
  name: string;
  p50Ms: number;
  p99Ms: number;
  hitsPerS: number;
}

/** One configuration: a value size and a caller pattern. */
export interface L2Case {
  valueBytes: number;
  callers: number;
  /** Every caller reads the same key (`true`), or caller i reads key i. */
  sameKey: boolean;
  rows: L2Row[];
}

/** Options of {@linkcode benchL2Hit}. */
export interface L2Options {
  /** Value sizes in bytes. @default {[1024, 51200]} */
  sizes?: number[];
  /** Interleaved rounds per configuration. @default {6} */
  rounds?: number;
  /** Duration of one library's turn in a round, in ms. @default {300} */
  turnMs?: number;
  /** Libraries. @default {all of PEER_IDS} */
  peers?: readonly PeerId[];
}

/** Runs `callers` loops of `read` for `durationMs`; returns every call's latency. */
async function drive(
  peer: Peer,
  callers: number,
  sameKey: boolean,
  durationMs: number,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(Array.from({ length: callers }, async (_, caller) => {
    const index = sameKey ? 0 : caller;
    while (performance.now() < until) {
      const t0 = performance.now();
      await peer.read(index);
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, elapsedMs: performance.now() - started };
}

/**
 * Measures every library at every size and caller pattern, interleaving the libraries in
 * rounds (rotated each round) so machine noise hits all alike.
 */
export async function benchL2Hit(redisUrl: string, options: L2Options = {}): Promise<L2Case[]> {
  const sizes = options.sizes ?? [1024, 50 * 1024];
  const rounds = options.rounds ?? 6;
  const turnMs = options.turnMs ?? 300;
  const ids = options.peers ?? PEER_IDS;
  const patterns = [
    { callers: 1, sameKey: true },
    { callers: 64, sameKey: true },
    { callers: 64, sameKey: false },
  ];
  const cases: L2Case[] = [];
  for (const valueBytes of sizes) {
    const payload = itemsPayload(valueBytes);
    const peers: Peer[] = [];
    try {
      for (const id of ids) peers.push(await createPeer(id, redisUrl, payload, 64));
      for (const { callers, sameKey } of patterns) {
        const samples = new Map<PeerId, { latencies: number[]; calls: number; ms: number }>(
          peers.map((p) => [p.id, { latencies: [], calls: 0, ms: 0 }]),
        );
        for (const peer of peers) await drive(peer, callers, sameKey, 100); // warm-up
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < peers.length; i++) {
            const peer = peers[(i + round) % peers.length];
            const { latencies, elapsedMs } = await drive(peer, callers, sameKey, turnMs);
            const s = samples.get(peer.id)!;
            for (const x of latencies) s.latencies.push(x);
            s.calls += latencies.length;
            s.ms += elapsedMs;
          }
        }
        cases.push({
          valueBytes,
          callers,
          sameKey,
          rows: peers.map((peer) => {
            const s = samples.get(peer.id)!;
            return {
              peer: peer.id,
              name: PEER_LABELS[peer.id],
              p50Ms: quantile(s.latencies, 0.5),
              p99Ms: quantile(s.latencies, 0.99),
              hitsPerS: s.calls / (s.ms / 1000),
            };
          }),
        });
      }
    } finally {
      for (const peer of peers) await peer.close().catch(() => {});
    }
  }
  return cases;
}

/** The title of one case, e.g. `50 KB, 64 callers, one key`. */
export function l2CaseTitle(c: L2Case): string {
  const size = c.valueBytes >= 1024 ? `${Math.round(c.valueBytes / 1024)} KB` : `${c.valueBytes} B`;
  const who = c.callers === 1
    ? "1 caller"
    : `${c.callers} callers, ${c.sameKey ? "one key" : `${c.callers} keys`}`;
  return `${size}, ${who}`;
}

/** Renders the cases as Markdown: one table per case, ratios against raw and the best peer. */
export function formatL2(cases: L2Case[]): string {
  const out: string[] = [];
  for (const c of cases) {
    const raw = c.rows.find((r) => r.peer === "raw");
    // The floors (`raw`, `raw_shared`) and TimCacheC are measured against the best peer.
    const peers = c.rows.filter((r) => !r.peer.startsWith("tim") && !r.peer.startsWith("raw"));
    const bestPeer = Math.max(...peers.map((r) => r.hitsPerS));
    out.push(`### ${l2CaseTitle(c)}\n`);
    out.push(markdownTable([
      ["library", "p50", "p99", "hits/s", "p50 / raw", "hits/s / best peer"],
      ...c.rows.map((r) => [
        r.name,
        ms(r.p50Ms),
        ms(r.p99Ms),
        Math.round(r.hitsPerS).toLocaleString("en-US"),
        raw ? `${(r.p50Ms / raw.p50Ms).toFixed(2)}x` : "",
        r.peer === "raw" ? "" : `${(r.hitsPerS / bestPeer).toFixed(2)}x`,
      ]),
    ]));
    out.push("");
  }
  return out.join("\n");
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  console.log(formatL2(await benchL2Hit(redis.url)));
}
