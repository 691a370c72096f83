/**
 * Errors of the model layer. The server maps {@linkcode ValidationError} to 400 and
 * {@linkcode NotFoundError} to 404, using `message` as the user-facing text.
 *
 * @module
 */

/** Base class of model errors; `code` is stable for clients and logs. */
export class ModelError extends Error {
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
}

/** A project, module, metric or presentation object that does not exist (HTTP 404). */
export class NotFoundError extends ModelError {
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
