import assert from "node:assert/strict";
import { formatLogLine, levelOfEvent } from "./log_format.ts";

const at = new Date("2025-06-01T08:00:00.000Z");

Deno.test("formatLogLine() puts an ISO time and a level first on every line", () => {
  assert.equal(
    formatLogLine(['{"event":"listening","url":"http://127.0.0.1:8000"}'], "error", at),
    '{"time":"2025-06-01T08:00:00.000Z","level":"info","event":"listening","url":"http://127.0.0.1:8000"}',
  );
  const unavailable = JSON.parse(
    formatLogLine(['{"event":"redis_unavailable","error":"ECONNREFUSED"}'], "error", at),
  );
  assert.deepEqual([unavailable.time, unavailable.level, unavailable.error], [
    "2025-06-01T08:00:00.000Z",
    "warn",
    "ECONNREFUSED",
  ]);
  assert.equal(
    JSON.parse(formatLogLine(['{"event":"request_error"}'], "error", at)).level,
    "error",
  );
  assert.equal(
    JSON.parse(formatLogLine(['{"event":"x","level":"debug"}'], "error", at)).level,
    "debug",
    "a line's own level wins",
  );
  const plain = JSON.parse(formatLogLine(["Listening on", 8000], "info", at));
  assert.deepEqual(plain, {
    time: "2025-06-01T08:00:00.000Z",
    level: "info",
    msg: "Listening on 8000",
  });
  const error = JSON.parse(formatLogLine([new Error("boom")], "error", at));
  assert.equal(error.level, "error");
  assert.match(error.msg, /Error: boom/);
  assert.equal(
    JSON.parse(formatLogLine(['{"time":"forged","event":"x"}'], "info", at)).time,
    "2025-06-01T08:00:00.000Z",
    "the time is the logger's",
  );
});

Deno.test("levelOfEvent() reads failures as error and degraded dependencies as warn", () => {
  assert.equal(levelOfEvent("migrate_failed", "error"), "error");
  assert.equal(levelOfEvent("shutdown_forced", "error"), "error");
  assert.equal(levelOfEvent("redis_disabled", "error"), "warn");
  assert.equal(levelOfEvent("mirror_refused", "error"), "warn");
  assert.equal(levelOfEvent("redis_ready", "error"), "info");
  assert.equal(levelOfEvent(undefined, "warn"), "warn");
});
