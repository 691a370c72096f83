/**
 * Where progress and warnings go. Functions take a {@linkcode Reporter} so tests can
 * collect what would have been printed.
 *
 * @module
 */

import yoctoSpinner, { type Spinner } from "yocto-spinner";

/** Receives progress lines. */
export interface Reporter {
  /** A step is starting. */
  step(title: string): void;
  /** Plain information (results, URLs). */
  info(message: string): void;
  /** Something failed but the operation continues (shown in yellow). */
  warn(message: string): void;
  /** Progress of the current step (e.g. layers pulled), shown in place; line reporters skip it. */
  progress?(text: string): void;
  /** The current step ended (`failed`: it threw). Spinners settle; line reporters skip it. */
  end?(outcome: "ok" | "failed"): void;
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

/**
 * A reporter for a terminal: each step is a spinner on stderr that settles as ✔ when the
 * next step starts, ⚠ when the step warned, ✖ when it failed; results go to stdout. Use
 * {@linkcode consoleReporter} (one line per step) when stderr is not a terminal.
 *
 * @param options Colour.
 * @returns The reporter.
 * @example
 * ```ts
 * import { spinnerReporter } from "./reporter.ts";
 * const reporter = spinnerReporter();
 * reporter.step("Start Postgres");
 * reporter.end?.("ok");
 * ```
 */
export function spinnerReporter(options: { color?: boolean } = {}): Reporter {
  const color = options.color ?? true;
  const paint = (code: string, text: string) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
  let spinner: Spinner | undefined;
  let title = "";
  const settle = (how: "success" | "warning" | "error") => {
    spinner?.[how](title);
    spinner = undefined;
  };
  return {
    step: (next) => {
      settle("success");
      title = next;
      spinner = yoctoSpinner({ text: next }).start();
    },
    progress: (text) => {
      if (spinner) spinner.text = `${title}: ${text}`;
    },
    info: (message) => {
      settle("success");
      console.log(message);
    },
    warn: (message) => {
      settle("warning");
      console.error(paint("33", `warning: ${message}`));
    },
    end: (outcome) => settle(outcome === "ok" ? "success" : "error"),
  };
}

/** One line recorded by {@linkcode memoryReporter}. */
export interface ReportedLine {
  /** Which method received it. */
  level: "step" | "info" | "warn" | "progress";
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
    progress: (message) => lines.push({ level: "progress", message }),
  };
}
