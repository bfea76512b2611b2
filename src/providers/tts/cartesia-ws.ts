/**
 * Cartesia text-to-speech with streamed text input, over its WebSocket API:
 *
 *   GET {base}/tts/websocket?cartesia_version=2025-04-16        (upgraded to a WebSocket)
 *   X-API-Key: <key>
 *   Cartesia-Version: 2025-04-16
 *
 * One connection and one context per utterance. Every generation request carries the same fields
 * (Cartesia requires all but `transcript`, `continue` and `flush` to stay the same in a context):
 *
 *   {"model_id": "sonic-3", "voice": {"mode": "id", "id": "..."}, "language": "ja",
 *    "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
 *    "context_id": "...", "transcript": "Hello, ", "continue": true}
 *
 * Transcripts are joined verbatim. `"flush": true` (empty transcript) asks for the buffered text
 * now; an empty transcript with `"continue": false` ends the context. `{"context_id", "cancel": true}`
 * stops it. Server messages: `{"type": "chunk", "data": "<base64 pcm>", "done": false, ...}`,
 * `flush_done`, `timestamps`, then `{"type": "done", "done": true}`; errors `{"type": "error",
 * "done": true, "status_code", "error"}` (older versions) or `{"title", "message", "error_code"}`.
 *
 * The key goes in a header only, never in the URL or a message (Cartesia also takes `?api_key=`,
 * which is meant for browsers and would put the key in every URL log).
 */
import { randomUUID } from 'node:crypto';
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import { checkApiKey, checkRate, primaryLanguage, resolveBaseUrl, timeoutOf } from './stream.js';
import type { ParsedError } from './stream.js';
import type { StreamingTtsProvider, StreamingTtsProviderOptions, TtsProvider, TtsRequest, TtsTextStream, TtsTextStreamRequest } from './types.js';
import { resolveVoice } from './voices.js';
import { openTtsSocket, parseJsonMessage, refusedHandshakeError, WsTextStream } from './ws-text-stream.js';
import type { TtsServerEvent, TtsWireMessage, WsTextStreamInit } from './ws-text-stream.js';

export const CARTESIA_DEFAULT_BASE_URL = 'https://api.cartesia.ai';
/** Cartesia's current stable Sonic model (a dated snapshot can be pinned through `model`). */
export const CARTESIA_DEFAULT_MODEL = 'sonic-3';
/** The API version this adapter was written against (`Cartesia-Version` / `cartesia_version`). */
export const CARTESIA_API_VERSION = '2025-04-16';
/** `output_format.sample_rate` values Cartesia offers. */
export const CARTESIA_PCM_RATES = [8000, 16000, 22050, 24000, 44100, 48000] as const;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface CartesiaWsOptions extends StreamingTtsProviderOptions {
  /** API version date sent on the handshake (default {@link CARTESIA_API_VERSION}). */
  cartesiaVersion?: string;
  /**
   * `max_buffer_delay_ms`: how long Cartesia may hold streamed text to gather context before it
   * speaks. Unset leaves Cartesia's default; 0 speaks each piece at once (the caller buffers).
   */
  maxBufferDelayMs?: number;
}

/** Message, code and status of a Cartesia error (`{error}`, `{title, message, error_code}` or `{detail}`). */
export function parseCartesiaError(json: unknown): ParsedError & { status?: number } {
  if (!json || typeof json !== 'object') return {};
  const j = json as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
  const title = str(j.title);
  const detail = str(j.message) ?? str(j.error) ?? str(j.detail);
  const message = title && detail && !detail.startsWith(title) ? `${title}: ${detail}` : (detail ?? title);
  const status = typeof j.status_code === 'number' ? j.status_code : undefined;
  return { message, code: str(j.error_code) ?? str(j.code), requestId: str(j.request_id), status };
}

/**
 * Cartesia TTS over its WebSocket. It takes text as a stream ({@link StreamingTtsProvider}) and
 * also whole texts ({@link TtsProvider}: one stream, all the text, then the end), since Cartesia
 * has no separate adapter for its HTTP endpoints here.
 */
export class CartesiaWsTts implements StreamingTtsProvider, TtsProvider {
  readonly name = 'cartesia' as const;
  readonly sampleRateHz: number;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly version: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly maxBufferDelayMs: number | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(opts: CartesiaWsOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('cartesia', opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = resolveBaseUrl('cartesia', opts.baseUrl, CARTESIA_DEFAULT_BASE_URL).replace(/^http/, 'ws');
    this.model = opts.model?.trim() || CARTESIA_DEFAULT_MODEL;
    this.version = opts.cartesiaVersion?.trim() || CARTESIA_API_VERSION;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(this.version)) throw new Error('cartesia TTS: cartesiaVersion must be a YYYY-MM-DD date');
    this.defaultVoiceId = opts.defaultVoiceId;
    this.sampleRateHz = checkRate('cartesia', opts.sampleRateHz ?? 16000, CARTESIA_PCM_RATES);
    const delay = opts.maxBufferDelayMs;
    if (delay !== undefined && (!Number.isInteger(delay) || delay < 0 || delay > 5000)) {
      throw new Error('cartesia TTS: maxBufferDelayMs must be an integer 0-5000');
    }
    this.maxBufferDelayMs = delay;
    this.idleTimeoutMs = timeoutOf('cartesia', opts.timeoutMs);
    this.connectTimeoutMs = timeoutOf('cartesia', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }

  /** The WebSocket URL (no secret in it: the key goes in a header). */
  websocketUrl(): string {
    const url = new URL(`${this.wsBase}/tts/websocket`);
    url.searchParams.set('cartesia_version', this.version);
    return url.toString();
  }

  /** The fields every generation request of a context repeats. */
  generationFields(req: TtsTextStreamRequest, contextId: string): Record<string, unknown> {
    const fields: Record<string, unknown> = {
      model_id: this.model,
      voice: { mode: 'id', id: resolveVoice({ ttsType: 'cartesia', voiceId: req.voiceId?.trim() || this.defaultVoiceId }) },
      output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: this.sampleRateHz },
      context_id: contextId,
    };
    const language = primaryLanguage(req.language);
    if (language) fields.language = language;
    if (this.maxBufferDelayMs !== undefined) fields.max_buffer_delay_ms = this.maxBufferDelayMs;
    return fields;
  }

  async openTextStream(req: TtsTextStreamRequest): Promise<TtsTextStream> {
    const signal = req.signal;
    signal?.throwIfAborted();
    const apiKey = this.apiKey;
    const ws = await openTtsSocket({
      provider: 'cartesia',
      apiKey,
      url: this.websocketUrl(),
      headers: { 'x-api-key': apiKey, 'cartesia-version': this.version },
      timeoutMs: this.connectTimeoutMs,
      signal,
      refused: (res, body) => refusedHandshakeError('cartesia', apiKey, res, body, parseCartesiaError),
    });
    const contextId = randomUUID();
    return new CartesiaTextStream({ ws, provider: 'cartesia', apiKey, signal, idleTimeoutMs: this.idleTimeoutMs }, this.generationFields(req, contextId), contextId);
  }

  async *synthesize(req: TtsRequest): AsyncGenerator<Int16Array, void, undefined> {
    req.signal?.throwIfAborted();
    // Nothing to say: no connection (Cartesia rejects an empty transcript).
    if (!String(req.text ?? '').trim()) return;
    const stream = await this.openTextStream(req);
    stream.pushText(req.text);
    stream.end();
    // Breaking out of the caller's loop returns this iterator, which cancels the stream.
    yield* stream.audio;
  }
}

/** One Cartesia context; {@link WsTextStream} runs the stream. */
class CartesiaTextStream extends WsTextStream {
  constructor(
    init: WsTextStreamInit,
    /** The fields every generation request of the context repeats. */
    private readonly fields: TtsWireMessage,
    private readonly contextId: string,
  ) {
    super(init);
  }

  protected override textMessage(text: string): TtsWireMessage {
    return { ...this.fields, transcript: text, continue: true };
  }

  protected override flushMessage(): TtsWireMessage | undefined {
    // Before any text the context does not exist at Cartesia: there is nothing to flush.
    return this.textSent ? { ...this.fields, transcript: '', continue: true, flush: true } : undefined;
  }

  protected override endInput(): boolean {
    // No context was ever opened: there is nothing to wait for.
    if (!this.textSent) return true;
    this.send({ ...this.fields, transcript: '', continue: false });
    return false;
  }

  protected override cancelMessage(): TtsWireMessage | undefined {
    return this.textSent ? { context_id: this.contextId, cancel: true } : undefined;
  }

  protected override parse(data: RawData, isBinary: boolean): readonly TtsServerEvent[] | undefined {
    if (isBinary) return undefined;
    const msg = parseJsonMessage(data);
    if (!msg) return [{ type: 'malformed' }];
    if (typeof msg.context_id === 'string' && msg.context_id !== this.contextId) return undefined;
    if (msg.type === 'error' || (msg.type === undefined && typeof msg.error === 'string')) {
      const parsed = parseCartesiaError(msg);
      const status = parsed.status !== undefined && parsed.status >= 400 ? parsed.status : undefined;
      return [{ type: 'error', error: this.providerFailure(parsed.message, parsed.code, status) }];
    }
    const events: TtsServerEvent[] = [];
    if (msg.type === 'chunk' && typeof msg.data === 'string' && msg.data) events.push({ type: 'audio', pcm: Buffer.from(msg.data, 'base64') });
    if (msg.type === 'done' || (msg.done === true && msg.type !== 'error')) events.push({ type: 'done' });
    return events;
  }
}
