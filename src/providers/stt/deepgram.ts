/**
 * Deepgram live (streaming) speech-to-text over its WebSocket API:
 *
 *   GET {base}/v1/listen?model=nova-3&encoding=linear16&sample_rate=<rate>&channels=1
 *       &language=en&interim_results=true&punctuate=true          (upgraded to a WebSocket)
 *   Authorization: Token <key>
 *
 * The client sends binary frames of headerless 16-bit little-endian mono PCM, and text frames
 * `{"type":"KeepAlive"}` (while idle; the server drops a connection that gets neither audio nor
 * KeepAlive for 10 s) and `{"type":"CloseStream"}` (flush: the server finishes the audio it holds,
 * sends the last results and a `Metadata` summary, then closes). An *empty* binary frame is
 * Deepgram's legacy end-of-stream signal, so empty writes are never sent.
 *
 * The server sends `{"type":"Results","channel":{"alternatives":[{"transcript"}]},"is_final",
 * "speech_final","start","duration",...}` (seconds from the stream start) plus `Metadata`,
 * `SpeechStarted` and `UtteranceEnd`, which are ignored here. A refused handshake is an HTTP
 * error (401 etc.) with a JSON body `{"err_code","err_msg","request_id"}`, the error also in the
 * `dg-error` header and the request id in `dg-request-id`. Errors after the upgrade arrive as a
 * close frame (e.g. 1008 `DATA-0000`, 1011 `NET-0001`).
 */
import type { IncomingMessage } from 'node:http';
import { endianness } from 'node:os';
import { WebSocket } from 'ws';
import { awaitSocketOpen } from '../ws-handshake.js';
import type { RawData } from 'ws';
import { redact, registerSecret } from '../../util/logger.js';
import { ProviderError } from './types.js';
import type { SttProvider, SttProviderOptions, SttStream, SttStreamOptions, SttTranscript } from './types.js';

export const DEEPGRAM_DEFAULT_BASE_URL = 'https://api.deepgram.com';
export const DEEPGRAM_DEFAULT_STT_MODEL = 'nova-3';
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Deepgram advises a KeepAlive every 3-5 s against its 10 s idle timeout. */
const DEFAULT_KEEPALIVE_MS = 5_000;
/** Longest wait for the last results after CloseStream. */
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
const MAX_MESSAGE_CHARS = 300;
const PROVIDER = 'deepgram';
const LITTLE_ENDIAN = endianness() === 'LE';

/** Timing knobs beyond {@link SttProviderOptions} (tests shorten them). */
export interface DeepgramSttTuning {
  /** Send a KeepAlive after this long without audio, ms (default 5000; 0 disables). */
  keepAliveMs?: number;
  /** close(): longest wait for the server to flush and close, ms (default 5000). */
  closeTimeoutMs?: number;
}

/** Replaces the key and registered secrets, flattens whitespace and bounds the length. */
function scrub(text: string, apiKey: string): string {
  let out = apiKey.length >= 4 ? text.split(apiKey).join('[redacted]') : text;
  out = redact(out).replace(/\s+/g, ' ').trim();
  return out.length > MAX_MESSAGE_CHARS ? `${out.slice(0, MAX_MESSAGE_CHARS)}...` : out;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || (v === 0 && !allowZero)) throw new Error(`deepgram STT: ${name} must be a positive number`);
  return v;
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]`, without a trailing `/v1`. */
export function deepgramWsBase(baseUrl: string | undefined): string {
  const base = (baseUrl?.trim() || DEEPGRAM_DEFAULT_BASE_URL).replace(/\/+$/, '').replace(/\/v1$/, '');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error('deepgram STT: the base URL is not a valid URL');
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme) throw new Error('deepgram STT: the base URL must be http(s) or ws(s)');
  return scheme + base.slice(url.protocol.length);
}

/** Pulls a transcript out of a server text frame; undefined for other types and empty transcripts. */
export function parseDeepgramResults(msg: unknown): SttTranscript | undefined {
  if (!msg || typeof msg !== 'object') return undefined;
  const m = msg as { type?: unknown; channel?: { alternatives?: Array<{ transcript?: unknown }> }; is_final?: unknown; start?: unknown; duration?: unknown };
  if (m.type !== 'Results') return undefined;
  const raw = m.channel?.alternatives?.[0]?.transcript;
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (!text) return undefined;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  const start = num(m.start);
  return { text, isFinal: m.is_final === true, startMs: Math.round(start * 1000), endMs: Math.round((start + num(m.duration)) * 1000) };
}

/** A copy of `samples` as little-endian bytes (a copy: ws may queue it while the caller reuses its buffer). */
function pcmToLe(samples: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length * 2);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
  else for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], i * 2);
  return out;
}

function handshakeError(apiKey: string, res: IncomingMessage, body: string): ProviderError {
  const status = res.statusCode ?? 0;
  let json: Record<string, unknown> = {};
  for (const text of [body, String(res.headers['dg-error'] ?? '')]) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') {
        json = parsed as Record<string, unknown>;
        break;
      }
    } catch {
      /* not JSON */
    }
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
  const header = str(res.headers['dg-error']);
  const plain = body.trim() && !body.trimStart().startsWith('{') ? body : undefined;
  const message = str(json.err_msg) ?? str(json.message) ?? (header?.startsWith('{') ? undefined : header) ?? plain ?? res.statusMessage ?? 'no error message';
  const code = str(json.err_code) ?? str(json.category);
  const requestId = str(json.request_id) ?? str(res.headers['dg-request-id']);
  return new ProviderError('stt', PROVIDER, `deepgram STT connection refused: HTTP ${status}${code ? ` ${scrub(code, apiKey)}` : ''}: ${scrub(message, apiKey)}`, {
    status,
    code: code ? scrub(code, apiKey) : undefined,
    requestId,
  });
}

export class DeepgramStt implements SttProvider {
  readonly name = 'deepgram' as const;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly connectTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly closeTimeoutMs: number;

  constructor(opts: SttProviderOptions, tuning: DeepgramSttTuning = {}) {
    const key = typeof opts.apiKey === 'string' ? opts.apiKey.trim() : '';
    registerSecret(opts.apiKey);
    registerSecret(key);
    if (!key) throw new Error('deepgram STT: an API key is required');
    if (/\s/.test(key)) throw new Error('deepgram STT: the API key contains whitespace');
    this.apiKey = key;
    this.wsBase = deepgramWsBase(opts.baseUrl);
    this.model = opts.model?.trim() || DEEPGRAM_DEFAULT_STT_MODEL;
    this.connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.keepAliveMs = positive('keepAliveMs', tuning.keepAliveMs, DEFAULT_KEEPALIVE_MS, true);
    this.closeTimeoutMs = positive('closeTimeoutMs', tuning.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS);
  }

  /** The listen URL for a stream (no secret in it: the key goes in a header). */
  listenUrl(sampleRateHz: number, language?: string): string {
    const url = new URL(`${this.wsBase}/v1/listen`);
    url.searchParams.set('model', this.model);
    url.searchParams.set('encoding', 'linear16');
    url.searchParams.set('sample_rate', String(sampleRateHz));
    url.searchParams.set('channels', '1');
    url.searchParams.set('language', language?.trim() || 'en');
    url.searchParams.set('interim_results', 'true');
    url.searchParams.set('punctuate', 'true');
    return url.toString();
  }

  async open(opts: SttStreamOptions): Promise<SttStream> {
    const rate = opts.sampleRateHz;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 192_000) throw new Error(`deepgram STT: unsupported sampleRateHz ${rate}`);
    const signal = opts.signal;
    signal?.throwIfAborted();
    const apiKey = this.apiKey;
    const ws = new WebSocket(this.listenUrl(rate, opts.language), {
      headers: { authorization: `Token ${apiKey}` },
      followRedirects: false,
      perMessageDeflate: false,
    });
    await awaitSocketOpen(ws, {
      kind: 'stt',
      provider: PROVIDER,
      what: 'deepgram STT',
      timeoutMs: this.connectTimeoutMs,
      signal,
      scrub: (text) => scrub(text, apiKey),
      refused: (res, body) => handshakeError(apiKey, res, body),
    });
    return new DeepgramLiveStream(ws, apiKey, signal, this.keepAliveMs, this.closeTimeoutMs);
  }
}

class DeepgramLiveStream implements SttStream {
  private readonly transcriptListeners: Array<(t: SttTranscript) => void> = [];
  private readonly errorListeners: Array<(err: ProviderError) => void> = [];
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** Set when we dropped the connection ourselves (abort, close timeout): no error for that. */
  private dropped = false;
  private lastSentAt = Date.now();
  private readonly keepAliveTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private readonly onAbort = (): void => this.drop();

  constructor(
    private readonly ws: WebSocket,
    private readonly apiKey: string,
    private readonly signal: AbortSignal | undefined,
    private readonly keepAliveMs: number,
    private readonly closeTimeoutMs: number,
  ) {
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.handleText(data.toString());
    });
    ws.on('close', (code: number, reason: Buffer) => this.handleClose(code, reason.toString('utf8')));
    ws.on('error', (err: Error) => {
      if (this.state !== 'closed' && !this.dropped) this.emitError(new ProviderError('stt', PROVIDER, `deepgram STT connection error: ${scrub(err.message, apiKey)}`, { code: 'network' }));
    });
    if (keepAliveMs > 0) {
      // Ticks four times per period, so an idle gap never exceeds 1.25 periods.
      this.keepAliveTimer = setInterval(() => this.keepAlive(), Math.max(10, keepAliveMs / 4));
      this.keepAliveTimer.unref();
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.drop();
  }

  write(samples: Int16Array): void {
    if (this.state !== 'open' || !samples || samples.length === 0 || this.ws.readyState !== WebSocket.OPEN) return;
    try {
      this.ws.send(pcmToLe(samples), { binary: true });
      this.lastSentAt = Date.now();
    } catch {
      /* dropped: the close handler reports why */
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

  private async flushAndClose(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    clearInterval(this.keepAliveTimer);
    try {
      this.ws.send(JSON.stringify({ type: 'CloseStream' }));
    } catch {
      this.drop();
    }
    const timer = setTimeout(() => {
      if (this.state === 'closed') return;
      this.emitError(
        new ProviderError('stt', PROVIDER, `deepgram STT did not close within ${this.closeTimeoutMs} ms; the last results may be missing`, { code: 'timeout' }),
      );
      this.drop();
    }, this.closeTimeoutMs);
    await this.closedPromise;
    clearTimeout(timer);
  }

  /** Drops the connection at once (abort, close timeout); results still in flight are lost. */
  private drop(): void {
    if (this.state === 'closed') return;
    this.dropped = true;
    this.state = 'closed';
    this.cleanup();
    this.ws.terminate();
    this.resolveClosed();
  }

  private cleanup(): void {
    clearInterval(this.keepAliveTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private keepAlive(): void {
    if (this.state !== 'open' || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastSentAt < this.keepAliveMs) return;
    try {
      this.ws.send(JSON.stringify({ type: 'KeepAlive' }));
      this.lastSentAt = Date.now();
    } catch {
      /* the close handler reports it */
    }
  }

  private handleText(text: string): void {
    if (this.state === 'closed') return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const m = msg as { type?: unknown; err_code?: unknown; err_msg?: unknown; description?: unknown; message?: unknown; variant?: unknown };
    if (m && m.type === 'Error') {
      const detail = [m.err_msg, m.description, m.message].find((v) => typeof v === 'string' && v) as string | undefined;
      const code = [m.err_code, m.variant].find((v) => typeof v === 'string' && v) as string | undefined;
      this.emitError(new ProviderError('stt', PROVIDER, `deepgram STT error: ${scrub(detail ?? 'unknown error', this.apiKey)}`, { code: code ? scrub(code, this.apiKey) : 'protocol' }));
      return;
    }
    const t = parseDeepgramResults(msg);
    if (!t) return;
    for (const l of this.transcriptListeners) {
      try {
        l(t);
      } catch {
        /* a listener's failure must not break the stream */
      }
    }
  }

  private handleClose(code: number, reason: string): void {
    const wasDropped = this.dropped;
    const wasClosing = this.state === 'closing';
    this.state = 'closed';
    this.cleanup();
    this.resolveClosed();
    if (wasDropped) return;
    // 1000 after our CloseStream is the normal end; anything else (1008 DATA-0000, 1011 NET-0001) is a failure.
    if (code === 1000 && wasClosing) return;
    const why = reason ? `: ${scrub(reason, this.apiKey)}` : '';
    this.emitError(new ProviderError('stt', PROVIDER, `deepgram STT connection closed (${code})${why}`, { code: 'closed' }));
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
