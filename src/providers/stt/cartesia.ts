/**
 * Cartesia Ink streaming speech-to-text over its WebSocket API:
 *
 *   GET {base}/stt/websocket?model=ink-whisper&language=en&encoding=pcm_s16le&sample_rate=<rate>
 *       [&min_volume=..&max_silence_duration_secs=..]                          (upgraded)
 *   X-API-Key: <key>
 *   Cartesia-Version: 2025-04-16
 *
 * The client sends binary frames of headerless 16-bit little-endian mono PCM and the text
 * commands `finalize` (transcribe what is buffered; answered by `{"type": "flush_done"}`) and
 * `done` (finish and close; answered by `{"type": "done"}`, then the server closes). The server
 * sends `{"type": "transcript", "is_final", "text", "duration", "language", "words": [{word,
 * start, end}], "request_id"}` (seconds; interim while `is_final` is false) and errors `{"type":
 * "error", "message" | "error", "error_code", "status_code", "title", "request_id"}`. A refused
 * handshake is an HTTP error (401 etc.) with a JSON body.
 *
 * ink-whisper finalizes an utterance itself after `max_silence_duration_secs` of silence, so
 * finals arrive without `finalize`; `finalize` + `done` end the stream. The pinned API version is
 * the one whose `/stt/websocket` documents `done` (later versions renamed it `close`).
 */
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import type { SttProvider, SttProviderOptions, SttStream, SttStreamOptions } from './types.js';
import {
  checkSttApiKey,
  jsonTextFrame,
  openSttSocket,
  positiveSttOption,
  SocketSttStream,
  STT_DEFAULT_CLOSE_TIMEOUT_MS,
  STT_DEFAULT_CONNECT_TIMEOUT_MS,
  sttPrimaryLanguage,
  sttWsBase,
} from './ws-stream.js';

export const CARTESIA_DEFAULT_STT_BASE_URL = 'https://api.cartesia.ai';
export const CARTESIA_DEFAULT_STT_MODEL = 'ink-whisper';
/** The `Cartesia-Version` sent: the API version whose STT WebSocket takes `finalize` / `done`. */
export const CARTESIA_STT_API_VERSION = '2025-04-16';
const PROVIDER = 'cartesia';

/** Knobs beyond {@link SttProviderOptions}. */
export interface CartesiaSttTuning {
  /** close(): longest wait for the last results and `done`, ms (default 5000). */
  closeTimeoutMs?: number;
  /** `max_silence_duration_secs`: silence that finalizes an utterance (default: the server's). */
  maxSilenceDurationSecs?: number;
  /** `min_volume` 0..1: below it audio counts as silence (default: the server's). */
  minVolume?: number;
}

/** Cartesia Ink STT (`ink-whisper`). */
export class CartesiaStt implements SttProvider {
  readonly name = 'cartesia' as const;
  /** Cartesia recommends 16 kHz; other rates are sent as they are. */
  readonly preferredSampleRateHz = 16000;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly connectTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly maxSilenceDurationSecs: number | undefined;
  private readonly minVolume: number | undefined;

  constructor(opts: SttProviderOptions, tuning: CartesiaSttTuning = {}) {
    registerSecret(opts.apiKey);
    this.apiKey = checkSttApiKey(PROVIDER, opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = sttWsBase(PROVIDER, opts.baseUrl, CARTESIA_DEFAULT_STT_BASE_URL);
    this.model = opts.model?.trim() || CARTESIA_DEFAULT_STT_MODEL;
    this.connectTimeoutMs = positiveSttOption(PROVIDER, 'connectTimeoutMs', opts.connectTimeoutMs, STT_DEFAULT_CONNECT_TIMEOUT_MS);
    this.closeTimeoutMs = positiveSttOption(PROVIDER, 'closeTimeoutMs', tuning.closeTimeoutMs, STT_DEFAULT_CLOSE_TIMEOUT_MS);
    if (tuning.maxSilenceDurationSecs !== undefined) positiveSttOption(PROVIDER, 'maxSilenceDurationSecs', tuning.maxSilenceDurationSecs, 1);
    const vol = tuning.minVolume;
    if (vol !== undefined && !(Number.isFinite(vol) && vol >= 0 && vol <= 1)) throw new Error('cartesia STT: minVolume must be in 0..1');
    this.maxSilenceDurationSecs = tuning.maxSilenceDurationSecs;
    this.minVolume = vol;
  }

  /** The WebSocket URL for a stream (no secret in it: the key goes in a header). */
  websocketUrl(sampleRateHz: number, language?: string): string {
    const url = new URL(`${this.wsBase}/stt/websocket`);
    url.searchParams.set('model', this.model);
    url.searchParams.set('language', sttPrimaryLanguage(language));
    url.searchParams.set('encoding', 'pcm_s16le');
    url.searchParams.set('sample_rate', String(sampleRateHz));
    if (this.minVolume !== undefined) url.searchParams.set('min_volume', String(this.minVolume));
    if (this.maxSilenceDurationSecs !== undefined) url.searchParams.set('max_silence_duration_secs', String(this.maxSilenceDurationSecs));
    return url.toString();
  }

  async open(opts: SttStreamOptions): Promise<SttStream> {
    const rate = opts.sampleRateHz;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 48_000) throw new Error(`cartesia STT: unsupported sampleRateHz ${rate} (8000-48000)`);
    const signal = opts.signal;
    signal?.throwIfAborted();
    const apiKey = this.apiKey;
    const ws = openSttSocket(this.websocketUrl(rate, opts.language), { 'x-api-key': apiKey, 'cartesia-version': CARTESIA_STT_API_VERSION });
    const stream = new InkStream({ ws, provider: PROVIDER, apiKey, sampleRateHz: rate, signal, closeTimeoutMs: this.closeTimeoutMs });
    await stream.connect(this.connectTimeoutMs);
    return stream;
  }
}

interface InkMessage {
  type?: unknown;
  is_final?: unknown;
  text?: unknown;
  words?: Array<{ word?: unknown; start?: unknown; end?: unknown }>;
  message?: unknown;
  error?: unknown;
  title?: unknown;
  error_code?: unknown;
  status_code?: unknown;
  request_id?: unknown;
}

class InkStream extends SocketSttStream {
  /** End of the last final: where an utterance without word timing starts. */
  private lastEndMs = 0;

  protected override sendAudio(samples: Int16Array): void {
    this.ws.send(this.le.bytes(samples), { binary: true });
  }

  protected override beginEnd(): void {
    // `finalize` transcribes the buffered tail; `done` then closes once everything is out.
    this.ws.send('finalize');
    this.ws.send('done');
  }

  protected override handleMessage(data: RawData, isBinary: boolean): void {
    const m = jsonTextFrame(data, isBinary) as InkMessage | undefined;
    if (!m) return;
    switch (m.type) {
      case 'transcript': {
        const text = typeof m.text === 'string' ? m.text.trim() : '';
        const isFinal = m.is_final === true;
        const words = (Array.isArray(m.words) ? m.words : []).filter(
          (w) => w && typeof w.start === 'number' && typeof w.end === 'number' && Number.isFinite(w.start) && Number.isFinite(w.end),
        ) as Array<{ start: number; end: number }>;
        const startMs = words.length > 0 ? Math.round(words[0].start * 1000) : this.lastEndMs;
        const endMs = words.length > 0 ? Math.round(words[words.length - 1].end * 1000) : Math.max(this.lastEndMs, this.writtenMs);
        if (isFinal) this.lastEndMs = Math.max(this.lastEndMs, endMs);
        if (text) this.emitTranscript({ text, isFinal, startMs, endMs });
        return;
      }
      case 'done':
        this.endGracefully();
        return;
      case 'error': {
        const detail = [m.message, m.error, m.title].find((v) => typeof v === 'string' && v) as string | undefined;
        const status = typeof m.status_code === 'number' && Number.isInteger(m.status_code) ? m.status_code : undefined;
        const code = typeof m.error_code === 'string' && m.error_code ? m.error_code : 'provider_error';
        const requestId = typeof m.request_id === 'string' ? m.request_id : undefined;
        this.fail(this.error(`error: ${detail ?? 'no message'}`, { code, status, requestId }));
        return;
      }
      default:
        return; // flush_done and newer message types
    }
  }
}
