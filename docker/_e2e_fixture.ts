/**
 * The docker suite's shared fixture (`docker/wb_e2e.ts` and the test bodies it registers):
 * the two instances every test works on (`alpha`; `beta` with an admin service; their ports
 * and directories are set by the first test), the app ports taken so far, the timings the
 * last test prints, and the checks several tests make on an instance or on the engine.
 *
 * @module
 */

import assert from "node:assert/strict";
import { docker, dockerOk, get, type TestInstance } from "./_e2e_world.ts";

/** App ports the suite's instances took (so a new instance gets another). */
export const ports: number[] = [];
/** The first instance (app, Postgres, Redis); its port and directory are set by the first test. */
export const alpha: TestInstance = { id: "alpha", port: 0, instanceDir: "" };
/** The second instance, with an admin service; its port and directory are set by the first test. */
export const beta: TestInstance = { id: "beta", port: 0, instanceDir: "" };
/** What {@linkcode timed} measured, in order: label and milliseconds. */
export const timings: [string, number][] = [];

/** Runs `work` and records how long it took under `label` (in {@linkcode timings}). */
export async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings.push([label, performance.now() - started]);
  }
}

/** Every object answers `expected` (each path once, in order). */
export async function expectEvery(
  instance: TestInstance,
  paths: string[],
  expected: string,
): Promise<void> {
  for (const path of paths) {
    const answer = await get(instance, path);
    assert.equal(answer.status, 200, `${instance.id} ${path}: ${answer.body.slice(0, 200)}`);
    assert.equal(answer.xCache, expected, `${instance.id} ${path}`);
  }
}

/** `/healthz` of an instance, parsed. */
export async function healthz(instance: TestInstance): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${instance.port}/healthz`, {
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

/** Names of every container, network and volume of the engine. */
export async function engineInventory(): Promise<
  { containers: string[]; networks: string[]; volumes: string[] }
> {
  const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).sort();
  return {
    containers: lines(await dockerOk("ps", "-a", "--format", "{{.Names}}")),
    networks: lines(await dockerOk("network", "ls", "--format", "{{.Name}}")),
    volumes: lines(await dockerOk("volume", "ls", "-q")),
  };
}

/** When a container logged a line matching `pattern` for the last time (ms since the epoch). */
export async function loggedAt(container: string, pattern: RegExp): Promise<number> {
  const out = await docker("logs", "--timestamps", container);
  const line = `${out.stdout}\n${out.stderr}`.split("\n").filter((l) => pattern.test(l)).pop();
  assert.ok(line, `${container} never logged ${pattern}`);
  return Date.parse(line.split(" ")[0]);
}
