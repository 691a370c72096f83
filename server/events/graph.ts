/**
 * `defineEntityGraph()`: which entity types derive from which, as data, checked when built.
 *
 * An edge `metric.dependsOn = ["results_object"]` means "when a results object changes,
 * what was derived into a metric is stale". {@linkcode EntityGraph.reach} walks the edges
 * backwards, from a changed entity to everything derived from it.
 *
 * @module
 */

/** One entity type of a graph definition. */
export interface EntityDefinition<Name extends string = string> {
  /** Entity types this one is derived from. */
  dependsOn: readonly Name[];
  /** The plural name, accepted wherever the name is. @default {"<name>s"} */
  plural?: string;
  /**
   * Whether cached values of this entity carry a version that a write bumps (so they need
   * no clearing: the next read misses). Entities without one are cleared by the callbacks
   * registered for them. @default {true}
   */
  versioned?: boolean;
  /** What the entity is, for the docs and the `starting` message. */
  description?: string;
}

/** A checked, immutable dependency graph of entity types. */
export interface EntityGraph<Name extends string = string> {
  /** The entity types in definition order. */
  readonly names: readonly Name[];
  /** The definition of an entity type. */
  definition(name: Name): Readonly<EntityDefinition<Name>>;
  /**
   * The canonical name of `name` (singular or plural, any case).
   *
   * @returns The canonical name, or `undefined` when no entity has that name.
   */
  resolve(name: string): Name | undefined;
  /**
   * Everything derived from `name`, directly or not, breadth first, `name` itself first.
   * Each entity appears once.
   */
  reach(name: Name): Name[];
}

/**
 * Builds a dependency graph from plain data, and checks it.
 *
 * @param definitions Entity types by canonical (singular, snake_case) name.
 * @throws {TypeError} If a dependency names no entity, a singular or plural name is used
 *   twice, or the graph has a cycle (the message shows it: `a → b → a`).
 * @example A cascade from modules to what is derived from them
 * ```ts
 * import assert from "node:assert/strict";
 * const graph = defineEntityGraph({
 *   module: { dependsOn: [] },
 *   metric: { dependsOn: ["module"] },
 *   presentation_object: { dependsOn: ["metric"] },
 * });
 * assert.deepEqual(graph.reach("module"), ["module", "metric", "presentation_object"]);
 * assert.equal(graph.resolve("Metrics"), "metric");
 * ```
 * @example A cycle is refused
 * ```ts
 * import assert from "node:assert/strict";
 * assert.throws(
 *   () => defineEntityGraph({ a: { dependsOn: ["b"] }, b: { dependsOn: ["a"] } }),
 *   /cycle: a → b → a/,
 * );
 * ```
 */
export function defineEntityGraph<Name extends string>(
  definitions: Record<Name, EntityDefinition<NoInfer<Name>>>,
): EntityGraph<Name> {
  const names = Object.keys(definitions) as Name[];
  const byName = new Map<string, Name>();
  const claim = (alias: string, name: Name) => {
    const key = alias.toLowerCase();
    const owner = byName.get(key);
    if (owner !== undefined && owner !== name) {
      throw new TypeError(
        `Cannot define entity graph: the name '${alias}' is used by both '${owner}' and '${name}'`,
      );
    }
    byName.set(key, name);
  };
  for (const name of names) claim(name, name);
  for (const name of names) claim(definitions[name].plural ?? `${name}s`, name);

  const dependents = new Map<Name, Name[]>(names.map((name) => [name, []]));
  for (const name of names) {
    for (const dependency of definitions[name].dependsOn) {
      if (!dependents.has(dependency)) {
        throw new TypeError(
          `Cannot define entity graph: '${name}' depends on '${dependency}', which is not an entity`,
        );
      }
      dependents.get(dependency)!.push(name);
    }
  }
  const cycle = findCycle(names, (name) => definitions[name].dependsOn);
  if (cycle) {
    throw new TypeError(`Cannot define entity graph: cycle: ${cycle.join(" → ")}`);
  }

  const frozen = Object.fromEntries(
    names.map((name) => [name, Object.freeze({ ...definitions[name] })]),
  ) as Record<Name, Readonly<EntityDefinition<Name>>>;
  return {
    names: Object.freeze([...names]),
    definition: (name) => frozen[name],
    resolve: (name) => byName.get(name.toLowerCase()),
    reach(start) {
      if (!dependents.has(start)) {
        throw new TypeError(`Cannot walk entity graph: '${start}' is not an entity`);
      }
      const seen = new Set<Name>([start]);
      const queue = [start];
      for (let i = 0; i < queue.length; i++) {
        for (const next of dependents.get(queue[i])!) {
          if (!seen.has(next)) {
            seen.add(next);
            queue.push(next);
          }
        }
      }
      return queue;
    },
  };
}

/** A cycle of `edges` as a path that ends where it starts, or `undefined`. */
function findCycle<Name extends string>(
  names: readonly Name[],
  edges: (name: Name) => readonly Name[],
): Name[] | undefined {
  const state = new Map<Name, "open" | "done">();
  const path: Name[] = [];
  const visit = (name: Name): Name[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "open") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "open");
    path.push(name);
    for (const next of edges(name)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of names) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}
