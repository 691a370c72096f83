/**
 * Mirroring invalidations to other instances (`CACHE_MIRRORS`), signed with a shared secret
 * (`MIRROR_SECRET`).
 *
 * The request: `POST <mirror>/api/cache/invalidate` with the JSON body of
 * {@linkcode MirrorBody} (`mirror: false`, so the receiver never forwards it again) and
 * `Authorization: Bearer <JWT>`, an HS256 token (jose) with
 *
 * | claim | value                                                        |
 * | ----- | ------------------------------------------------------------ |
 * | `iss` | the sending instance                                         |
 * | `aud` | {@linkcode MIRROR_AUDIENCE}                                  |
 * | `iat` | now; the receiver refuses tokens older than the window (60 s) |
 * | `exp` | `iat` + window                                               |
 * | `jti` | random per request: a token seen before is a replay (401)    |
 * | `bsh` | SHA-256 of the exact body (base64url): the token signs it    |
 *
 * The body's `eventId` is the invalidation's id and stays the same across retries: a
 * receiver that already applied it answers `{applied: false, duplicate: true}`.
 *
 * Deliveries never block the request that caused them: {@linkcode MirrorSender.send}
 * queues and returns; each mirror gets each event with retries (exponential backoff with
 * jitter) on network errors, timeouts, 5xx, 408 and 429, and no retry on other 4xx.
 *
 * @module
 */
import { jitteredBackoffMs } from "../../lib/mod.ts";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { createHash } from "node:crypto";
import type { SeenSet } from "../../lib/mod.ts";
import type { CacheEventLog } from "./event_log.ts";
import type { CacheEvent } from "./types.ts";

/** The `aud` claim of mirror tokens. */
export const MIRROR_AUDIENCE = "wb:cache-invalidate";
/** How old (by `iat`) a mirror token may be, in seconds; also its lifetime. */
export const MIRROR_WINDOW_S = 60;
/** Accepted clock difference between instances, in seconds. */
export const MIRROR_CLOCK_TOLERANCE_S = 5;
/** Shortest accepted `MIRROR_SECRET`, in characters. */
export const MIRROR_SECRET_MIN_LENGTH = 32;

/** The body of a mirrored invalidation. */
export interface MirrorBody {
  /** Entity type (singular or plural). */
  entity: string;
  /** One entity of that type; all when absent. */
  id?: string;
  /** Its project, when it belongs to one. */
  projectId?: string;
  /** The invalidation's id (UUID), kept across retries. */
  eventId: string;
  /** Always false: the receiver must not forward it. */
  mirror: false;
  /** The sending instance. */
  origin: string;
  /** The event type at the origin (information only). */
  type?: string;
  /** The new version at the origin (information only: versions are per instance). */
  version?: string;
}

/** A refused mirror credential; `reason` is what the log and the 401 message say. */
export class MirrorAuthError extends Error {
  /** Stable code. */
  readonly code = "MIRROR_AUTH";
  constructor(readonly reason: string, options?: ErrorOptions) {
    super(`Mirror credential refused: ${reason}`, options);
    this.name = "MirrorAuthError";
  }
}

const keyOf = (secret: string) => new TextEncoder().encode(secret);
const bodyHash = (body: string) => createHash("sha256").update(body).digest("base64url");

/**
 * Whether a bearer token is shaped like a JWT (three base64url parts) rather than an
 * admin token.
 */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/** Options of {@linkcode signMirrorRequest}. */
export interface SignOptions {
  /** The sending instance (`iss`). */
  issuer: string;
  /** Issue time, epoch seconds. @default {now} */
  issuedAtS?: number;
  /** Token id. @default {a random UUID} */
  jti?: string;
}

/**
 * Signs a mirror request body.
 *
 * @param body The exact request body that will be sent.
 * @returns A compact JWT for `Authorization: Bearer`.
 * @example
 * ```ts
 * const body = JSON.stringify({ entity: "module", eventId: crypto.randomUUID(), mirror: false });
 * const token = await signMirrorRequest(body, "a-shared-secret-of-32-characters!", { issuer: "staging" });
 * ```
 */
export async function signMirrorRequest(
  body: string,
  secret: string,
  options: SignOptions,
): Promise<string> {
  const iat = options.issuedAtS ?? Math.floor(Date.now() / 1000);
  return await new SignJWT({ bsh: bodyHash(body) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(options.issuer)
    .setAudience(MIRROR_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + MIRROR_WINDOW_S)
    .setJti(options.jti ?? crypto.randomUUID())
    .sign(keyOf(secret));
}

/**
 * Verifies a mirror request: signature, audience, time window, body hash, then that the
 * token was not used before (the `jti` is claimed in `seenTokens`, shared by the
 * instance's processes).
 *
 * @returns The sending instance (`iss`).
 * @throws {MirrorAuthError} With the reason: bad signature, expired or too old, not yet
 *   valid, wrong audience, body does not match, replayed.
 */
export async function verifyMirrorRequest(
  token: string,
  body: string,
  secret: string,
  seenTokens: SeenSet,
): Promise<{ issuer: string }> {
  let payload;
  try {
    if (decodeProtectedHeader(token).alg !== "HS256") {
      throw new MirrorAuthError("algorithm is not HS256");
    }
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ["HS256"],
      audience: MIRROR_AUDIENCE,
      maxTokenAge: MIRROR_WINDOW_S,
      clockTolerance: MIRROR_CLOCK_TOLERANCE_S,
      requiredClaims: ["iss", "iat", "exp", "jti"],
    }));
  } catch (error) {
    if (error instanceof MirrorAuthError) throw error;
    throw new MirrorAuthError(joseReason(error), { cause: error });
  }
  if (payload.bsh !== bodyHash(body)) {
    throw new MirrorAuthError("the body does not match the signature");
  }
  if (!(await seenTokens.add(String(payload.jti)))) throw new MirrorAuthError("token replayed");
  return { issuer: String(payload.iss) };
}

/** An error's message with its causes' (fetch says only "fetch failed" at the top). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 4; e = (e as Error)?.cause) {
    parts.push(String((e as Error)?.message ?? e));
  }
  return parts.join(": ");
}

function joseReason(error: unknown): string {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "bad signature";
  if (error instanceof joseErrors.JWTExpired) return `expired or too old (${error.message})`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `claim '${error.claim}' refused (${error.message})`;
  }
  if (error instanceof joseErrors.JOSEError) return `malformed token (${error.message})`;
  return `malformed token (${String((error as Error)?.message ?? error)})`;
}

/** The mirror body for a locally raised event. */
export function mirrorBodyOf(event: CacheEvent, origin: string): MirrorBody {
  const base = { eventId: event.eventId, mirror: false as const, origin, type: event.type };
  switch (event.type) {
    case "module_run":
      return {
        ...base,
        entity: event.entity,
        id: event.moduleId,
        projectId: event.projectId,
        version: event.version,
      };
    case "presentation_object_updated":
      return {
        ...base,
        entity: event.entity,
        id: event.poId,
        projectId: event.projectId,
        version: event.version,
      };
    case "dataset_imported":
      return { ...base, entity: event.entity, id: event.datasetId, version: event.version };
    case "structure_imported":
      return { ...base, entity: event.entity, version: event.version };
    case "invalidated":
      return { ...base, entity: event.entity, id: event.id, projectId: event.projectId };
  }
}

/** Retry schedule of mirror deliveries. Durations in ms. */
export interface MirrorRetryPolicy {
  /** Attempts per mirror and event, the first included. @default {8} */
  attempts: number;
  /** Delay before the second attempt; doubles each time. @default {250} */
  baseDelayMs: number;
  /** Longest delay between attempts. @default {8000} */
  maxDelayMs: number;
  /** An attempt without a response after this long fails. @default {5000} */
  timeoutMs: number;
}

/** The default {@linkcode MirrorRetryPolicy}: 8 attempts over about 30 s. */
export const DEFAULT_MIRROR_RETRY: MirrorRetryPolicy = {
  attempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  timeoutMs: 5000,
};

/** Options of {@linkcode MirrorSender}. */
export interface MirrorSenderOptions {
  /** Base URLs of the other instances (`CACHE_MIRRORS`), e.g. `https://prod.example.org`. */
  mirrors: readonly string[];
  /** The shared secret (`MIRROR_SECRET`). */
  secret: string;
  /** This instance's id (`iss`, `origin`). */
  instance: string;
  /** Where deliveries, failures and give-ups are logged. */
  log: CacheEventLog;
  /** @default {DEFAULT_MIRROR_RETRY} */
  retry?: Partial<MirrorRetryPolicy>;
  /** Deliveries queued at most; beyond, the oldest is dropped (and logged). @default {1000} */
  maxPending?: number;
}

interface Delivery {
  mirror: string;
  body: MirrorBody;
  cancel?: () => void;
}

/**
 * Sends each local invalidation to every mirror in the background, with retries.
 *
 * @throws {TypeError} If a mirror is not an http(s) URL, or carries credentials.
 * @throws {RangeError} If the secret is shorter than {@linkcode MIRROR_SECRET_MIN_LENGTH}.
 */
export class MirrorSender {
  readonly mirrors: readonly string[];
  readonly #secret: string;
  readonly #instance: string;
  readonly #log: CacheEventLog;
  readonly #retry: MirrorRetryPolicy;
  readonly #maxPending: number;
  readonly #pending = new Set<Delivery>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: MirrorSenderOptions) {
    for (const mirror of options.mirrors) {
      const shown = mirror.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, "$1***@");
      if (!/^https?:\/\/[^/]+/.test(mirror)) {
        throw new TypeError(`Cannot mirror to '${shown}': not an http(s) URL`);
      }
      if (/^https?:\/\/[^/?#\s]*@/.test(mirror)) {
        // The signed token goes in the Authorization header; URL credentials would be logged.
        throw new TypeError(`Cannot mirror to '${shown}': the URL must not carry credentials`);
      }
    }
    if (options.secret.length < MIRROR_SECRET_MIN_LENGTH) {
      throw new RangeError(
        `Cannot mirror: the secret must have at least ${MIRROR_SECRET_MIN_LENGTH} characters`,
      );
    }
    this.mirrors = options.mirrors.map((mirror) => mirror.replace(/\/+$/, ""));
    this.#secret = options.secret;
    this.#instance = options.instance;
    this.#log = options.log;
    this.#retry = { ...DEFAULT_MIRROR_RETRY, ...options.retry };
    this.#maxPending = options.maxPending ?? 1000;
  }

  /** Deliveries not yet done (sent, refused or given up). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Queues `event` for every mirror and returns at once. */
  send(event: CacheEvent): void {
    if (this.#closed) return;
    const body = mirrorBodyOf(event, this.#instance);
    for (const mirror of this.mirrors) {
      if (this.#pending.size >= this.#maxPending) {
        const oldest = this.#pending.values().next().value!;
        this.#pending.delete(oldest);
        oldest.cancel?.();
        this.#log.warn({
          event: "mirror_dropped",
          mirror: oldest.mirror,
          eventId: oldest.body.eventId,
          reason: `more than ${this.#maxPending} deliveries pending`,
        });
      }
      const delivery: Delivery = { mirror, body };
      this.#pending.add(delivery);
      const running = this.#deliver(delivery).finally(() => {
        this.#pending.delete(delivery);
        this.#running.delete(running);
      });
      this.#running.add(running);
    }
  }

  /**
   * Waits for pending deliveries, at most `timeoutMs`.
   *
   * @returns Whether none is left.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([Promise.allSettled([...this.#running]), timeout]);
    clearTimeout(timer);
    return this.#pending.size === 0;
  }

  /** Stops queueing and cancels the retries still waiting (each is logged as given up). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const delivery of this.#pending) delivery.cancel?.();
    await Promise.allSettled([...this.#running]);
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { mirror, body } = delivery;
    const url = `${mirror}/api/cache/invalidate`;
    const text = JSON.stringify(body);
    let cancelled = false;
    delivery.cancel = () => cancelled = true;
    const started = performance.now();
    for (let attempt = 1; attempt <= this.#retry.attempts; attempt++) {
      let failure: string;
      let retryable = true;
      try {
        const token = await signMirrorRequest(text, this.#secret, { issuer: this.#instance });
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: text,
          signal: AbortSignal.timeout(this.#retry.timeoutMs),
          // A mirror is the configured URL and nothing else: a redirect is a refusal, never
          // a reason to send the signed request somewhere else.
          redirect: "manual",
        });
        const answer = await response.json().catch(() => ({})) as Record<string, unknown>;
        if (response.ok) {
          this.#log.info({
            event: "mirror_sent",
            mirror,
            eventId: body.eventId,
            entity: body.entity,
            id: body.id,
            attempt,
            status: response.status,
            applied: answer.applied,
            duplicate: answer.duplicate,
            ms: Math.round(performance.now() - started),
            reason: answer.applied === false ? "the mirror had applied it already" : "applied",
          });
          return;
        }
        failure = response.status >= 300 && response.status < 400
          ? `HTTP ${response.status}: a redirect (to ${
            String(response.headers.get("location")).slice(0, 200)
          }), not followed`
          : `HTTP ${response.status}: ${answer.message ?? response.statusText}`;
        retryable = response.status >= 500 || response.status === 408 ||
          response.status === 429;
      } catch (error) {
        failure = describeError(error);
      }
      const last = attempt === this.#retry.attempts || !retryable;
      if (last || cancelled) {
        this.#log.warn({
          event: "mirror_gave_up",
          mirror,
          eventId: body.eventId,
          entity: body.entity,
          id: body.id,
          attempt,
          error: failure,
          reason: cancelled
            ? "shutting down"
            : retryable
            ? `${attempt} attempts failed`
            : "refused by the mirror (not retried)",
        });
        return;
      }
      const delayMs = this.#delayMs(attempt);
      this.#log.warn({
        event: "mirror_failed",
        mirror,
        eventId: body.eventId,
        entity: body.entity,
        id: body.id,
        attempt,
        error: failure,
        nextRetryMs: delayMs,
        reason: "will retry",
      });
      const waited = await this.#sleep(delayMs, delivery);
      if (!waited) {
        this.#log.warn({
          event: "mirror_gave_up",
          mirror,
          eventId: body.eventId,
          attempt,
          error: failure,
          reason: "shutting down",
        });
        return;
      }
    }
  }

  #delayMs(attempt: number): number {
    return Math.round(jitteredBackoffMs(attempt - 1, {
      minMs: Math.min(this.#retry.baseDelayMs, this.#retry.maxDelayMs),
      maxMs: this.#retry.maxDelayMs,
      jitter: "equal",
    }));
  }

  /** Sleeps `ms`; resolves false at once when the delivery is cancelled. */
  #sleep(ms: number, delivery: Delivery): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), ms);
      delivery.cancel = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
  }
}
