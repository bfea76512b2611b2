/**
 * Typed errors of the VoIPBIN REST client, one class per HTTP status (after openai-node).
 *
 * Every 4xx/5xx from a VoIPBIN-compatible API carries the envelope
 * `{error: {status, reason, message, request_id, details?}}`; {@link VoipbinError.fromResponse}
 * turns it into the matching class. Messages are short (`404 AI_NOT_FOUND: ai not found
 * (request_id req_...)`) and always pass through {@link redact}, so an access key, a bearer token
 * or a registered secret (engine keys) echoed by a server never ends up in an error message.
 */
import { STATUS_CODES } from 'node:http';
import { canonicalStatus as canonicalStatusFor } from '../api/errors.js';
import { redact } from '../util/logger.js';

/** Longest server text kept in a message when the body is not a VoIPBIN envelope. */
const MAX_TEXT_CHARS = 200;

/** Fields every {@link VoipbinError} is built from. */
export interface VoipbinErrorInit {
  /** HTTP status code; `undefined` when no response was received. */
  status?: number;
  /** Canonical status, e.g. `NOT_FOUND` (from the envelope, else derived from the HTTP code). */
  canonicalStatus?: string;
  /** Specific UPPER_SNAKE reason, e.g. `AI_NOT_FOUND`. */
  reason?: string;
  /** The server's human-readable message (already redacted). */
  serverMessage?: string;
  /** Correlation id for support tickets. */
  requestId?: string;
  /** Response headers, lower-cased names. */
  headers?: Record<string, string>;
  /** Optional structured details from the envelope (e.g. `[{limited_by: "ip"}]`). */
  details?: Record<string, unknown>[];
  /** Full message; built from the other fields when omitted. */
  message?: string;
  cause?: unknown;
}

/** Base class of every error the client throws. */
export class VoipbinError extends Error {
  /** HTTP status code, or `undefined` when no response was received (connection errors). */
  readonly status: number | undefined;
  /** Canonical status such as `NOT_FOUND`, `RESOURCE_EXHAUSTED` or `UNAVAILABLE`. */
  readonly canonicalStatus: string;
  /** Specific UPPER_SNAKE reason clients branch on, e.g. `AI_NOT_FOUND`. */
  readonly reason: string;
  /** The server's own message without the status/reason/request-id decoration. */
  readonly serverMessage: string;
  /** VoIPBIN request id (`req_...`) when the server sent one. */
  readonly requestId: string | undefined;
  /** Response headers with lower-cased names (empty when no response). */
  readonly headers: Record<string, string>;
  /** Structured details from the envelope, when present. */
  readonly details: Record<string, unknown>[] | undefined;

  constructor(init: VoipbinErrorInit) {
    const status = init.status;
    const canonical = init.canonicalStatus ?? (status !== undefined ? canonicalStatusFor(status) : 'UNAVAILABLE');
    const reason = init.reason ?? canonical;
    const serverMessage = redact(init.serverMessage ?? '');
    const message =
      init.message !== undefined ? redact(init.message) : formatMessage(status, reason, serverMessage, init.requestId);
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = new.target.name;
    this.status = status;
    this.canonicalStatus = canonical;
    this.reason = reason;
    this.serverMessage = serverMessage;
    this.requestId = init.requestId;
    this.headers = init.headers ?? {};
    this.details = init.details;
  }

  /**
   * Builds the error for an HTTP error response.
   *
   * `body` is the raw text (or an already parsed value). It tolerates VoIPBIN's envelope
   * `{error:{status, reason, message, request_id}}`, the older flat shape `{message}` (also
   * `{reason, message, request_id}` and `{error: "text"}`), a non-JSON body and an empty body.
   */
  static fromResponse(
    status: number,
    body: unknown,
    headers?: Headers | Record<string, string | string[] | undefined>,
  ): VoipbinError {
    const hdrs = normalizeHeaders(headers);
    const parsed = parseErrorBody(body);
    const init: VoipbinErrorInit = {
      status,
      canonicalStatus: parsed.status ?? canonicalStatusFor(status),
      reason: parsed.reason,
      serverMessage: parsed.message ?? STATUS_CODES[status] ?? 'error',
      requestId: parsed.requestId ?? hdrs['x-request-id'] ?? hdrs['request-id'],
      headers: hdrs,
      details: parsed.details,
    };
    const Ctor = errorClassFor(status);
    return new Ctor(init);
  }
}

/** 400 INVALID_ARGUMENT (and other 400 reasons). */
export class BadRequestError extends VoipbinError {}
/** 401 UNAUTHENTICATED: missing, invalid or expired access key / token. */
export class AuthenticationError extends VoipbinError {}
/** 402 PAYMENT_REQUIRED: insufficient balance or suspended billing. */
export class PaymentRequiredError extends VoipbinError {}
/** 403 PERMISSION_DENIED. */
export class PermissionDeniedError extends VoipbinError {}
/** 404 NOT_FOUND (a resource of another customer looks the same). */
export class NotFoundError extends VoipbinError {}
/** 409 FAILED_PRECONDITION or ALREADY_EXISTS: the resource is in the wrong state. */
export class ConflictError extends VoipbinError {}
/** 429 RESOURCE_EXHAUSTED: rate limited; the client already retried as configured. */
export class RateLimitError extends VoipbinError {}
/** Any 5xx (500 INTERNAL, 503 UNAVAILABLE, ...). */
export class InternalServerError extends VoipbinError {}

/** No response was received: connection refused or reset, DNS failure, TLS failure, ... */
export class APIConnectionError extends VoipbinError {
  constructor(init: { message?: string; cause?: unknown; reason?: string } = {}) {
    super({
      status: undefined,
      canonicalStatus: 'UNAVAILABLE',
      reason: init.reason ?? 'CONNECTION_ERROR',
      message: init.message ?? 'Connection error.',
      cause: init.cause,
    });
  }
}

/** The request did not complete within its timeout (a kind of {@link APIConnectionError}). */
export class APITimeoutError extends APIConnectionError {
  constructor(init: { message?: string; cause?: unknown } = {}) {
    super({ message: init.message ?? 'Request timed out.', cause: init.cause, reason: 'TIMEOUT' });
  }
}

/** The caller aborted the request through its `signal`; never retried. */
export class APIUserAbortError extends VoipbinError {
  constructor(init: { message?: string; cause?: unknown } = {}) {
    super({
      status: undefined,
      canonicalStatus: 'CANCELLED',
      reason: 'ABORTED',
      message: init.message ?? 'Request was aborted.',
      cause: init.cause,
    });
  }
}

type ErrorClass = new (init: VoipbinErrorInit) => VoipbinError;

function errorClassFor(status: number): ErrorClass {
  switch (status) {
    case 400:
      return BadRequestError;
    case 401:
      return AuthenticationError;
    case 402:
      return PaymentRequiredError;
    case 403:
      return PermissionDeniedError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 429:
      return RateLimitError;
    default:
      return status >= 500 ? InternalServerError : VoipbinError;
  }
}

function formatMessage(
  status: number | undefined,
  reason: string,
  serverMessage: string,
  requestId: string | undefined,
): string {
  let msg = status !== undefined ? `${status} ${reason}` : reason;
  if (serverMessage) msg += `: ${serverMessage}`;
  if (requestId) msg += ` (request_id ${requestId})`;
  return msg;
}

interface ParsedErrorBody {
  status?: string;
  reason?: string;
  message?: string;
  requestId?: string;
  details?: Record<string, unknown>[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseErrorBody(body: unknown): ParsedErrorBody {
  let value: unknown = body;
  if (body instanceof Uint8Array) value = Buffer.from(body).toString('utf8');
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return {};
    try {
      value = JSON.parse(text);
    } catch {
      return { message: summarizeText(text) };
    }
  }
  if (!isRecord(value)) return {};
  const env = value.error;
  if (isRecord(env)) {
    return {
      status: str(env.status),
      reason: str(env.reason),
      message: str(env.message),
      requestId: str(env.request_id),
      details: Array.isArray(env.details) ? env.details.filter(isRecord) : undefined,
    };
  }
  // Older flat shapes: {message}, {reason, message, request_id}, {error: "text"}.
  return {
    status: str(value.status),
    reason: str(value.reason),
    message: str(value.message) ?? str(env),
    requestId: str(value.request_id),
  };
}

/** A short single-line excerpt of a non-JSON body (HTML error pages are not worth quoting). */
function summarizeText(text: string): string {
  if (text.startsWith('<')) return 'non-JSON response body';
  const line = text.replace(/\s+/g, ' ');
  return line.length > MAX_TEXT_CHARS ? line.slice(0, MAX_TEXT_CHARS) + '...' : line;
}

function normalizeHeaders(headers?: Headers | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
