/**
 * The echo gate on espeak-ng speech: our voice as the reference, played back on the caller's side
 * as line echo (attenuated, delayed, a little smeared, on line noise), versus a caller talking
 * over us. Each case also runs the real VAD on what the gate lets through, as the pipeline does
 * (echo frames become silence), since that is what matters: our echo must never start speech,
 * the caller must.
 */
import { describe, expect, it } from 'vitest';
import { EchoGate, VoiceActivityDetector } from '../../streams/agents/pipeline/vad/index.js';
import type { EchoGateOptions } from '../../streams/agents/pipeline/vad/index.js';
import { FRAME_SAMPLES, concat, frames, hasEspeak, mix, rmsDbfs, roomTone, scale, silence, speak } from '../helpers/speech.js';

const OURS_TEXT = 'Thank you for calling. How can I help you today? We are open from nine to five.';
const CALLER_TEXT = 'Could you please tell me the opening hours';

/** A telephone-ish echo path: a short smear (3 taps), so the echo is not a bit-exact copy. */
function linePath(x: Int16Array): Int16Array {
  const y = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = 0.7 * x[i] + 0.35 * (i >= 1 ? x[i - 1] : 0) + 0.15 * (i >= 3 ? x[i - 3] : 0);
    y[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return y;
}

/** Our audio at `lossDb` after `delayMs`, through the line path, on -65 dBFS line noise. */
function echoOf(ours: Int16Array, lossDb: number, delayMs: number): Int16Array {
  const echo = concat(silence(delayMs), linePath(scale(ours, lossDb)));
  return mix(roomTone((echo.length * 1000) / 8000, -65, 21), echo);
}

interface GateRun {
  /** Per inbound frame: echo verdict, and its level. */
  echo: boolean[];
  levelDbfs: number[];
  vadStarts: number[];
  ungatedVadStarts: number[];
}

/**
 * Plays `ours` as the reference (none when null) while `inbound` comes in, one tick per 20 ms
 * frame: reference() first, then isEcho(), as the pipeline calls them.
 */
async function runGate(
  ours: Int16Array | null,
  inbound: Int16Array,
  referenceSilence = true,
  options: EchoGateOptions = {},
): Promise<GateRun> {
  const gate = new EchoGate(options);
  const vad = new VoiceActivityDetector();
  const ungated = new VoiceActivityDetector();
  const run: GateRun = { echo: [], levelDbfs: [], vadStarts: [], ungatedVadStarts: [] };
  vad.onSpeechStart((e) => run.vadStarts.push(e.atMs));
  ungated.onSpeechStart((e) => run.ungatedVadStarts.push(e.atMs));
  const ref = new Int16Array(FRAME_SAMPLES);
  const zero = new Int16Array(FRAME_SAMPLES);
  let tick = 0;
  for (const f of frames(inbound)) {
    const at = tick * FRAME_SAMPLES;
    if (ours && at < ours.length) {
      ref.fill(0);
      ref.set(ours.subarray(at, Math.min(at + FRAME_SAMPLES, ours.length)));
      gate.reference(ref);
    } else if (referenceSilence) gate.reference(zero);
    const echo = gate.isEcho(f);
    run.echo.push(echo);
    run.levelDbfs.push(rmsDbfs(f));
    vad.push(echo ? zero : f);
    ungated.push(f);
    tick++;
  }
  await Promise.all([vad.flush(), ungated.flush()]);
  vad.close();
  ungated.close();
  expect(gate.framesChecked).toBe(tick);
  expect(gate.framesEcho).toBe(run.echo.filter(Boolean).length);
  return run;
}

/** Frame indices where `caller` (placed at `offsetSamples` in the inbound) is voiced. */
function voicedFrames(caller: Int16Array, offsetSamples: number, thresholdDbfs = -40): number[] {
  const out: number[] = [];
  for (let at = 0; at + FRAME_SAMPLES <= caller.length; at += FRAME_SAMPLES) {
    if ((at + offsetSamples) % FRAME_SAMPLES !== 0) throw new Error('offset must be whole frames');
    if (rmsDbfs(caller, at, at + FRAME_SAMPLES) > thresholdDbfs) out.push((at + offsetSamples) / FRAME_SAMPLES);
  }
  return out;
}

function notEchoShare(run: GateRun, idx: number[]): number {
  return idx.filter((i) => !run.echo[i]).length / idx.length;
}

describe.skipIf(!hasEspeak())('EchoGate on espeak-ng speech', () => {
  const lossesDb = [-10, -15, -20];
  const delaysMs = [0, 100, 250];
  const cases = lossesDb.flatMap((loss) => delaysMs.map((delay) => [loss, delay] as const));

  it.each(cases)('our voice echoed at %d dB after %d ms is echo, and starts no speech', async (lossDb, delayMs) => {
    const ours = concat(silence(500), await speak(OURS_TEXT), silence(800));
    const run = await runGate(ours, echoOf(ours, lossDb, delayMs));
    const withEnergy = run.levelDbfs.map((l, i) => [l, i] as const).filter(([l]) => l > -55);
    expect(withEnergy.length).toBeGreaterThan(100);
    const echoShare = withEnergy.filter(([, i]) => run.echo[i]).length / withEnergy.length;
    expect(echoShare).toBeGreaterThanOrEqual(0.97);
    expect(run.vadStarts).toEqual([]);
    // Control: without the gate this echo is loud enough to be taken for the caller.
    expect(run.ungatedVadStarts.length).toBeGreaterThan(0);
  });

  it.each([0, -6])('a caller (another voice and text) talking over us at %d dB is not echo', async (levelDb) => {
    const ours = concat(silence(300), await speak(OURS_TEXT), silence(800));
    const caller = scale(await speak(CALLER_TEXT, { voice: 'en+f3' }), levelDb);
    const offset = 40 * FRAME_SAMPLES; // starts 800 ms into our speech
    const inbound = mix(roomTone((ours.length * 1000) / 8000, -65, 9), caller, offset);
    const run = await runGate(ours, inbound);
    const voiced = voicedFrames(caller, offset);
    expect(voiced.length).toBeGreaterThan(40);
    expect(notEchoShare(run, voiced)).toBeGreaterThan(0.6);
    // What passes is enough for the VAD to hear the caller (a barge-in), after they started.
    expect(run.vadStarts.length).toBeGreaterThan(0);
    expect(run.vadStarts[0]).toBeGreaterThan((offset * 1000) / 8000);
  });

  it('double talk (the caller plus our echo) is not echo', async () => {
    const ours = concat(silence(300), await speak(OURS_TEXT), silence(800));
    const caller = await speak(CALLER_TEXT, { voice: 'en+f3' });
    const offset = 40 * FRAME_SAMPLES;
    const inbound = mix(echoOf(ours, -15, 100), caller, offset);
    const run = await runGate(ours, inbound);
    const voiced = voicedFrames(caller, offset);
    expect(notEchoShare(run, voiced)).toBeGreaterThan(0.6);
    // Before the caller starts it is all echo: the VAD's first start is the caller's.
    expect(run.vadStarts.length).toBeGreaterThan(0);
    expect(run.vadStarts[0]).toBeGreaterThan((offset * 1000) / 8000);
    // Our echo alone, before the caller, was gated.
    const before = run.echo.slice(20, 40).filter((e, i) => e || run.levelDbfs[20 + i] < -55).length;
    expect(before).toBeGreaterThanOrEqual(18);
  });

  it.each([true, false])('with no reference nothing is echo (silence given as reference: %s)', async (referenceSilence) => {
    const caller = await speak(CALLER_TEXT, { voice: 'en+f3' });
    const inbound = mix(roomTone(3500, -65, 4), concat(silence(500), caller));
    const run = await runGate(null, inbound, referenceSilence);
    expect(run.echo.length).toBeGreaterThan(100);
    expect(run.echo.filter(Boolean)).toEqual([]);
    expect(run.vadStarts.length).toBe(1);
  });

  it('a copy of our voice less than minEchoLossDb below it is mostly not echo (too loud for a line echo)', async () => {
    const ours = concat(silence(300), await speak(OURS_TEXT), silence(500));
    const inbound = echoOf(ours, -2, 100);
    const share = (run: GateRun): number => {
      const loud = run.levelDbfs.map((l, i) => [l, i] as const).filter(([l]) => l > -55);
      return loud.filter(([, i]) => run.echo[i]).length / loud.length;
    };
    // Same envelope, but 2 dB down is less than the default least loss of 6 dB (frames on a decay
    // still pass as echo: the level is compared with the louder of two neighbouring ticks)...
    expect(share(await runGate(ours, inbound))).toBeLessThan(0.4);
    // ...and more than a least loss of 1 dB.
    expect(share(await runGate(ours, inbound, true, { minEchoLossDb: 1 }))).toBeGreaterThan(0.8);
  });

  it('once we have been quiet longer than the echo lag window, nothing is echo', async () => {
    const ours = concat(await speak(OURS_TEXT), silence(500));
    const caller = await speak(CALLER_TEXT, { voice: 'en+f3' });
    const offset = Math.ceil(ours.length / FRAME_SAMPLES) * FRAME_SAMPLES;
    // The caller (quietly, 20 dB down: level alone would call it echo) right after the 500 ms pause.
    const inbound = mix(echoOf(ours, -15, 100), scale(caller, -20), offset);
    const run = await runGate(ours, inbound);
    const after = run.echo.slice(offset / FRAME_SAMPLES);
    expect(after.length).toBeGreaterThan(50);
    expect(after.filter(Boolean)).toEqual([]);
    // ...while during our speech the echo was gated.
    expect(run.echo.slice(0, offset / FRAME_SAMPLES).filter(Boolean).length).toBeGreaterThan(50);
  });
});
