/**
 * The one error class of every provider adapter (LLM, STT, TTS): what failed, at which provider,
 * with the provider's status, code and request id when it sent them. The message never contains
 * an API key or a request URL (it is scrubbed with the process's redaction list on construction).
 */
import { redact } from '../util/logger.js';

/** Which kind of provider failed. */
export type ProviderKind = 'llm' | 'stt' | 'tts';

export interface ProviderErrorInit {
  /** HTTP status of the provider's response (or of a refused WebSocket handshake); undefined for network errors and timeouts. */
  status?: number;
  /**
   * The provider's error code (`invalid_api_key`, `rate_limit_exceeded`, `INVALID_AUTH`, ...) or
   * ours (`timeout`, `network`, `closed`, `protocol`, `unsupported_provider`, ...).
   */
  code?: string;
  /** The provider's request id, when it sent one. */
  requestId?: string;
  cause?: unknown;
}

/** A failed provider call. */
export class ProviderError extends Error {
  readonly kind: ProviderKind;
  /** The provider's name as `engine_model`/`stt_type`/`tts_type` spell it (`openai`, `deepgram`, ...). */
  readonly provider: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly requestId: string | undefined;

  constructor(kind: ProviderKind, provider: string, message: string, init: ProviderErrorInit = {}) {
    super(redact(message), init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'ProviderError';
    this.kind = kind;
    this.provider = provider;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
  }

  /** Worth another attempt: no answer at all, a timeout, 408, 409, 429 or a 5xx. */
  get retryable(): boolean {
    const s = this.status;
    if (s === undefined) return this.code === 'network' || this.code === 'timeout';
    return s === 408 || s === 409 || s === 429 || s >= 500;
  }
}
