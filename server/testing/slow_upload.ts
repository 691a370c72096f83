/**
 * Test helper: an HTTP/1.1 request over a raw TCP socket whose body is sent slowly, chunk by
 * chunk, while the answer is read at the same time. It tells how much of the body had been
 * sent when the status line arrived: a server that answers before reading the whole body
 * is seen doing so, without any timing threshold.
 *
 * @module
 */

/** Options of {@linkcode slowUpload}. */
export interface SlowUploadOptions {
  /** `POST`, `PATCH`, ... */
  method: string;
  /** Path and query. */
  path: string;
  /** Extra request headers (`Host` and the framing headers are set here). */
  headers?: Record<string, string>;
  /** Bytes the body would have in full. */
  totalBytes: number;
  /** `"content-length"` announces `totalBytes`; `"chunked"` announces nothing. */
  framing: "content-length" | "chunked";
  /** Bytes per write. @default {65_536} */
  chunkBytes?: number;
  /** Pause between writes, in ms. @default {5} */
  intervalMs?: number;
  /** The byte the body is made of. @default {"["} */
  fill?: string;
  /** Gives up after this long without an answer, in ms (a bound, not an assertion). @default {60_000} */
  timeoutMs?: number;
}

/** What {@linkcode slowUpload} saw. */
export interface SlowUploadResult {
  /** The answer's status, or 0 when none came. */
  status: number;
  /** The answer's head and (start of its) body. */
  text: string;
  /** Body bytes written when the status line arrived. */
  sentBeforeAnswer: number;
  /** Whether the whole body had been written when it arrived. */
  bodyComplete: boolean;
  /** From the end of the request head to the status line, in ms. */
  msToAnswer: number;
}

/**
 * Sends one request with a slow body to `127.0.0.1:<port>` and stops sending as soon as the
 * answer's status line arrives.
 */
export async function slowUpload(
  port: number,
  options: SlowUploadOptions,
): Promise<SlowUploadResult> {
  const chunkBytes = options.chunkBytes ?? 65_536;
  const intervalMs = options.intervalMs ?? 5;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  const framing = options.framing === "chunked"
    ? "transfer-encoding: chunked"
    : `content-length: ${options.totalBytes}`;
  const extra = Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const head = `${options.method} ${options.path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
    `content-type: application/json\r\n${framing}\r\n${extra}\r\n`;
  let sent = 0;
  let answeredAt: number | undefined;
  let sentBeforeAnswer = 0;
  let text = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    const buffer = new Uint8Array(16_384);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return;
        if (answeredAt === undefined) {
          answeredAt = performance.now();
          sentBeforeAnswer = sent;
        }
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        if (text.length > 4096 || /\r\n\r\n[\s\S]*\}\s*$/.test(text)) return;
      }
    } catch { /* reset after the answer */ }
  })();
  await conn.write(encoder.encode(head));
  const headSentAt = performance.now();
  const chunk = encoder.encode((options.fill ?? "[").repeat(chunkBytes));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    while (answeredAt === undefined && sent < options.totalBytes && Date.now() < deadline) {
      const size = Math.min(chunkBytes, options.totalBytes - sent);
      const data = chunk.subarray(0, size);
      const framed = options.framing === "chunked"
        ? concat(encoder.encode(`${size.toString(16)}\r\n`), data, encoder.encode("\r\n"))
        : data;
      await writeAll(conn, framed);
      sent += size;
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    if (answeredAt === undefined && sent >= options.totalBytes && options.framing === "chunked") {
      await writeAll(conn, encoder.encode("0\r\n\r\n"));
    }
  } catch { /* the server closed the connection after answering */ }
  // Wait for the answer (bounded), then hang up.
  const waitUntil = Date.now() + 10_000;
  while (answeredAt === undefined && Date.now() < Math.min(deadline, waitUntil)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const finished = await Promise.race([
    reading.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
  ]);
  try {
    conn.close();
  } catch { /* closed */ }
  if (!finished) await reading;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return {
    status,
    text,
    sentBeforeAnswer,
    bodyComplete: sentBeforeAnswer >= options.totalBytes,
    msToAnswer: answeredAt === undefined ? Infinity : answeredAt - headSentAt,
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
