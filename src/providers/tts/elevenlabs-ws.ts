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
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import {
  ELEVENLABS_DEFAULT_BASE_URL,
  ELEVENLABS_DEFAULT_MODEL,
  ELEVENLABS_PCM_RATES,
  elevenLabsLanguageCode,
  elevenLabsVoiceFor,
  parseElevenLabsError,
} from './elevenlabs.js';
import { checkApiKey, checkRate, resolveBaseUrl, timeoutOf } from './stream.js';
import type { StreamingTtsProvider, TtsProviderOptions, TtsTextStream, TtsTextStreamRequest } from './types.js';
import { openTtsSocket, parseJsonMessage, refusedHandshakeError, WsTextStream } from './ws-text-stream.js';
import type { TtsServerEvent, TtsWireMessage } from './ws-text-stream.js';

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
    const ws = await openTtsSocket({
      provider: 'elevenlabs',
      apiKey,
      url: this.streamInputUrl(req),
      headers: { 'xi-api-key': apiKey },
      timeoutMs: this.connectTimeoutMs,
      signal,
      refused: (res, body) => refusedHandshakeError('elevenlabs', apiKey, res, body, parseElevenLabsError, 'request-id'),
    });
    const init: Record<string, unknown> = { text: ' ', generation_config: { chunk_length_schedule: this.chunkLengthSchedule } };
    if (this.voiceSettings) init.voice_settings = this.voiceSettings;
    ws.send(JSON.stringify(init));
    return new ElevenLabsTextStream({ ws, provider: 'elevenlabs', apiKey, signal, idleTimeoutMs: this.idleTimeoutMs });
  }
}

/** The stream-input protocol; {@link WsTextStream} runs the stream. */
class ElevenLabsTextStream extends WsTextStream {
  protected override textMessage(text: string): TtsWireMessage {
    return { text };
  }

  protected override flushMessage(): TtsWireMessage {
    return { text: ' ', flush: true };
  }

  protected override endInput(): boolean {
    // The empty text ends the input: the last audio comes, then `isFinal`.
    this.send({ text: '' });
    return false;
  }

  protected override leaveCancelled(): void {
    // The protocol has no cancel message: dropping the socket is what stops the generation.
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  protected override parse(data: RawData): readonly TtsServerEvent[] {
    const msg = parseJsonMessage(data);
    if (!msg) return [{ type: 'malformed' }];
    const events: TtsServerEvent[] = [];
    if (typeof msg.audio === 'string' && msg.audio) {
      events.push({ type: 'audio', pcm: Buffer.from(msg.audio, 'base64') });
    } else if (typeof msg.error === 'string' || (typeof msg.message === 'string' && msg.isFinal === undefined)) {
      const message = typeof msg.message === 'string' ? msg.message : undefined;
      return [{ type: 'error', error: this.providerFailure(message, typeof msg.error === 'string' ? msg.error : undefined) }];
    }
    if (msg.isFinal === true) events.push({ type: 'done' });
    return events;
  }
}
