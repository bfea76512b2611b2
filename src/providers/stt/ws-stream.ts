/**
 * The machinery the WebSocket STT adapters (Deepgram, OpenAI, ElevenLabs, Cartesia) share:
 * option checks, base-URL mapping, key scrubbing, handshake-refusal errors and
 * {@link SocketSttStream}, the stream lifecycle (handshake and session start, listeners, bounded
 * close, abort). Each adapter module keeps only its provider's wire protocol.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { redact } from '../../util/logger.js';
import { ProviderError } from '../errors.js';
import type { ProviderErrorInit } from '../errors.js';
import { awaitSocketOpen } from '../ws-handshake.js';
import type { SttProviderName, SttStream, SttTranscript } from './types.js';

/** Longest provider text (error message, close reason) put into a {@link ProviderError}. */
export const STT_MAX_MESSAGE_CHARS = 300;
/** Default longest wait for the handshake and session start, ms. */
export const STT_DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default longest wait for the last results after the end of the audio, ms. */
export const STT_DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
/**
 * After our close frame, how long the peer gets to answer it before the socket is destroyed.
 * Every result is in by then, so this only bounds the socket's lifetime, not close().
 */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;

/**
 * RMS (16-bit scale) above which written audio may be speech the server has not reported yet
 * (about -36 dBFS, above phone-line noise). Deciding whether a closing commit is worth sending:
 * committing silence costs a transcription and whisper-style models hallucinate on it.
 */
export const STT_LOCAL_VOICE_RMS = 500;

/** The RMS of a chunk of 16-bit samples. */
export function pcm16Rms(samples: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return samples.length > 0 ? Math.sqrt(sum / samples.length) : 0;
}

/** Replaces the key and registered secrets, flattens whitespace and bounds the length. */
export function scrubSttText(text: string, apiKey: string): string {
  let out = apiKey.length >= 4 ? text.split(apiKey).join('[redacted]') : text;
  out = redact(out).replace(/\s+/g, ' ').trim();
  return out.length > STT_MAX_MESSAGE_CHARS ? `${out.slice(0, STT_MAX_MESSAGE_CHARS)}...` : out;
}

/** A trimmed, non-empty, whitespace-free key; throws a message that names the provider, never the key. */
export function checkSttApiKey(provider: SttProviderName, apiKey: unknown): string {
  const key = typeof apiKey === 'string' ? apiKey.trim() : '';
  if (!key) throw new Error(`${provider} STT: an API key is required`);
  if (/\s/.test(key)) throw new Error(`${provider} STT: the API key contains whitespace`);
  return key;
}

/** A positive finite number (or `fallback`); throws naming the option. */
export function positiveSttOption(provider: SttProviderName, name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${provider} STT: ${name} must be a positive number`);
  return v;
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]` without a trailing slash (ws(s) kept). */
export function sttWsBase(provider: SttProviderName, baseUrl: string | undefined, fallback: string): string {
  const base = (baseUrl?.trim() || fallback).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`${provider} STT: the base URL is not a valid URL`);
  }
  const scheme = ({ 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' } as Record<string, string>)[url.protocol];
  if (!scheme) throw new Error(`${provider} STT: the base URL must be http(s) or ws(s)`);
  return scheme + base.slice(url.protocol.length);
}

/** The primary subtag of a BCP-47 tag, lower case (`en-US` → `en`); `en` when unset. */
export function sttPrimaryLanguage(language: string | undefined): string {
  const primary = language?.trim().split(/[-_]/)[0]?.toLowerCase();
  return primary || 'en';
}

/**
 * Little-endian 16-bit PCM bytes of `samples` in a buffer this writer owns and reuses (the view is
 * valid until the next call): the audio sent every 20 ms allocates nothing once the chunk size is
 * steady. Safe to hand to `ws.send`, which copies a client frame as it masks it.
 */
export class Pcm16LeWriter {
  private buf = Buffer.alloc(0);
  private view = this.buf;

  bytes(samples: Int16Array): Buffer {
    const n = samples.length * 2;
    if (this.buf.length < n) this.buf = Buffer.allocUnsafe(Math.max(n, 640));
    if (this.view.length !== n || this.view.buffer !== this.buf.buffer) this.view = this.buf.subarray(0, n);
    const out = this.view;
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      out[i * 2] = v & 0xff;
      out[i * 2 + 1] = (v >> 8) & 0xff;
    }
    return out;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v : undefined;
}

/** A provider WebSocket: the key goes in `headers` only, never redirected (that would resend it elsewhere), uncompressed. */
export function openSttSocket(url: string, headers: Record<string, string>): WebSocket {
  return new WebSocket(url, { headers, followRedirects: false, perMessageDeflate: false });
}

/** `text` parsed as JSON when it is an object (or array), else undefined. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A text frame's JSON object; undefined for binary frames, text that is not JSON and JSON that is no object (all ignored). */
export function jsonTextFrame(data: RawData, isBinary: boolean): Record<string, unknown> | undefined {
  return isBinary ? undefined : parseJsonObject(data.toString());
}

/** A refused handshake's body when it is plain text (not an error JSON the provider's fields failed to match). */
export function plainRefusalBody(body: string): string | undefined {
  return body.trim() && !body.trimStart().startsWith('{') ? body : undefined;
}

/** What a refused handshake said, read by the provider's adapter. */
export interface SttRefusal {
  message?: string;
  code?: string;
  requestId?: string;
}

/**
 * The {@link ProviderError} of a refused handshake: `<provider> STT connection refused: HTTP
 * <status> [code]: <message>` (the HTTP status text when the provider said nothing), key scrubbed.
 */
export function sttRefusedError(provider: SttProviderName, apiKey: string, res: IncomingMessage, refusal: SttRefusal): ProviderError {
  const status = res.statusCode ?? 0;
  const message = refusal.message ?? res.statusMessage ?? 'no error message';
  const code = refusal.code ? scrubSttText(refusal.code, apiKey) : undefined;
  return new ProviderError('stt', provider, `${provider} STT connection refused: HTTP ${status}${code ? ` ${code}` : ''}: ${scrubSttText(message, apiKey)}`, {
    status,
    code,
    requestId: refusal.requestId,
  });
}

/**
 * The {@link ProviderError} of a refused handshake, from the HTTP status and whichever error
 * JSON the provider sends: OpenAI `{"error":{"message","code","type"}}`, ElevenLabs
 * `{"detail":{"status","message"}}` or `{"detail":"..."}`, Cartesia
 * `{"title","message","error_code","status_code","request_id"}` or `{"error":"..."}`.
 */
export function sttRefusalError(provider: SttProviderName, apiKey: string, res: IncomingMessage, body: string): ProviderError {
  const json = parseJsonObject(body) ?? {};
  const inner = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const error = inner(json.error);
  const detail = inner(json.detail);
  const header = (name: string): string | undefined => str(res.headers[name]);
  return sttRefusedError(provider, apiKey, res, {
    message: str(error.message) ?? str(detail.message) ?? str(json.detail) ?? str(json.message) ?? str(json.error) ?? plainRefusalBody(body),
    code: str(error.code) ?? str(detail.status) ?? str(detail.code) ?? str(json.error_code) ?? str(json.code) ?? str(error.type),
    requestId: header('x-request-id') ?? header('request-id') ?? str(json.request_id),
  });
}

/** What a {@link SocketSttStream} needs from its adapter. */
export interface SocketSttStreamInit {
  ws: WebSocket;
  provider: SttProviderName;
  apiKey: string;
  /** The caller's rate (what `write()` takes). */
  sampleRateHz: number;
  signal?: AbortSignal;
  /** close(): longest wait for the last results, ms. */
  closeTimeoutMs: number;
}

/**
 * The lifecycle every WebSocket STT stream shares; a subclass supplies the protocol:
 * {@link sendAudio}, {@link handleMessage}, {@link beginEnd} (the provider's end of audio) and,
 * when the provider confirms a session before audio may flow, a call of {@link sessionReady}.
 *
 * - Built before the handshake, so a first server message (session created/started) sent right
 *   after the upgrade is never missed; {@link connect} waits for the handshake, then the session.
 * - `write()` never throws and drops audio after close; `close()` is idempotent and bounded by
 *   `closeTimeoutMs` (then a `timeout` error and the socket is destroyed); an abort drops the
 *   connection at once without an error.
 * - The subclass calls {@link endGracefully} once the last results are in, or the server's
 *   normal close after the end of audio ends the stream.
 */
export abstract class SocketSttStream implements SttStream {
  protected readonly ws: WebSocket;
  protected readonly provider: SttProviderName;
  protected readonly sampleRateHz: number;
  protected readonly apiKey: string;
  private readonly signal: AbortSignal | undefined;
  private readonly closeTimeoutMs: number;
  private readonly transcriptListeners: Array<(t: SttTranscript) => void> = [];
  private readonly errorListeners: Array<(err: ProviderError) => void> = [];
  protected state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  /** We ended the connection ourselves (abort, timeout, graceful end): its close is not an error. */
  private selfClosed = false;
  private samplesWritten = 0;
  /** The stream's audio bytes, one reused buffer (see {@link Pcm16LeWriter}). */
  protected readonly le = new Pcm16LeWriter();
  private closing: Promise<void> | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  /** Settles {@link start}'s wait for the provider's session confirmation. */
  private ready: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  /** The session was confirmed (possibly before {@link start} ran: the first message can beat it). */
  private confirmed = false;
  /** An error the server sent before {@link start} ran (e.g. `auth_error` right after the upgrade). */
  private early: ProviderError | undefined;
  private readonly onAbort = (): void => this.drop(this.signal?.reason);
  /** Set by subclasses whose provider confirms the session before audio (session.updated, session_started). */
  protected waitsForSession = false;
  /** Server close codes that, after our end of audio, are the normal end rather than a failure. */
  protected normalEndCodes: readonly number[] = [1000, 1005];

  constructor(init: SocketSttStreamInit) {
    this.ws = init.ws;
    this.provider = init.provider;
    this.apiKey = init.apiKey;
    this.sampleRateHz = init.sampleRateHz;
    this.signal = init.signal;
    this.closeTimeoutMs = init.closeTimeoutMs;
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      if (this.state === 'closed') return;
      try {
        this.handleMessage(data, isBinary);
      } catch (err) {
        // A protocol surprise must not become an uncaught exception in the ws event loop.
        this.fail(this.error(`could not handle a server message: ${err instanceof Error ? err.message : String(err)}`, { code: 'protocol' }));
      }
    });
    this.ws.on('close', (code: number, reason: Buffer) => this.handleSocketClose(code, reason.toString('utf8')));
    // Always attached so a late socket error is never an unhandled 'error' event.
    this.ws.on('error', (err: Error) => {
      if (this.state === 'connecting' || this.state === 'closed' || this.selfClosed) return;
      this.fail(this.error(`connection error: ${err.message}`, { code: 'network' }));
    });
  }

  /**
   * Waits for the handshake, then for the session: the whole within `timeoutMs` of `startedAt`
   * (work the adapter did before the socket, e.g. building a resampler, counts against it).
   * Rejects with a {@link ProviderError} (handshake refused, network, timeout) or `signal.reason`;
   * the socket is dropped then.
   */
  async connect(timeoutMs: number, startedAt = Date.now()): Promise<void> {
    const apiKey = this.apiKey;
    await awaitSocketOpen(this.ws, {
      kind: 'stt',
      provider: this.provider,
      what: `${this.provider} STT`,
      timeoutMs,
      signal: this.signal,
      scrub: (text) => scrubSttText(text, apiKey),
      refused: (res, body) => this.refusal(res, body),
    });
    await this.start(Math.max(1, timeoutMs - (Date.now() - startedAt)));
  }

  /** The error of a refused handshake; the generic reading fits the providers whose error JSON it knows. */
  protected refusal(res: IncomingMessage, body: string): ProviderError {
    return sttRefusalError(this.provider, this.apiKey, res, body);
  }

  /**
   * Runs once the handshake succeeded: sends the session setup ({@link onOpen}) and, when the
   * provider confirms sessions, waits up to `timeoutMs` for it. Rejects (and drops the socket)
   * with a {@link ProviderError} or `signal.reason`.
   */
  private async start(timeoutMs: number): Promise<void> {
    const early = this.early ?? (this.ws.readyState !== WebSocket.OPEN ? this.error('connection closed during the handshake', { code: 'closed' }) : undefined);
    if (early) {
      this.drop(early);
      throw early;
    }
    this.state = 'open';
    const signal = this.signal;
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const confirmed =
      this.waitsForSession && !this.confirmed ? new Promise<void>((resolve, reject) => (this.ready = { resolve, reject })) : Promise.resolve();
    this.onOpen();
    if (signal?.aborted) this.drop(signal.reason);
    if (!this.ready) {
      if (signal?.aborted) throw signal.reason;
      return;
    }
    const timer = setTimeout(() => this.drop(this.error(`session was not confirmed within ${timeoutMs} ms`, { code: 'timeout' })), timeoutMs);
    try {
      await confirmed;
    } finally {
      clearTimeout(timer);
    }
  }

  write(samples: Int16Array): void {
    if (this.state !== 'open' || !samples || samples.length === 0 || this.ws.readyState !== WebSocket.OPEN) return;
    this.samplesWritten += samples.length;
    try {
      this.sendAudio(samples);
    } catch {
      /* the close handler reports a dead socket */
    }
  }

  onTranscript(listener: (t: SttTranscript) => void): void {
    this.transcriptListeners.push(listener);
  }

  onError(listener: (err: ProviderError) => void): void {
    this.errorListeners.push(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.flushAndClose();
    return this.closing;
  }

  /** Milliseconds of audio written so far: the offset of "now" for providers that send no timing. */
  protected get writtenMs(): number {
    return Math.round((this.samplesWritten * 1000) / this.sampleRateHz);
  }

  /** Sends the session setup, if the protocol has one (right after the handshake). */
  protected onOpen(): void {}
  /** Sends one chunk of audio (non-empty; the socket is open). May throw: write() swallows it. */
  protected abstract sendAudio(samples: Int16Array): void;
  /** Handles one server message. */
  protected abstract handleMessage(data: RawData, isBinary: boolean): void;
  /**
   * Sends the provider's end of audio. Call {@link endGracefully} (now or when the last results
   * are in), or let the server close the socket normally.
   */
  protected abstract beginEnd(): void;
  /** Frees what the subclass holds (a resampler, timers); runs once when the stream ends. */
  protected dispose(): void {}
  /** The server closed the socket (not us): deliver what is still held, before the stream ends. */
  protected onServerClose(): void {}

  /** The provider confirmed the session: {@link start} resolves. */
  protected sessionReady(): void {
    this.confirmed = true;
    const r = this.ready;
    this.ready = undefined;
    r?.resolve();
  }

  /** A {@link ProviderError} of this provider, its message scrubbed of the key. */
  protected error(message: string, init: ProviderErrorInit = {}): ProviderError {
    return new ProviderError('stt', this.provider, `${this.provider} STT ${scrubSttText(message, this.apiKey)}`, {
      ...init,
      code: init.code ? scrubSttText(init.code, this.apiKey) : undefined,
    });
  }

  /** Reports an error: rejects {@link start} (dropping the socket) before the session is up, else onError. */
  protected fail(err: ProviderError): void {
    if (this.state === 'connecting') {
      this.early ??= err;
      return;
    }
    if (this.ready) return this.drop(err);
    this.emitError(err);
  }

  protected emitTranscript(t: SttTranscript): void {
    for (const l of this.transcriptListeners) {
      try {
        l(t);
      } catch {
        /* a listener's failure must not break the stream */
      }
    }
  }

  /** All results are in: closes our side and resolves close() at once. */
  protected endGracefully(): void {
    if (this.state === 'closed') return;
    this.selfClosed = true;
    this.finish();
    const ws = this.ws;
    // A peer that never answers our close frame must not keep the socket alive.
    const timer = setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_GRACE_MS);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
    try {
      ws.close(1000);
    } catch {
      ws.terminate();
    }
  }

  private async flushAndClose(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    try {
      this.beginEnd();
    } catch {
      this.drop();
    }
    // beginEnd() may have ended the stream already (nothing was owed).
    if (this.isClosed()) return;
    const timer = setTimeout(() => {
      if (this.state === 'closed') return;
      this.emitError(this.error(`did not deliver its last results within ${this.closeTimeoutMs} ms; they may be missing`, { code: 'timeout' }));
      this.drop();
    }, this.closeTimeoutMs);
    await this.closedPromise;
    clearTimeout(timer);
  }

  /** Drops the connection at once (abort, timeout); results in flight are lost. `why` rejects a pending {@link start}. */
  protected drop(why?: unknown): void {
    const r = this.ready;
    this.ready = undefined;
    if (this.state !== 'closed') {
      this.selfClosed = true;
      this.finish();
      this.ws.terminate();
    }
    r?.reject(why ?? this.error('connection dropped', { code: 'closed' }));
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private finish(): void {
    this.state = 'closed';
    this.signal?.removeEventListener('abort', this.onAbort);
    try {
      this.dispose();
    } catch {
      /* freeing must not fail the close */
    }
    this.resolveClosed();
  }

  private handleSocketClose(code: number, reason: string): void {
    if (this.state === 'connecting') return; // the handshake wait reports it
    if (this.selfClosed || this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    const err = this.error(`connection closed (${code})${reason ? `: ${reason}` : ''}`, { code: 'closed' });
    if (this.ready) return this.drop(err);
    try {
      this.onServerClose();
    } catch {
      /* delivery is best effort here */
    }
    this.finish();
    // The server's normal close after our end of audio is the normal end; anything else is a failure.
    if (wasClosing && this.normalEndCodes.includes(code)) return;
    this.emitError(err);
  }

  private emitError(err: ProviderError): void {
    for (const l of this.errorListeners) {
      try {
        l(err);
      } catch {
        /* ignored, like transcript listeners */
      }
    }
  }
}
