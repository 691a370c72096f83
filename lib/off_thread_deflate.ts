/**
 * Compression of large entries off the event loop. `deflateRawSync` of a 1.3 MB entry (a
 * national presentation object's items) holds the thread for 5 to 25 ms on this machine,
 * and node:zlib's callback form runs on the same thread in Deno (measured: no timer fires
 * during it), so every request the process serves waits behind each large write. One worker
 * per `RedisStore`, started on first use (a server starts it at boot: `start()`), does it
 * instead; the event loop only copies the JSON's characters into the message.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { deflateRawSync } from "node:zlib";

/** Raw deflate (level 6) of UTF-8 `json`, as base64, on this thread. */
export function deflateBase64Sync(json: string): string {
  return deflateRawSync(Buffer.from(json), { level: 6 }).toString("base64");
}

interface Reply {
  id: number;
  base64?: string;
  error?: string;
}

interface Job {
  json: string;
  resolve: (base64: string) => void;
}

/**
 * A lazily started worker that deflates JSON. Never rejects: a job the worker cannot do (it
 * failed to start, threw, or was closed) is done on this thread.
 */
export class OffThreadDeflate {
  #worker: Worker | undefined;
  #failed = false;
  #next = 0;
  readonly #jobs = new Map<number, Job>();

  /** Jobs sent and not answered yet. */
  get pending(): number {
    return this.#jobs.size;
  }

  /** Whether the worker is running. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Raw deflate (level 6) of the UTF-8 of `json`, as base64: the same bytes as
   * {@linkcode deflateBase64Sync}.
   */
  deflateBase64(json: string): Promise<string> {
    const worker = this.#worker ?? this.#start();
    if (!worker) return Promise.resolve(deflateBase64Sync(json));
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#jobs.set(id, { json, resolve });
      worker.postMessage({ id, json }); // a copy of the characters (cheaper than TextEncoder)
    });
  }

  /**
   * Starts the worker now instead of at the first large entry. Creating it holds the event
   * loop for tens of ms (measured 80 ms on a loaded 2-core machine: the isolate and its
   * module graph), so a server calls this at boot, not on the path of its first national
   * fill, which every hit arriving meanwhile would wait behind. Safe to call twice; a worker
   * that cannot start leaves compression on this thread.
   */
  start(): void {
    this.#worker ?? this.#start();
  }

  /** Stops the worker; jobs in flight are finished on this thread. Safe to call twice. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#drain();
  }

  #start(): Worker | undefined {
    if (this.#failed) return undefined;
    try {
      const worker = new Worker(new URL("./_deflate_worker.ts", import.meta.url), {
        type: "module",
      });
      worker.onmessage = (event: MessageEvent<Reply>) => this.#answer(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#failed = true; // a worker that cannot load stays off: deflate here from now on
        this.close();
      };
      this.#worker = worker;
      return worker;
    } catch {
      this.#failed = true;
      return undefined;
    }
  }

  #answer({ id, base64 }: Reply): void {
    const job = this.#jobs.get(id);
    if (!job) return;
    this.#jobs.delete(id);
    job.resolve(base64 ?? deflateBase64Sync(job.json));
  }

  #drain(): void {
    for (const job of this.#jobs.values()) job.resolve(deflateBase64Sync(job.json));
    this.#jobs.clear();
  }
}
