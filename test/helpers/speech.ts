/**
 * Test speech and test signals at 8 kHz mono Int16 (the phone-line rate the VAD and echo gate see).
 *
 * Speech comes from the espeak-ng CLI (a real, if robotic, voice: the Silero model must be fed
 * something speech-like, a tone would not do). Tests that need it use
 * `describe.skipIf(!hasEspeak())`, so a machine without espeak-ng skips them instead of failing;
 * CI installs it (.ci/run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readWav } from '../../streams/audio/wav.js';
import { createResampler } from '../../streams/audio/resampler.js';

/** The rate every helper here produces. */
export const SPEECH_RATE_HZ = 8000;
/** Samples in one 20 ms frame at {@link SPEECH_RATE_HZ}. */
export const FRAME_SAMPLES = 160;

let espeakAvailable: boolean | undefined;

/** Whether the espeak-ng CLI runs here (checked once per process). */
export function hasEspeak(): boolean {
  espeakAvailable ??= spawnSync('espeak-ng', ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return espeakAvailable;
}

/** Options of {@link speak}. */
export interface SpeakOptions {
  /** espeak-ng voice (`-v`), default `en-us`; e.g. `en+f3` for a female variant. */
  voice?: string;
  /** Speaking rate in words per minute (`-s`), default 160. */
  speedWpm?: number;
  /** Gain applied after resampling, in dB (default 0: espeak's own level, about -20 dBFS RMS while it speaks). */
  gainDb?: number;
}

const speechCache = new Map<string, Promise<Int16Array>>();

/**
 * Speaks `text` with espeak-ng and returns it as 8 kHz mono Int16 (espeak writes 22050 Hz WAV; it
 * is resampled with the project's stateful resampler, filter delay trimmed). Cached per
 * (text, options) for the life of the process; the returned array is shared, so do not modify it.
 */
export function speak(text: string, opts: SpeakOptions = {}): Promise<Int16Array> {
  const voice = opts.voice ?? 'en-us';
  const speedWpm = opts.speedWpm ?? 160;
  const gainDb = opts.gainDb ?? 0;
  const key = JSON.stringify([text, voice, speedWpm, gainDb]);
  let cached = speechCache.get(key);
  if (!cached) {
    cached = synthesize(text, voice, speedWpm).then((s) => (gainDb === 0 ? s : scale(s, gainDb)));
    // A failed synthesis must not poison the cache for the next test.
    cached.catch(() => speechCache.delete(key));
    speechCache.set(key, cached);
  }
  return cached;
}

async function synthesize(text: string, voice: string, speedWpm: number): Promise<Int16Array> {
  const wav = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('espeak-ng', ['--stdout', '-v', voice, '-s', String(speedWpm), text], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`espeak-ng exited with ${code}: ${err.trim()}`));
    });
  });
  const audio = readWav(wav);
  const resampler = await createResampler({ inputRateHz: audio.sampleRateHz, outputRateHz: SPEECH_RATE_HZ });
  try {
    const body = resampler.process(audio.samples).slice();
    const tail = resampler.flush().slice();
    // Drop the filter delay so sample 0 of the output is sample 0 of espeak's audio.
    return concat(body, tail).subarray(resampler.outputDelaySamples).slice();
  } finally {
    resampler.destroy();
  }
}

/**
 * {@link speak} at `rateHz` (8000, 16000 or 24000): the 8 kHz speech through the stateful
 * resampler (what a TTS fake streams at its provider's rate).
 */
export async function speakAt(text: string, rateHz: number, opts: SpeakOptions = {}): Promise<Int16Array> {
  const pcm8k = await speak(text, opts);
  if (rateHz === SPEECH_RATE_HZ) return pcm8k;
  const r = await createResampler({ inputRateHz: SPEECH_RATE_HZ, outputRateHz: rateHz });
  try {
    const a = r.process(pcm8k).slice();
    const b = r.flush().slice();
    const out = new Int16Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  } finally {
    r.destroy();
  }
}

/** `ms` of digital silence. */
export function silence(ms: number): Int16Array {
  return new Int16Array(Math.round((ms * SPEECH_RATE_HZ) / 1000));
}

/** The parts one after the other. */
export function concat(...parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function clip(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
}

/** A copy of `samples` with `gainDb` applied (clipped to Int16). */
export function scale(samples: Int16Array, gainDb: number): Int16Array {
  const g = 10 ** (gainDb / 20);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = clip(samples[i] * g);
  return out;
}

/** `a` with `b` added starting at sample `offsetSamples` (clipped); as long as whichever ends later. */
export function mix(a: Int16Array, b: Int16Array, offsetSamples = 0): Int16Array {
  const out = new Int16Array(Math.max(a.length, offsetSamples + b.length));
  out.set(a);
  for (let i = 0; i < b.length; i++) out[offsetSamples + i] = clip(out[offsetSamples + i] + b[i]);
  return out;
}

/**
 * Where the sound is: the first and last 20 ms frame louder than `thresholdDbfs` (default -50),
 * in ms from the start (`endMs` is the end of the last such frame). -1/-1 when there is none.
 */
export function activeSpan(samples: Int16Array, thresholdDbfs = -50): { startMs: number; endMs: number } {
  let first = -1;
  let last = -1;
  for (let at = 0; at + FRAME_SAMPLES <= samples.length; at += FRAME_SAMPLES) {
    if (rmsDbfs(samples, at, at + FRAME_SAMPLES) > thresholdDbfs) {
      if (first < 0) first = at;
      last = at + FRAME_SAMPLES;
    }
  }
  const ms = (s: number): number => (s < 0 ? -1 : (s * 1000) / SPEECH_RATE_HZ);
  return { startMs: ms(first), endMs: ms(last) };
}

/** `samples` without the leading and trailing frames quieter than `thresholdDbfs` (espeak pads ~0.3 s). */
export function trimSilence(samples: Int16Array, thresholdDbfs = -50): Int16Array {
  const { startMs, endMs } = activeSpan(samples, thresholdDbfs);
  if (startMs < 0) return new Int16Array(0);
  return samples.slice((startMs * SPEECH_RATE_HZ) / 1000, (endMs * SPEECH_RATE_HZ) / 1000);
}

/** RMS level in dBFS (0 dBFS = RMS of 32768; digital silence gives -Infinity). */
export function rmsDbfs(samples: Int16Array, start = 0, end = samples.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i] * samples[i];
  return 10 * Math.log10(sum / Math.max(1, end - start) / (32768 * 32768));
}

/** mulberry32: a tiny seeded PRNG, so every "random" test signal is the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded noise, one-pole low-passed, as floats with RMS 1. */
function noise(samples: number, seed: number, lowPass: number): Float64Array {
  const rnd = prng(seed);
  const x = new Float64Array(samples);
  let y = 0;
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    y += lowPass * (rnd() * 2 - 1 - y);
    x[i] = y;
    sum += y * y;
  }
  const norm = 1 / Math.sqrt(sum / Math.max(1, samples) || 1);
  for (let i = 0; i < samples; i++) x[i] *= norm;
  return x;
}

/** `ms` of seeded, slightly low-passed noise at an RMS of `dbfs` (e.g. -45 for a quiet room). */
export function roomTone(ms: number, dbfs: number, seed = 1): Int16Array {
  const n = Math.round((ms * SPEECH_RATE_HZ) / 1000);
  const x = noise(n, seed, 0.5);
  const g = 32768 * 10 ** (dbfs / 20);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = clip(x[i] * g);
  return out;
}

/**
 * A cough-like burst: seeded noise with a 5 ms attack and an exponential decay over `ms`
 * (default 150), peaking near `peakDbfs` (default -6 dBFS RMS at the peak: loud, as a cough into
 * the handset is).
 */
export function cough(ms = 150, peakDbfs = -6, seed = 7): Int16Array {
  const n = Math.round((ms * SPEECH_RATE_HZ) / 1000);
  const x = noise(n, seed, 0.35);
  const attack = Math.round(0.005 * SPEECH_RATE_HZ);
  const tau = n / 4; // decays ~35 dB over the burst
  const g = 32768 * 10 ** (peakDbfs / 20);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const env = i < attack ? i / attack : Math.exp(-(i - attack) / tau);
    out[i] = clip(x[i] * g * env);
  }
  return out;
}

/** A click: a 5 ms (default) near-full-scale decaying ringing pulse, as a handset knock. */
export function click(ms = 5): Int16Array {
  const n = Math.max(1, Math.round((ms * SPEECH_RATE_HZ) / 1000));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = clip(30000 * Math.exp(-i / (n / 4)) * Math.cos(i * 1.9));
  return out;
}

/**
 * The 20 ms frames of `samples`, the last one zero-padded. Like a call's media path, every frame
 * is the SAME Int16Array refilled (consumers must copy what they keep); copy with `.slice()` to
 * collect them.
 */
export function* frames(samples: Int16Array): Generator<Int16Array, void, undefined> {
  const frame = new Int16Array(FRAME_SAMPLES);
  for (let at = 0; at < samples.length; at += FRAME_SAMPLES) {
    const end = Math.min(at + FRAME_SAMPLES, samples.length);
    frame.set(samples.subarray(at, end));
    if (end - at < FRAME_SAMPLES) frame.fill(0, end - at);
    yield frame;
  }
}
