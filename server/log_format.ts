/**
 * The app's log lines: one JSON object per line that starts with an ISO 8601 `time` and a
 * `level`, whatever wrote it (our `{"event": …}` lines, a library's `console.error`, a plain
 * message), so "when did Redis go down?" has an answer and `wb logs --since` can filter.
 *
 * ```
 * {"time":"2025-06-01T08:00:00.000Z","level":"warn","event":"redis_unavailable",…}
 * {"time":"2025-06-01T08:00:01.000Z","level":"info","msg":"a plain message"}
 * ```
 *
 * @module
 */
import { format } from "node:util";

/** Levels of the app's log lines, from the noisiest. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

/**
 * The level of an event line that does not say its own: `error` for failures, `warn` for a
 * degraded dependency or a refusal, `info` otherwise (read from the `event` name).
 *
 * @param event The `event` field.
 * @param fallback The level of the console method that wrote it.
 * @returns The level.
 * @example
 * ```ts
 * import { levelOfEvent } from "./log_format.ts";
 * levelOfEvent("redis_unavailable", "info"); // "warn"
 * ```
 */
export function levelOfEvent(event: unknown, fallback: LogLevel): LogLevel {
  if (typeof event !== "string") return fallback;
  if (/(^|_)(error|failed|crash|forced|fatal)(_|$)/.test(event)) return "error";
  if (
    /(^|_)(unavailable|refused|rejected|down|disabled|timeout|slow|lost|dropped)(_|$)/.test(event)
  ) {
    return "warn";
  }
  return fallback === "error" ? "info" : fallback;
}

/**
 * Formats what one console call wrote as a log line.
 *
 * @param args The call's arguments.
 * @param method Level of the console method (`console.error` is `error`, but an event it
 *   writes gets {@linkcode levelOfEvent}).
 * @param now When it was written.
 * @returns One line of JSON (no newline): `time`, `level`, then the event's own fields, or
 *   `msg` with the formatted text.
 * @example
 * ```ts
 * import { formatLogLine } from "./log_format.ts";
 * formatLogLine(['{"event":"listening","url":"http://127.0.0.1:8000"}'], "error", new Date(0));
 * // '{"time":"1970-01-01T00:00:00.000Z","level":"info","event":"listening","url":"http://127.0.0.1:8000"}'
 * ```
 */
export function formatLogLine(args: unknown[], method: LogLevel, now: Date): string {
  const time = now.toISOString();
  if (args.length === 1) {
    const only = args[0];
    let object: Record<string, unknown> | undefined;
    if (typeof only === "string" && only.startsWith("{")) {
      try {
        const parsed = JSON.parse(only);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
          object = parsed;
        }
      } catch { /* a plain message */ }
    } else if (typeof only === "object" && only !== null && !(only instanceof Error)) {
      object = only as Record<string, unknown>;
    }
    if (object) {
      const { time: _t, level, ...rest } = object;
      const own = typeof level === "string" && LEVELS.includes(level) ? level : undefined;
      return JSON.stringify({
        time,
        level: own ?? levelOfEvent(rest.event, method),
        ...rest,
      });
    }
  }
  return JSON.stringify({ time, level: method, msg: format(...args) });
}

/** The console methods {@linkcode installLogFormat} replaces, with their levels and streams. */
const METHODS = [
  ["debug", "debug", "stdout"],
  ["log", "info", "stdout"],
  ["info", "info", "stdout"],
  ["warn", "warn", "stderr"],
  ["error", "error", "stderr"],
] as const;

/**
 * Makes every `console.debug/log/info/warn/error` of this process (or worker) write
 * {@linkcode formatLogLine} lines to its usual stream. Only entry files call it.
 *
 * @param clock The clock. @default {() => new Date()}
 * @returns A function that restores the console.
 */
export function installLogFormat(clock: () => Date = () => new Date()): () => void {
  const target = console as unknown as Record<string, (...args: unknown[]) => void>;
  const saved = METHODS.map(([name]) => [name, target[name]] as const);
  const encoder = new TextEncoder();
  for (const [name, level, stream] of METHODS) {
    const out = stream === "stdout" ? Deno.stdout : Deno.stderr;
    target[name] = (...args: unknown[]) => {
      const data = encoder.encode(formatLogLine(args, level, clock()) + "\n");
      let written = 0;
      while (written < data.length) written += out.writeSync(data.subarray(written));
    };
  }
  return () => {
    for (const [name, original] of saved) target[name] = original;
  };
}
