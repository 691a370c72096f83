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
 * it, so this first yields to a macrotask. While some target is still alive it keeps
 * collecting, 20 ms apart, for up to `settleMs`: on a loaded machine a reply, a timer or a
 * reaction still in flight can hold a value for a few milliseconds after the test's last
 * await (a full test run once saw one value of the model test held past three quick
 * rounds); a leak holds it for good, so the count is the same, only later.
 *
 * @param settleMs How long to keep collecting while a target is alive, in ms.
 * @throws {Error} If the process was not started with `--v8-flags=--expose-gc`.
 */
export async function collectable(
  refs: readonly WeakRef<object>[],
  settleMs = 2000,
): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the tests with --v8-flags=--expose-gc (deno task test does)");
  const alive = () => refs.some((ref) => ref.deref() !== undefined);
  const until = performance.now() + settleMs;
  for (let round = 0; round < 3 || (alive() && performance.now() < until); round++) {
    await new Promise((resolve) => setTimeout(resolve, round < 3 ? 0 : 20));
    gc();
  }
  return refs.filter((ref) => ref.deref() === undefined).length;
}
