/**
 * VoIPBIN's error envelope: `{error: {status, reason, message, request_id}}`.
 * `status` is the canonical status that maps 1:1 to the HTTP code; `reason` is the specific
 * UPPER_SNAKE cause clients branch on (see voipbin-docs/restful_api_errors.rst).
 */

/** Canonical status for each HTTP code VoIPBIN uses. */
export const CANONICAL_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  402: 'PAYMENT_REQUIRED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'FAILED_PRECONDITION',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** The body of every 4xx/5xx response. */
export interface ErrorEnvelope {
  error: {
    status: string;
    reason: string;
    message: string;
    request_id: string;
    details?: Record<string, unknown>[];
  };
}

/** An error the local API answers with; routes throw it and the error handler renders the envelope. */
export class ApiError extends Error {
  readonly httpStatus: number;
  readonly reason: string;
  readonly headers: Record<string, string>;
  /** Canonical status when it is not the HTTP code's default (409 ALREADY_EXISTS). */
  private readonly statusOverride: string | undefined;

  constructor(httpStatus: number, reason: string, message: string, headers: Record<string, string> = {}, status?: string) {
    super(message);
    this.name = 'ApiError';
    this.httpStatus = httpStatus;
    this.reason = reason;
    this.headers = headers;
    this.statusOverride = status;
  }

  /** The canonical status string: the HTTP code's, unless the error names its own. */
  get status(): string {
    return this.statusOverride ?? canonicalStatus(this.httpStatus);
  }

  toEnvelope(requestId: string): ErrorEnvelope {
    return { error: { status: this.status, reason: this.reason, message: this.message, request_id: requestId } };
  }
}

/** Maps an HTTP code to VoIPBIN's canonical status (unknown 4xx → INVALID_ARGUMENT, 5xx → INTERNAL). */
export function canonicalStatus(httpStatus: number): string {
  return CANONICAL_STATUS[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/** 400 INVALID_ARGUMENT (or a more specific 400 reason). */
export function invalidArgument(message: string, reason = 'INVALID_ARGUMENT'): ApiError {
  return new ApiError(400, reason, message);
}

/** 404 with a resource-prefixed reason, e.g. `AI_NOT_FOUND`. */
export function notFound(reason: string, message: string): ApiError {
  return new ApiError(404, reason, message);
}

/** 409 with a state reason, e.g. `CALL_ALREADY_HANGUP`. */
export function conflict(reason: string, message: string): ApiError {
  return new ApiError(409, reason, message);
}
