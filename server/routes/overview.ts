/**
 * `GET /api/instance/overview`: heavy aggregates served stale-while-revalidate over
 * epoch-aligned windows. The response tells the window boundary and how long after a
 * boundary the refresh is done, so a client's auto-refresh lands once the new window's
 * value is there:
 *
 * - `X-Cache: HIT` (fresh in this window), `STALE` (an older window's value, served at
 *   once while one refresh runs for the fleet), `MISS` (no value yet: computed now);
 * - `X-Window-Next-Boundary` (ISO-8601) and `X-Window-Ms`;
 * - `X-Window-Refreshed-At` (ISO-8601): when the value served was computed, i.e. when the
 *   refresh of its window finished;
 * - `X-Refresh-Ms`: how long that refresh took: the refresh of the next window, started at
 *   the boundary, is expected to be done that long after it;
 * - `Cache-Control`: a fresh value `private, max-age=<whole seconds left in the window>`
 *   (never past the boundary), a STALE one `no-store` (a browser must never show an old
 *   window's value again, not even on a reload).
 *
 * {@linkcode OverviewWindows.startPrewarm} starts the next window's refresh at the boundary
 * itself (the first request of the window would otherwise start it, and get the old value):
 * the refresh is then done `X-Refresh-Ms` after the boundary, where clients aim.
 *
 * @module
 */
import { Hono } from "hono";
import type { StaleWhileRevalidate, SwrResult } from "../../lib/mod.ts";
import type { Db } from "../db.ts";
import { getInstanceOverview, type InstanceOverview } from "../model/mod.ts";
import type { InstanceOverviewAnswer } from "../wire.ts";

/** The memo key of the overview. */
const KEY = "instance_overview";

/** What the memo stores: the overview and how long computing it took. */
interface Stored {
  overview: InstanceOverview;
  /** Wall time of the computation, in ms. */
  refreshMs: number;
}

/** Options of {@linkcode OverviewWindows}. */
export interface OverviewWindowsOptions {
  db: Db;
  memo: StaleWhileRevalidate;
  /** The window length, in ms. @default {300_000} */
  windowMs?: number;
  /** The clock (epoch ms), shared with the memo. @default {Date.now} */
  clock?: () => number;
  /**
   * How long after a boundary the prewarm starts the refresh, in ms (the memo must see the
   * new window). @default {50}
   */
  prewarmDelayMs?: number;
}

/** The overview of the instance, one value per window. */
export class OverviewWindows {
  readonly windowMs: number;
  /** The memo the values live in (a dataset import invalidates it). */
  readonly memo: StaleWhileRevalidate;
  readonly #db: Db;
  readonly #clock: () => number;
  readonly #prewarmDelayMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #prewarming = false;
  /** The last window (bucket) a client asked in: the prewarm only runs for watched pages. */
  #lastAskedBucket = -Infinity;

  /** @throws {RangeError} If `windowMs` is not a positive integer. */
  constructor(options: OverviewWindowsOptions) {
    this.windowMs = options.windowMs ?? 300_000;
    if (!Number.isInteger(this.windowMs) || this.windowMs <= 0) {
      throw new RangeError(`'windowMs' (${this.windowMs}) must be a positive integer`);
    }
    this.#db = options.db;
    this.memo = options.memo;
    this.#clock = options.clock ?? Date.now;
    this.#prewarmDelayMs = options.prewarmDelayMs ?? 50;
  }

  /**
   * The overview for the current window (see the memo for `state`).
   *
   * @throws Whatever the computation throws, when there is no value at all to serve.
   */
  async read(): Promise<SwrResult<Stored>> {
    this.#lastAskedBucket = Math.floor(this.#clock() / this.windowMs);
    return await this.#read();
  }

  #read(): Promise<SwrResult<Stored>> {
    return this.memo.memo<Stored>(KEY, this.windowMs, async () => {
      const started = performance.now();
      const overview = await getInstanceOverview(this.#db);
      return { overview, refreshMs: Math.round(performance.now() - started) };
    });
  }

  /**
   * Starts each window's refresh at its boundary while someone watches the overview (a
   * request in the window before); one refresh per window for the fleet (the memo's lock).
   * The timer does not keep the process alive. Stop it with {@linkcode stopPrewarm}.
   */
  startPrewarm(): void {
    this.#prewarming = true;
    this.#schedule();
  }

  /** Stops the prewarm. */
  stopPrewarm(): void {
    this.#prewarming = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#prewarming) return;
    const now = this.#clock();
    const next = (Math.floor(now / this.windowMs) + 1) * this.windowMs;
    const timer = setTimeout(() => {
      const bucket = Math.floor(this.#clock() / this.windowMs);
      // Watched: asked in the window that just ended (or this one).
      if (this.#lastAskedBucket >= bucket - 1) this.#read().catch(() => {});
      this.#schedule();
    }, next - now + this.#prewarmDelayMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}

/** What the overview route needs. */
export interface OverviewRoutesDeps {
  windows: OverviewWindows;
  /** The clock (epoch ms), shared with the memo. @default {Date.now} */
  clock?: () => number;
}

const X_CACHE = { fresh: "HIT", stale: "STALE", computed: "MISS" } as const;

/** Routes under `/api/instance`. */
export function overviewRoutes({ windows, clock = Date.now }: OverviewRoutesDeps): Hono {
  const app = new Hono();
  app.get("/overview", async (c) => {
    const started = performance.now();
    const result = await windows.read();
    c.header("X-Cache", X_CACHE[result.state]);
    c.header("X-Window-Ms", String(result.windowMs));
    c.header("X-Window-Next-Boundary", new Date(result.nextBoundaryMs).toISOString());
    c.header("X-Window-Refreshed-At", new Date(result.computedAt).toISOString());
    // A value stored before this field existed has no duration: say nothing then.
    if (typeof result.value.refreshMs === "number") {
      c.header("X-Refresh-Ms", String(result.value.refreshMs));
    }
    if (result.state === "stale") {
      c.header("Cache-Control", "no-store");
    } else {
      const secondsLeft = Math.max(0, Math.floor((result.nextBoundaryMs - clock()) / 1000));
      c.header("Cache-Control", `private, max-age=${secondsLeft}`);
    }
    c.header(
      "Server-Timing",
      `memo;dur=${(performance.now() - started).toFixed(1)};desc="${result.state}"`,
    );
    const overview = result.value.overview ?? (result.value as unknown as InstanceOverview);
    const answer: InstanceOverviewAnswer = {
      ...overview,
      computedAt: new Date(result.computedAt).toISOString(),
    };
    return c.json(answer);
  });
  return app;
}
