/** The CPU reading of the server benchmark's rows. */
import assert from "node:assert/strict";
import { cpuMs } from "./server_bench.ts";

Deno.test("cpuMs reads a process's CPU time from /proc, and grows while it computes", () => {
  const before = cpuMs(Deno.pid);
  if (before === undefined) {
    assert.notEqual(Deno.build.os, "linux", "/proc/<pid>/stat is readable on Linux");
    return;
  }
  // Compute until the reading has grown by 30 ms (three 10 ms ticks), for at most 10 s of wall
  // time: the thread may be descheduled on a busy machine, but not for all of it.
  let x = 0;
  let after = before;
  const deadline = performance.now() + 10_000;
  while (after - before < 30 && performance.now() < deadline) {
    for (let i = 0; i < 100_000; i++) x += Math.sqrt(x + i);
    after = cpuMs(Deno.pid)!;
  }
  assert.ok(x > 0);
  assert.ok(after - before >= 30, `CPU grew ${after - before} ms in 10 s of computing`);
  assert.equal(cpuMs(undefined), undefined);
  assert.equal(cpuMs(2 ** 30), undefined); // no such process
});
