/**
 * The one root of the server's own errors: each carries the HTTP status and the stable
 * codes it is answered with, so `onError` (`app.ts`) maps every one the same way. Hono's
 * `HTTPException` (thrown by middleware and input checks) is the other kind `onError` knows.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** What a {@linkcode ServerError} answers: status, JSON body and extra headers. */
export interface ErrorAnswer {
  /** The HTTP status (4xx or 5xx). */
  status: ContentfulStatusCode;
  /** The JSON body: `error` (the wire code), `message` (for people), and extra fields. */
  body: { error: string; message: string } & Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`). */
  headers: Record<string, string>;
}

/**
 * Base class of the server's errors. `code` is stable for logs and tests
 * (e.g. `VALIDATION_FAILED`); `wireCode` is the answer's `error` field (e.g. `bad_request`).
 */
export abstract class ServerError extends Error {
  /** Stable machine-readable code, e.g. `NOT_FOUND`. */
  abstract readonly code: string;
  /** The HTTP status the error is answered with. */
  abstract readonly status: ContentfulStatusCode;
  /** The answer's `error` field, e.g. `not_found`. */
  abstract readonly wireCode: string;

  /** The answer: the message as is, no extra fields or headers unless a subclass adds them. */
  answer(): ErrorAnswer {
    return {
      status: this.status,
      body: { error: this.wireCode, message: this.message },
      headers: {},
    };
  }
}
