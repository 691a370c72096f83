/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * An administrator's "run the module again", with its progress: the run's answer streams one
 * JSON line per step (`Accept: application/x-ndjson`), shown as a progress bar, the step in
 * words and the time so far. The charts redraw by themselves when the run's event arrives.
 *
 * @module
 */
import { useState } from "preact/hooks";
import { ApiError, seg } from "./api.ts";
import type { ModuleRunAnswer, ModuleRunLine, ModuleRunProgress } from "../../server/wire.ts";

type State =
  | { phase: "idle" }
  | { phase: "running"; progress?: ModuleRunProgress; startedAt: number }
  | { phase: "done"; run: ModuleRunAnswer }
  | { phase: "failed"; message: string };

/**
 * Runs `moduleId` of `projectId`, calling `onProgress` for each step line.
 *
 * @throws {ApiError} For a refused request (401, 403, 404) or a failed run.
 */
export async function runModuleWithProgress(
  projectId: string,
  moduleId: string,
  onProgress: (progress: ModuleRunProgress) => void,
): Promise<ModuleRunAnswer> {
  const response = await fetch(`/api/projects/${seg(projectId)}/modules/${seg(moduleId)}/run`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/x-ndjson" },
    body: "{}",
  });
  if (!response.ok || !response.body) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(response.status, body.message ?? `${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffered += value;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as ModuleRunLine;
      buffered = buffered.slice(newline + 1);
      if ("progress" in line) onProgress(line.progress);
      if ("run" in line) return line.run;
      if ("error" in line) throw new ApiError(500, line.message);
    }
    if (done) throw new ApiError(502, "The run's answer ended early; reload to see its outcome");
  }
}

/** The button and the progress of a module run. */
export function ModuleRun({ projectId, moduleId }: { projectId: string; moduleId: string }) {
  const [state, setState] = useState<State>({ phase: "idle" });
  const run = async () => {
    const startedAt = Date.now();
    setState({ phase: "running", startedAt });
    try {
      const done = await runModuleWithProgress(
        projectId,
        moduleId,
        (progress) => setState({ phase: "running", progress, startedAt }),
      );
      setState({ phase: "done", run: done });
    } catch (error) {
      setState({ phase: "failed", message: (error as Error).message });
    }
  };
  return (
    <div class="module-run" data-phase={state.phase}>
      <button type="button" class="secondary" disabled={state.phase === "running"} onClick={run}>
        Recompute (run the module again)
      </button>
      <div class="run-status" role="status">
        {state.phase === "running" && (
          <>
            <progress
              max={state.progress?.total ?? 1}
              value={state.progress?.done ?? 0}
              aria-label="Module run progress"
            />{" "}
            {state.progress?.step ?? "Starting"}…{" "}
            ({Math.round((state.progress?.elapsedMs ?? 0) / 1000)} s)
          </>
        )}
        {state.phase === "done" &&
          `Run finished in ${(state.run.ms / 1000).toFixed(1)} s: ${
            state.run.rows.toLocaleString("en")
          } result rows. The charts redraw by themselves.`}
        {state.phase === "failed" && <span class="error">Not run: {state.message}</span>}
      </div>
    </div>
  );
}
