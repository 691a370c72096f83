/**
 * Test helper: reads a Server-Sent Events body message by message (the parsing rules of
 * the HTML standard that matter here: `event`, `id`, `data` lines, `:` comments, a blank
 * line ends a message).
 *
 * @module
 */

/** One message (or comment) of an event stream. */
export interface SseMessage {
  /** The `event` field; `message` when absent; `comment` for a `:` line. */
  event: string;
  /** The `id` field, when present. */
  id?: string;
  /** The `data` lines joined by newlines (the comment's text for a comment). */
  data: string;
  /** When it was parsed (epoch ms). */
  receivedAt: number;
}

/** Reads an event stream. Dispose it (or call `close`) to cancel the body. */
export class SseReader implements AsyncDisposable {
  readonly #messages: SseMessage[] = [];
  readonly #reader: ReadableStreamDefaultReader<string>;
  #waiter: (() => void) | undefined;
  #done = false;
  #error: unknown;
  readonly #pump: Promise<void>;

  /**
   * @param body The response body.
   * @param onMessage Called for each message as it is parsed (before anyone reads it).
   */
  constructor(body: ReadableStream<Uint8Array>, onMessage?: (message: SseMessage) => void) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    this.#reader = reader;
    this.#pump = (async () => {
      let buffer = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(buffer.slice(end).match(/^\r?\n\r?\n/)![0].length + end);
            const message = parse(block);
            if (message) {
              onMessage?.(message);
              this.#messages.push(message);
              this.#wake();
            }
          }
        }
      } catch (error) {
        this.#error = error;
      } finally {
        this.#done = true;
        this.#wake();
      }
    })();
  }

  /** Messages parsed and not yet taken. */
  get buffered(): number {
    return this.#messages.length;
  }

  /**
   * The next message, comments included or not.
   *
   * @param timeoutMs Give up after this long (a bound against hanging, not an assertion).
   * @throws {Error} If the stream ended or nothing came within `timeoutMs`.
   */
  async next(options: { timeoutMs?: number; comments?: boolean } = {}): Promise<SseMessage> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      while (this.#messages.length > 0) {
        const message = this.#messages.shift()!;
        if (message.event !== "comment" || options.comments) return message;
      }
      if (this.#done) {
        throw new Error(`the event stream ended${this.#error ? `: ${this.#error}` : ""}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${options.timeoutMs ?? 15_000} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Skips messages until one of `event` type arrives, and returns it. */
  async nextOf(event: string, timeoutMs = 15_000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next({ timeoutMs: Math.max(1, deadline - Date.now()) });
      if (message.event === event) return message;
    }
  }

  /** Whether the stream has ended (the server closed it). */
  get ended(): boolean {
    return this.#done && this.#messages.length === 0;
  }

  /** Cancels the body and waits for the reader to stop. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.#pump;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

function parse(block: string): SseMessage | undefined {
  let event = "message";
  let id: string | undefined;
  const data: string[] = [];
  let comment: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) {
      comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0 && comment === undefined) return undefined; // e.g. a lone `retry:`
  if (data.length === 0) return { event: "comment", data: comment!, receivedAt: Date.now() };
  return { event, id, data: data.join("\n"), receivedAt: Date.now() };
}
