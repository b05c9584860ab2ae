// The errors the gateway exposes: each has a stable code and an HTTP status; the server renders them in one place.

export interface FieldError {
  /** Dot/bracket path of the offending field, e.g. `audit.enabled` or `algorithms[0]`. */
  readonly path: string;
  readonly message: string;
}

/** Base class: `code` is stable and snake_case; `expose` says whether the message may reach the client. */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly expose = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request body or parameters are invalid; `fields` lists every problem found. */
export class ValidationError extends GatewayError {
  constructor(
    message: string,
    readonly fields: readonly FieldError[] = [],
  ) {
    super('invalid_request', 400, message);
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

/** A conditional request (`If-Match`) named a revision that is no longer current. */
export class PreconditionFailedError extends GatewayError {
  constructor(message: string) {
    super('precondition_failed', 412, message);
  }
}

/** A concurrent change won the race; the caller may re-read and retry. */
export class ConflictError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', 409, message, true, options);
  }
}

export class UnauthorizedError extends GatewayError {
  constructor(message = 'a valid admin token is required') {
    super('unauthorized', 401, message);
  }
}

/** The event store cannot take writes (read-only file, disk full, connection lost). */
export class ServiceUnavailableError extends GatewayError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 503, message, true, options);
  }
}
