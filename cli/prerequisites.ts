/**
 * What this machine can run: a docker engine, and/or the native binaries.
 *
 * @module
 */

import type { WbContext } from "./context.ts";
import { execStep } from "./runner.ts";

/** Binaries the native runtime needs (plus `runuser` when running as root). */
export const NATIVE_BINARIES: readonly string[] = [
  "postgres",
  "initdb",
  "pg_ctl",
  "pg_isready",
  "psql",
  "createdb",
  "redis-server",
  "redis-cli",
];

/** Result of {@linkcode checkPrerequisites}. */
export interface Prerequisites {
  /** `docker info` succeeded (an engine answers). */
  dockerEngine: boolean;
  /** What `docker info` said when it failed. */
  dockerError?: string;
  /** Native binaries missing from `PATH`; empty when the native runtime can run. */
  nativeMissing: string[];
}

/**
 * Checks for a docker engine and the native binaries.
 *
 * @param context Environment (`PATH`) and uid.
 * @returns What is available.
 * @example
 * ```ts
 * import { checkPrerequisites } from "./prerequisites.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const found = await checkPrerequisites({ home: "/tmp", repoRoot: ".", reporter: memoryReporter() });
 * ```
 */
export async function checkPrerequisites(
  context: Pick<WbContext, "env" | "uid">,
): Promise<Prerequisites> {
  const options = { env: context.env };
  const needed = [...NATIVE_BINARIES];
  const uid = context.uid === undefined ? Deno.uid() : context.uid;
  if (uid === 0) needed.push("runuser");
  const nativeMissing: string[] = [];
  for (const binary of needed) {
    const found = await execStep(
      {
        title: `find ${binary}`,
        command: "/bin/sh",
        args: ["-c", 'command -v "$1"', "sh", binary],
      },
      options,
    );
    if (found.code !== 0) nativeMissing.push(binary);
  }
  const docker = await execStep(
    { title: "docker info", command: "docker", args: ["info"], timeoutMs: 15_000 },
    options,
  );
  return {
    dockerEngine: docker.code === 0,
    ...(docker.code === 0 ? {} : { dockerError: (docker.stderr || docker.stdout).trim() }),
    nativeMissing,
  };
}

/**
 * Explains what is missing when neither runtime can run.
 *
 * @param found From {@linkcode checkPrerequisites}.
 * @returns A message, or `undefined` when at least one runtime can run.
 * @example
 * ```ts
 * import { describeMissing } from "./prerequisites.ts";
 * describeMissing({ dockerEngine: true, nativeMissing: [] }); // undefined
 * ```
 */
export function describeMissing(found: Prerequisites): string | undefined {
  if (found.dockerEngine || found.nativeMissing.length === 0) return undefined;
  const firstLine = found.dockerError?.split("\n")[0];
  return [
    "Neither runtime can run on this machine:",
    `- docker: no engine answers \`docker info\`${firstLine ? ` (${firstLine})` : ""}`,
    `- native: missing ${found.nativeMissing.join(", ")} (install PostgreSQL and Redis)`,
  ].join("\n");
}
