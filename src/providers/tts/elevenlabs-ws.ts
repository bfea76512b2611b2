/**
 * ElevenLabs text-to-speech with streamed text input, over its WebSocket API:
 *
 *   GET {base}/v1/text-to-speech/{voice_id}/stream-input?model_id=...&output_format=pcm_16000
 *       &inactivity_timeout=20[&language_code=ja]            (upgraded to a WebSocket)
 *   xi-api-key: <key>
 *
 * Client messages: first `{"text": " ", "generation_config": {"chunk_length_schedule": [...]},
 * "voice_settings"?}`, then `{"text": "..."}` pieces (`"flush": true` to speak what is buffered),
 * and `{"text": ""}` to end. Server messages: `{"audio": "<base64 pcm>", "isFinal": null,
 * "normalizedAlignment": {...}}`, then `{"isFinal": true}`; errors `{"message", "error", "code"}`
 * or a close frame. The key goes in the header only: never in the URL or a message.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import { awaitSocketOpen } from '../ws-handshake.js';
import {
  ELEVENLABS_DEFAULT_BASE_URL,
  ELEVENLABS_DEFAULT_MODEL,
  ELEVENLABS_PCM_RATES,
  elevenLabsLanguageCode,
  elevenLabsVoiceFor,
  parseElevenLabsError,
} from './elevenlabs.js';
import { checkApiKey, checkRate, httpError, Pcm16leDecoder, resolveBaseUrl, scrub, timeoutOf } from './stream.js';
import type { ParsedError } from './stream.js';
import { ProviderError } from './types.js';
import type { StreamingTtsProvider, TtsProviderOptions, TtsTextStream, TtsTextStreamRequest } from './types.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** ElevenLabs' own default; it closes a connection that gets no text for this long. */
const DEFAULT_INACTIVITY_TIMEOUT_S = 20;
/**
 * Characters buffered before each generation. A short first step gets the first audio out
 * quickly (a caller waits on it), later steps give the model more context for prosody.
 */
const DEFAULT_CHUNK_LENGTH_SCHEDULE = [50, 120, 160, 250];

export interface ElevenLabsWsOptions extends TtsProviderOptions {
  /** Longest wait for the WebSocket handshake, ms (default 10000). */
  connectTimeoutMs?: number;
  /** Seconds without text before ElevenLabs closes the connection (1-180, default 20). */
  inactivityTimeoutS?: number;
  /** `generation_config.chunk_length_schedule` (each 50-500 characters). */
  chunkLengthSchedule?: number[];
  /** `voice_settings` of the first message (`stability`, `similarity_boost`, `speed`, ...). */
  voiceSettings?: Record<string, unknown>;
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]`. */
function toWsBase(httpBase: string): string {
  return httpBase.replace(/^http/, 'ws');
}

/** The ProviderError of a refused handshake (401, 404, ...), from ElevenLabs' error JSON. */
function handshakeError(apiKey: string, res: IncomingMessage, body: string): ProviderError {
  let parsed: ParsedError = {};
  try {
    parsed = parseElevenLabsError(JSON.parse(body));
  } catch {
    if (body.trim()) parsed = { message: body };
  }
  const rid = res.headers['request-id'];
  if (typeof rid === 'string') parsed.requestId = rid;
  return httpError('elevenlabs', apiKey, res.statusCode ?? 0, parsed, res.statusMessage ?? '');
}

/** ElevenLabs TTS that takes its text as a stream ({@link StreamingTtsProvider}). */
export class ElevenLabsWsTts implements StreamingTtsProvider {
  readonly name = 'elevenlabs' as const;
  readonly sampleRateHz: number;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly inactivityTimeoutS: number;
  private readonly chunkLengthSchedule: number[];
  private readonly voiceSettings: Record<string, unknown> | undefined;

  constructor(opts: ElevenLabsWsOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('elevenlabs', opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = toWsBase(resolveBaseUrl('elevenlabs', opts.baseUrl, ELEVENLABS_DEFAULT_BASE_URL).replace(/\/v1$/, ''));
    this.model = opts.model?.trim() || ELEVENLABS_DEFAULT_MODEL;
    this.defaultVoiceId = opts.defaultVoiceId;
    this.sampleRateHz = checkRate('elevenlabs', opts.sampleRateHz ?? 16000, ELEVENLABS_PCM_RATES);
    this.idleTimeoutMs = timeoutOf('elevenlabs', opts.timeoutMs);
    this.connectTimeoutMs = timeoutOf('elevenlabs', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const inactivity = opts.inactivityTimeoutS ?? DEFAULT_INACTIVITY_TIMEOUT_S;
    if (!Number.isInteger(inactivity) || inactivity < 1 || inactivity > 180) throw new Error('elevenlabs TTS: inactivityTimeoutS must be an integer 1-180');
    this.inactivityTimeoutS = inactivity;
    const schedule = opts.chunkLengthSchedule ?? DEFAULT_CHUNK_LENGTH_SCHEDULE;
    if (!schedule.length || schedule.some((n) => !Number.isInteger(n) || n < 50 || n > 500)) {
      throw new Error('elevenlabs TTS: chunkLengthSchedule entries must be integers 50-500');
    }
    this.chunkLengthSchedule = [...schedule];
    this.voiceSettings = opts.voiceSettings;
  }

  /** The stream-input URL for a request (no secret in it: the key goes in a header). */
  streamInputUrl(req: TtsTextStreamRequest): string {
    const voice = elevenLabsVoiceFor({ ...req, text: '' }, this.defaultVoiceId);
    const url = new URL(`${this.wsBase}/v1/text-to-speech/${encodeURIComponent(voice)}/stream-input`);
    url.searchParams.set('model_id', this.model);
    url.searchParams.set('output_format', `pcm_${this.sampleRateHz}`);
    url.searchParams.set('inactivity_timeout', String(this.inactivityTimeoutS));
    const language = elevenLabsLanguageCode(this.model, req.language);
    if (language) url.searchParams.set('language_code', language);
    return url.toString();
  }

  async openTextStream(req: TtsTextStreamRequest): Promise<TtsTextStream> {
    const signal = req.signal;
    signal?.throwIfAborted();
    const apiKey = this.apiKey;
    const ws = new WebSocket(this.streamInputUrl(req), {
      headers: { 'xi-api-key': apiKey },
      // A redirect would resend the key header to wherever it points.
      followRedirects: false,
      perMessageDeflate: false,
    });
    await awaitSocketOpen(ws, {
      kind: 'tts',
      provider: 'elevenlabs',
      what: 'elevenlabs TTS',
      timeoutMs: this.connectTimeoutMs,
      signal,
      scrub: (text) => scrub(text, apiKey),
      refused: (res, body) => handshakeError(apiKey, res, body),
    });
    const init: Record<string, unknown> = { text: ' ', generation_config: { chunk_length_schedule: this.chunkLengthSchedule } };
    if (this.voiceSettings) init.voice_settings = this.voiceSettings;
    ws.send(JSON.stringify(init));
    return new ElevenLabsTextStream(ws, apiKey, signal, this.idleTimeoutMs);
  }
}

class ElevenLabsTextStream implements TtsTextStream {
  readonly audio: AsyncIterable<Int16Array>;
  private readonly queue: Int16Array[] = [];
  private readonly decoder = new Pcm16leDecoder();
  private wake: (() => void) | undefined;
  private ended = false;
  /** No more audio will come (final, cancelled, failed). */
  private done = false;
  private cancelled = false;
  private error: unknown;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.fail(this.signal?.reason);

  constructor(
    private readonly ws: WebSocket,
    private readonly apiKey: string,
    private readonly signal: AbortSignal | undefined,
    private readonly idleTimeoutMs: number,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
    ws.on('message', (data: RawData) => this.handleMessage(data.toString()));
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.done) return this.cleanup();
      const why = scrub(reason.toString('utf8'), apiKey);
      this.fail(new ProviderError('tts', 'elevenlabs', `elevenlabs TTS connection closed before the final audio (${code}${why ? ` ${why}` : ''})`, { code: 'closed' }));
    });
    ws.on('error', (err: Error) => {
      this.fail(new ProviderError('tts', 'elevenlabs', `elevenlabs TTS connection error: ${scrub(err.message, apiKey)}`, { code: 'network' }));
    });
    this.audio = { [Symbol.asyncIterator]: () => this.iterate() };
  }

  pushText(text: string): void {
    if (this.ended) throw new Error('elevenlabs TTS: pushText() after end()');
    // An empty text is the protocol's end-of-input signal: never send one by accident.
    if (typeof text !== 'string' || text.length === 0) return;
    this.send({ text });
  }

  flush(): void {
    if (this.ended) return;
    this.send({ text: ' ', flush: true });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.send({ text: '' });
    this.armIdle();
  }

  cancel(): void {
    if (this.done && this.cancelled) return;
    this.cancelled = true;
    this.ended = true;
    this.queue.length = 0;
    this.settle();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  private send(msg: Record<string, unknown>): void {
    if (this.done || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(msg));
  }

  /** Only runs once all text is in: before that, a gap in audio is the caller's own pace. */
  private armIdle(): void {
    if (this.done) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.fail(new ProviderError('tts', 'elevenlabs', `elevenlabs TTS timed out: no data for ${this.idleTimeoutMs} ms`, { code: 'timeout' })),
      this.idleTimeoutMs,
    );
  }

  private handleMessage(raw: string): void {
    if (this.done) return;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return this.fail(new ProviderError('tts', 'elevenlabs', 'elevenlabs TTS sent a message that is not JSON', { code: 'protocol' }));
    }
    if (this.ended) this.armIdle();
    if (typeof msg.audio === 'string' && msg.audio) {
      const samples = this.decoder.decode(Buffer.from(msg.audio, 'base64'));
      if (samples.length > 0) {
        this.queue.push(samples);
        this.wakeUp();
      }
    } else if (typeof msg.error === 'string' || (typeof msg.message === 'string' && msg.isFinal === undefined)) {
      const code = typeof msg.error === 'string' ? scrub(msg.error, this.apiKey) : undefined;
      const text = scrub(typeof msg.message === 'string' ? msg.message : 'no error message', this.apiKey);
      return this.fail(new ProviderError('tts', 'elevenlabs', `elevenlabs TTS failed${code ? ` ${code}` : ''}: ${text}`, { code }));
    }
    if (msg.isFinal === true) {
      this.settle();
      this.ws.close(1000);
    }
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.error = err;
    this.settle();
    this.ws.terminate();
  }

  private settle(): void {
    this.done = true;
    this.cleanup();
    this.wakeUp();
  }

  private cleanup(): void {
    clearTimeout(this.idleTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async *iterate(): AsyncGenerator<Int16Array, void, undefined> {
    let finished = false;
    try {
      for (;;) {
        if (this.cancelled) break;
        const next = this.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.done) {
          if (this.error !== undefined && !this.cancelled) throw this.error;
          break;
        }
        await new Promise<void>((r) => (this.wake = r));
      }
      finished = true;
    } finally {
      if (!finished || !this.done) this.cancel();
    }
  }
}
