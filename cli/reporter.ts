/**
 * Where progress and warnings go. Functions take a {@linkcode Reporter} so tests can
 * collect what would have been printed.
 *
 * @module
 */

/** Receives progress lines. */
export interface Reporter {
  /** A step is starting. */
  step(title: string): void;
  /** Plain information (results, URLs). */
  info(message: string): void;
  /** Something failed but the operation continues (shown in yellow). */
  warn(message: string): void;
}

/** Options of {@linkcode consoleReporter}. */
export interface ConsoleReporterOptions {
  /** Use ANSI colours. @default {true} */
  color?: boolean;
  /** Print step titles. @default {true} */
  steps?: boolean;
}

/**
 * A reporter printing to the console: steps dimmed, warnings yellow on stderr.
 *
 * @param options Colour and verbosity.
 * @returns The reporter.
 * @example
 * ```ts
 * import { consoleReporter } from "./reporter.ts";
 * consoleReporter({ color: false }).warn("Redis did not start");
 * ```
 */
export function consoleReporter(options: ConsoleReporterOptions = {}): Reporter {
  const color = options.color ?? true;
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
  return {
    step: (title) => {
      if (options.steps ?? true) console.log(paint("2", `• ${title}`));
    },
    info: (message) => console.log(message),
    warn: (message) => console.error(paint("33", `warning: ${message}`)),
  };
}

/** One line recorded by {@linkcode memoryReporter}. */
export interface ReportedLine {
  /** Which method received it. */
  level: "step" | "info" | "warn";
  /** The text. */
  message: string;
}

/**
 * A reporter that records lines in memory, for tests.
 *
 * @returns The reporter and its `lines`.
 * @example
 * ```ts
 * import { memoryReporter } from "./reporter.ts";
 * const reporter = memoryReporter();
 * reporter.warn("x");
 * reporter.lines; // [{ level: "warn", message: "x" }]
 * ```
 */
export function memoryReporter(): Reporter & { lines: ReportedLine[] } {
  const lines: ReportedLine[] = [];
  return {
    lines,
    step: (message) => lines.push({ level: "step", message }),
    info: (message) => lines.push({ level: "info", message }),
    warn: (message) => lines.push({ level: "warn", message }),
  };
}
