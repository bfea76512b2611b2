import { afterEach, describe, expect, it } from 'vitest';
import type { Resampler } from '../../streams/audio/resampler.js';
import { createResampler, defaultResamplerQuality } from '../../streams/audio/resampler.js';
import { concat, fitSines, tone } from './signal.js';

const PAIRS: [number, number][] = [
  [8000, 16000],
  [16000, 8000],
  [8000, 24000],
  [24000, 8000],
  [16000, 24000],
  [24000, 16000],
];
const AMPLITUDE = 0.9 * 32767;

const live: Resampler[] = [];
async function make(inputRateHz: number, outputRateHz: number, quality?: number): Promise<Resampler> {
  const r = await createResampler({ inputRateHz, outputRateHz, quality });
  live.push(r);
  return r;
}
afterEach(() => {
  for (const r of live.splice(0)) r.destroy();
});

/** Feeds x in chunks whose sizes cycle through `sizes`; returns a copy of all output. */
function feed(r: Resampler, x: Int16Array, sizes: number[]): Int16Array {
  const parts: Int16Array[] = [];
  for (let i = 0, k = 0; i < x.length; k++) {
    const n = sizes[k % sizes.length];
    parts.push(r.process(x.subarray(i, i + n)).slice());
    i += n;
  }
  return concat(parts);
}

/** Deterministic broadband test signal: LCG noise plus a sweep, so every filter tap matters. */
function testSignal(samples: number, rateHz: number): Int16Array {
  const out = new Int16Array(samples);
  let seed = 12345;
  for (let i = 0; i < samples; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const noise = (seed / 2 ** 32 - 0.5) * 12000;
    const t = i / rateHz;
    out[i] = Math.round(noise + 15000 * Math.sin(2 * Math.PI * (200 + 1500 * t) * t));
  }
  return out;
}

const key = (i: number, o: number): string => `${i / 1000}k -> ${o / 1000}k`;

describe('resampler: 1 kHz tone quality in 20 ms chunks', () => {
  for (const [inHz, outHz] of PAIRS) {
    it(`${key(inHz, outHz)} (q${defaultResamplerQuality(inHz, outHz)}): SNR >= 90 dB, continuous across chunk boundaries`, async () => {
      const r = await make(inHz, outHz);
      const chunk = inHz / 50;
      const y = feed(r, tone(inHz, inHz, 1000, AMPLITUDE), [chunk]);
      expect(y.length).toBe(outHz); // 1 s in, 1 s out (delay included)
      // Skip the filter delay and the ramp-up while the filter fills (another delay's worth).
      const start = 3 * r.outputDelaySamples;
      const fit = fitSines(y, start, y.length, outHz, [1000]);
      const snrDb = 10 * Math.log10(fit.amplitudes[0] ** 2 / 2 / fit.residualPower);
      expect(snrDb).toBeGreaterThanOrEqual(90);
      expect(Math.abs(20 * Math.log10(fit.amplitudes[0] / AMPLITUDE))).toBeLessThan(0.5);
      // Continuity: at every chunk boundary the output stays on the ideal sine to within a few LSB,
      // exactly like the samples inside a chunk (a stateless resampler jumps by thousands here).
      const outChunk = outHz / 50;
      let worstBoundary = 0;
      let worstAll = 0;
      for (let i = start; i < y.length; i++) {
        const e = Math.abs(y[i] - fit.evaluate(i));
        worstAll = Math.max(worstAll, e);
        if (i % outChunk === 0 || i % outChunk === outChunk - 1) worstBoundary = Math.max(worstBoundary, e);
      }
      expect(worstAll).toBeLessThan(4);
      expect(worstBoundary).toBeLessThanOrEqual(worstAll);
    });
  }
});

describe('resampler: chunked vs whole', () => {
  for (const [inHz, outHz] of PAIRS) {
    it(`${key(inHz, outHz)}: bit-identical for 20 ms chunks, odd chunks and one whole buffer, flush included`, async () => {
      const x = testSignal(inHz, inHz); // 1 s
      const whole = await make(inHz, outHz);
      const ref = concat([whole.process(x).slice(), whole.flush().slice()]);
      const framed = await make(inHz, outHz);
      const a = concat([feed(framed, x, [inHz / 50]), framed.flush().slice()]);
      const odd = await make(inHz, outHz);
      const b = concat([feed(odd, x, [1, 7, 159, 321, 1000]), odd.flush().slice()]);
      expect(a.length).toBe(ref.length);
      expect(b.length).toBe(ref.length);
      expect(Buffer.from(a.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      expect(Buffer.from(b.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      // Everything comes out: 1 s of output plus the delayed tail.
      expect(Math.abs(ref.length - (outHz + whole.outputDelaySamples))).toBeLessThanOrEqual(1);
    });
  }
});

describe('resampler: API', () => {
  it('identity passes samples through unchanged', async () => {
    const r = await make(16000, 16000);
    expect(r.outputDelaySamples).toBe(0);
    const x = testSignal(320, 16000);
    const y = r.process(x);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(r.flush().length).toBe(0);
  });

  it('returns the same preallocated view for same-size frames', async () => {
    const r = await make(8000, 24000);
    const frame = testSignal(160, 8000);
    const first = r.process(frame);
    expect(first.length).toBe(480);
    expect(r.process(frame)).toBe(first);
  });

  it('processInto writes into a caller array and checks its size', async () => {
    const r = await make(24000, 8000);
    const ref = await make(24000, 8000);
    const x = testSignal(480, 24000);
    const out = new Int16Array(r.maxOutputSamples(480));
    const n = r.processInto(x, out);
    expect(n).toBe(160);
    expect(Array.from(out.subarray(0, n))).toEqual(Array.from(ref.process(x)));
    expect(() => r.processInto(x, new Int16Array(10))).toThrow(RangeError);
  });

  it('handles chunks larger than maxInputSamples by growing once', async () => {
    const small = await createResampler({ inputRateHz: 8000, outputRateHz: 16000, maxInputSamples: 160 });
    live.push(small);
    const big = await make(8000, 16000);
    const x = testSignal(8000, 8000);
    expect(Array.from(small.process(x))).toEqual(Array.from(big.process(x)));
  });

  it('reset() drops the history', async () => {
    const r = await make(8000, 16000);
    const fresh = await make(8000, 16000);
    const x = testSignal(160, 8000);
    r.process(testSignal(1600, 8000));
    r.reset();
    expect(Array.from(r.process(x))).toEqual(Array.from(fresh.process(x)));
  });

  it('uses the measured default qualities', () => {
    expect(defaultResamplerQuality(8000, 16000)).toBe(3);
    expect(defaultResamplerQuality(8000, 24000)).toBe(3);
    expect(defaultResamplerQuality(24000, 8000)).toBe(4);
  });

  it('rejects bad options and use after destroy', async () => {
    await expect(createResampler({ inputRateHz: 8000.5, outputRateHz: 16000 })).rejects.toThrow(RangeError);
    await expect(createResampler({ inputRateHz: 8000, outputRateHz: 16000, quality: 11 })).rejects.toThrow(/quality/);
    const r = await createResampler({ inputRateHz: 8000, outputRateHz: 16000 });
    r.destroy();
    r.destroy(); // idempotent
    expect(() => r.process(new Int16Array(160))).toThrow(/after destroy/);
  });
});
