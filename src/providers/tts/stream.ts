/**
 * Plumbing the TTS adapters share: PCM decoding across arbitrary chunk boundaries, abort and
 * idle-timeout handling, a bounded POST that returns the audio body, and error-body parsing
 * into {@link ProviderError} with the key scrubbed.
 */
import { redact } from '../../util/logger.js';
import { ProviderError } from './types.js';
import type { TtsProviderName } from './types.js';

/** Default wait for headers / between chunks. */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Most of an error body we read. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Longest provider message kept in an error. */
const MAX_MESSAGE_CHARS = 300;

/**
 * Decodes a byte stream of 16-bit little-endian PCM into samples. A chunk may end in the middle
 * of a sample: the odd byte is carried over and completed by the next chunk.
 */
export class Pcm16leDecoder {
  private carry = 0;
  private hasCarry = false;

  /** True when half a sample is waiting for its second byte. */
  get pendingByte(): boolean {
    return this.hasCarry;
  }

  /** Returns the whole samples `bytes` completes (possibly none). */
  decode(bytes: Uint8Array): Int16Array {
    const out = new Int16Array((bytes.length + (this.hasCarry ? 1 : 0)) >> 1);
    let i = 0;
    let o = 0;
    if (this.hasCarry && bytes.length > 0) {
      // Int16Array stores modulo 2^16, which turns the unsigned 16-bit value into the signed sample.
      out[o++] = this.carry | (bytes[0] << 8);
      this.hasCarry = false;
      i = 1;
    }
    for (; i + 1 < bytes.length; i += 2) out[o++] = bytes[i] | (bytes[i + 1] << 8);
    if (i < bytes.length) {
      this.carry = bytes[i];
      this.hasCarry = true;
    }
    return out;
  }
}

/** Replaces the key and every registered secret, flattens whitespace and bounds the length. */
export function scrub(text: string, apiKey: string): string {
  let out = text;
  if (apiKey.length >= 4) out = out.split(apiKey).join('[redacted]');
  out = redact(out).replace(/\s+/g, ' ').trim();
  return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}...` : out;
}

/** Short description of a network failure, without URLs (undici puts the code on `cause`). */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}

/**
 * Links a request to the caller's signal and runs the idle timer. Every failure goes through
 * {@link RequestGuard.failure}, so an abort surfaces as `signal.reason` and a stall as a
 * `timeout` ProviderError, whatever the transport threw.
 */
class RequestGuard {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private readonly onAbort = (): void => this.controller.abort(this.signal?.reason);

  constructor(
    private readonly provider: TtsProviderName,
    private readonly apiKey: string,
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(this.timeoutError());
    }, this.timeoutMs);
  }

  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private timeoutError(): ProviderError {
    return new ProviderError('tts', this.provider, `${this.provider} TTS timed out: no data for ${this.timeoutMs} ms`, { code: 'timeout' });
  }

  /** What to throw for `err`, raised while requesting or reading. */
  failure(err: unknown): unknown {
    if (this.signal?.aborted) return this.signal.reason;
    if (this.timedOut) return this.timeoutError();
    if (err instanceof ProviderError) return err;
    return new ProviderError('tts', this.provider, `${this.provider} TTS request failed: ${scrub(describeNetworkError(err), this.apiKey)}`, {
      code: 'network',
    });
  }

  dispose(): void {
    this.disarm();
    this.signal?.removeEventListener('abort', this.onAbort);
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

/** How the adapter opens the audio body; it must honour `abort` and throw ProviderError for HTTP errors. */
export type OpenAudio = (abort: AbortSignal) => Promise<ReadableStream<Uint8Array> | null>;

export interface StreamPcmOptions {
  provider: TtsProviderName;
  /** The text to speak; a blank one yields no audio and sends nothing. */
  text: string;
  apiKey: string;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/**
 * Opens the audio with `open` and yields its samples as they arrive. The idle timer runs while
 * waiting for the response and for each chunk, never while the consumer holds a chunk. Ending the
 * iteration early, an abort or a timeout cancels the request.
 */
export async function* streamPcm(opts: StreamPcmOptions, open: OpenAudio): AsyncGenerator<Int16Array, void, undefined> {
  opts.signal?.throwIfAborted();
  // Nothing to say: no request (the providers answer 400 to an empty text).
  if (!String(opts.text ?? '').trim()) return;
  const guard = new RequestGuard(opts.provider, opts.apiKey, opts.signal, opts.timeoutMs);
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let finished = false;
  try {
    guard.arm();
    let body: ReadableStream<Uint8Array> | null;
    try {
      body = await open(guard.controller.signal);
    } catch (err) {
      throw guard.failure(err);
    }
    if (!body) {
      finished = true;
      return;
    }
    reader = body.getReader();
    const decoder = new Pcm16leDecoder();
    for (;;) {
      guard.arm();
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw guard.failure(err);
      }
      guard.disarm();
      if (chunk.done) {
        // A trailing odd byte is half a sample cut off by the provider: dropped.
        finished = true;
        return;
      }
      const samples = decoder.decode(chunk.value);
      if (samples.length > 0) yield samples;
    }
  } finally {
    guard.dispose();
    if (reader && !finished) reader.cancel().catch(() => {});
  }
}

/** What an error body says, per provider. */
export interface ParsedError {
  message?: string;
  code?: string;
  requestId?: string;
}

/** Reads at most `limit` bytes of a body as text. */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

/** Builds the ProviderError of an HTTP error; the message is `<provider> TTS failed: HTTP <status> [code]: <message>`. */
export function httpError(provider: TtsProviderName, apiKey: string, status: number, parsed: ParsedError, statusText = ''): ProviderError {
  const code = parsed.code ? scrub(parsed.code, apiKey) : undefined;
  const message = scrub(parsed.message || statusText || 'no error message', apiKey);
  return new ProviderError('tts', provider, `${provider} TTS failed: HTTP ${status}${code ? ` ${code}` : ''}: ${message}`, {
    status,
    code,
    requestId: parsed.requestId,
  });
}

export interface PostForAudio {
  provider: TtsProviderName;
  apiKey: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
  /** Pulls message/code/request id out of the provider's error JSON. */
  parseError: (json: unknown) => ParsedError;
  /** Header carrying the provider's request id. */
  requestIdHeader?: string;
}

/** POSTs JSON and returns the audio body; non-2xx responses become a ProviderError. */
export async function postForAudio(req: PostForAudio, abort: AbortSignal): Promise<ReadableStream<Uint8Array> | null> {
  const res = await fetch(req.url, {
    method: 'POST',
    headers: { ...req.headers, 'content-type': 'application/json' },
    body: JSON.stringify(req.body),
    signal: abort,
    // A redirect would resend a custom key header (xi-api-key) to wherever it points.
    redirect: 'error',
  });
  if (res.ok) return res.body as ReadableStream<Uint8Array> | null;
  const text = await readLimited(res, MAX_ERROR_BODY_BYTES);
  let parsed: ParsedError = {};
  try {
    parsed = req.parseError(JSON.parse(text));
  } catch {
    parsed = {};
  }
  if (!parsed.message && text.trim() && !text.trimStart().startsWith('{')) parsed.message = text;
  if (!parsed.requestId && req.requestIdHeader) parsed.requestId = res.headers.get(req.requestIdHeader) ?? undefined;
  throw httpError(req.provider, req.apiKey, res.status, parsed, res.statusText);
}

/** Resolves a base URL: defaulted, trailing slashes removed, validated without echoing it. */
export function resolveBaseUrl(provider: TtsProviderName, baseUrl: string | undefined, fallback: string): string {
  const base = (baseUrl?.trim() || fallback).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new Error(`${provider} TTS: the base URL is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${provider} TTS: the base URL must be http(s)`);
  return base;
}

/** Checks a requested PCM rate against the provider's supported ones. */
export function checkRate(provider: TtsProviderName, rate: number, supported: readonly number[]): number {
  if (!supported.includes(rate)) {
    throw new Error(`${provider} TTS: unsupported sampleRateHz ${rate} (supported: ${supported.join(', ')})`);
  }
  return rate;
}

/** The timeout option, validated. */
export function timeoutOf(provider: TtsProviderName, timeoutMs: number | undefined): number {
  const ms = timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${provider} TTS: timeoutMs must be a positive number`);
  return ms;
}

/** ISO 639-1 primary subtag of a BCP-47 tag (`ja-JP` → `ja`), or undefined. */
export function primaryLanguage(language: string | undefined): string | undefined {
  const m = /^([a-z]{2})(?:[-_]|$)/i.exec(language?.trim() ?? '');
  return m ? m[1].toLowerCase() : undefined;
}

/** `male` / `female` / `neutral`, or undefined for anything else. */
export function normalizeGender(gender: string | undefined): 'male' | 'female' | 'neutral' | undefined {
  const g = gender?.trim().toLowerCase();
  return g === 'male' || g === 'female' || g === 'neutral' ? g : undefined;
}

/** Validates the key (present, no whitespace that would break a header). */
export function checkApiKey(provider: TtsProviderName, apiKey: string): string {
  const key = typeof apiKey === 'string' ? apiKey.trim() : '';
  if (!key) throw new Error(`${provider} TTS: an API key is required`);
  if (/\s/.test(key)) throw new Error(`${provider} TTS: the API key contains whitespace`);
  return key;
}
