/**
 * Finds the shell commands a Markdown document shows and turns each into argument vectors,
 * for `docs/commands_test.ts`. Pure: no file or process access.
 *
 * Where commands are found:
 * - every line of a fenced block tagged `sh`, `bash`, `shell`, `zsh` or `console` (a `\` at
 *   the end of a line continues it; in `console` blocks only the `$ ` lines are commands;
 *   `# …` comments are dropped);
 * - every code span in the first column of a table whose first header cell is `task`,
 *   `tasks`, `command` or `commands` (a synopsis: `[--once]`, `<id>`, `a\|b`);
 * - every other code span starting with `wb ` or `deno task ` (a command named in prose,
 *   also read as a synopsis).
 *
 * @module
 */

/** A command as a document shows it. */
export interface DocCommand {
  /** The document, as given to {@linkcode extractCommands}. */
  file: string;
  /** 1-based line of the command (its first line). */
  line: number;
  /**
   * `block`: a line a reader copies and runs as is; `table` and `prose`: a synopsis, whose
   * optional parts, placeholders and alternatives are expanded, and which may leave out
   * required arguments.
   */
  kind: "block" | "table" | "prose";
  /** The command, on one line. */
  text: string;
}

/** One argument vector of a documented command, ready to check. */
export interface ExpandedCommand {
  /** Where it comes from. */
  doc: DocCommand;
  /** Environment assignments in front of the command (`FUZZ_RUNS=20000 …`). */
  env: Record<string, string>;
  /** Program and arguments, placeholders replaced (`["deno", "task", "load", …]`). */
  argv: string[];
  /** `argv` as one line, for messages. */
  text: string;
}

const SHELL_LANGUAGES = new Set(["sh", "bash", "shell", "zsh", "console"]);
const COMMAND_TABLE_HEADER = /^(tasks?|commands?)$/i;
const PROSE_COMMAND = /^(wb|deno task) /;

/**
 * Lists the commands of a Markdown document, in document order.
 *
 * @param markdown The document's text.
 * @param file Its name, copied into each command.
 * @returns The commands (fenced blocks, command tables, prose mentions).
 * @example Find a fenced command and a table synopsis
 * ```ts
 * import { extractCommands } from "./_doc_commands.ts";
 * extractCommands("```sh\ndeno task bench\n```\n", "x.md");
 * // [{ file: "x.md", line: 2, kind: "block", text: "deno task bench" }]
 * ```
 */
export function extractCommands(markdown: string, file: string): DocCommand[] {
  const lines = markdown.split("\n");
  const found: DocCommand[] = [];
  let fence: { marker: string; shell: boolean; console: boolean } | undefined;
  let pending: { line: number; text: string } | undefined; // a `\`-continued block line
  let prose: { line: number; text: string }[] = [];
  let commandTable: boolean | undefined; // inside a table: whether it lists commands

  const flushProse = () => {
    const text = prose.map((p) => p.text).join("\n");
    for (const match of text.matchAll(/`([^`]+)`/g)) {
      const span = match[1].replace(/\s*\n\s*/g, " ").trim();
      if (!PROSE_COMMAND.test(span)) continue;
      const lineOffset = text.slice(0, match.index).split("\n").length - 1;
      found.push({ file, line: prose[lineOffset].line, kind: "prose", text: span });
    }
    prose = [];
  };

  lines.forEach((raw, index) => {
    const line = index + 1;
    if (fence) {
      if (raw.trim().startsWith(fence.marker) && raw.trim().replace(/[`~]/g, "") === "") {
        fence = undefined;
        return;
      }
      if (!fence.shell) return;
      let text = pending ? `${pending.text} ${raw.trim()}` : raw.trim();
      const start = pending?.line ?? line;
      if (text.endsWith("\\")) {
        pending = { line: start, text: text.slice(0, -1).trimEnd() };
        return;
      }
      pending = undefined;
      if (fence.console) {
        if (!text.startsWith("$ ")) return; // output
        text = text.slice(2);
      } else if (text.startsWith("$ ")) {
        text = text.slice(2);
      }
      if (text === "" || text.startsWith("#")) return;
      found.push({ file, line: start, kind: "block", text });
      return;
    }
    const opening = raw.match(/^\s*(`{3,}|~{3,})\s*([\w+-]*)/);
    if (opening) {
      flushProse();
      commandTable = undefined;
      const language = opening[2].toLowerCase();
      fence = {
        marker: opening[1],
        shell: SHELL_LANGUAGES.has(language),
        console: language === "console",
      };
      return;
    }
    if (raw.trimStart().startsWith("|")) {
      flushProse();
      const cells = tableCells(raw);
      if (commandTable === undefined) {
        // The header row: the separator row follows it.
        commandTable = COMMAND_TABLE_HEADER.test(cells[0] ?? "");
        return;
      }
      if (cells.every((cell) => /^:?-+:?$/.test(cell))) return; // separator
      cells.forEach((cell, column) => {
        for (const match of cell.matchAll(/`([^`]+)`/g)) {
          const span = match[1].trim();
          if (commandTable && column === 0) {
            found.push({ file, line, kind: "table", text: span });
          } else if (PROSE_COMMAND.test(span)) {
            found.push({ file, line, kind: "prose", text: span });
          }
        }
      });
      return;
    }
    commandTable = undefined;
    if (raw.trim() === "") {
      flushProse();
      return;
    }
    prose.push({ line, text: raw });
  });
  flushProse();
  return found;
}

/** Cells of a Markdown table row, trimmed; `\|` inside a cell stays a (literal) `|`. */
function tableCells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll("\\|", "|"));
}

/** A shell word, or an operator between commands. */
type Token = { word: string } | { operator: string };

/**
 * Splits a command line into words and operators (`&&`, `||`, `;`, `|`), as a POSIX shell
 * would for the forms docs use: quotes, backslash escapes, `#` comments, redirections
 * (dropped with their target).
 *
 * @throws {SyntaxError} On an unterminated quote.
 */
function tokenize(text: string, pipeNeedsSpaces: boolean): Token[] {
  const tokens: Token[] = [];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) tokens.push({ word });
    word = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0) throw new SyntaxError(`unterminated ${c} in: ${text}`);
      word = (word ?? "") + text.slice(i + 1, close);
      i = close;
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[++i];
    } else if (/\s/.test(c)) {
      end();
    } else if (c === "#" && word === undefined) {
      break; // a comment
    } else if (c === "&" && text[i + 1] === "&") {
      end();
      tokens.push({ operator: "&&" });
      i++;
    } else if (c === "|" && text[i + 1] === "|") {
      end();
      tokens.push({ operator: "||" });
      i++;
    } else if (c === ";") {
      end();
      tokens.push({ operator: ";" });
    } else if (
      c === "|" &&
      (!pipeNeedsSpaces || (/\s/.test(text[i - 1] ?? " ") && /\s/.test(text[i + 1] ?? " ")))
    ) {
      end();
      tokens.push({ operator: "|" });
    } else {
      word = (word ?? "") + c;
    }
  }
  end();
  // Redirections: `> file`, `2>&1`, `>> file`, `< file`.
  const result: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if ("word" in token && /^\d*(>>?|<)(&\d+)?$/.test(token.word)) {
      if (!/&\d+$/.test(token.word)) i++; // skip the target too
      continue;
    }
    if ("word" in token && /^\d*(>>?|<)./.test(token.word) && !token.word.startsWith("<")) {
      continue; // `>file` or `2>&1` glued
    }
    result.push(token);
  }
  return result;
}

/** Values for placeholders: `<name>`, `[name]`, `<name...>`, or a bare `N`, `M`, `S`. */
export type Placeholders = Record<string, string>;

/**
 * Turns a documented command into the argument vectors to check: splits `&&`/`;`/`|`
 * chains, takes environment assignments off the front, and, for a synopsis (`table` and
 * `prose`), keeps optional parts (`[--scale N]` → `--scale 2`), fills placeholders and
 * expands alternatives (`run|stop` → one vector each).
 *
 * @param doc The command.
 * @param placeholders A value for each placeholder name the docs use.
 * @returns One entry per command of the chain and alternative.
 * @throws {Error} On a placeholder without a value (the message says where to add one), or
 *   an unterminated quote.
 */
export function expandCommand(doc: DocCommand, placeholders: Placeholders): ExpandedCommand[] {
  const synopsis = doc.kind !== "block";
  const tokens = tokenize(doc.text, synopsis);
  const commands: string[][] = [[]];
  for (const token of tokens) {
    if ("operator" in token) commands.push([]);
    else commands[commands.length - 1].push(token.word);
  }
  const expanded: ExpandedCommand[] = [];
  for (const words of commands.filter((c) => c.length > 0)) {
    const env: Record<string, string> = {};
    while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
      const [name, ...value] = words.shift()!.split("=");
      env[name] = value.join("=");
    }
    let vectors: string[][] = [[]];
    for (const raw of words) {
      const alternatives = synopsis ? fill(raw, placeholders, doc) : [raw];
      vectors = vectors.flatMap((v) => alternatives.map((a) => a === "" ? v : [...v, a]));
    }
    for (const argv of vectors) {
      expanded.push({ doc, env, argv, text: argv.join(" ") });
    }
  }
  return expanded;
}

/** One synopsis word → its alternatives (`""`: the word disappears). */
function fill(raw: string, placeholders: Placeholders, doc: DocCommand): string[] {
  let word = raw;
  const optional = word.startsWith("[") || word.endsWith("]");
  word = word.replace(/^\[+/, "").replace(/\]+$/, "");
  const angle = word.match(/^<([\w-]+)(\.\.\.)?>$/);
  const bracketName = optional && raw.startsWith("[") && raw.endsWith("]") &&
    word.match(/^([a-z][\w-]*)(\.\.\.)?$/);
  const name = angle?.[1] ?? (bracketName ? bracketName[1] : undefined) ??
    (/^[NMS]$/.test(word) ? word : undefined);
  if (name !== undefined) {
    const value = placeholders[name];
    if (value === undefined) {
      throw new Error(
        `${doc.file}:${doc.line}: no value for the placeholder '${raw}' in \`${doc.text}\`; ` +
          `add "${name}" to PLACEHOLDERS in docs/commands_test.ts`,
      );
    }
    return [value];
  }
  return word.includes("|") ? word.split("|") : [word];
}
