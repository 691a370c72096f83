/**
 * Test helper: how many of some objects the garbage collector can reclaim, for leak tests
 * (the `WeakRef` after `gc()` check of the house style).
 *
 * @module
 */

/**
 * Forces full garbage collections and counts the `refs` whose targets were reclaimed.
 *
 * A `WeakRef` keeps its target alive until the end of the job that created or last read
 * it, so this first yields to a macrotask.
 *
 * @throws {Error} If the process was not started with `--v8-flags=--expose-gc`.
 */
export async function collectable(refs: readonly WeakRef<object>[]): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the tests with --v8-flags=--expose-gc (deno task test does)");
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return refs.filter((ref) => ref.deref() === undefined).length;
}
