/**
 * `EventBus`: publish/subscribe between the processes of one instance over Redis pub/sub,
 * with local delivery first.
 *
 * ```
 * publish(m) ─▶ seq = NEXT_SEQ <channel>:seq      (one script; process-local counter when Redis is down)
 *            ─▶ this process's listeners           (always, before anything else can fail)
 *            ─▶ PUBLISH <channel> {o, s, m}        (deadline + breaker; skipped when Redis is down)
 *                   │
 *   other processes' subscriber connection (client.duplicate()) ─▶ their listeners
 *   (a process ignores its own messages: it delivered them already)
 * ```
 *
 * Sequence numbers increase per instance: they come from one Redis counter shared by every
 * process, and a process never hands out a number at or below the highest it has seen (the
 * counter script raises the counter when a `FLUSHDB` reset it). With Redis down, numbers are
 * process-local (highest seen + 1), so they still increase within the process.
 *
 * Pub/sub is at-most-once: a process whose subscriber connection is down misses what was
 * published meanwhile (node-redis re-subscribes when it reconnects).
 *
 * On a Redis Cluster the bus uses sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`, Redis 7): a
 * message goes to the master serving the channel's slot and its subscribers only, instead
 * of being broadcast over the cluster bus to every node. The subscriber is a duplicate of
 * the cluster client that connects to that master alone; when the master fails, node-redis
 * moves the subscription to the promoted replica once it reads the new topology. The
 * counter script names one key (`<channel>:seq`), so it runs on one node.
 *
 * @module
 */
import { isCluster } from "./_cluster.ts";
import type { RedisGuard } from "./_guard.ts";
import { closeQuietly, type RedisClient } from "./redis.ts";
import type { RedisStore } from "./redis_store.ts";

/** Raise the counter past `floor` if a flush reset it, and return the next number. */
const NEXT_SEQ = `local n = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if n <= floor then
  n = floor + 1
  redis.call('SET', KEYS[1], n)
end
return n`;

/** One message as a listener receives it. */
export interface BusDelivery<T> {
  /** Instance-wide increasing number of the message (see the module doc). */
  seq: number;
  /** The published value. */
  message: T;
  /** True when this process published it. */
  local: boolean;
}

/** What {@linkcode EventBus.publish} did. */
export interface PublishResult {
  /** The number given to the message. */
  seq: number;
  /** Whether the message went out on Redis (false: only this process's listeners got it). */
  published: boolean;
}

/** Options of {@linkcode EventBus}. */
export interface EventBusOptions {
  /**
   * The instance's Redis: its client publishes, and is duplicated to subscribe
   * (`RedisStore.disabled()`: this process's listeners only).
   */
  store: RedisStore;
  /** Reply deadline of the counter and `PUBLISH` calls, in ms. @default {the store's `commandTimeoutMs`} */
  commandTimeoutMs?: number;
  /** How long a timed-out call keeps Redis skipped, in ms. @default {1000} */
  breakerMs?: number;
  /** How often to retry subscribing while no client is ready, in ms. @default {500} */
  subscribeRetryMs?: number;
  /** Where state changes and listener errors are reported (one JSON line each). @default {console.error} */
  log?: (line: string) => void;
}

interface WireMessage<T> {
  /** Origin: the publishing bus. */
  o: string;
  /** Sequence number. */
  s: number;
  /** The message. */
  m: T;
}

/**
 * Publish/subscribe between the processes of one instance. Construct, {@linkcode start},
 * {@linkcode subscribe}, {@linkcode publish}; {@linkcode close} at shutdown.
 *
 * @example Two processes' buses on one channel
 * ```ts
 * const bus = new EventBus<{ type: string }>("wb:events", { store });
 * bus.start();
 * bus.subscribe(({ seq, message, local }) => console.log(seq, message.type, local));
 * await bus.publish({ type: "module_run" }); // this process's listeners first, then Redis
 * await bus.close();
 * ```
 */
export class EventBus<T> {
  /** The Redis pub/sub channel. */
  readonly channel: string;
  /** Random id of this bus; messages carrying it are not delivered twice. */
  readonly origin: string = crypto.randomUUID();
  readonly #redis: RedisGuard;
  readonly #sequenceKey: string;
  readonly #retryMs: number;
  readonly #log: (line: string) => void;
  readonly #listeners = new Set<(delivery: BusDelivery<T>) => void>();
  #lastSeq = 0;
  #subscriber: RedisClient | undefined;
  #subscribed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #started = false;
  #closed = false;

  /**
   * An event bus on one Redis channel (sharded pub/sub on a cluster).
   *
   * @param channel The Redis channel; the sequence counter is the key `<channel>:seq`.
   * @throws {TypeError} If `channel` is empty.
   */
  constructor(channel: string, options: EventBusOptions) {
    if (!channel) throw new TypeError("Cannot create event bus: 'channel' must not be empty");
    this.channel = channel;
    this.#sequenceKey = `${channel}:seq`;
    this.#redis = options.store.guard(options, (event, error) => this.#report(event, error));
    this.#retryMs = options.subscribeRetryMs ?? 500;
    this.#log = options.log ?? ((line) => console.error(line));
  }

  /** The highest sequence number this bus has handed out or received. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Whether the Redis subscription is live (messages of other processes arrive). */
  get subscribed(): boolean {
    return this.#subscribed && this.#subscriber?.isReady === true;
  }

  /**
   * Starts subscribing in the background: at once when the instance's client is ready,
   * else every `subscribeRetryMs` until it is. Safe to call twice.
   */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#trySubscribe();
  }

  /**
   * Resolves when the subscription is live, or with `false` after `timeoutMs`.
   *
   * @param timeoutMs How long to wait, in ms.
   */
  async waitUntilSubscribed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.subscribed) {
      if (Date.now() >= deadline || this.#closed) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  /**
   * Adds a listener for every message, this process's and the others'. A listener that
   * throws is logged and does not stop the others.
   *
   * @returns A function that removes the listener.
   */
  subscribe(listener: (delivery: BusDelivery<T>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Numbers `message`, delivers it to this process's listeners, then publishes it to the
   * other processes. Never throws for a Redis outage: the message then stays local.
   *
   * @param message Any JSON-serializable value.
   */
  async publish(message: T): Promise<PublishResult> {
    const counted = await this.#redis.attempt(
      this.#sequenceKey,
      { op: "event_bus_sequence_failed", skipped: undefined },
      async (client, call) =>
        Number(
          await call(client.eval(NEXT_SEQ, {
            keys: [this.#sequenceKey],
            arguments: [String(this.#lastSeq)],
          })),
        ),
    );
    const seq = counted === undefined || !Number.isSafeInteger(counted) || counted <= this.#lastSeq
      ? this.#lastSeq + 1
      : counted;
    this.#lastSeq = seq;
    this.#deliver({ seq, message, local: true });
    const published = await this.#redis.attempt(
      this.channel,
      { op: "event_bus_publish_failed", skipped: false },
      async (publisher, call) => {
        const wire = JSON.stringify(
          { o: this.origin, s: seq, m: message } satisfies WireMessage<T>,
        );
        await call(
          isCluster(publisher)
            ? publisher.sPublish(this.channel, wire)
            : publisher.publish(this.channel, wire),
        );
        return true;
      },
    );
    return { seq, published };
  }

  /** Stops subscribing and closes the subscriber connection. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#listeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = false;
    if (!subscriber) return;
    await closeQuietly(subscriber);
  }

  #deliver(delivery: BusDelivery<T>): void {
    for (const listener of this.#listeners) {
      try {
        listener(delivery);
      } catch (error) {
        this.#report("event_bus_listener_failed", error);
      }
    }
  }

  #receive(raw: string): void {
    let wire: WireMessage<T>;
    try {
      wire = JSON.parse(raw);
    } catch {
      this.#log(JSON.stringify({ event: "event_bus_bad_message", channel: this.channel }));
      return;
    }
    if (wire.o === this.origin || !Number.isSafeInteger(wire.s)) return;
    if (wire.s > this.#lastSeq) this.#lastSeq = wire.s;
    this.#deliver({ seq: wire.s, message: wire.m, local: false });
  }

  #trySubscribe(): void {
    if (this.#closed || this.#subscriber) return;
    const client = this.#redis.redis;
    if (!client) {
      this.#retryTimer = setTimeout(() => this.#trySubscribe(), this.#retryMs);
      return;
    }
    // A dedicated connection: a subscribed connection can run no other commands. On a
    // cluster, a duplicate that connects only to the master of the channel's slot.
    const sharded = isCluster(client);
    const subscriber =
      (sharded
        ? client.duplicate({ minimizeConnections: true })
        : client.duplicate()) as RedisClient;
    this.#subscriber = subscriber;
    let up: boolean | undefined;
    const down = (error: Error) => {
      if (up !== false) this.#report("event_bus_subscriber_down", error);
      up = false;
    };
    const ready = () => {
      if (up === false) {
        this.#log(JSON.stringify({ event: "event_bus_subscriber_up", channel: this.channel }));
      }
      up = true;
    };
    subscriber.on("error", down);
    if (sharded) {
      subscriber.on("node-error", down);
      subscriber.on("node-ready", ready);
    } else subscriber.on("ready", ready);
    (async () => {
      try {
        await subscriber.connect();
        const listener = (raw: string) => this.#receive(raw);
        if (isCluster(subscriber)) await subscriber.sSubscribe(this.channel, listener);
        else await subscriber.subscribe(this.channel, listener);
        this.#subscribed = true;
      } catch (error) {
        // Give this connection up and start over with the instance's client later.
        this.#report("event_bus_subscribe_failed", error);
        if (this.#subscriber === subscriber) this.#subscriber = undefined;
        try {
          subscriber.destroy();
        } catch { /* never opened */ }
        if (!this.#closed) {
          this.#retryTimer = setTimeout(() => this.#trySubscribe(), this.#retryMs);
        }
      }
    })();
  }

  #report(event: string, error: unknown): void {
    this.#log(JSON.stringify({
      event,
      channel: this.channel,
      error: String((error as Error)?.message ?? error),
    }));
  }
}
