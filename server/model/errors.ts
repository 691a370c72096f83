/**
 * Errors of the model layer: {@linkcode ValidationError} is answered with 400 and
 * {@linkcode NotFoundError} with 404, `message` as the user-facing text (see
 * {@linkcode ServerError}).
 *
 * @module
 */

import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorAnswer, ServerError } from "../errors.ts";

/** Base class of model errors; `code` is stable for clients and logs. */
export abstract class ModelError extends ServerError {
  /** Stable error code. */
  readonly code: string;

  /**
   * @param code Stable code, e.g. "VALIDATION_FAILED".
   * @param message Message for the user.
   * @param options Standard error options (`cause`).
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelError";
    this.code = code;
  }
}

/** Input outside what the model accepts (HTTP 400). `field` names the bad field, e.g. "values[0].func". */
export class ValidationError extends ModelError {
  /** Answered with 400. */
  readonly status: ContentfulStatusCode = 400;
  /** The answer's `error` field. */
  readonly wireCode = "bad_request";
  /** Path of the offending field, when one field is to blame. */
  readonly field: string | undefined;

  /**
   * @param message Message for the user, naming the field.
   * @param field Path of the offending field.
   */
  constructor(message: string, field?: string) {
    super("VALIDATION_FAILED", message);
    this.name = "ValidationError";
    this.field = field;
  }

  /** The 400 answer, naming the field. */
  override answer(): ErrorAnswer {
    const answer = super.answer();
    return { ...answer, body: { ...answer.body, field: this.field } };
  }
}

/** A project, module, metric or presentation object that does not exist (HTTP 404). */
export class NotFoundError extends ModelError {
  /** Answered with 404. */
  readonly status: ContentfulStatusCode = 404;
  /** The answer's `error` field. */
  readonly wireCode = "not_found";
  /** Kind of thing, e.g. "project". */
  readonly resource: string;
  /** Its id as requested. */
  readonly id: string;

  /**
   * @param resource Kind of thing, e.g. "project", "module".
   * @param id The requested id.
   */
  constructor(resource: string, id: string) {
    super("NOT_FOUND", `No ${resource} '${id}'`);
    this.name = "NotFoundError";
    this.resource = resource;
    this.id = id;
  }
}
