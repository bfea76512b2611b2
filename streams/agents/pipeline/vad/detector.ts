/**
 * The voice activity detector of the built-in voice pipeline: Silero VAD behind a cheap energy
 * gate, driving Pipecat's VAD state machine, configured by the AI's `vad_config`.
 *
 * Analysis runs per Silero window (256 samples = 32 ms at 8 kHz), as Pipecat's does: a window
 * "is speech" when its Silero probability ≥ `confidence` AND the smoothed volume (volume.ts) ≥
 * `min_volume`. The state machine (Pipecat's VADAnalyzer):
 *
 *   QUIET --speech--> STARTING --start_secs of speech windows in a row--> SPEAKING (onSpeechStart)
 *   STARTING --one non-speech window--> QUIET
 *   SPEAKING --non-speech--> STOPPING --stop_secs of non-speech windows in a row--> QUIET (onSpeechEnd)
 *   STOPPING --speech--> SPEAKING
 *
 * with start_secs and stop_secs rounded to whole windows (Pipecat's `round(secs / window)`).
 *
 * The gate: a window whose smoothed volume is below `min_volume` cannot be speech whatever Silero
 * says, so it is decided without the model (as is one quieter than the gate floor,
 * {@link DEFAULT_GATE_FLOOR_DBFS}, which only matters when min_volume is set very low). Silero is
 * still fed such windows for `gateHangoverMs` (default stop_secs + 100 ms), so inside speech
 * (pauses between words, the whole STOPPING stretch) the recurrent state evolves exactly as
 * without the gate; after that the model stops running. When the gate next opens, the state is
 * reset and the preceding `preRollMs` of audio (default ~100 ms) is fed first, so the model has
 * heard the onset before it judges the window that opened the gate. The model then runs only on
 * speech, its hangover, and noise loud enough to pass min_volume (bench/vad.ts: 60 % of the
 * windows of a call mix with 33 % speech and 8 s of -45 dBFS room tone). With `gate: false` every
 * window goes to the model.
 *
 * Times are stream time, from the samples pushed (with 20 ms frames: frames × 20 ms), so results
 * are the same however slow the machine is: a transition's `atMs` is the stream time at the end of
 * the frame that completed the window confirming it.
 */
import {
  SILERO_RATE_HZ,
  SILERO_WINDOW_MS,
  SILERO_WINDOW_SAMPLES,
  SileroStream,
  type SileroModel,
} from './silero.js';
import { INT16_FULL_SCALE_DB, VolumeSmoother, volumeFromDbfs } from './volume.js';

/** `vad_config` of the AI configuration, in camelCase (see {@link vadConfigFrom} for the keys). */
export interface VadConfig {
  /** Minimum Silero speech probability of a speech window, 0..1. */
  confidence: number;
  /** Speech needed in a row to confirm speaking started, in seconds. */
  startSecs: number;
  /** Non-speech needed in a row to confirm speaking stopped, in seconds. */
  stopSecs: number;
  /** Minimum smoothed volume (volume.ts scale) of a speech window, 0..1. */
  minVolume: number;
}

/** VoIPBIN's / Pipecat's defaults. */
export const DEFAULT_VAD_CONFIG: Readonly<VadConfig> = Object.freeze({
  confidence: 0.7,
  startSecs: 0.2,
  stopSecs: 0.2,
  minVolume: 0.6,
});

/** Upper bound of start_secs / stop_secs: beyond it a VAD is no use on a phone call. */
export const MAX_VAD_SECS = 10;

function pick(raw: Readonly<Record<string, unknown>> | undefined, key: string, fallback: number, min: number, max: number): number {
  const v = raw?.[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return v < min ? min : v > max ? max : v;
}

/**
 * `vad_config` (snake_case: `confidence`, `start_secs`, `stop_secs`, `min_volume`) to a
 * {@link VadConfig}: missing or non-numeric (or non-finite) values take the defaults
 * ({@link DEFAULT_VAD_CONFIG}); out-of-range ones are clamped (confidence and min_volume to 0..1,
 * the seconds to 0..{@link MAX_VAD_SECS}). Unknown keys are ignored.
 */
export function vadConfigFrom(raw: Readonly<Record<string, unknown>> | undefined): VadConfig {
  const d = DEFAULT_VAD_CONFIG;
  return {
    confidence: pick(raw, 'confidence', d.confidence, 0, 1),
    startSecs: pick(raw, 'start_secs', d.startSecs, 0, MAX_VAD_SECS),
    stopSecs: pick(raw, 'stop_secs', d.stopSecs, 0, MAX_VAD_SECS),
    minVolume: pick(raw, 'min_volume', d.minVolume, 0, 1),
  };
}

/**
 * Windows quieter than this (both their own level and the smoothed one) are gated whatever
 * `min_volume` says; it matters only when min_volume is below ~0.45 (the volume of -65 dBFS): a
 * phone line this quiet carries no speech worth a model run.
 */
export const DEFAULT_GATE_FLOOR_DBFS = -65;
/** Audio fed to the model before the window that re-opens an idle gate. */
export const DEFAULT_PRE_ROLL_MS = 100;

/** Options of {@link VoiceActivityDetector}: the `vad_config` values plus the gate's. */
export interface VoiceActivityDetectorOptions extends Partial<VadConfig> {
  /** The cheap gate in front of Silero (default true; false runs the model on every window). */
  gate?: boolean;
  /** See {@link DEFAULT_GATE_FLOOR_DBFS}. */
  gateFloorDbfs?: number;
  /** How long the model keeps running after the gate closes (default stop_secs × 1000 + 100). */
  gateHangoverMs?: number;
  /** See {@link DEFAULT_PRE_ROLL_MS} (rounded up to whole windows). */
  preRollMs?: number;
  /** The Silero model (default the process-wide shared one). */
  model?: Promise<SileroModel>;
}

/** State of the Pipecat state machine. */
export type VadState = 'quiet' | 'starting' | 'speaking' | 'stopping';

/** Payload of {@link VoiceActivityDetector.onSpeechStart}. */
export interface SpeechStartEvent {
  /** Stream time at which speaking was confirmed (start_secs after the first speech window). */
  atMs: number;
}

/** Payload of {@link VoiceActivityDetector.onSpeechEnd}. */
export interface SpeechEndEvent {
  /** Stream time at which the end was confirmed (stop_secs after the last speech window). */
  atMs: number;
  /** From the first speech window of the segment to the end of its last one. */
  speechMs: number;
}

const QUIET = 0;
const STARTING = 1;
const SPEAKING = 2;
const STOPPING = 3;
const STATE_NAMES: readonly VadState[] = ['quiet', 'starting', 'speaking', 'stopping'];
/** Marks a queued window decided without the model. */
const GATED = -1;

/**
 * Per-call voice activity detector. Push every 20 ms frame of the caller (8 kHz, 160 samples; any
 * length works). Listeners fire in stream order as verdicts become known: when a model result
 * arrives, or inside push() for windows the gate decided. No allocation per frame in steady state
 * (a gate re-opening allocates a few views).
 */
export class VoiceActivityDetector {
  /** The configuration in force. */
  readonly config: Readonly<VadConfig>;
  /** Whether the gate is on. */
  readonly gate: boolean;
  private readonly silero: SileroStream;
  private readonly startWindows: number;
  private readonly stopWindows: number;
  private readonly floorVolume: number;
  private readonly hangoverWindows: number;
  private readonly preRollWindows: number;

  private readonly smoother = new VolumeSmoother();
  /** The window being assembled from frames. */
  private readonly window = new Int16Array(SILERO_WINDOW_SAMPLES);
  private windowFill = 0;
  private windowsFormed = 0;
  /** The last preRollWindows windows, a ring indexed by window number, for the pre-roll. */
  private readonly history: Int16Array;
  private closedRun = 0;
  /** The model is not being fed (gate closed longer than the hangover). */
  private idle = false;
  private sileroQueued = 0;

  // Queue of formed windows not yet through the state machine (ring, grows if the model lags far).
  private qCap = 64;
  private qHead = 0;
  private qLen = 0;
  private qWindow = new Float64Array(this.qCap);
  private qAtMs = new Float64Array(this.qCap);
  private qVolume = new Float64Array(this.qCap);
  private qSilero = new Float64Array(this.qCap);
  private qProb = new Float64Array(this.qCap);

  private state = QUIET;
  private count = 0;
  private segmentStartWindow = 0;
  private stopStartWindow = 0;
  private samplesPushed = 0;
  private frames = 0;
  private lastProbability = 0;
  private lastVolume = 0;
  private closed = false;
  private readonly startListeners: ((e: SpeechStartEvent) => void)[] = [];
  private readonly endListeners: ((e: SpeechEndEvent) => void)[] = [];
  private readonly errorListeners: ((err: Error) => void)[] = [];

  constructor(options: VoiceActivityDetectorOptions = {}) {
    const d = DEFAULT_VAD_CONFIG;
    // Same clamping as vad_config, for values given directly.
    this.config = Object.freeze(
      vadConfigFrom({
        confidence: options.confidence ?? d.confidence,
        start_secs: options.startSecs ?? d.startSecs,
        stop_secs: options.stopSecs ?? d.stopSecs,
        min_volume: options.minVolume ?? d.minVolume,
      }),
    );
    const c = this.config;
    this.gate = options.gate ?? true;
    this.startWindows = Math.round((c.startSecs * 1000) / SILERO_WINDOW_MS);
    this.stopWindows = Math.round((c.stopSecs * 1000) / SILERO_WINDOW_MS);
    this.floorVolume = volumeFromDbfs(options.gateFloorDbfs ?? DEFAULT_GATE_FLOOR_DBFS);
    const hangoverMs = options.gateHangoverMs ?? c.stopSecs * 1000 + 100;
    this.hangoverWindows = Math.max(0, Math.ceil(hangoverMs / SILERO_WINDOW_MS));
    this.preRollWindows = Math.max(0, Math.ceil((options.preRollMs ?? DEFAULT_PRE_ROLL_MS) / SILERO_WINDOW_MS));
    this.history = new Int16Array(Math.max(1, this.preRollWindows) * SILERO_WINDOW_SAMPLES);
    this.silero = new SileroStream((p, i) => this.onProbability(p, i), {
      model: options.model,
      onError: (err) => this.emit(this.errorListeners, err),
    });
  }

  /** Called when speaking is confirmed (start_secs of speech). */
  onSpeechStart(listener: (e: SpeechStartEvent) => void): void {
    this.startListeners.push(listener);
  }

  /** Called when the end of speaking is confirmed (stop_secs of non-speech). */
  onSpeechEnd(listener: (e: SpeechEndEvent) => void): void {
    this.endListeners.push(listener);
  }

  /**
   * Called once if the model fails (windows then count as non-speech), and with the error of any
   * speech listener that throws.
   */
  onError(listener: (err: Error) => void): void {
    this.errorListeners.push(listener);
  }

  /** Between a speech start and its end (SPEAKING or STOPPING). */
  get speaking(): boolean {
    return this.state === SPEAKING || this.state === STOPPING;
  }

  /** The state machine's state. */
  get vadState(): VadState {
    return STATE_NAMES[this.state];
  }

  /** Silero probability of the last window decided (0 for a window the gate decided). */
  get probability(): number {
    return this.lastProbability;
  }

  /** Smoothed volume of the last window decided. */
  get volume(): number {
    return this.lastVolume;
  }

  /** push() calls so far. */
  get framesPushed(): number {
    return this.frames;
  }

  /** Silero windows evaluated so far (pre-roll included): what the gate did not save. */
  get windowsRun(): number {
    return this.silero.windowsRun;
  }

  /** Windows formed from the pushed audio so far. */
  get windowsTotal(): number {
    return this.windowsFormed;
  }

  /** One frame of caller audio at 8 kHz. Copied; the caller may reuse the array. */
  push(frame8k: Int16Array): void {
    if (this.closed) return;
    this.frames++;
    const n = frame8k.length;
    this.samplesPushed += n;
    const win = this.window;
    let i = 0;
    let completed = false;
    while (i < n) {
      const take = Math.min(n - i, SILERO_WINDOW_SAMPLES - this.windowFill);
      for (let k = 0; k < take; k++) win[this.windowFill + k] = frame8k[i + k];
      this.windowFill += take;
      i += take;
      if (this.windowFill === SILERO_WINDOW_SAMPLES) {
        this.windowFill = 0;
        this.formWindow();
        completed = true;
      }
    }
    if (completed) this.advance();
  }

  /** Resolves once every window formed from the pushed frames went through the state machine. */
  async flush(): Promise<void> {
    await this.silero.flush();
    this.advance();
  }

  /** Stops the detector: no more events; pending windows are dropped. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.qLen = 0;
    this.silero.close();
  }

  /**
   * Calls listeners; one that throws does not stop the others or the detector: its error goes to
   * the onError listeners, or (with none, or when one of those throws) becomes an uncaught exception.
   */
  private emit<T>(listeners: ((e: T) => void)[], e: T): void {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        if (listeners === this.errorListeners || this.errorListeners.length === 0) {
          setImmediate(() => {
            throw error;
          });
        } else this.emit(this.errorListeners, error);
      }
    }
  }

  /** The window in `this.window` is complete: measure it, gate it, queue it. */
  private formWindow(): void {
    const win = this.window;
    let sum = 0;
    for (let k = 0; k < SILERO_WINDOW_SAMPLES; k++) sum += win[k] * win[k];
    const dbfs = sum === 0 ? -Infinity : 10 * Math.log10(sum / SILERO_WINDOW_SAMPLES) - INT16_FULL_SCALE_DB;
    const instant = volumeFromDbfs(dbfs);
    const volume = this.smoother.update(instant);
    const w = this.windowsFormed++;
    let sileroIndex = GATED;
    // The floor is also met by the instantaneous level, so with a low min_volume the gate opens at
    // the first loud window instead of waiting for the smoothed volume to climb out of silence.
    if (!this.gate || (volume >= this.config.minVolume && (volume >= this.floorVolume || instant >= this.floorVolume))) {
      if (this.idle) {
        // Re-opening after a long closed stretch: fresh state, then the onset the gate held back.
        this.idle = false;
        this.silero.reset();
        this.feedPreRoll(w);
      }
      this.closedRun = 0;
      sileroIndex = this.feed(win);
    } else if (!this.idle) {
      if (++this.closedRun <= this.hangoverWindows) this.feed(win);
      else this.idle = true;
    }
    if (this.preRollWindows > 0) this.history.set(win, (w % this.preRollWindows) * SILERO_WINDOW_SAMPLES);
    this.enqueue(w, volume, sileroIndex);
  }

  private feed(win: Int16Array): number {
    this.silero.push(win);
    return this.sileroQueued++;
  }

  private feedPreRoll(w: number): void {
    const first = Math.max(0, w - this.preRollWindows);
    for (let k = first; k < w; k++) {
      const at = (k % this.preRollWindows) * SILERO_WINDOW_SAMPLES;
      this.feed(this.history.subarray(at, at + SILERO_WINDOW_SAMPLES));
    }
  }

  private enqueue(w: number, volume: number, sileroIndex: number): void {
    if (this.qLen === this.qCap) this.growQueue();
    const at = (this.qHead + this.qLen) % this.qCap;
    this.qWindow[at] = w;
    this.qAtMs[at] = (this.samplesPushed * 1000) / SILERO_RATE_HZ;
    this.qVolume[at] = volume;
    this.qSilero[at] = sileroIndex;
    this.qProb[at] = NaN;
    this.qLen++;
  }

  private growQueue(): void {
    const cap = this.qCap * 2;
    const move = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      for (let k = 0; k < this.qLen; k++) b[k] = a[(this.qHead + k) % this.qCap];
      return b;
    };
    this.qWindow = move(this.qWindow);
    this.qAtMs = move(this.qAtMs);
    this.qVolume = move(this.qVolume);
    this.qSilero = move(this.qSilero);
    this.qProb = move(this.qProb);
    this.qHead = 0;
    this.qCap = cap;
  }

  private onProbability(probability: number, index: number): void {
    if (this.closed || this.qLen === 0) return;
    // advance() leaves a window still waiting for the model at the head; reports for windows no
    // queued window waits on (pre-roll, hangover) are only state warm-up.
    if (this.qSilero[this.qHead] !== index) return;
    this.qProb[this.qHead] = probability;
    this.advance();
  }

  /** Runs the state machine over the queued windows whose verdict is known, in order. */
  private advance(): void {
    const c = this.config;
    while (this.qLen > 0 && !this.closed) {
      const h = this.qHead;
      const gated = this.qSilero[h] === GATED;
      const probability = gated ? 0 : this.qProb[h];
      if (Number.isNaN(probability)) return;
      const volume = this.qVolume[h];
      const w = this.qWindow[h];
      const atMs = this.qAtMs[h];
      this.qHead = (h + 1) % this.qCap;
      this.qLen--;
      this.lastProbability = probability;
      this.lastVolume = volume;
      this.step(!gated && probability >= c.confidence && volume >= c.minVolume, w, atMs);
    }
  }

  private step(isSpeech: boolean, w: number, atMs: number): void {
    if (isSpeech) {
      if (this.state === QUIET) {
        this.state = STARTING;
        this.count = 1;
        this.segmentStartWindow = w;
      } else if (this.state === STARTING) {
        this.count++;
      } else if (this.state === STOPPING) {
        this.state = SPEAKING;
        this.count = 0;
      }
    } else if (this.state === STARTING) {
      this.state = QUIET;
      this.count = 0;
    } else if (this.state === SPEAKING) {
      this.state = STOPPING;
      this.count = 1;
      this.stopStartWindow = w;
    } else if (this.state === STOPPING) {
      this.count++;
    }
    if (this.state === STARTING && this.count >= this.startWindows) {
      this.state = SPEAKING;
      this.count = 0;
      this.emit(this.startListeners, { atMs });
    }
    if (this.state === STOPPING && this.count >= this.stopWindows) {
      this.state = QUIET;
      this.count = 0;
      this.emit(this.endListeners, { atMs, speechMs: (this.stopStartWindow - this.segmentStartWindow) * SILERO_WINDOW_MS });
    }
  }
}
