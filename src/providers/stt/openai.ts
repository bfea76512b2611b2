/**
 * OpenAI realtime transcription (speech-to-text only, no model responses) over the Realtime
 * WebSocket API, GA protocol:
 *
 *   GET {base}/realtime?intent=transcription      (base `https://api.openai.com/v1`, upgraded)
 *   Authorization: Bearer <key>
 *
 * Client events: first `session.update` with `session.type: "transcription"`,
 * `audio.input.format {type: "audio/pcm", rate: 24000}`, `audio.input.transcription {model,
 * language}` and server VAD `audio.input.turn_detection`; then `input_audio_buffer.append
 * {audio: <base64 pcm16le>}` and, at the end, `input_audio_buffer.commit` when speech may be
 * open (announced by the server, or loud audio written since its last speech start). Server events used: `session.updated` (the session is configured: open() resolves),
 * `input_audio_buffer.speech_started {item_id, audio_start_ms}` / `.speech_stopped {item_id,
 * audio_end_ms}` / `.committed {item_id}`, `conversation.item.input_audio_transcription.delta
 * {item_id, delta}` (→ interim: the deltas so far), `.completed {item_id, transcript}` (→ final),
 * `.failed {item_id, error}` and `error {error: {type, code, message}}` (→ onError). A refused
 * handshake is HTTP 401 etc. with `{"error": {"message", "type", "code"}}`.
 *
 * Rate: `audio/pcm` is 24 kHz only (the API's own constraint), so a stream at another rate is
 * resampled here with the project's stateful resampler rather than rejected: the call pipeline
 * runs at 8 kHz and the contract is "write at the stream's rate". Offsets come from the server's
 * `audio_start_ms` / `audio_end_ms`, which are milliseconds of audio and so rate-independent.
 *
 * Field names are checked against the `openai` package's own Realtime types (type-only import).
 */
import type { RawData } from 'ws';
import type {
  InputAudioBufferAppendEvent,
  InputAudioBufferCommitEvent,
  RealtimeServerEvent,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';
import { createResampler } from '../../../streams/audio/resampler.js';
import type { Resampler } from '../../../streams/audio/resampler.js';
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

export const OPENAI_DEFAULT_STT_BASE_URL = 'https://api.openai.com/v1';
export const OPENAI_DEFAULT_STT_MODEL = 'gpt-4o-transcribe';
/** The only rate of the Realtime API's `audio/pcm` input format. */
export const OPENAI_STT_SAMPLE_RATE_HZ = 24_000;
const PROVIDER = 'openai';

/** Knobs beyond {@link SttProviderOptions} (tests shorten the timings). */
export interface OpenAiSttTuning {
  /** close(): longest wait for the last transcriptions, ms (default 5000). */
  closeTimeoutMs?: number;
  /** Server VAD: silence that ends a turn, ms (default 500, OpenAI's default). */
  silenceDurationMs?: number;
  /** Server VAD activation threshold 0..1 (default 0.5). */
  vadThreshold?: number;
  /** Server VAD: audio kept before detected speech, ms (default 300). */
  prefixPaddingMs?: number;
}

/** OpenAI realtime transcription (`gpt-4o-transcribe`, `gpt-4o-mini-transcribe`, ...). */
export class OpenAiStt implements SttProvider {
  readonly name = 'openai' as const;
  readonly preferredSampleRateHz = OPENAI_STT_SAMPLE_RATE_HZ;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly model: string;
  private readonly connectTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly silenceDurationMs: number;
  private readonly vadThreshold: number;
  private readonly prefixPaddingMs: number;

  constructor(opts: SttProviderOptions, tuning: OpenAiSttTuning = {}) {
    registerSecret(opts.apiKey);
    this.apiKey = checkSttApiKey(PROVIDER, opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = sttWsBase(PROVIDER, opts.baseUrl, OPENAI_DEFAULT_STT_BASE_URL);
    this.model = opts.model?.trim() || OPENAI_DEFAULT_STT_MODEL;
    this.connectTimeoutMs = positiveSttOption(PROVIDER, 'connectTimeoutMs', opts.connectTimeoutMs, STT_DEFAULT_CONNECT_TIMEOUT_MS);
    this.closeTimeoutMs = positiveSttOption(PROVIDER, 'closeTimeoutMs', tuning.closeTimeoutMs, STT_DEFAULT_CLOSE_TIMEOUT_MS);
    this.silenceDurationMs = positiveSttOption(PROVIDER, 'silenceDurationMs', tuning.silenceDurationMs, 500);
    this.vadThreshold = positiveSttOption(PROVIDER, 'vadThreshold', tuning.vadThreshold, 0.5);
    this.prefixPaddingMs = tuning.prefixPaddingMs ?? 300;
    if (this.vadThreshold > 1) throw new Error('openai STT: vadThreshold must be at most 1');
    if (!Number.isFinite(this.prefixPaddingMs) || this.prefixPaddingMs < 0) throw new Error('openai STT: prefixPaddingMs must be >= 0');
  }

  /** The WebSocket URL (no secret in it: the key goes in a header). */
  realtimeUrl(): string {
    return `${this.wsBase}/realtime?intent=transcription`;
  }

  /** The `session.update` a stream starts with. */
  sessionUpdate(language?: string): SessionUpdateEvent {
    return {
      type: 'session.update',
      session: {
        type: 'transcription',
        audio: {
          input: {
            format: { type: 'audio/pcm', rate: OPENAI_STT_SAMPLE_RATE_HZ },
            transcription: { model: this.model, language: sttPrimaryLanguage(language) },
            turn_detection: {
              type: 'server_vad',
              threshold: this.vadThreshold,
              prefix_padding_ms: this.prefixPaddingMs,
              silence_duration_ms: this.silenceDurationMs,
            },
          },
        },
      },
    };
  }

  async open(opts: SttStreamOptions): Promise<SttStream> {
    const rate = opts.sampleRateHz;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 48_000) throw new Error(`openai STT: unsupported sampleRateHz ${rate} (8000-48000)`);
    const signal = opts.signal;
    signal?.throwIfAborted();
    const startedAt = Date.now();
    const resampler = rate === OPENAI_STT_SAMPLE_RATE_HZ ? undefined : await createResampler({ inputRateHz: rate, outputRateHz: OPENAI_STT_SAMPLE_RATE_HZ });
    if (signal?.aborted) {
      resampler?.destroy();
      throw signal.reason;
    }
    const apiKey = this.apiKey;
    const ws = openSttSocket(this.realtimeUrl(), { authorization: `Bearer ${apiKey}` });
    const stream = new OpenAiTranscriptionStream(
      { ws, provider: PROVIDER, apiKey, sampleRateHz: rate, signal, closeTimeoutMs: this.closeTimeoutMs },
      this.sessionUpdate(opts.language),
      resampler,
    );
    try {
      await stream.connect(this.connectTimeoutMs, startedAt);
    } catch (err) {
      resampler?.destroy();
      throw err;
    }
    return stream;
  }
}

/** One input turn: from VAD speech start (or a commit) to its transcription. */
interface Turn {
  startMs: number;
  endMs?: number;
  text: string;
  /** Committed: a transcription (completed or failed) is owed for it. */
  committed: boolean;
}

class OpenAiTranscriptionStream extends SocketSttStream {
  private readonly turns = new Map<string, Turn>();
  /** The turn whose speech started and has not stopped (a commit during it names a new item). */
  private speaking: string | undefined;
  /** End of the last stopped turn: where a turn the server committed without a VAD start begins. */
  private lastEndMs = 0;
  private resamplerLive: Resampler | undefined;
  /**
   * Audio with voice energy was written since the server last reported speech starting: speech
   * may be in flight that the server VAD has not announced, so a closing commit is worth it.
   */
  private unheardVoice = false;
  /** Our closing commit is out and neither its committed event nor its error has come. */
  private commitOwed = false;

  constructor(
    init: SocketSttStreamInit,
    private readonly session: SessionUpdateEvent,
    resampler: Resampler | undefined,
  ) {
    super(init);
    this.waitsForSession = true;
    this.resamplerLive = resampler;
  }

  protected override onOpen(): void {
    this.ws.send(JSON.stringify(this.session));
  }

  protected override sendAudio(samples: Int16Array): void {
    if (!this.unheardVoice && pcm16Rms(samples) > STT_LOCAL_VOICE_RMS) this.unheardVoice = true;
    // process() returns a view into the resampler's buffer: this.le.bytes copies it at once.
    const pcm = this.resamplerLive ? this.resamplerLive.process(samples) : samples;
    this.append(pcm);
  }

  private append(pcm24k: Int16Array): void {
    if (pcm24k.length === 0) return;
    const event: InputAudioBufferAppendEvent = { type: 'input_audio_buffer.append', audio: this.le.bytes(pcm24k).toString('base64') };
    this.ws.send(JSON.stringify(event));
  }

  protected override beginEnd(): void {
    // The resampler holds the last few milliseconds: they belong to the final turn.
    if (this.resamplerLive) this.append(this.resamplerLive.flush());
    if (this.speaking || this.unheardVoice) {
      // Server VAD commits only after the silence that ends a turn, and audio in flight may
      // start one it has not announced yet. Silence is not committed: its transcription costs
      // and may be hallucinated. (An already empty buffer gets input_audio_buffer_commit_empty.)
      const commit: InputAudioBufferCommitEvent = { type: 'input_audio_buffer.commit' };
      this.ws.send(JSON.stringify(commit));
      this.commitOwed = true;
      return;
    }
    this.endIfSettled();
  }

  protected override dispose(): void {
    this.resamplerLive?.destroy();
    this.resamplerLive = undefined;
  }

  /** While closing: ends once the closing commit is answered and no turn is owed a transcription. */
  private endIfSettled(): void {
    if (this.state !== 'closing' || this.commitOwed) return;
    for (const t of this.turns.values()) if (t.committed) return;
    this.endGracefully();
  }

  private turn(itemId: string): Turn {
    let t = this.turns.get(itemId);
    if (!t) {
      t = { startMs: this.lastEndMs, text: '', committed: false };
      this.turns.set(itemId, t);
    }
    return t;
  }

  protected override handleMessage(data: RawData, isBinary: boolean): void {
    const ev = jsonTextFrame(data, isBinary) as RealtimeServerEvent | undefined;
    if (!ev) return;
    const ms = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : fallback);
    switch (ev.type) {
      case 'session.updated':
        this.sessionReady();
        return;
      case 'input_audio_buffer.speech_started': {
        const t = this.turn(ev.item_id);
        t.startMs = ms(ev.audio_start_ms, this.writtenMs);
        this.speaking = ev.item_id;
        this.unheardVoice = false;
        return;
      }
      case 'input_audio_buffer.speech_stopped': {
        const t = this.turn(ev.item_id);
        t.endMs = ms(ev.audio_end_ms, this.writtenMs);
        this.lastEndMs = t.endMs;
        if (this.speaking === ev.item_id) this.speaking = undefined;
        return;
      }
      case 'input_audio_buffer.committed': {
        // A commit during speech (ours, at close) may name a new item: it carries the open turn.
        const open = this.speaking !== undefined && this.speaking !== ev.item_id ? this.turns.get(this.speaking) : undefined;
        if (open && this.speaking) this.turns.delete(this.speaking);
        const t = open ?? this.turn(ev.item_id);
        this.turns.set(ev.item_id, t);
        t.committed = true;
        t.endMs ??= this.writtenMs;
        this.lastEndMs = Math.max(this.lastEndMs, t.endMs);
        this.speaking = undefined;
        if (this.state === 'closing') this.commitOwed = false;
        return;
      }
      case 'conversation.item.input_audio_transcription.delta': {
        if (!ev.delta) return;
        const t = this.turn(ev.item_id);
        t.text += ev.delta;
        const text = t.text.trim();
        if (text) this.emitTranscript({ text, isFinal: false, startMs: t.startMs, endMs: t.endMs ?? Math.max(t.startMs, this.writtenMs) });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const t = this.turn(ev.item_id);
        this.turns.delete(ev.item_id);
        const text = (typeof ev.transcript === 'string' ? ev.transcript : t.text).trim();
        if (text) this.emitTranscript({ text, isFinal: true, startMs: t.startMs, endMs: t.endMs ?? Math.max(t.startMs, this.writtenMs) });
        this.endIfSettled();
        return;
      }
      case 'conversation.item.input_audio_transcription.failed': {
        this.turns.delete(ev.item_id);
        const e = ev.error ?? {};
        this.fail(this.error(`transcription failed: ${e.message ?? 'no message'}`, { code: e.code ?? e.type ?? 'transcription_failed' }));
        this.endIfSettled();
        return;
      }
      case 'error': {
        const e = ev.error ?? ({} as Partial<typeof ev.error>);
        // Our closing commit can find the buffer already committed (the VAD got there first).
        if (this.state === 'closing' && e.code === 'input_audio_buffer_commit_empty') {
          this.commitOwed = false;
          this.endIfSettled();
          return;
        }
        this.fail(this.error(`error: ${e.message ?? 'no message'}`, { code: e.code ?? e.type ?? 'protocol' }));
        return;
      }
      default:
        return;
    }
  }
}
