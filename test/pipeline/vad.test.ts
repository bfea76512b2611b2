/**
 * The voice activity detector: real espeak-ng speech through the real Silero model (8 kHz), in
 * stream time (deterministic however busy the machine is). Every "nothing detected" case carries a
 * positive control in the same stream, so a detector that never fires fails too.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_VAD_CONFIG,
  SILERO_WINDOW_MS,
  SileroStream,
  VoiceActivityDetector,
  VolumeSmoother,
  dbfsFromVolume,
  frameVolume,
  rmsDbfs,
  vadConfigFrom,
  volumeFromDbfs,
} from '../../streams/agents/pipeline/vad/index.js';
import type { VoiceActivityDetectorOptions } from '../../streams/agents/pipeline/vad/index.js';
import {
  FRAME_SAMPLES,
  activeSpan,
  click,
  concat,
  cough,
  frames,
  hasEspeak,
  mix,
  roomTone,
  scale,
  silence,
  speak,
  trimSilence,
} from '../helpers/speech.js';

const SENTENCE = 'I would like to book a table for two tonight';

interface Run {
  starts: number[];
  ends: { atMs: number; speechMs: number }[];
  windowsRun: number;
  windowsTotal: number;
  framesPushed: number;
}

/** Pushes `audio` frame by frame (one reused array, as a call does) and waits for every verdict. */
async function detect(audio: Int16Array, options: VoiceActivityDetectorOptions = {}): Promise<Run> {
  const vad = new VoiceActivityDetector(options);
  const run: Run = { starts: [], ends: [], windowsRun: 0, windowsTotal: 0, framesPushed: 0 };
  vad.onSpeechStart((e) => {
    expect(vad.speaking).toBe(true);
    run.starts.push(e.atMs);
  });
  vad.onSpeechEnd((e) => {
    expect(vad.speaking).toBe(false);
    run.ends.push(e);
  });
  for (const f of frames(audio)) vad.push(f);
  await vad.flush();
  run.windowsRun = vad.windowsRun;
  run.windowsTotal = vad.windowsTotal;
  run.framesPushed = vad.framesPushed;
  vad.close();
  return run;
}

/** Start/end pairs in order: every start has its end after it (the stream ends in silence). */
function expectSegments(run: Run, count: number): void {
  expect(run.starts).toHaveLength(count);
  expect(run.ends).toHaveLength(count);
  for (let i = 0; i < count; i++) {
    expect(run.ends[i].atMs).toBeGreaterThan(run.starts[i]);
    if (i > 0) expect(run.starts[i]).toBeGreaterThan(run.ends[i - 1].atMs);
  }
}

describe('volume (Pipecat scale, RMS approximation)', () => {
  it('maps dBFS linearly from [-110.3, -10.3] to [0, 1], clamped', () => {
    expect(volumeFromDbfs(-Infinity)).toBe(0);
    expect(volumeFromDbfs(-200)).toBe(0);
    expect(volumeFromDbfs(0)).toBe(1);
    // min_volume 0.6 is about -50 dBFS.
    expect(dbfsFromVolume(0.6)).toBeCloseTo(-50.3, 1);
    expect(volumeFromDbfs(dbfsFromVolume(0.42))).toBeCloseTo(0.42, 9);
    const tone = new Int16Array(160);
    const amp = 32768 * Math.SQRT2 * 10 ** (-30 / 20); // a sine at -30 dBFS RMS
    for (let i = 0; i < tone.length; i++) tone[i] = Math.round(amp * Math.sin((2 * Math.PI * i) / 8));
    expect(rmsDbfs(tone)).toBeCloseTo(-30, 1);
    expect(frameVolume(tone)).toBeCloseTo(volumeFromDbfs(-30), 3);
    expect(frameVolume(new Int16Array(160))).toBe(0);
  });

  it('smooths exponentially with factor 0.2 from 0', () => {
    const s = new VolumeSmoother();
    expect(s.update(1)).toBeCloseTo(0.2, 12);
    expect(s.update(1)).toBeCloseTo(0.36, 12);
    expect(s.update(0)).toBeCloseTo(0.288, 12);
    s.reset();
    expect(s.value).toBe(0);
    expect(() => new VolumeSmoother(0)).toThrow(RangeError);
  });
});

describe('vadConfigFrom', () => {
  it('defaults, maps snake_case keys, clamps, ignores non-numbers', () => {
    expect(vadConfigFrom(undefined)).toEqual({ confidence: 0.7, startSecs: 0.2, stopSecs: 0.2, minVolume: 0.6 });
    expect(vadConfigFrom({})).toEqual(DEFAULT_VAD_CONFIG);
    expect(vadConfigFrom({ confidence: 0.5, start_secs: 0.1, stop_secs: 0.8, min_volume: 0.3 })).toEqual({
      confidence: 0.5,
      startSecs: 0.1,
      stopSecs: 0.8,
      minVolume: 0.3,
    });
    expect(vadConfigFrom({ confidence: 1.5, start_secs: -1, stop_secs: 99, min_volume: -0.2 })).toEqual({
      confidence: 1,
      startSecs: 0,
      stopSecs: 10,
      minVolume: 0,
    });
    const odd = { confidence: '0.9', start_secs: Number.NaN, stop_secs: Infinity, min_volume: null, other: 3 } as unknown as Record<string, number>;
    expect(vadConfigFrom(odd)).toEqual(DEFAULT_VAD_CONFIG);
  });

  it('the detector clamps directly given values the same way', () => {
    const vad = new VoiceActivityDetector({ confidence: 2, stopSecs: -3 });
    expect(vad.config).toEqual({ ...DEFAULT_VAD_CONFIG, confidence: 1, stopSecs: 0 });
    vad.close();
  });
});

describe.skipIf(!hasEspeak())('VoiceActivityDetector on espeak-ng speech (Silero)', () => {
  it.each([true, false])('one sentence between 1 s silences is one segment, timed in stream time (gate %s)', async (gate) => {
    const sentence = await speak(SENTENCE);
    const span = activeSpan(sentence);
    expect(span.startMs).toBeGreaterThanOrEqual(0);
    const audio = concat(silence(1000), sentence, silence(1000));
    const run = await detect(audio, { gate });
    expectSegments(run, 1);
    const startSecs = DEFAULT_VAD_CONFIG.startSecs;
    const stopSecs = DEFAULT_VAD_CONFIG.stopSecs;
    expect(run.starts[0] / 1000).toBeGreaterThanOrEqual(0.8 + startSecs - 0.1);
    expect(run.starts[0] / 1000).toBeLessThanOrEqual(1.0 + startSecs + 0.3);
    const speechEndMs = 1000 + span.endMs;
    expect(run.ends[0].atMs).toBeGreaterThanOrEqual(speechEndMs + stopSecs * 1000 - 100);
    expect(run.ends[0].atMs).toBeLessThanOrEqual(speechEndMs + stopSecs * 1000 + 400);
    // speechMs is the detected speech, roughly the sentence's sounding part.
    const soundingMs = span.endMs - span.startMs;
    expect(run.ends[0].speechMs).toBeGreaterThan(soundingMs - 600);
    expect(run.ends[0].speechMs).toBeLessThan(soundingMs + 400);
    expect(run.framesPushed).toBe(Math.ceil(audio.length / FRAME_SAMPLES));
  });

  it('is deterministic: the same audio gives the same events', async () => {
    const audio = mix(roomTone(5000, -60, 11), concat(silence(1200), await speak(SENTENCE)));
    const a = await detect(audio);
    const b = await detect(audio);
    expect(a.starts.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('two phrases 800 ms apart: two segments with stop_secs 0.2, one with stop_secs 1.0', async () => {
    const p1 = trimSilence(await speak('Hello there'));
    const p2 = trimSilence(await speak('I need some help with my order'));
    const audio = concat(silence(1000), p1, silence(800), p2, silence(1500));
    const short = await detect(audio, { stopSecs: 0.2 });
    expectSegments(short, 2);
    // The first segment ends inside the gap, the second starts after it.
    const gapStartMs = 1000 + (p1.length * 1000) / 8000;
    expect(short.ends[0].atMs).toBeGreaterThan(gapStartMs);
    expect(short.ends[0].atMs).toBeLessThan(gapStartMs + 800);
    expect(short.starts[1]).toBeGreaterThan(gapStartMs + 800);
    const long = await detect(audio, { stopSecs: 1.0 });
    expectSegments(long, 1);
    expect(long.starts[0]).toBe(short.starts[0]);
    expect(long.ends[0].atMs).toBeGreaterThan(short.ends[1].atMs);
  });

  it.each([
    ['a 150 ms cough', () => cough(150)],
    ['a 5 ms click', () => click(5)],
  ])('%s starts no speech (default start_secs 0.2); the sentence after it does', async (_name, make) => {
    const sentence = await speak(SENTENCE);
    // On line noise, so the volume condition is met and it is Silero that says no.
    const audio = mix(roomTone(6500, -60, 3), concat(silence(1000), make(), silence(1500), sentence, silence(800)));
    for (const gate of [true, false]) {
      const run = await detect(audio, { gate });
      expectSegments(run, 1);
      expect(run.starts[0]).toBeGreaterThan(2500);
    }
  });

  it('3 s of -35 dBFS room tone starts no speech; the sentence after it does', async () => {
    const sentence = await speak(SENTENCE);
    const audio = mix(roomTone(6500, -35, 5), concat(silence(3000), sentence, silence(800)));
    expect(rmsDbfs(audio, 0, 3000 * 8)).toBeCloseTo(-35, 0);
    const run = await detect(audio);
    expectSegments(run, 1);
    expect(run.starts[0]).toBeGreaterThan(3000);
    // The room tone is loud enough for the gate to let Silero judge it.
    expect(run.windowsRun).toBeGreaterThan((3000 / SILERO_WINDOW_MS) * 0.9);
  });

  it('speech 35 dB below normal is gated out by min_volume 0.6 but detected with min_volume 0', async () => {
    // espeak speaks at about -20 dBFS: -35 dB puts it near -55 dBFS, under min_volume 0.6 (-50 dBFS).
    const quiet = scale(await speak(SENTENCE), -35);
    const audio = concat(silence(1000), quiet, silence(1000));
    // Both with the gate (which skips the model on such windows) and without (where the volume
    // condition of the speech verdict alone has to say no).
    for (const gate of [true, false]) {
      const gated = await detect(audio, { minVolume: 0.6, gate });
      expectSegments(gated, 0);
      const open = await detect(audio, { minVolume: 0, gate });
      expectSegments(open, 1);
      expect(open.starts[0]).toBeGreaterThan(1000);
      expect(open.starts[0]).toBeLessThan(2000);
    }
  });

  it('the gate runs far fewer Silero windows on a mostly silent call, with the same segments', async () => {
    const sentence = await speak(SENTENCE);
    const audio = mix(roomTone(10_000, -60, 8), concat(silence(4000), sentence), 0);
    const ungated = await detect(audio, { gate: false });
    const gated = await detect(audio, { gate: true });
    expectSegments(ungated, 1);
    expectSegments(gated, 1);
    expect(ungated.windowsRun).toBe(ungated.windowsTotal);
    expect(gated.windowsTotal).toBe(ungated.windowsTotal);
    expect(gated.windowsRun).toBeLessThan(ungated.windowsRun * 0.5);
    // Same segments within one Silero window (32 ms: at most 2 frames of stream time).
    expect(Math.abs(gated.starts[0] - ungated.starts[0])).toBeLessThanOrEqual(40);
    expect(Math.abs(gated.ends[0].atMs - ungated.ends[0].atMs)).toBeLessThanOrEqual(40);
  });

  it('close() mid-stream is safe: no events after it, later pushes ignored', async () => {
    const audio = concat(silence(500), await speak(SENTENCE), silence(800));
    const vad = new VoiceActivityDetector({ gate: false });
    const events: string[] = [];
    vad.onSpeechStart(() => events.push('start'));
    vad.onSpeechEnd(() => events.push('end'));
    let n = 0;
    for (const f of frames(audio)) {
      vad.push(f);
      // Close halfway through the sentence, with windows still queued for the model.
      if (++n === 100) vad.close();
    }
    vad.close();
    await vad.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([]);
    expect(vad.framesPushed).toBe(100);
    expect(vad.windowsTotal).toBe(Math.floor((100 * FRAME_SAMPLES) / 256));
    // Queued windows were dropped: the model did not evaluate them all.
    expect(vad.windowsRun).toBeLessThan(vad.windowsTotal);
    // Closing a detector that never ran is fine too.
    const idle = new VoiceActivityDetector();
    idle.close();
    await idle.flush();
  });
});

describe.skipIf(!hasEspeak())('SileroStream', () => {
  async function probabilities(audio: Int16Array, chunk: number, resetAt = -1): Promise<number[]> {
    const out: number[] = [];
    const s = new SileroStream((p, i) => {
      expect(i).toBe(out.length);
      out.push(p);
    });
    const buf = new Int16Array(chunk);
    for (let at = 0; at < audio.length; at += chunk) {
      const n = Math.min(chunk, audio.length - at);
      buf.set(audio.subarray(at, at + n));
      s.push(n === chunk ? buf : buf.subarray(0, n));
      if (resetAt >= 0 && at + n === resetAt) s.reset();
    }
    await s.flush();
    s.close();
    return out;
  }

  it('gives the same probabilities whatever the chunk size; speech is probable, silence is not', async () => {
    const audio = concat(silence(512), await speak(SENTENCE), silence(1024));
    const a = await probabilities(audio, 160);
    const b = await probabilities(audio, 37);
    const c = await probabilities(audio, 4096);
    expect(a).toHaveLength(Math.floor(audio.length / 256));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(Math.max(...a)).toBeGreaterThan(0.9);
    expect(a[0]).toBeLessThan(0.1);
  });

  it('reset() restarts the recurrent state in stream order', async () => {
    const speech = (await speak(SENTENCE)).subarray(0, 256 * 40);
    const audio = concat(speech, speech);
    const whole = await probabilities(audio, 256 * 40, 256 * 40);
    const fresh = await probabilities(speech, 256);
    expect(whole.slice(40)).toEqual(fresh);
    // Without the reset the second half differs (the state carries over).
    const carried = await probabilities(audio, 256 * 40);
    expect(carried.slice(40)).not.toEqual(fresh);
  });
});
