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
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import type { ProviderError } from './types.js';
import type { SttProvider, SttProviderOptions, SttStream, SttStreamOptions, SttTranscript } from './types.js';
import {
  checkSttApiKey,
  jsonTextFrame,
  openSttSocket,
  parseJsonObject,
  plainRefusalBody,
  positiveSttOption,
  SocketSttStream,
  STT_DEFAULT_CLOSE_TIMEOUT_MS,
  STT_DEFAULT_CONNECT_TIMEOUT_MS,
  sttRefusedError,
  sttWsBase,
} from './ws-stream.js';
import type { SocketSttStreamInit } from './ws-stream.js';

export const DEEPGRAM_DEFAULT_BASE_URL = 'https://api.deepgram.com';
export const DEEPGRAM_DEFAULT_STT_MODEL = 'nova-3';
/** Deepgram advises a KeepAlive every 3-5 s against its 10 s idle timeout. */
const DEFAULT_KEEPALIVE_MS = 5_000;
const PROVIDER = 'deepgram';

/** Timing knobs beyond {@link SttProviderOptions} (tests shorten them). */
export interface DeepgramSttTuning {
  /** Send a KeepAlive after this long without audio, ms (default 5000; 0 disables). */
  keepAliveMs?: number;
  /** close(): longest wait for the server to flush and close, ms (default 5000). */
  closeTimeoutMs?: number;
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]`, without a trailing `/v1`. */
export function deepgramWsBase(baseUrl: string | undefined): string {
  return sttWsBase(PROVIDER, baseUrl, DEEPGRAM_DEFAULT_BASE_URL).replace(/\/v1$/, '');
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

/** The error of a refused handshake: `{"err_code","err_msg","request_id"}` in the body or the `dg-error` header. */
function handshakeError(apiKey: string, res: IncomingMessage, body: string): ProviderError {
  const dgError = String(res.headers['dg-error'] ?? '');
  const json = parseJsonObject(body) ?? parseJsonObject(dgError) ?? {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
  const header = str(dgError);
  return sttRefusedError(PROVIDER, apiKey, res, {
    message: str(json.err_msg) ?? str(json.message) ?? (header?.startsWith('{') ? undefined : header) ?? plainRefusalBody(body),
    code: str(json.err_code) ?? str(json.category),
    requestId: str(json.request_id) ?? str(res.headers['dg-request-id']),
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
    registerSecret(opts.apiKey);
    this.apiKey = checkSttApiKey(PROVIDER, opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = deepgramWsBase(opts.baseUrl);
    this.model = opts.model?.trim() || DEEPGRAM_DEFAULT_STT_MODEL;
    this.connectTimeoutMs = positiveSttOption(PROVIDER, 'connectTimeoutMs', opts.connectTimeoutMs, STT_DEFAULT_CONNECT_TIMEOUT_MS);
    // 0 turns KeepAlive off, so only this option may be zero.
    this.keepAliveMs = tuning.keepAliveMs === 0 ? 0 : positiveSttOption(PROVIDER, 'keepAliveMs', tuning.keepAliveMs, DEFAULT_KEEPALIVE_MS);
    this.closeTimeoutMs = positiveSttOption(PROVIDER, 'closeTimeoutMs', tuning.closeTimeoutMs, STT_DEFAULT_CLOSE_TIMEOUT_MS);
  }

  /** The listen URL for a stream (no secret in it: the key goes in a header). */
  listenUrl(sampleRateHz: number, language?: string): string {
    const url = new URL(`${this.wsBase}/v1/listen`);
    url.searchParams.set('model', this.model);
    url.searchParams.set('encoding', 'linear16');
    url.searchParams.set('sample_rate', String(sampleRateHz));
    url.searchParams.set('channels', '1');
    // The whole BCP-47 tag: Deepgram has regional models (en-US, pt-BR).
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
    const ws = openSttSocket(this.listenUrl(rate, opts.language), { authorization: `Token ${apiKey}` });
    const stream = new DeepgramLiveStream({ ws, provider: PROVIDER, apiKey, sampleRateHz: rate, signal, closeTimeoutMs: this.closeTimeoutMs }, this.keepAliveMs);
    await stream.connect(this.connectTimeoutMs);
    return stream;
  }
}

class DeepgramLiveStream extends SocketSttStream {
  private lastSentAt = Date.now();
  private keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(
    init: SocketSttStreamInit,
    private readonly keepAliveMs: number,
  ) {
    super(init);
    // Deepgram ends a flushed stream with 1000: any other code, even 1005 (no status), is reported.
    this.normalEndCodes = [1000];
  }

  protected override refusal(res: IncomingMessage, body: string): ProviderError {
    return handshakeError(this.apiKey, res, body);
  }

  protected override onOpen(): void {
    this.lastSentAt = Date.now();
    if (this.keepAliveMs > 0) {
      // Ticks four times per period, so an idle gap never exceeds 1.25 periods.
      this.keepAliveTimer = setInterval(() => this.keepAlive(), Math.max(10, this.keepAliveMs / 4));
      this.keepAliveTimer.unref();
    }
  }

  protected override sendAudio(samples: Int16Array): void {
    this.ws.send(this.le.bytes(samples), { binary: true });
    this.lastSentAt = Date.now();
  }

  protected override beginEnd(): void {
    clearInterval(this.keepAliveTimer);
    // The server answers with its last results and Metadata, then closes: that close ends the stream.
    this.ws.send(JSON.stringify({ type: 'CloseStream' }));
  }

  protected override dispose(): void {
    clearInterval(this.keepAliveTimer);
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

  protected override handleMessage(data: RawData, isBinary: boolean): void {
    const m = jsonTextFrame(data, isBinary) as
      | { type?: unknown; err_code?: unknown; err_msg?: unknown; description?: unknown; message?: unknown; variant?: unknown }
      | undefined;
    if (!m) return;
    if (m.type === 'Error') {
      const detail = [m.err_msg, m.description, m.message].find((v) => typeof v === 'string' && v) as string | undefined;
      const code = [m.err_code, m.variant].find((v) => typeof v === 'string' && v) as string | undefined;
      this.fail(this.error(`error: ${detail ?? 'unknown error'}`, { code: code ?? 'protocol' }));
      return;
    }
    const t = parseDeepgramResults(m);
    if (t) this.emitTranscript(t);
  }
}
