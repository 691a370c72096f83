/** The entity graph as data: cycles refused, names resolved, cascades exact. */
import assert from "node:assert/strict";
import { SERVER_ENTITIES } from "./entities.ts";
import { defineEntityGraph } from "./graph.ts";

Deno.test("defineEntityGraph() refuses a cycle and shows it", () => {
  assert.throws(
    () =>
      defineEntityGraph({
        dataset: { dependsOn: [] },
        module: { dependsOn: ["dataset", "metric"] },
        metric: { dependsOn: ["module"] },
      }),
    { name: "TypeError", message: /cycle: module → metric → module/ },
  );
  assert.throws(
    () => defineEntityGraph({ a: { dependsOn: ["a"] } }),
    { name: "TypeError", message: /cycle: a → a/ },
  );
});

Deno.test("defineEntityGraph() refuses unknown dependencies and names used twice", () => {
  assert.throws(
    () => defineEntityGraph({ a: { dependsOn: ["b" as "a"] } }),
    { name: "TypeError", message: /'a' depends on 'b', which is not an entity/ },
  );
  assert.throws(
    () => defineEntityGraph({ post: { dependsOn: [] }, posts: { dependsOn: [] } }),
    { name: "TypeError", message: /the name 'posts' is used by both/ },
  );
});

Deno.test("resolve() maps singular and plural names (any case) to one entity", () => {
  const graph = defineEntityGraph({
    post: { dependsOn: [] },
    category: { dependsOn: [], plural: "categories" },
  });
  assert.equal(graph.resolve("post"), "post");
  assert.equal(graph.resolve("posts"), "post");
  assert.equal(graph.resolve("Posts"), "post");
  assert.equal(graph.resolve("categories"), "category");
  assert.equal(graph.resolve("categorys"), undefined);
  assert.equal(SERVER_ENTITIES.resolve("presentation_objects"), "presentation_object");
  assert.equal(SERVER_ENTITIES.resolve("modules"), "module");
});

Deno.test("reach() lists exactly what derives from an entity, itself first, each once", () => {
  const sorted = (names: string[]) => [names[0], ...names.slice(1).sort()];
  assert.deepEqual(
    sorted(SERVER_ENTITIES.reach("module")),
    ["module", "metric", "presentation_object", "presentation_object_item", "results_object"],
  );
  assert.deepEqual(
    SERVER_ENTITIES.reach("presentation_object"),
    ["presentation_object", "presentation_object_item"],
  );
  assert.deepEqual(
    sorted(SERVER_ENTITIES.reach("dataset")),
    [
      "dataset",
      "metric",
      "module",
      "presentation_object",
      "presentation_object_item",
      "results_object",
      "windowed_aggregate",
    ],
  );
  assert.deepEqual(sorted(SERVER_ENTITIES.reach("structure")), [
    "structure",
    ...SERVER_ENTITIES.names.filter((name) => name !== "structure").sort(),
  ]);
  assert.deepEqual(SERVER_ENTITIES.reach("windowed_aggregate"), ["windowed_aggregate"]);
  // A diamond reaches its bottom once.
  const diamond = defineEntityGraph({
    a: { dependsOn: [] },
    b: { dependsOn: ["a"] },
    c: { dependsOn: ["a"] },
    d: { dependsOn: ["b", "c"] },
  });
  assert.deepEqual(diamond.reach("a"), ["a", "b", "c", "d"]);
});
