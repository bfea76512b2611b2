/**
 * ElevenLabs Scribe realtime speech-to-text over its WebSocket API:
 *
 *   GET {base}/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=pcm_<rate>
 *       &commit_strategy=vad&include_timestamps=true&language_code=en      (upgraded)
 *   xi-api-key: <key>
 *
 * Client messages: `{"message_type": "input_audio_chunk", "audio_base_64": <pcm16le>, "commit":
 * false, "sample_rate": <rate>}`; the same with `"commit": true` and empty audio commits the
 * segment (what the official SDK's `commit()` sends), used at the end when speech may be
 * uncommitted (a partial since the last commit, or loud audio the server has not reported yet).
 * Server messages (`message_type`): `session_started {session_id, config}` (open() resolves),
 * `partial_transcript {text}` (→ interim), `committed_transcript {text}` followed, because we ask
 * for `include_timestamps`, by `committed_transcript_with_timestamps {text, words: [{text, start,
 * end, type}]}` (→ final, offsets from the words, seconds), and errors `{message_type: "error" |
 * "auth_error" | "quota_exceeded" | "rate_limited" | "input_error" | ..., error: <message>}`.
 * A refused handshake is HTTP 401 etc. with `{"detail": {"status", "message"}}`.
 *
 * With `commit_strategy=vad` the server commits a segment after its silence threshold, so finals
 * arrive without client commits. Partials carry no timing: their offsets are estimated (from the
 * end of the last final to the audio written so far).
 */
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import type { SttProvider, SttProviderOptions, SttStream, SttStreamOptions } from './types.js';
import {
  checkSttApiKey,
  jsonTextFrame,
  openSttSocket,
  pcm16Rms,
  positiveSttOption,
  SocketSttStream,
  STT_DEFAULT_CLOSE_TIMEOUT_MS,
  STT_DEFAULT_CONNECT_TIMEOUT_MS,
  STT_LOCAL_VOICE_RMS,
  sttPrimaryLanguage,
  sttWsBase,
} from './ws-stream.js';
import type { SocketSttStreamInit } from './ws-stream.js';

export const ELEVENLABS_DEFAULT_STT_BASE_URL = 'https://api.elevenlabs.io';
export const ELEVENLABS_DEFAULT_STT_MODEL = 'scribe_v2_realtime';
/** The PCM rates of the realtime API's `audio_format` (`pcm_<rate>`). */
export const ELEVENLABS_STT_PCM_RATES: readonly number[] = [8000, 16000, 22050, 24000, 44100, 48000];
const PROVIDER = 'elevenlabs';
/** The error `message_type`s of the realtime API (from the official SDK's message union). */
const ERROR_TYPES = new Set([
  'error',
  'auth_error',
  'quota_exceeded',
  'commit_throttled',
  'transcriber_error',
  'unaccepted_terms_error',
  'unaccepted_terms',
  'rate_limited',
  'input_error',
  'queue_overflow',
  'resource_exhausted',
  'session_time_limit_exceeded',
  'chunk_size_exceeded',
  'insufficient_audio_activity',
]);
/** HTTP-like statuses for error types whose meaning is one (so `retryable` and callers see it). */
const ERROR_STATUS: Record<string, number> = { auth_error: 401, unaccepted_terms_error: 403, unaccepted_terms: 403, rate_limited: 429, resource_exhausted: 503 };
/** Errors that only say "nothing to commit" when they answer our closing commit. */
const BENIGN_AT_END = new Set(['insufficient_audio_activity', 'commit_throttled']);

/** Knobs beyond {@link SttProviderOptions}. */
export interface ElevenLabsSttTuning {
  /** close(): longest wait for the last committed transcript, ms (default 5000). */
  closeTimeoutMs?: number;
  /** `vad_silence_threshold_secs`: silence that commits a segment (0.3-3; default: the server's, 1.5). */
  vadSilenceThresholdSecs?: number;
  /** How long a `committed_transcript` waits for its timestamped twin before it is delivered without timing, ms (default 1000). */
  timestampWaitMs?: number;
}

/** ElevenLabs Scribe realtime STT. */
export class ElevenLabsStt implements SttProvider {
  readonly name = 'elevenlabs' as const;
  /** ElevenLabs recommends 16 kHz; every rate in {@link ELEVENLABS_STT_PCM_RATES} is sent as is. */
  readonly preferredSampleRateHz = 16000;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly connectTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly vadSilenceThresholdSecs: number | undefined;
  private readonly timestampWaitMs: number;

  constructor(opts: SttProviderOptions, tuning: ElevenLabsSttTuning = {}) {
    registerSecret(opts.apiKey);
    this.apiKey = checkSttApiKey(PROVIDER, opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = sttWsBase(PROVIDER, opts.baseUrl, ELEVENLABS_DEFAULT_STT_BASE_URL).replace(/\/v1$/, '');
    this.model = opts.model?.trim() || ELEVENLABS_DEFAULT_STT_MODEL;
    this.connectTimeoutMs = positiveSttOption(PROVIDER, 'connectTimeoutMs', opts.connectTimeoutMs, STT_DEFAULT_CONNECT_TIMEOUT_MS);
    this.closeTimeoutMs = positiveSttOption(PROVIDER, 'closeTimeoutMs', tuning.closeTimeoutMs, STT_DEFAULT_CLOSE_TIMEOUT_MS);
    this.timestampWaitMs = positiveSttOption(PROVIDER, 'timestampWaitMs', tuning.timestampWaitMs, 1000);
    const vad = tuning.vadSilenceThresholdSecs;
    // The range the official SDK enforces.
    if (vad !== undefined && !(Number.isFinite(vad) && vad > 0.3 && vad <= 3)) throw new Error('elevenlabs STT: vadSilenceThresholdSecs must be in (0.3, 3]');
    this.vadSilenceThresholdSecs = vad;
  }

  /** The realtime URL for a stream (no secret in it: the key goes in a header). */
  realtimeUrl(sampleRateHz: number, language?: string): string {
    const url = new URL(`${this.wsBase}/v1/speech-to-text/realtime`);
    url.searchParams.set('model_id', this.model);
    url.searchParams.set('audio_format', `pcm_${sampleRateHz}`);
    url.searchParams.set('commit_strategy', 'vad');
    if (this.vadSilenceThresholdSecs !== undefined) url.searchParams.set('vad_silence_threshold_secs', String(this.vadSilenceThresholdSecs));
    url.searchParams.set('include_timestamps', 'true');
    url.searchParams.set('language_code', sttPrimaryLanguage(language));
    return url.toString();
  }

  async open(opts: SttStreamOptions): Promise<SttStream> {
    const rate = opts.sampleRateHz;
    if (!ELEVENLABS_STT_PCM_RATES.includes(rate)) {
      throw new Error(`elevenlabs STT: unsupported sampleRateHz ${rate} (supported: ${ELEVENLABS_STT_PCM_RATES.join(', ')})`);
    }
    const signal = opts.signal;
    signal?.throwIfAborted();
    const startedAt = Date.now();
    const apiKey = this.apiKey;
    const ws = openSttSocket(this.realtimeUrl(rate, opts.language), { 'xi-api-key': apiKey });
    const stream = new ScribeRealtimeStream({ ws, provider: PROVIDER, apiKey, sampleRateHz: rate, signal, closeTimeoutMs: this.closeTimeoutMs }, this.timestampWaitMs);
    await stream.connect(this.connectTimeoutMs, startedAt);
    return stream;
  }
}

interface ScribeMessage {
  message_type?: unknown;
  text?: unknown;
  error?: unknown;
  message?: unknown;
  words?: Array<{ text?: unknown; start?: unknown; end?: unknown; type?: unknown }>;
}

class ScribeRealtimeStream extends SocketSttStream {
  /** End of the last final: where the next segment's estimate starts. */
  private lastEndMs = 0;
  /**
   * Speech may be uncommitted: a partial or loud audio (speech the server may not have reported
   * yet) since the last commit. Silence is not committed at the end: its transcription costs and
   * may be hallucinated.
   */
  private uncommitted = false;
  /** A committed text waiting for its `committed_transcript_with_timestamps`. */
  private pending: { text: string; timer: NodeJS.Timeout } | undefined;
  /** Our closing commit is out and its committed transcript has not arrived. */
  private awaitingCommit = false;

  constructor(
    init: SocketSttStreamInit,
    private readonly timestampWaitMs: number,
  ) {
    super(init);
    this.waitsForSession = true;
  }

  protected override sendAudio(samples: Int16Array): void {
    if (!this.uncommitted && pcm16Rms(samples) > STT_LOCAL_VOICE_RMS) this.uncommitted = true;
    this.ws.send(JSON.stringify({ message_type: 'input_audio_chunk', audio_base_64: this.le.bytes(samples).toString('base64'), commit: false, sample_rate: this.sampleRateHz }));
  }

  protected override beginEnd(): void {
    if (this.uncommitted) {
      this.awaitingCommit = true;
      this.ws.send(JSON.stringify({ message_type: 'input_audio_chunk', audio_base_64: '', commit: true, sample_rate: this.sampleRateHz }));
      return;
    }
    this.endIfSettled();
  }

  protected override onServerClose(): void {
    // Whatever was committed is delivered, even if its timing never came.
    this.flushPending();
  }

  protected override dispose(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
  }

  private endIfSettled(): void {
    if (this.state === 'closing' && !this.awaitingCommit && !this.pending) this.endGracefully();
  }

  /** Delivers a committed text that got no timestamps, with estimated offsets. */
  private flushPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    this.final(p.text, this.lastEndMs, Math.max(this.lastEndMs, this.writtenMs));
  }

  private final(text: string, startMs: number, endMs: number): void {
    this.lastEndMs = Math.max(this.lastEndMs, endMs);
    if (text) this.emitTranscript({ text, isFinal: true, startMs, endMs });
  }

  protected override handleMessage(data: RawData, isBinary: boolean): void {
    const m = jsonTextFrame(data, isBinary) as ScribeMessage | undefined;
    if (!m) return;
    const type = typeof m.message_type === 'string' ? m.message_type : '';
    const text = typeof m.text === 'string' ? m.text.trim() : '';
    if (type !== 'committed_transcript_with_timestamps') this.flushPending();
    switch (type) {
      case 'session_started':
        this.sessionReady();
        return;
      case 'partial_transcript':
        if (!text) return;
        this.uncommitted = true;
        this.emitTranscript({ text, isFinal: false, startMs: this.lastEndMs, endMs: Math.max(this.lastEndMs, this.writtenMs) });
        return;
      case 'committed_transcript':
        this.uncommitted = false;
        this.awaitingCommit = false;
        if (text) {
          const timer = setTimeout(() => {
            this.flushPending();
            this.endIfSettled();
          }, this.timestampWaitMs);
          timer.unref();
          this.pending = { text, timer };
        }
        this.endIfSettled();
        return;
      case 'committed_transcript_with_timestamps': {
        const p = this.pending;
        this.pending = undefined;
        if (p) clearTimeout(p.timer);
        this.uncommitted = false;
        this.awaitingCommit = false;
        const words = (Array.isArray(m.words) ? m.words : []).filter(
          (w) => w && w.type !== 'spacing' && typeof w.start === 'number' && typeof w.end === 'number' && Number.isFinite(w.start) && Number.isFinite(w.end),
        ) as Array<{ start: number; end: number }>;
        const final = text || p?.text || '';
        if (words.length > 0) this.final(final, Math.round(words[0].start * 1000), Math.round(words[words.length - 1].end * 1000));
        else this.final(final, this.lastEndMs, Math.max(this.lastEndMs, this.writtenMs));
        this.endIfSettled();
        return;
      }
      default:
        if (!ERROR_TYPES.has(type)) return;
        if (this.state === 'closing' && BENIGN_AT_END.has(type)) {
          this.awaitingCommit = false;
          this.uncommitted = false;
          this.endIfSettled();
          return;
        }
        {
          const detail = [m.error, m.message].find((v) => typeof v === 'string' && v) as string | undefined;
          this.fail(this.error(`${type}: ${detail ?? 'no message'}`, { code: type, status: ERROR_STATUS[type] }));
        }
    }
  }
}
