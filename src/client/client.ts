/**
 * The one VoIPBIN REST client, used for both api.voipbin.net and the embedded local VoIPBIN
 * (they speak the same `/v1.0` wire protocol and differ only in base URL and key).
 *
 * - Auth: `Authorization: Bearer <accesskey>`; the key never goes into a URL, a log line or an
 *   error message.
 * - Timeouts: one AbortController per attempt (`timeoutMs`, default 30 s), covering the body too.
 * - Retries (like openai-node): up to `maxRetries` (default 2) more attempts on 408, 429, any 5xx,
 *   connection errors and timeouts, with exponential backoff and jitter, or the server's
 *   `retry-after-ms` / `Retry-After` (seconds or HTTP date), capped at 60 s. This applies to every
 *   method, POST included, so a POST whose response was lost can run twice on the server; pass
 *   `{ maxRetries: 0 }` for calls that must run at most once (e.g. placing a phone call).
 * - Logging: one debug line per attempt with method, path (query secrets redacted), status and
 *   duration. Headers and bodies are never logged (bodies carry `engine_key`).
 */
import { createLogger, redact, registerSecret } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { APIConnectionError, APITimeoutError, APIUserAbortError, VoipbinError } from './errors.js';
import { Page } from './pagination.js';
import {
  AccessKeys,
  Activeflows,
  AICalls,
  AIMessages,
  AIs,
  AISummaries,
  BillingAccounts,
  Calls,
  CustomerResource,
  Emails,
  Flows,
  Messages,
  Numbers,
} from './resources.js';

/** api.voipbin.net, version prefix included. */
export const DEFAULT_BASE_URL = 'https://api.voipbin.net/v1.0';
/** Default timeout of one attempt. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default number of retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 2;
/** Default first backoff delay; doubles per retry. */
export const DEFAULT_RETRY_BASE_DELAY_MS = 500;
/** Default ceiling of the computed backoff. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 8_000;
/** Ceiling applied to a server's `Retry-After` / `retry-after-ms`. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** A query value; `undefined`/`null` are dropped, arrays repeat the key. */
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>;
export type Query = Record<string, QueryValue>;

/** Per-call options that override the client's defaults. */
export interface CallOptions {
  /** Timeout of each attempt, in milliseconds. */
  timeoutMs?: number;
  /** Retries after the first attempt (0 = exactly one attempt). */
  maxRetries?: number;
  /** Aborts the call (no retry follows); rejects with {@link APIUserAbortError}. */
  signal?: AbortSignal;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** Options of {@link VoipbinClient.request}. */
export interface RequestOptions extends CallOptions {
  query?: Query;
  /** JSON request body, sent as given. */
  body?: unknown;
}

export interface VoipbinClientOptions {
  /** Base URL including the version prefix; `https://host` alone gets `/v1.0` appended. */
  baseUrl?: string;
  /** VoIPBIN access key (or JWT), sent as a Bearer token. */
  accessKey?: string;
  /** Timeout of each attempt in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2). */
  maxRetries?: number;
  /** First backoff delay in milliseconds (default 500); tests make it small. */
  retryBaseDelayMs?: number;
  /** Ceiling of the computed backoff in milliseconds (default 8000). */
  retryMaxDelayMs?: number;
  /** Ceiling of a server-requested retry delay in milliseconds (default 60000). */
  maxRetryAfterMs?: number;
  /** fetch implementation: the in-process local API, or a test double. */
  fetch?: typeof fetch;
  logger?: Logger;
  userAgent?: string;
}

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Client of a VoIPBIN-compatible `/v1.0` REST API. */
export class VoipbinClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly userAgent: string;

  /** `POST/GET/PUT/DELETE /ais`. */
  readonly ais: AIs;
  /** `/aicalls`. */
  readonly aicalls: AICalls;
  /** `/aimessages`. */
  readonly aimessages: AIMessages;
  /** `/aisummaries`. */
  readonly aisummaries: AISummaries;
  /** `/calls`. */
  readonly calls: Calls;
  /** `/activeflows`. */
  readonly activeflows: Activeflows;
  /** `/flows`. */
  readonly flows: Flows;
  /** `/messages` (SMS). */
  readonly messages: Messages;
  /** `/emails`. */
  readonly emails: Emails;
  /** `/numbers`. */
  readonly numbers: Numbers;
  /** `/customer` (the authenticated customer). */
  readonly customer: CustomerResource;
  /** `/accesskeys`. */
  readonly accesskeys: AccessKeys;
  /** `/billing_accounts`. */
  readonly billingAccounts: BillingAccounts;

  // Private fields (not properties) so that inspecting or serialising the client never shows them.
  readonly #accessKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #logger: Logger;

  constructor(options: VoipbinClientOptions = {}) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
    this.timeoutMs = nonNegative(options.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.maxRetries = Math.floor(nonNegative(options.maxRetries, DEFAULT_MAX_RETRIES));
    this.retryBaseDelayMs = nonNegative(options.retryBaseDelayMs, DEFAULT_RETRY_BASE_DELAY_MS);
    this.retryMaxDelayMs = nonNegative(options.retryMaxDelayMs, DEFAULT_RETRY_MAX_DELAY_MS);
    this.maxRetryAfterMs = nonNegative(options.maxRetryAfterMs, DEFAULT_MAX_RETRY_AFTER_MS);
    this.userAgent = options.userAgent ?? `voipbin-ai node/${process.versions.node}`;
    this.#accessKey = options.accessKey || undefined;
    registerSecret(this.#accessKey);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#logger = options.logger ?? createLogger(undefined, { component: 'voipbin-client' });

    this.ais = new AIs(this);
    this.aicalls = new AICalls(this);
    this.aimessages = new AIMessages(this);
    this.aisummaries = new AISummaries(this);
    this.calls = new Calls(this);
    this.activeflows = new Activeflows(this);
    this.flows = new Flows(this);
    this.messages = new Messages(this);
    this.emails = new Emails(this);
    this.numbers = new Numbers(this);
    this.customer = new CustomerResource(this);
    this.accesskeys = new AccessKeys(this);
    this.billingAccounts = new BillingAccounts(this);
  }

  /**
   * A client configured from `VOIPBIN_API_URL` and `VOIPBIN_ACCESSKEY`; `overrides` win over the
   * environment (undefined values in `overrides` are ignored).
   */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    overrides: VoipbinClientOptions = {},
  ): VoipbinClient {
    const options: VoipbinClientOptions = {};
    const url = env.VOIPBIN_API_URL?.trim();
    const key = env.VOIPBIN_ACCESSKEY?.trim();
    if (url) options.baseUrl = url;
    if (key) options.accessKey = key;
    for (const [name, value] of Object.entries(overrides) as [keyof VoipbinClientOptions, unknown][]) {
      if (value !== undefined) (options as Record<string, unknown>)[name] = value;
    }
    return new VoipbinClient(options);
  }

  /** True when requests carry an access key. */
  get hasAccessKey(): boolean {
    return this.#accessKey !== undefined;
  }

  /** `GET path`. */
  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  /** `POST path` with a JSON body. */
  post<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, options);
  }

  /** `PUT path` with a JSON body. */
  put<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, options);
  }

  /** `DELETE path`. */
  delete<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /** `GET path` of a list endpoint, as a {@link Page} that can walk the following pages. */
  async list<T>(path: string, query: Query = {}, options: CallOptions = {}): Promise<Page<T>> {
    const body = await this.request<unknown>('GET', path, { ...options, query });
    return new Page<T>(this, path, query, options, body);
  }

  /**
   * Sends one API request with timeout and retries and returns the parsed JSON body
   * (`undefined` for an empty body). Throws a {@link VoipbinError} subclass on failure.
   */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const maxRetries = Math.floor(nonNegative(options.maxRetries, this.maxRetries));
    const timeoutMs = nonNegative(options.timeoutMs, this.timeoutMs);
    const url = this.#buildUrl(path, options.query);
    const logPath = redact(url.pathname + url.search);
    const init: RequestInit = {
      method,
      headers: this.#headers(options),
      redirect: 'manual',
    };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);

    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw new APIUserAbortError({ message: `Request was aborted (${method} ${logPath}).` });
      const startedMs = performance.now();
      let error: VoipbinError;
      try {
        const res = await this.#send(url, init, timeoutMs, options.signal, `${method} ${logPath}`);
        const ms = Math.round(performance.now() - startedMs);
        this.#logger.debug('voipbin request', { method, path: logPath, status: res.status, ms, attempt });
        if (res.status >= 200 && res.status < 300) return parseBody(res.text) as T;
        error = VoipbinError.fromResponse(res.status, res.text, res.headers);
      } catch (err) {
        if (!(err instanceof VoipbinError)) throw err;
        error = err;
        if (!(err instanceof APIUserAbortError)) {
          const ms = Math.round(performance.now() - startedMs);
          this.#logger.debug('voipbin request failed', { method, path: logPath, error: err.reason, ms, attempt });
        }
      }

      if (attempt >= maxRetries || !isRetryable(error)) throw error;
      const delayMs = this.#retryDelayMs(attempt, error.headers);
      this.#logger.debug('voipbin retry', {
        method,
        path: logPath,
        status: error.status,
        reason: error.reason,
        delay_ms: Math.round(delayMs),
        retry: attempt + 1,
        max_retries: maxRetries,
      });
      await sleep(delayMs, options.signal, `${method} ${logPath}`);
    }
  }

  async #send(
    url: URL,
    init: RequestInit,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<RawResponse> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.#fetch(url.toString(), { ...init, signal: controller.signal });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    } catch (err) {
      if (timedOut) throw new APITimeoutError({ message: `Request timed out after ${timeoutMs} ms (${what}).` });
      if (signal?.aborted) throw new APIUserAbortError({ message: `Request was aborted (${what}).` });
      throw new APIConnectionError({ message: `Connection error (${what}): ${describeCause(err)}.`, cause: err });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    if (this.#accessKey) headers.authorization = `Bearer ${this.#accessKey}`;
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    return headers;
  }

  #buildUrl(path: string, query?: Query): URL {
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) throw new TypeError('path must be relative to the base URL, e.g. "/ais"');
    const url = new URL(this.baseUrl + (path.startsWith('/') ? path : `/${path}`));
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(name, String(v));
      else url.searchParams.append(name, String(value));
    }
    return url;
  }

  /** Server-requested delay (capped) when present, else exponential backoff with jitter. */
  #retryDelayMs(attempt: number, headers: Record<string, string>): number {
    const requested = retryAfterMs(headers);
    if (requested !== undefined) return Math.min(requested, this.maxRetryAfterMs);
    const backoff = Math.min(this.retryBaseDelayMs * 2 ** attempt, this.retryMaxDelayMs);
    return backoff * (1 - Math.random() * 0.25);
  }
}

/** 408, 429, 5xx and failures without a response (connection errors, timeouts) are retried. */
function isRetryable(error: VoipbinError): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  const status = error.status ?? 0;
  return status === 408 || status === 429 || status >= 500;
}

/** Delay asked for by `retry-after-ms` or `Retry-After` (seconds or HTTP date), in ms. */
export function retryAfterMs(headers: Record<string, string>, nowMs: number = Date.now()): number | undefined {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers['retry-after'];
  if (after === undefined || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const c = (cause ?? err) as { code?: unknown; message?: unknown };
  const text = typeof c?.code === 'string' ? c.code : typeof c?.message === 'string' ? c.message : String(err);
  return redact(text);
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new APIUserAbortError({ message: `Request was aborted (${what}).` }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new APIUserAbortError({ message: `Request was aborted (${what}).` }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function normalizeBaseUrl(raw: string): string {
  const url = new URL(raw.trim());
  let path = url.pathname.replace(/\/+$/, '');
  if (path === '') path = '/v1.0';
  return `${url.origin}${path}`;
}

function nonNegative(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}
