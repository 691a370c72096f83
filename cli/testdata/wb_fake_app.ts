/**
 * `wb` as the operator runs it (`main()`: argument parsing, signal handling, exit codes),
 * but with `testdata/fake_app.ts` as the native app, for tests that need a real `wb`
 * process (SIGINT, concurrent commands).
 *
 * @module
 */
import { main } from "../main.ts";

const fakeApp = [
  Deno.execPath(),
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  new URL("./fake_app.ts", import.meta.url).pathname,
];

Deno.exit(
  await main(Deno.args, Deno.env.toObject(), {
    context: { appCommand: fakeApp, healthTimeoutMs: 20_000 },
  }),
);
