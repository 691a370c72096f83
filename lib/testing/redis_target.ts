/**
 * Test helper: a {@linkcode RedisTarget} as one command-line argument, for test worker
 * processes (a URL as is; a cluster as JSON).
 *
 * @module
 */
import type { RedisTarget } from "../redis.ts";

/** The argument that {@linkcode parseTargetArg} turns back into `target`. */
export function targetArg(target: RedisTarget): string {
  return typeof target === "string" ? target : JSON.stringify(target);
}

/** Parses an argument made by {@linkcode targetArg} (or a plain URL). */
export function parseTargetArg(arg: string): RedisTarget {
  return arg.startsWith("{") ? JSON.parse(arg) as RedisTarget : arg;
}
