/**
 * The built-in voice pipeline: the platform itself listens (VAD + streaming STT), thinks (a
 * streaming LLM with tools) and speaks (TTS), for `ai_talk` (realtime, with barge-in) and `ai`
 * (request-response: the caller's turn ends, the AI answers, no interruption).
 *
 * How a conversation runs:
 * - **Listening.** Caller audio (8 kHz) goes to the VAD and to the STT stream. While the AI
 *   speaks, frames the {@link EchoDetector} explains as the line echo of our own voice go to
 *   both as silence, so our echo never opens a turn or barges in.
 * - **End of turn.** When the VAD has heard `stop_secs` of silence, the words of the turn (STT
 *   finals, else the last interim) go to the {@link TurnEndModel}: `complete` answers now,
 *   `incomplete` (a trailing "and...") waits up to `turn_incomplete_wait_ms` for more speech. A
 *   turn with no words yet waits up to `stt_final_wait_ms` for the STT's final.
 * - **Speaking.** The LLM streams; its text is cut into sentences and clauses
 *   ({@link TextSegmenter}) and each piece goes to TTS at once; TTS audio goes to the call as it
 *   arrives. The agent knows, per piece, where its audio starts in the response, so what the
 *   caller heard is known to the word's proportion within one piece.
 * - **Barge-in** (`ai_talk` only). When the VAD hears the caller start speaking (after
 *   `start_secs`, and `min_interruption_words` words when set) over an interruptible response,
 *   the playout and carrier are cleared at once and no more audio of the response is sent. The
 *   interruption becomes real once the STT hears words: the LLM and TTS are cancelled and the
 *   response is kept in the context and stored only as far as it was heard. When the
 *   "interruption" yields no words within `false_interruption_timeout_ms` after the caller stops
 *   (a cough, a door), the AI resumes where it stopped: the audio it already made, from the
 *   heard position, and what the LLM and TTS made meanwhile.
 * - **Tools.** A response's tool calls run once its words were played (so the caller hears
 *   "one moment" before a transfer), in order, through the host's executor; results go into the
 *   context, and a follow-up response is generated when a result says `run_llm`.
 * - **DTMF** reaches the LLM as one user line ({@link dtmfText}); **idle**: after
 *   `idle_timeout_ms` of silence following the AI's words, the AI re-prompts (up to
 *   `idle_prompts` times), then says a goodbye line and ends (`idle_timeout`).
 * - **Provider errors** (a bad or rate-limited key, a dead connection) are logged without the
 *   key; the caller hears a short fallback line and the conversation ends with
 *   `provider_error: <kind> <provider> <status or code>`; the flow goes on.
 *
 * Options come from the AI's `parameter` (see {@link pipelineTuning}).
 */
import { ProviderError } from '../../../src/providers/errors.js';
import type { LlmMessage, LlmProvider, LlmTool, LlmToolCall } from '../../../src/providers/llm/types.js';
import type { SttProvider, SttStream, SttTranscript } from '../../../src/providers/stt/types.js';
import type { StreamingTtsProvider, TtsProvider, TtsTextStream } from '../../../src/providers/tts/types.js';
import type { Logger } from '../../../src/util/logger.js';
import { createResampler } from '../../audio/resampler.js';
import type { Resampler } from '../../audio/resampler.js';
import { pcm16 } from '../agent.js';
import type { AgentConfig, AgentFactory, AgentHost, AgentSession, AgentStartOptions, AgentWarmup } from '../agent.js';
import { DtmfCollector, dtmfText } from '../dtmf.js';
import { cutAtWordBoundary } from '../heard-text.js';
import { TextSegmenter } from './segmenter.js';
import { punctuationTurnModel } from './turn.js';
import type { TurnEndModel } from './turn.js';

/** The call side's rate: the pipeline listens and speaks at 8 kHz (no resampler in the host). */
const RATE_HZ = 8000;
const SAMPLES_PER_MS = RATE_HZ / 1000;
const FRAME = 160;

/** Speech detection as the pipeline uses it (streams/agents/pipeline/vad/ implements it with Silero). */
export interface SpeechDetector {
  /** One 20 ms frame at 8 kHz (the array is reused by the caller). */
  push(frame8k: Int16Array): void;
  onSpeechStart(listener: (e: { atMs: number }) => void): void;
  onSpeechEnd(listener: (e: { atMs: number; speechMs: number }) => void): void;
  readonly speaking: boolean;
  /** The detector failed (the model could not load or run). */
  onError?(listener: (err: Error) => void): void;
  close(): void;
}

/** Tells the line echo of our own voice from the caller (streams/agents/pipeline/vad/echo-gate.ts). */
export interface EchoDetector {
  /** The 20 ms frame of our audio being played now (silence when we are quiet). */
  reference(frame8k: Int16Array): void;
  /** True when `frame8k` from the caller is explained by our own audio. */
  isEcho(frame8k: Int16Array): boolean;
}

/** The parts one conversation is built from, chosen per AI configuration by the composition root. */
export interface PipelineParts {
  /** The LLM of `engine_model` with the AI's key. Throws {@link ProviderError} for what it cannot serve. */
  llm(config: AgentConfig): LlmProvider;
  /** The STT of `stt_type`. Throws {@link ProviderError} (e.g. `missing_api_key`). */
  stt(config: AgentConfig): SttProvider;
  /** The TTS of `tts_type`. Throws {@link ProviderError}. */
  tts(config: AgentConfig): TtsProvider;
  /**
   * The text-streaming TTS of `tts_type` (a WebSocket the text goes into), used instead of
   * {@link PipelineParts.tts} when there is one (undefined: the provider only takes whole texts).
   */
  streamingTts?(config: AgentConfig): StreamingTtsProvider | undefined;
  /** A speech detector configured by `vad_config`. */
  vad(config: AgentConfig): SpeechDetector | Promise<SpeechDetector>;
  /** An echo detector per call (none: no echo gate). */
  echo?(config: AgentConfig): EchoDetector;
  /** The end-of-turn model (default {@link punctuationTurnModel}). */
  turnModel?: TurnEndModel;
  logger?: Logger;
}

/** Turn-taking and barge-in options, from the AI's `parameter` (snake_case keys; defaults below). */
export interface PipelineTuning {
  /** `ai`: request-response, the caller can never interrupt. `ai_talk`: realtime with barge-in. */
  mode: 'ai' | 'ai_talk';
  /** Words the STT must hear before speech over the AI interrupts it (`min_interruption_words`, default 0: the VAD's start_secs alone). */
  minInterruptionWords: number;
  /** After an interruption with no words, how long after the caller stops the AI waits before resuming (`false_interruption_timeout_ms`, default 1500; 0: never resume). */
  falseInterruptionMs: number;
  /** Longest wait for the STT's final after the VAD's stop (`stt_final_wait_ms`, default 1500). */
  sttFinalWaitMs: number;
  /** Longest extra wait after an incomplete-sounding turn (`turn_incomplete_wait_ms`, default 1000). */
  incompleteWaitMs: number;
  /** Silence after the AI's words before a re-prompt (`idle_timeout_ms`, default 10000; 0: off). */
  idleTimeoutMs: number;
  /** Re-prompts before the AI says goodbye and ends (`idle_prompts`, default 1). */
  idlePrompts: number;
  /** Whether the echo gate runs (`echo_gate`, default true). */
  echoGate: boolean;
  /** A fixed first line instead of one the LLM writes (`greeting`). */
  greeting: string;
  /** The first line cannot be interrupted (`uninterruptible_greeting`, default false). */
  uninterruptibleGreeting: boolean;
  /** What the caller hears when a provider fails (`fallback_text`). */
  fallbackText: string;
  /** What the AI says when it ends an idle call (`goodbye_text`). */
  goodbyeText: string;
}

/** How long words the VAD has not confirmed wait for it before they make a turn anyway. */
const WORDS_WITHOUT_VAD_WAIT_MS = 800;
/** How long before a turn's first words the VAD's start may be and still be that turn's speech. */
const VAD_BEFORE_WORDS_MS = 1500;

/** The hint the LLM gets when the caller stays silent (not stored as an AI call message). */
const IDLE_HINT = 'The caller has said nothing for a while. Briefly check whether they are still there.';
/** The cue of the first response when no caller line precedes it (some APIs need a user turn first; never stored). */
const GREETING_CUE = '(The call was just answered. Greet the caller.)';

/** The tuning of `config` for the action `mode`. */
export function pipelineTuning(config: AgentConfig, mode: 'ai' | 'ai_talk' = config.mode ?? 'ai_talk'): PipelineTuning {
  const p = config.parameter ?? {};
  const num = (key: string, d: number, min = 0, max = 600_000): number => {
    const v = p[key];
    return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : d;
  };
  const bool = (key: string, d: boolean): boolean => (typeof p[key] === 'boolean' ? (p[key] as boolean) : d);
  const str = (key: string, d: string): string => (typeof p[key] === 'string' && (p[key] as string).trim() ? (p[key] as string).trim() : d);
  return {
    mode,
    minInterruptionWords: num('min_interruption_words', 0, 0, 20),
    falseInterruptionMs: num('false_interruption_timeout_ms', 1500),
    sttFinalWaitMs: num('stt_final_wait_ms', 1500, 0, 10_000),
    incompleteWaitMs: num('turn_incomplete_wait_ms', 1000, 0, 10_000),
    idleTimeoutMs: num('idle_timeout_ms', 10_000),
    idlePrompts: num('idle_prompts', 1, 0, 10),
    echoGate: bool('echo_gate', true),
    greeting: str('greeting', ''),
    uninterruptibleGreeting: bool('uninterruptible_greeting', false),
    fallbackText: str('fallback_text', "I'm sorry, I'm having technical trouble right now. Please call back later. Goodbye."),
    goodbyeText: str('goodbye_text', "It seems you're not there anymore. Goodbye."),
  };
}

/** One piece of a response's text and where its audio lies in the response (8 kHz samples). */
interface Piece {
  text: string;
  start: number;
  samples: number;
}

/** One thing the AI says: an LLM answer, a fixed line (greeting, fallback, goodbye). */
interface Response {
  id: string;
  /** The id the current stretch of its audio is played under (a new one after each resume). */
  playId: string;
  resumes: number;
  abort: AbortController;
  interruptible: boolean;
  pieces: Piece[];
  /** The response's audio at 8 kHz so far (echo reference, resume source). */
  audio: Int16Array;
  audioLen: number;
  /** Samples played under earlier play ids (before the last pause). */
  playBase: number;
  /** `speaking`: audio goes to the call; `paused`: an interruption is being checked; then `cancelled` or `done`. */
  state: 'speaking' | 'paused' | 'cancelled' | 'done';
  text: string;
  toolCalls: LlmToolCall[];
  /** The LLM and TTS have finished (or there was nothing to make). */
  madeAll: boolean;
  /** What to do once the response was played in full. */
  after: 'tools' | 'end' | 'nothing';
  endReason?: string;
  /** Not stored nor kept in the context (the fallback and goodbye lines are stored as spoken all the same). */
  store: boolean;
}

/** Text to words (for the min-words rule). */
function wordCount(text: string): number {
  return text.trim() ? text.trim().split(/\s+/).length : 0;
}

/** A short reason of a provider failure for the AI call's termination_reason (never the key). */
function failureReason(err: unknown): string {
  if (err instanceof ProviderError) return `provider_error: ${err.kind} ${err.provider || 'unknown'} ${err.status ?? err.code ?? 'error'}`;
  return 'provider_error';
}

export class PipelineSession implements AgentSession {
  readonly input = pcm16(RATE_HZ);
  readonly output = pcm16(RATE_HZ);

  private readonly tuning: PipelineTuning;
  private readonly log: Logger | undefined;
  private readonly history: LlmMessage[] = [];
  private readonly tools: LlmTool[];
  private readonly dtmfKeys = new DtmfCollector((digits) => this.userTurn(dtmfText(digits), 'dtmf'));
  private readonly silence = new Int16Array(FRAME);
  private readonly refFrame = new Int16Array(FRAME);
  private readonly turnModel: TurnEndModel;

  private stt: SttStream | undefined;
  private failure: unknown;
  private stopped = false;
  private responseCount = 0;
  /** The response being made or played (at most one at a time). */
  private current: Response | undefined;
  /** The turn's words: finals joined, and the latest interim after them. */
  private turnFinal = '';
  private turnInterim = '';
  private speechEndedAt = 0;
  /** When the VAD last heard the caller start speaking (performance.now()). */
  private speechStartedAt = -Infinity;
  /** When the first words of this turn arrived (0: none yet). */
  private turnTextAt = 0;
  private turnTimer: NodeJS.Timeout | undefined;
  private falseTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleCount = 0;
  /** Speech over the AI that must reach `minInterruptionWords` before it interrupts. */
  private pendingBargeIn = false;
  /** The caller spoke over a response that could not be interrupted: those words are dropped. */
  private talkedOver = false;
  private toTtsRate: Resampler | undefined;

  constructor(
    private readonly opts: AgentStartOptions,
    private readonly host: AgentHost,
    private readonly parts: {
      llm?: LlmProvider;
      tts?: TtsProvider;
      streamingTts?: StreamingTtsProvider;
      stt?: SttProvider;
      vad: SpeechDetector;
      echo?: EchoDetector;
      turnModel: TurnEndModel;
      logger?: Logger;
    },
    failure: unknown,
  ) {
    this.tuning = pipelineTuning(opts.config);
    this.log = parts.logger;
    this.failure = failure;
    this.turnModel = parts.turnModel;
    if (opts.config.init_prompt) this.history.push({ role: 'system', content: opts.config.init_prompt });
    this.tools = opts.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
    parts.vad.onSpeechStart(() => this.onSpeechStart());
    parts.vad.onSpeechEnd(() => this.onSpeechEnd());
    parts.vad.onError?.((err) => this.fail(err));
  }

  /**
   * Opens the STT stream, or adopts the one opened while the call rang (`warmStt`; a new one when
   * that failed meanwhile). The factory calls it before `start`, so the STT is up when the AI speaks.
   */
  async connect(warmStt?: Promise<SttStream>): Promise<void> {
    const { stt } = this.parts;
    const tts = this.parts.streamingTts ?? this.parts.tts;
    try {
      if (tts && tts.sampleRateHz !== RATE_HZ) {
        this.toTtsRate = await createResampler({ inputRateHz: tts.sampleRateHz, outputRateHz: RATE_HZ });
      }
      if (stt && !this.failure) {
        const warm = warmStt ? await warmStt.catch(() => undefined) : undefined;
        const stream = warm ?? (await stt.open(sttStreamOptions(this.opts.config)));
        this.stt = stream;
        stream.onTranscript((t) => this.onTranscript(t));
        stream.onError((err) => this.fail(err));
      }
    } catch (err) {
      this.failure ??= err;
    }
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    if (this.failure !== undefined) {
      this.fail(this.failure);
      return;
    }
    const t = this.tuning;
    this.speak({ fixedText: t.greeting || undefined, interruptible: !t.uninterruptibleGreeting });
  }

  audioIn(audio: Int16Array | Uint8Array): void {
    if (this.stopped || !(audio instanceof Int16Array)) return;
    const r = this.current;
    // What is being played now, as the echo reference (silence between responses).
    let frame = audio;
    const echo = this.parts.echo;
    if (echo && this.tuning.echoGate) {
      const ref = this.refFrame;
      const at = r && r.state === 'speaking' ? this.played(r) : -1;
      if (at >= FRAME && at <= r!.audioLen) {
        const from = at - FRAME;
        for (let i = 0; i < FRAME; i++) ref[i] = r!.audio[from + i]!;
        echo.reference(ref);
      } else echo.reference(this.silence);
      if (echo.isEcho(audio)) frame = this.silence;
    }
    this.parts.vad.push(frame);
    this.stt?.write(frame);
    if (r) this.checkPlayed(r);
  }

  dtmf(digit: string): void {
    if (this.stopped) return;
    this.dtmfKeys.press(digit);
  }

  interrupt(): void {
    if (this.stopped) return;
    const r = this.current;
    if (r && r.interruptible && this.tuning.mode === 'ai_talk' && r.state === 'speaking') {
      this.pause(r);
      this.confirmInterruption(r);
    }
  }

  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.turnTimer, this.falseTimer, this.idleTimer]) if (t) clearTimeout(t);
    this.dtmfKeys.close();
    const r = this.current;
    if (r && r.state !== 'done' && r.state !== 'cancelled') {
      // After a hangup nothing more is played: store what was heard. Otherwise the host drains
      // what was queued, and that is what the caller will hear.
      const heardAll = reason !== 'hangup' && reason !== 'stop_flow' && r.state === 'speaking';
      r.abort.abort();
      this.storeResponse(r, heardAll ? r.audioLen : this.played(r));
      r.state = 'cancelled';
    }
    this.parts.vad.close();
    this.toTtsRate?.destroy();
    await this.stt?.close().catch(() => undefined);
  }

  // ------------------------------------------------------------------ listening

  private onSpeechStart(): void {
    if (this.stopped) return;
    this.log?.debug('pipeline: caller speech started', { aicall_id: this.opts.aicall.id, ai_state: this.current?.state ?? 'quiet' });
    this.host.event({ type: 'speech_started' });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.turnTimer) clearTimeout(this.turnTimer);
    this.turnTimer = undefined;
    if (this.falseTimer) clearTimeout(this.falseTimer);
    this.falseTimer = undefined;
    this.speechStartedAt = performance.now();
    const r = this.current;
    if (!r || r.state !== 'speaking') return;
    if (!r.interruptible || this.tuning.mode === 'ai') {
      this.talkedOver = true;
      return;
    }
    if (this.tuning.minInterruptionWords > 0 && wordCount(`${this.turnFinal} ${this.turnInterim}`) < this.tuning.minInterruptionWords) {
      this.pendingBargeIn = true;
      return;
    }
    this.pause(r);
  }

  private onSpeechEnd(): void {
    if (this.stopped) return;
    this.log?.debug('pipeline: caller speech stopped', { aicall_id: this.opts.aicall.id });
    this.host.event({ type: 'speech_stopped' });
    this.speechEndedAt = performance.now();
    // A pending barge-in stays pending: an STT that gives its words only in the final (after the
    // caller stopped) still interrupts with them.
    const r = this.current;
    if (r?.state === 'paused' && !this.turnText() && this.tuning.falseInterruptionMs > 0) {
      this.falseTimer = setTimeout(() => this.resumeIfNoWords(r), this.tuning.falseInterruptionMs);
    }
    this.decideTurn();
  }

  private onTranscript(t: SttTranscript): void {
    if (this.stopped) return;
    const text = t.text.trim();
    if (!text) return;
    this.log?.debug('pipeline: transcript', { aicall_id: this.opts.aicall.id, final: t.isFinal, chars: text.length });
    const r = this.current;
    // Words over a response the caller cannot interrupt are dropped (`ai`, an uninterruptible line).
    if (r && r.state === 'speaking' && (this.talkedOver || !r.interruptible || this.tuning.mode === 'ai')) return;
    if (!this.turnTextAt) this.turnTextAt = performance.now();
    if (t.isFinal) {
      this.turnFinal = this.turnFinal ? `${this.turnFinal} ${text}` : text;
      this.turnInterim = '';
    } else {
      this.turnInterim = text;
      this.host.transcript('user', `${this.turnFinal} ${text}`.trim(), { final: false });
    }
    if (r && r.state === 'speaking' && this.pendingBargeIn && wordCount(this.turnText()) >= this.tuning.minInterruptionWords) {
      this.pendingBargeIn = false;
      this.pause(r);
    }
    if (r && r.state === 'paused') this.confirmInterruption(r);
    if (!this.parts.vad.speaking) this.decideTurn();
  }

  private turnText(): string {
    return `${this.turnFinal} ${this.turnInterim}`.trim();
  }

  /** Decides, while the caller is quiet, whether their turn is over (see the class comment). */
  private decideTurn(): void {
    if (this.turnTimer) clearTimeout(this.turnTimer);
    this.turnTimer = undefined;
    if (this.stopped || this.parts.vad.speaking) return;
    const text = this.turnText();
    const r = this.current;
    if (!text) return;
    const later = (ms: number) => {
      this.turnTimer = setTimeout(() => this.decideTurn(), Math.max(1, ms));
    };
    // Words the VAD has not heard (yet): the STT is often faster than start_secs, so the VAD's
    // start may come just after the first words, never long before them. Wait for the VAD; words
    // it never confirms within the wait still make a turn (a caller too quiet for min_volume).
    const now = performance.now();
    const vadHeard = this.speechStartedAt >= this.turnTextAt - VAD_BEFORE_WORDS_MS;
    if (!vadHeard && now - this.turnTextAt < WORDS_WITHOUT_VAD_WAIT_MS) return later(WORDS_WITHOUT_VAD_WAIT_MS - (now - this.turnTextAt));
    // The silence counts from the VAD's stop of this turn's speech (or from the words, without it).
    const quietSince = vadHeard ? this.speechEndedAt : this.turnTextAt;
    const silenceMs = now - quietSince;
    // Words while the AI speaks on that did not interrupt it ("mm-hm"): a backchannel, no turn —
    // once the STT's final says so (its words may still reach min_interruption_words).
    if (r && r.state === 'speaking') {
      if (this.pendingBargeIn && !this.turnFinal && silenceMs < this.tuning.sttFinalWaitMs) return later(this.tuning.sttFinalWaitMs - silenceMs);
      this.clearTurn();
      return;
    }
    if (!this.turnFinal && silenceMs < this.tuning.sttFinalWaitMs) return later(this.tuning.sttFinalWaitMs - silenceMs);
    void Promise.resolve(this.turnModel.classify({ transcript: text, history: this.history, silenceMs })).then((verdict) => {
      if (this.stopped || this.parts.vad.speaking || this.turnText() !== text) return;
      const waited = performance.now() - quietSince;
      if (verdict === 'incomplete' && waited < this.tuning.incompleteWaitMs) return later(this.tuning.incompleteWaitMs - waited);
      this.log?.debug('pipeline: end of turn', { aicall_id: this.opts.aicall.id, verdict, silence_ms: Math.round(waited), final: this.turnFinal !== '' });
      this.userTurn(text, 'speech');
    });
  }

  private clearTurn(): void {
    this.turnFinal = '';
    this.turnInterim = '';
    this.talkedOver = false;
    this.turnTextAt = 0;
    this.pendingBargeIn = false;
  }

  /** The caller's turn (speech or DTMF): it ends any interrupted response, then the AI answers. */
  private userTurn(text: string, _via: 'speech' | 'dtmf'): void {
    if (this.stopped) return;
    this.clearTurn();
    this.idleCount = 0;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const r = this.current;
    if (r && (r.state === 'speaking' || r.state === 'paused')) {
      if (this.tuning.mode === 'ai' && r.state === 'speaking') return;
      if (r.state === 'speaking') this.pause(r);
      this.confirmInterruption(r);
    }
    this.history.push({ role: 'user', content: text });
    this.host.transcript('user', text);
    this.speak({ interruptible: true });
  }

  // ------------------------------------------------------------------ barge-in

  /** Stops the response's audio at once: the playout is cleared, later audio is held back. */
  private pause(r: Response): void {
    if (r.state !== 'speaking') return;
    const report = this.host.clearAudio();
    const heard = report.responses.find((h) => h.responseId === r.playId);
    r.playBase = Math.min(r.audioLen, r.playBase + Math.round((heard ? heard.playedMs : this.host.playedMs(r.playId)) * SAMPLES_PER_MS));
    r.state = 'paused';
    this.host.event({ type: 'barge_in', responseId: r.id, heardMs: r.playBase / SAMPLES_PER_MS });
  }

  /** The interruption is real (the caller said words): cancel the response and keep what was heard. */
  private confirmInterruption(r: Response): void {
    if (r.state !== 'paused') return;
    if (this.falseTimer) clearTimeout(this.falseTimer);
    this.falseTimer = undefined;
    r.abort.abort();
    r.state = 'cancelled';
    this.storeResponse(r, r.playBase);
    this.host.event({ type: 'response_done', responseId: r.id, status: 'cancelled' });
    if (this.current === r) this.current = undefined;
    // The model asked for tools in words the caller cut: they still run (the model decided), but
    // the caller's turn comes next, so no follow-up response.
    if (r.madeAll && r.toolCalls.length > 0 && r.after === 'tools') void this.runTools(r, false);
  }

  /** A pause with no words: the AI goes on from where the caller heard it stop. */
  private resumeIfNoWords(r: Response): void {
    this.falseTimer = undefined;
    if (this.stopped || r.state !== 'paused' || this.turnText() || this.parts.vad.speaking) return;
    r.resumes += 1;
    r.playId = `${r.id}.${r.resumes}`;
    r.state = 'speaking';
    this.host.event({ type: 'metric', name: 'false_interruption_resumed', value: 1 });
    if (r.audioLen > r.playBase) this.host.audioOut(r.audio.subarray(r.playBase, r.audioLen), r.playId);
  }

  // ------------------------------------------------------------------ speaking

  /** Samples of `r` the caller has heard. */
  private played(r: Response): number {
    if (r.state !== 'speaking') return r.playBase;
    return Math.min(r.audioLen, r.playBase + Math.round(this.host.playedMs(r.playId) * SAMPLES_PER_MS));
  }

  /** The response's text as heard up to `samples`. */
  private heardText(r: Response, samples: number): string {
    const words: string[] = [];
    for (const p of r.pieces) {
      if (samples >= p.start + p.samples) words.push(p.text);
      else {
        if (samples > p.start && p.samples > 0) words.push(cutAtWordBoundary(p.text, (samples - p.start) / p.samples));
        break;
      }
    }
    return words.filter((w) => w).join(' ');
  }

  /** The response into the context and the stored messages, as heard up to `samples`. */
  private storeResponse(r: Response, samples: number): void {
    const text = samples >= r.audioLen && r.madeAll ? r.pieces.map((p) => p.text).join(' ') : this.heardText(r, samples);
    if (r.store) {
      const msg: LlmMessage = { role: 'assistant', content: text };
      if (r.toolCalls.length > 0 && r.madeAll) msg.tool_calls = r.toolCalls;
      if (text || msg.tool_calls) this.history.push(msg);
    }
    if (text) this.host.transcript('assistant', text, { responseId: r.id });
  }

  /** Called on each caller frame: a response played in full is done. */
  private checkPlayed(r: Response): void {
    if (r.state !== 'speaking' || !r.madeAll) return;
    if (this.played(r) + SAMPLES_PER_MS < r.audioLen) return;
    r.state = 'done';
    this.current = undefined;
    this.storeResponse(r, r.audioLen);
    this.host.event({ type: 'response_done', responseId: r.id, status: 'completed' });
    if (r.after === 'end') {
      this.host.end(r.endReason ?? 'ended');
      return;
    }
    if (r.after === 'tools' && r.toolCalls.length > 0) {
      void this.runTools(r, true);
      return;
    }
    this.armIdle();
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.stopped || this.tuning.idleTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.stopped || this.current || this.parts.vad.speaking || this.turnText()) return;
      this.idleCount += 1;
      if (this.idleCount > this.tuning.idlePrompts) {
        this.speak({ fixedText: this.tuning.goodbyeText, interruptible: false, after: 'end', endReason: 'idle_timeout' });
        return;
      }
      this.history.push({ role: 'system', content: IDLE_HINT });
      this.speak({ interruptible: true });
    }, this.tuning.idleTimeoutMs);
  }

  /** Runs the response's tool calls in order; a `run_llm` result asks for a follow-up response. */
  private async runTools(r: Response, followUp: boolean): Promise<void> {
    let runLlm = false;
    for (const call of r.toolCalls) {
      if (this.stopped) return;
      let args: Record<string, unknown> | string = call.function.arguments;
      try {
        args = call.function.arguments ? (JSON.parse(call.function.arguments) as Record<string, unknown>) : {};
      } catch {
        // The executor answers unparsable arguments with a failed result the model can read.
      }
      const out = await this.host.toolCall({ id: call.id, name: call.function.name, arguments: args });
      this.history.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(out.result) });
      runLlm ||= out.runLlm;
    }
    if (this.stopped) return;
    if (followUp && runLlm && !this.current) this.speak({ interruptible: true });
    else if (!this.current) this.armIdle();
  }

  /** Starts a response: a fixed line, or what the LLM answers to the context. */
  private speak(o: { fixedText?: string; interruptible: boolean; after?: 'end'; endReason?: string; store?: boolean }): void {
    if (this.stopped) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.responseCount += 1;
    const id = `resp_${this.opts.aicall.id.slice(0, 8)}_${this.responseCount}`;
    const r: Response = {
      id,
      playId: id,
      resumes: 0,
      abort: new AbortController(),
      interruptible: o.interruptible && this.tuning.mode === 'ai_talk',
      pieces: [],
      audio: new Int16Array(RATE_HZ * 4),
      audioLen: 0,
      playBase: 0,
      state: 'speaking',
      text: '',
      toolCalls: [],
      madeAll: false,
      after: o.after ?? 'tools',
      ...(o.endReason ? { endReason: o.endReason } : {}),
      store: o.store ?? true,
    };
    this.current = r;
    this.talkedOver = false;
    this.host.event({ type: 'response_started', responseId: id });
    void this.make(r, o.fixedText).catch((err) => {
      if (r.abort.signal.aborted || this.stopped) return;
      this.fail(err, r);
    });
  }

  /** The LLM's text (or the fixed line) → pieces → TTS → the call, for one response. */
  private async make(r: Response, fixedText: string | undefined): Promise<void> {
    const audioOf = this.pieceAudio(r);
    const pieces: string[] = [];
    let wake: (() => void) | undefined;
    let textDone = false;
    const push = (p: string) => {
      pieces.push(p);
      wake?.();
    };
    // The TTS side: one piece after the other, audio to the call as it arrives.
    const speakAll = (async () => {
      for (;;) {
        while (pieces.length === 0 && !textDone) await new Promise<void>((res) => (wake = res));
        wake = undefined;
        const text = pieces.shift();
        if (text === undefined) return;
        if (r.abort.signal.aborted) return;
        const piece: Piece = { text, start: r.audioLen, samples: 0 };
        r.pieces.push(piece);
        for await (const chunk of audioOf.speak(text)) {
          if (r.abort.signal.aborted) return;
          this.emitAudio(r, this.toTtsRate ? this.toTtsRate.process(chunk) : chunk);
          piece.samples = r.audioLen - piece.start;
        }
        const tail = this.toTtsRate?.flush();
        if (tail && tail.length > 0) this.emitAudio(r, tail);
        piece.samples = r.audioLen - piece.start;
      }
    })();
    void speakAll.finally(() => audioOf.close()).catch(() => undefined); // its failure is awaited below
    try {
      if (fixedText !== undefined) {
        r.text = fixedText;
        push(fixedText);
      } else {
        const llm = this.parts.llm;
        if (!llm) throw this.failure ?? new Error('no LLM provider');
        const segmenter = new TextSegmenter({ locale: this.opts.config.language || 'en' });
        const res = await llm.stream({ messages: this.requestMessages(), tools: this.tools.length ? this.tools : undefined, signal: r.abort.signal }, (delta) => {
          if (r.abort.signal.aborted) return;
          r.text += delta;
          for (const p of segmenter.push(delta)) push(p);
        });
        for (const p of segmenter.end()) push(p);
        r.toolCalls = res.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
      }
    } finally {
      textDone = true;
      wake?.();
    }
    await speakAll;
    if (r.abort.signal.aborted) return;
    r.madeAll = true;
    // A paused response stays paused until the interruption is decided; a speaking one ends when played.
    if (r.state === 'speaking') this.checkPlayed(r);
  }

  /**
   * The audio of each piece of `r`, one piece after the other. With a text-streaming TTS every
   * piece goes into its own stream (so its audio is known to be that piece's, for what was heard),
   * and the next piece's stream is opened while this one speaks: its handshake is hidden behind the
   * audio (and, for the first piece, behind the LLM's first tokens). `close()` drops the stream
   * opened for a piece that never came.
   */
  private pieceAudio(r: Response): { speak(text: string): AsyncIterable<Int16Array>; close(): void } {
    const { config } = this.opts;
    const req = { voiceId: config.tts_voice_id || undefined, language: config.language || undefined, signal: r.abort.signal };
    const streaming = this.parts.streamingTts;
    const tts = this.parts.tts;
    if (!streaming) {
      return {
        speak: (text) => {
          if (!tts) throw this.failure ?? new Error('no TTS provider');
          return tts.synthesize({ ...req, text });
        },
        close: () => undefined,
      };
    }
    const open = (): Promise<TtsTextStream> => {
      const p = streaming.openTextStream(req);
      p.catch(() => undefined); // a failure surfaces when the piece awaits it
      return p;
    };
    let next: Promise<TtsTextStream> | undefined = open();
    let closed = false;
    return {
      async *speak(text: string) {
        const stream = await (next ?? open());
        next = closed ? undefined : open();
        stream.pushText(text);
        stream.end();
        yield* stream.audio;
      },
      close: () => {
        closed = true;
        void next?.then((s) => s.cancel(), () => undefined);
        next = undefined;
      },
    };
  }

  /** The context as sent: a first response with no caller line before it gets a (never stored) cue. */
  private requestMessages(): LlmMessage[] {
    const messages = this.history.slice();
    const firstTurn = messages.findIndex((m) => m.role !== 'system');
    if (firstTurn < 0 || messages[firstTurn]!.role !== 'user') messages.splice(firstTurn < 0 ? messages.length : firstTurn, 0, { role: 'user', content: GREETING_CUE });
    return messages;
  }

  /** Keeps the response's audio (echo reference, resume) and sends it unless the response is paused. */
  private emitAudio(r: Response, chunk8k: Int16Array): void {
    if (chunk8k.length === 0) return;
    if (r.audioLen + chunk8k.length > r.audio.length) {
      const grown = new Int16Array(Math.max(r.audio.length * 2, r.audioLen + chunk8k.length));
      grown.set(r.audio.subarray(0, r.audioLen));
      r.audio = grown;
    }
    r.audio.set(chunk8k, r.audioLen);
    r.audioLen += chunk8k.length;
    if (r.state === 'speaking') this.host.audioOut(chunk8k, r.playId);
  }

  /** A provider failed: log it, say the fallback line (when TTS still works), end the conversation. */
  private fail(err: unknown, r?: Response): void {
    if (this.stopped) return;
    const reason = failureReason(err);
    const message = err instanceof Error ? err.message : String(err);
    this.log?.warn(`pipeline: ${reason}: ${message}`, { aicall_id: this.opts.aicall.id });
    this.host.event({ type: 'error', message, ...(err instanceof ProviderError && err.code ? { code: err.code } : {}) });
    const cur = r ?? this.current;
    if (cur && cur.state !== 'done' && cur.state !== 'cancelled') {
      cur.abort.abort();
      this.host.event({ type: 'response_done', responseId: cur.id, status: 'failed' });
      cur.state = 'cancelled';
      if (this.current === cur) this.current = undefined;
    }
    if (this.current?.after === 'end') return; // already saying the fallback
    const ttsBroken = !(this.parts.streamingTts ?? this.parts.tts) || (err instanceof ProviderError && err.kind === 'tts') || cur?.after === 'end';
    if (ttsBroken) {
      this.host.end(reason);
      return;
    }
    this.speak({ fixedText: this.tuning.fallbackText, interruptible: false, after: 'end', endReason: reason });
  }
}

/** The STT stream a conversation of `config` listens with (8 kHz, the AI's language). */
function sttStreamOptions(config: AgentConfig): { sampleRateHz: number; language?: string } {
  const language = config.stt_language || config.language || undefined;
  return language ? { sampleRateHz: RATE_HZ, language } : { sampleRateHz: RATE_HZ };
}

/**
 * What the pipeline opens while a call rings: the STT stream (its handshake and session set-up
 * are the slowest part of a start). A stream that fails or is closed by the provider meanwhile
 * (some close idle streams) is not handed over: the session opens a new one.
 */
class PipelineWarmup implements AgentWarmup {
  private taken = false;
  private broken = false;

  constructor(private readonly stt: Promise<SttStream>) {
    stt.then(
      (s) => s.onError(() => (this.broken = true)),
      () => (this.broken = true),
    );
  }

  /** The warm STT stream, once (undefined: it broke, or was taken). */
  take(): Promise<SttStream> | undefined {
    if (this.taken) return undefined;
    this.taken = true;
    if (!this.broken) return this.stt;
    void this.stt.then((s) => s.close(), () => undefined);
    return undefined;
  }

  dispose(): void {
    if (this.taken) return;
    this.taken = true;
    void this.stt.then((s) => s.close(), () => undefined);
  }
}

/** The options of {@link pipelineAgent}: the parts, chosen per AI configuration. */
export type PipelineAgentOptions = PipelineParts;

/**
 * The built-in pipeline as an {@link AgentFactory}. Providers that cannot be built (a missing
 * key, an unknown provider) do not throw here: the conversation starts, says the fallback line
 * (when TTS works) and ends with the reason, like a failure during the call.
 */
export function pipelineAgent(parts: PipelineAgentOptions): AgentFactory {
  const factory: AgentFactory = async (options: AgentStartOptions, host: AgentHost) => {
    const warm = options.warmup instanceof PipelineWarmup ? options.warmup : undefined;
    if (options.warmup && !warm) options.warmup.dispose();
    const config = options.config;
    let failure: unknown;
    const attempt = <T>(make: () => T): T | undefined => {
      try {
        return make();
      } catch (err) {
        failure ??= err;
        return undefined;
      }
    };
    // TTS first: when only the LLM or STT is broken, the caller still hears why the call ends.
    const tts = attempt(() => parts.tts(config));
    const streamingTts = parts.streamingTts ? attempt(() => parts.streamingTts!(config)) : undefined;
    const llm = attempt(() => parts.llm(config));
    const stt = attempt(() => parts.stt(config));
    const vad = await parts.vad(config);
    const session = new PipelineSession(
      options,
      host,
      { llm, tts, ...(streamingTts ? { streamingTts } : {}), stt, vad, ...(parts.echo ? { echo: parts.echo(config) } : {}), turnModel: parts.turnModel ?? punctuationTurnModel, ...(parts.logger ? { logger: parts.logger } : {}) },
      failure,
    );
    await session.connect(warm?.take());
    warm?.dispose(); // not taken (the session could not listen): close the warm stream
    return session;
  };
  factory.prewarm = (config) => {
    try {
      const open = parts.stt(config).open(sttStreamOptions(config));
      return new PipelineWarmup(open);
    } catch {
      // No STT for this configuration (say, no key): the session reports it when it starts.
      return { dispose: () => undefined };
    }
  };
  return factory;
}

/**
 * Engine models the built-in pipeline runs: any `<provider>.<model>` that is not a realtime or
 * external agent (the registry tries those first) and has no `parameter.agent_url`.
 */
export function isPipelineConfig(config: AgentConfig): boolean {
  return /^[a-z0-9_-]+\.\S+$/i.test(config.engine_model) && !config.engine_model.startsWith('external.') && config.parameter?.agent_url === undefined;
}
