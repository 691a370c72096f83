/**
 * Untrusted text that PostgreSQL can store and compare: no NUL character (a `text` value
 * cannot hold one, and `jsonb` refuses `\u0000`) and no unpaired UTF-16 surrogate (it has no
 * UTF-8 encoding, and `jsonb` refuses its `\ud800` escape); untrusted JSON also nests at most
 * {@linkcode MAX_JSON_DEPTH} levels (the `jsonb` parser recurses: some thousands of levels
 * exhaust its stack). Checked where input enters the model, so such input is a 400 naming
 * the field rather than a database error (a 500).
 *
 * @module
 */
import { ValidationError } from "./errors.ts";

const PROBLEM = "must not contain NUL characters or unpaired surrogates";

/** How deep untrusted JSON may nest (objects and arrays), in levels. */
export const MAX_JSON_DEPTH = 64;

/** Whether PostgreSQL can store `text` as `text` or inside `jsonb`. */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

/**
 * Checks one untrusted string.
 *
 * @param field The field's path, for the message (e.g. `label`).
 * @returns `value`.
 * @throws {ValidationError} If it holds a NUL character or an unpaired surrogate.
 * @example
 * ```ts
 * storableText("Réunion 😀", "label"); // "Réunion 😀"
 * storableText("a\u0000b", "label"); // throws: 'label' must not contain NUL characters or …
 * ```
 */
export function storableText(value: string, field: string): string {
  if (!isStorableText(value)) throw new ValidationError(`'${field}' ${PROBLEM}`, field);
  return value;
}

/**
 * Checks every string of an untrusted JSON value, object keys included, and its depth
 * (iteratively: the check itself takes any depth).
 *
 * @param field The value's path; nested fields are named `field.key` and `field[i]`.
 * @throws {ValidationError} Naming the first string that {@linkcode storableText} refuses
 *   (for a key, the object holding it), or `field` when it nests deeper than
 *   {@linkcode MAX_JSON_DEPTH}.
 */
export function checkStorableJson(value: unknown, field: string): void {
  const stack: [unknown, string, number][] = [[value, field, 0]];
  while (stack.length > 0) {
    const [item, path, depth] = stack.pop()!;
    if (typeof item === "string") {
      storableText(item, path);
      continue;
    }
    if (typeof item !== "object" || item === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new ValidationError(
        `'${field}' must not nest more than ${MAX_JSON_DEPTH} levels deep`,
        field,
      );
    }
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}[${i}]`, depth + 1]);
    } else {
      const entries = Object.entries(item);
      for (const [key] of entries) {
        if (!isStorableText(key)) {
          throw new ValidationError(`A key of '${path}' ${PROBLEM}`, path);
        }
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push([entries[i][1], `${path}.${entries[i][0]}`, depth + 1]);
      }
    }
  }
}
