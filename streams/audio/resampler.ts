/**
 * Stateful streaming resampler: SpeexDSP's resampler compiled to WASM
 * (`@echogarden/speex-resampler-wasm`), one instance per call and direction.
 *
 * Why stateful: the filter keeps its history between calls, so feeding 20 ms chunks gives
 * bit-identically the same output as feeding the whole stream at once. Resampling each chunk on its
 * own (no state) puts an edge transient at every chunk boundary (7-14 dB SNR measured, see
 * DESIGN.md "Audio rules").
 *
 * One WASM module instance is shared by every resampler in the process (its 16 MiB initial linear
 * memory is paid once); each resampler owns a SpeexDSP state plus input/output buffers inside it,
 * allocated at creation, so `process()` allocates nothing in steady state.
 */
import type { SpeexResamplerModule } from '@echogarden/speex-resampler-wasm';

/**
 * SpeexDSP quality (0..10) for upsampling (e.g. 8 kHz -> 16/24 kHz), chosen by measurement
 * (`npx tsx bench/audio.ts`, table in BENCHMARKS.md): 3 is the lowest level at which every
 * upsampling pair meets the targets (1 kHz tone SNR >= 90 dB, passband within 0.5 dB up to
 * 3.4 kHz, images <= -60 dB); 2 droops ~1 dB at 3.4 kHz and reaches only ~80 dB SNR.
 */
export const UPSAMPLE_QUALITY = 3;

/**
 * SpeexDSP quality for downsampling (e.g. 24 kHz -> 8 kHz), chosen by measurement like
 * {@link UPSAMPLE_QUALITY}: 4 is the lowest level that keeps 3.4 kHz within 0.5 dB (3 droops
 * ~1 dB there because its anti-alias cutoff sits lower) with aliases <= -60 dB. Downsampling needs
 * its own level because SpeexDSP scales the filter to the output Nyquist.
 */
export const DOWNSAMPLE_QUALITY = 4;

/** The measured default quality for a rate pair (see {@link UPSAMPLE_QUALITY}, {@link DOWNSAMPLE_QUALITY}). */
export function defaultResamplerQuality(inputRateHz: number, outputRateHz: number): number {
  return outputRateHz < inputRateHz ? DOWNSAMPLE_QUALITY : UPSAMPLE_QUALITY;
}

/** Sample rates the gateway uses; any pair among them (and identity) is supported and tested. */
export const SUPPORTED_RATES_HZ: readonly number[] = [8000, 16000, 24000];

/** Options of {@link createResampler}. */
export interface ResamplerOptions {
  /** Rate of the samples given to `process()`. */
  inputRateHz: number;
  /** Rate of the samples `process()` returns. */
  outputRateHz: number;
  /** SpeexDSP quality 0..10; default {@link defaultResamplerQuality} of the pair. */
  quality?: number;
  /**
   * Largest input chunk expected, in samples (default: 100 ms at the input rate). Larger chunks
   * still work but grow the buffers once (an allocation outside the steady state).
   */
  maxInputSamples?: number;
}

/** A streaming resampler for one mono stream. Not thread-safe; one per call and direction. */
export interface Resampler {
  readonly inputRateHz: number;
  readonly outputRateHz: number;
  readonly quality: number;
  /** Filter delay in output samples (0 for identity): output sample k corresponds to input time k - this. */
  readonly outputDelaySamples: number;
  /**
   * Resamples the next chunk of the stream. Returns a view into a buffer the resampler owns; it is
   * valid only until the next call of any method. Steady-state calls with the same chunk size
   * return the same view object and allocate nothing.
   */
  process(input: Int16Array): Int16Array;
  /**
   * Like `process()` but writes into a caller-owned array, which must hold
   * {@link Resampler.maxOutputSamples} of `input.length` samples. Returns the count written.
   */
  processInto(input: Int16Array, output: Int16Array): number;
  /** Upper bound on the samples one `process()` of `inputSamples` samples can produce. */
  maxOutputSamples(inputSamples: number): number;
  /**
   * End of stream: returns the samples still inside the filter (about `outputDelaySamples`), then
   * resets the state so the resampler can start a new stream. Same view rules as `process()`.
   */
  flush(): Int16Array;
  /** Drops the filter history (e.g. after a barge-in) without emitting it. */
  reset(): void;
  /** Frees the WASM memory. Idempotent; any later call other than `destroy()` throws. */
  destroy(): void;
}

let modulePromise: Promise<SpeexResamplerModule> | undefined;

/**
 * Loads (once per process) the WASM module. The SIMD build is ~2-3x faster (BENCHMARKS.md); the
 * non-SIMD build is the fallback for runtimes without WASM SIMD.
 */
export function loadSpeexModule(): Promise<SpeexResamplerModule> {
  modulePromise ??= (async () => {
    try {
      const simd = await import('@echogarden/speex-resampler-wasm/simd');
      return await simd.default();
    } catch {
      const plain = await import('@echogarden/speex-resampler-wasm');
      return await plain.default();
    }
  })();
  return modulePromise;
}

function checkRate(name: string, rateHz: number): void {
  if (!Number.isInteger(rateHz) || rateHz < 1000 || rateHz > 192000) {
    throw new RangeError(`resampler: ${name} must be an integer in 1000..192000 Hz, got ${rateHz}`);
  }
}

/**
 * Creates a streaming resampler. Async because the WASM module is instantiated on first use;
 * everything after creation is synchronous.
 */
export async function createResampler(options: ResamplerOptions): Promise<Resampler> {
  const { inputRateHz, outputRateHz } = options;
  checkRate('inputRateHz', inputRateHz);
  checkRate('outputRateHz', outputRateHz);
  const quality = options.quality ?? defaultResamplerQuality(inputRateHz, outputRateHz);
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
    throw new RangeError(`resampler: quality must be an integer 0..10, got ${quality}`);
  }
  const maxInputSamples = options.maxInputSamples ?? Math.ceil(inputRateHz / 10);
  if (!Number.isInteger(maxInputSamples) || maxInputSamples < 1) {
    throw new RangeError(`resampler: maxInputSamples must be a positive integer, got ${maxInputSamples}`);
  }
  if (inputRateHz === outputRateHz) return new IdentityResampler(inputRateHz, quality, maxInputSamples);
  const mod = await loadSpeexModule();
  return new SpeexResampler(mod, inputRateHz, outputRateHz, quality, maxInputSamples);
}

/** Shared "owned output buffer + cached view" logic, so steady-state calls return one view object. */
abstract class OwnedOutput {
  protected out: Int16Array;
  private view: Int16Array;
  protected destroyed = false;

  constructor(capacity: number) {
    this.out = new Int16Array(capacity);
    this.view = this.out.subarray(0, 0);
  }

  protected viewOf(length: number): Int16Array {
    if (this.view.length !== length || this.view.buffer !== this.out.buffer) this.view = this.out.subarray(0, length);
    return this.view;
  }

  protected ensureAlive(): void {
    if (this.destroyed) throw new Error('resampler: used after destroy()');
  }
}

/** Same rate in and out: a copy, so the returned-view contract matches the real resampler. */
class IdentityResampler extends OwnedOutput implements Resampler {
  readonly outputDelaySamples = 0;
  readonly inputRateHz: number;
  readonly outputRateHz: number;

  constructor(
    rateHz: number,
    readonly quality: number,
    maxInputSamples: number,
  ) {
    super(maxInputSamples);
    this.inputRateHz = rateHz;
    this.outputRateHz = rateHz;
  }

  maxOutputSamples(inputSamples: number): number {
    return inputSamples;
  }

  process(input: Int16Array): Int16Array {
    this.ensureAlive();
    if (input.length > this.out.length) this.out = new Int16Array(input.length);
    this.out.set(input);
    return this.viewOf(input.length);
  }

  processInto(input: Int16Array, output: Int16Array): number {
    this.ensureAlive();
    if (output.length < input.length) throw new RangeError('resampler: output array too small');
    output.set(input);
    return input.length;
  }

  flush(): Int16Array {
    this.ensureAlive();
    return this.viewOf(0);
  }

  reset(): void {
    this.ensureAlive();
  }

  destroy(): void {
    this.destroyed = true;
  }
}

/** Native resources of one SpeexResampler, freed by destroy() or, as a safety net, by GC. */
interface NativeHandles {
  mod: SpeexResamplerModule;
  state: number;
  ptrs: number[];
}

function freeNative(h: NativeHandles): void {
  h.mod._speex_resampler_destroy(h.state);
  for (const p of h.ptrs) h.mod._free(p);
  h.ptrs.length = 0;
}

// A session that forgets destroy() would otherwise leak WASM memory for the life of the process.
const finalizer = new FinalizationRegistry<NativeHandles>(freeNative);

class SpeexResampler extends OwnedOutput implements Resampler {
  readonly outputDelaySamples: number;
  private readonly native: NativeHandles;
  private readonly inputLatencySamples: number;
  private capIn = 0;
  private capOut = 0;
  private inPtr = 0;
  private outPtr = 0;
  /** Two uint32 in WASM memory: [in_len, out_len], in/out parameters of process_int. */
  private readonly lenPtr: number;
  /** Views over WASM memory, rebuilt only when the memory grows (which detaches the old buffer). */
  private heapBuffer: ArrayBufferLike | undefined;
  private inView: Int16Array = new Int16Array(0);
  private outView: Int16Array = new Int16Array(0);
  private lens: Uint32Array = new Uint32Array(0);
  /** `outView.subarray(0, n)` for the last n, cached so steady-state copies allocate nothing. */
  private outViewN: Int16Array = new Int16Array(0);
  private zeros: Int16Array;

  constructor(
    private readonly mod: SpeexResamplerModule,
    readonly inputRateHz: number,
    readonly outputRateHz: number,
    readonly quality: number,
    maxInputSamples: number,
  ) {
    super(0);
    const errPtr = mod._malloc(4);
    const state = mod._speex_resampler_init(1, inputRateHz, outputRateHz, quality, errPtr);
    const err = mod.HEAPU32[errPtr >> 2];
    mod._free(errPtr);
    if (state === 0 || err !== 0) throw new Error(`resampler: speex init failed (${err})`);
    this.lenPtr = mod._malloc(8);
    this.native = { mod, state, ptrs: [this.lenPtr] };
    finalizer.register(this, this.native, this);
    this.inputLatencySamples = mod._speex_resampler_get_input_latency(state);
    this.outputDelaySamples = mod._speex_resampler_get_output_latency(state);
    this.zeros = new Int16Array(this.inputLatencySamples);
    this.allocate(Math.max(maxInputSamples, this.inputLatencySamples));
  }

  maxOutputSamples(inputSamples: number): number {
    // SpeexDSP produces floor or ceil of n * out / in depending on its phase; +2 is a safe margin.
    return Math.ceil((inputSamples * this.outputRateHz) / this.inputRateHz) + 2;
  }

  /** (Re)allocates the WASM-side buffers; only at creation or when a chunk exceeds the capacity. */
  private allocate(capIn: number): void {
    const { mod } = this;
    const ptrs = this.native.ptrs;
    if (this.inPtr) {
      mod._free(this.inPtr);
      mod._free(this.outPtr);
      ptrs.length = 1; // keep lenPtr
    }
    this.capIn = capIn;
    this.capOut = this.maxOutputSamples(capIn);
    this.inPtr = mod._malloc(capIn * 2);
    this.outPtr = mod._malloc(this.capOut * 2);
    if (!this.inPtr || !this.outPtr) throw new Error('resampler: WASM out of memory');
    ptrs.push(this.inPtr, this.outPtr);
    this.out = new Int16Array(this.capOut);
    this.heapBuffer = undefined;
  }

  private refreshViews(): void {
    const buffer = this.mod.HEAP16.buffer;
    if (buffer === this.heapBuffer) return;
    this.heapBuffer = buffer;
    this.inView = new Int16Array(buffer, this.inPtr, this.capIn);
    this.outView = new Int16Array(buffer, this.outPtr, this.capOut);
    this.lens = new Uint32Array(buffer, this.lenPtr, 2);
    this.outViewN = this.outView.subarray(0, 0);
  }

  /** Runs `n` samples already in `inView` through the filter; returns the count left in `outView`. */
  private run(n: number): number {
    const lens = this.lens;
    lens[0] = n;
    lens[1] = this.capOut;
    const err = this.mod._speex_resampler_process_int(this.native.state, 0, this.inPtr, this.lenPtr, this.outPtr, this.lenPtr + 4);
    if (err !== 0) throw new Error(`resampler: speex process failed (${err})`);
    if (this.lens[0] !== n) throw new Error(`resampler: speex consumed ${this.lens[0]} of ${n} samples`);
    return this.lens[1];
  }

  processInto(input: Int16Array, output: Int16Array): number {
    this.ensureAlive();
    const n = input.length;
    if (output.length < this.maxOutputSamples(n)) throw new RangeError('resampler: output array too small');
    if (n > this.capIn) this.allocate(n);
    this.refreshViews();
    this.inView.set(input);
    const produced = this.run(n);
    // Copy out of WASM memory (its views die when the memory grows); set() is a memcpy, and the
    // cached view means a steady frame size allocates nothing.
    if (this.outViewN.length !== produced) this.outViewN = this.outView.subarray(0, produced);
    output.set(this.outViewN);
    return produced;
  }

  process(input: Int16Array): Int16Array {
    this.ensureAlive();
    if (input.length > this.capIn) this.allocate(input.length);
    return this.viewOf(this.processInto(input, this.out));
  }

  flush(): Int16Array {
    this.ensureAlive();
    // Pushing input-latency zeros through the filter pushes out the delayed tail of the stream.
    const tail = this.processInto(this.zeros, this.out);
    this.mod._speex_resampler_reset_mem(this.native.state);
    return this.viewOf(tail);
  }

  reset(): void {
    this.ensureAlive();
    this.mod._speex_resampler_reset_mem(this.native.state);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    finalizer.unregister(this);
    freeNative(this.native);
  }
}
