import assert from "node:assert/strict";
import { LOAD_USAGE, LoadUsageError, parseLoadArgs } from "./load.ts";

Deno.test("parseLoadArgs() reads every option, with or without the `--` of deno task", () => {
  const all = ["--facilities", "k.csv", "--scale", "2", "--months", "3", "--seed", "4"];
  const expected = {
    help: false,
    options: { facilitiesCsv: "k.csv", scale: 2, months: 3, seed: 4, facilityLimit: 5 },
  };
  assert.deepEqual(parseLoadArgs([...all, "--facility-limit", "5"]), expected);
  assert.deepEqual(parseLoadArgs(["--", ...all, "--facility-limit", "5"]), expected);
  assert.deepEqual(parseLoadArgs([]), {
    help: false,
    options: {
      facilitiesCsv: undefined,
      scale: undefined,
      months: undefined,
      seed: undefined,
      facilityLimit: undefined,
    },
  });
  assert.deepEqual(parseLoadArgs(["--", "-h"]), { help: true });
});

Deno.test("parseLoadArgs() refuses unknown options, positionals and bad numbers", () => {
  assert.throws(() => parseLoadArgs(["--facilitie", "x"]), {
    code: "ERR_PARSE_ARGS_UNKNOWN_OPTION",
  });
  assert.throws(() => parseLoadArgs(["x.csv"]), { code: "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" });
  assert.throws(() => parseLoadArgs(["--", "--", "--scale", "2"]), {
    code: "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
  });
  assert.throws(() => parseLoadArgs(["--scale", "0"]), LoadUsageError);
  assert.throws(() => parseLoadArgs(["--months", "1.5"]), /--months must be a positive integer/);
});

Deno.test("LOAD_USAGE says what each option does when it is left out", () => {
  for (
    const expected of [
      /--facilities <csv>.*default: .*grid3_nga_health_facilities_v2_kano\.csv\s+when present, else a synthetic list/s,
      /--scale N.*\(default 1\)/,
      /--months M.*ending 202512 \(default 60\)/,
      /--seed S.*\(default 1\)/,
      /--facility-limit N.*\(default: all\)/,
    ]
  ) {
    assert.match(LOAD_USAGE, expected);
  }
});
