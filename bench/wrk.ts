/**
 * `wrk`, the HTTP load generator of the server benchmarks: making sure it is installed,
 * running it once, and reading its `--latency` output.
 *
 * @module
 */

/** One `wrk` run. */
export interface WrkResult {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors and non-2xx responses. */
  errors: number;
  /** The last line `server_timing.lua` prints, when it ran. */
  timing?: string;
}

/**
 * Whether `wrk` runs; as root on Debian it is installed with apt-get when missing.
 *
 * @returns `undefined` when it is available, else what to do.
 */
export async function ensureWrk(): Promise<string | undefined> {
  const runs = async () => {
    try {
      await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
      return true;
    } catch { // spawning a missing program throws (NotFound)
      return false;
    }
  };
  if (await runs()) return undefined;
  if (Deno.uid?.() === 0) {
    for (const args of [["update", "-qq"], ["install", "-y", "-qq", "wrk"]]) {
      await new Deno.Command("apt-get", { args, stdout: "null", stderr: "null" }).output()
        .catch(() => undefined);
    }
    if (await runs()) return undefined;
  }
  return "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu), then re-run";
}

function parseDuration(text: string): number {
  const match = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!match) return NaN;
  const value = Number(match[1]);
  return { us: value / 1000, ms: value, s: value * 1000, m: value * 60_000 }[match[2]]!;
}

/** Parses `wrk --latency` output. */
export function parseWrk(output: string): WrkResult {
  const pick = (re: RegExp) => output.match(re)?.[1];
  const socket = output.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const errors = (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0) +
    Number(pick(/Non-2xx or 3xx responses: (\d+)/) ?? 0);
  return {
    requestsPerS: Number(pick(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: parseDuration(pick(/^\s+50%\s+(\S+)/m) ?? ""),
    p99Ms: parseDuration(pick(/^\s+99%\s+(\S+)/m) ?? ""),
    requests: Number(pick(/(\d+) requests in/)),
    errors,
    timing: output.split("\n").find((line) => line.startsWith("TIMING ")),
  };
}

/** Runs wrk once against `url`. */
export async function wrk(
  url: string,
  connections: number,
  durationS: number,
  script?: string,
): Promise<WrkResult> {
  const args = ["-t1", `-c${connections}`, `-d${durationS}s`, "--latency"];
  if (script) args.push("-s", script);
  const out = await new Deno.Command("wrk", {
    args: [...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`wrk failed on ${url}:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return parseWrk(text);
}

/** The run with the median p99 (of an odd or even count: the upper middle). */
export function median(runs: WrkResult[]): WrkResult {
  return [...runs].sort((a, b) => a.p99Ms - b.p99Ms)[Math.floor(runs.length / 2)];
}
