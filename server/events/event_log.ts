/**
 * The cache event log: one JSON line (pino) per invalidation, mirror delivery, mirror
 * failure or rejection, each saying why.
 *
 * ```json
 * {"level":"info","time":"2025-…Z","instance":"prod","event":"invalidate","type":"module_run",
 *  "entity":"module","affected":["module","results_object",…],"seq":12,"eventId":"…",
 *  "origin":"prod","reason":"module demo/m001 ran","cleared":[]}
 * ```
 *
 * @module
 */
import pino from "pino";

/** One log entry: `event` names what happened, the rest says to what and why. */
export interface CacheLogEntry {
  /**
   * `invalidate`, `mirror_sent`, `mirror_failed` (will retry), `mirror_gave_up`,
   * `mirror_received`, `mirror_duplicate`, `mirror_rejected`, `mirror_dropped`.
   */
  event: string;
  [field: string]: unknown;
}

/** Where cache events are written. */
export interface CacheEventLog {
  /** Something that happened as intended. */
  info(entry: CacheLogEntry): void;
  /** A failure or a refusal (the entry says why). */
  warn(entry: CacheLogEntry): void;
}

/** Options of {@linkcode createCacheEventLog}. */
export interface CacheEventLogOptions {
  /** Instance id written on every line. */
  instance: string;
  /**
   * Where lines go: a file path (appended), a function receiving each line (with its
   * newline), or `"stderr"`. @default {"stderr"}
   */
  destination?: string | ((line: string) => void);
}

/**
 * Creates the cache event log over pino (JSON lines, ISO time, level names).
 *
 * @example Collect lines in a test
 * ```ts
 * const lines: string[] = [];
 * const log = createCacheEventLog({ instance: "t", destination: (line) => lines.push(line) });
 * log.info({ event: "invalidate", entity: "module", reason: "test" });
 * ```
 */
export function createCacheEventLog(options: CacheEventLogOptions): CacheEventLog {
  const destination = options.destination ?? "stderr";
  const stream = typeof destination === "function" ? { write: destination } : pino.destination({
    dest: destination === "stderr" ? 2 : destination,
    sync: true,
    append: true,
  });
  const logger = pino({
    base: { instance: options.instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, stream);
  return {
    info: (entry) => logger.info(entry),
    warn: (entry) => logger.warn(entry),
  };
}
