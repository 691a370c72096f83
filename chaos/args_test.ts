import assert from "node:assert/strict";
import { chaosUsage, parseChaosArgs } from "./args.ts";

const IDS = ["redis-kill", "oom", "postgres"];

Deno.test("parseChaosArgs() reads --only, with or without the `--` of deno task", () => {
  assert.deepEqual(parseChaosArgs([], IDS), { help: false, only: undefined });
  assert.deepEqual(parseChaosArgs(["--only", "oom, postgres"], IDS), {
    help: false,
    only: ["oom", "postgres"],
  });
  assert.deepEqual(parseChaosArgs(["--", "--only", "oom"], IDS), { help: false, only: ["oom"] });
  assert.deepEqual(parseChaosArgs(["--", "--help"], IDS), { help: true });
});

Deno.test("parseChaosArgs() refuses an unknown scenario, option or argument", () => {
  assert.throws(() => parseChaosArgs(["--only", "oom,nope"], IDS), /unknown scenario: nope/);
  assert.throws(() => parseChaosArgs(["--onyl", "oom"], IDS), {
    code: "ERR_PARSE_ARGS_UNKNOWN_OPTION",
  });
  assert.throws(() => parseChaosArgs(["oom"], IDS), {
    code: "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
  });
});

Deno.test("chaosUsage() lists every scenario id and the default", () => {
  assert.match(chaosUsage(IDS), /redis-kill,oom,postgres/);
  assert.match(chaosUsage(IDS), /default: every scenario/);
});
