import { describe, expect, it } from 'vitest';
import { Framer, createByteFramer } from '../../streams/audio/framer.js';
import { concat } from './signal.js';

function ramp(n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => ((i * 7919) % 65536) - 32768);
}

function pushInChunks<T extends Int16Array | Uint8Array>(f: Framer<T>, x: T, sizes: number[]): void {
  for (let i = 0, k = 0; i < x.length; k++) {
    const n = sizes[k % sizes.length];
    f.push(x.subarray(i, i + n) as T);
    i += n;
  }
}

describe('Framer', () => {
  const input = ramp(16000 + 37);

  for (const sizes of [[1], [7], [159], [321], [1000], [1, 7, 159, 321, 1000]]) {
    it(`callback mode, chunks of ${sizes.join('/')}: frames reproduce the input exactly`, () => {
      const frames: Int16Array[] = [];
      const f = new Framer({ sampleRateHz: 8000, frameMs: 20 }, (frame) => {
        expect(frame.length).toBe(160);
        frames.push(frame.slice());
      });
      pushInChunks(f, input, sizes);
      const whole = Math.floor(input.length / 160);
      expect(frames.length).toBe(whole);
      expect(Array.from(concat(frames))).toEqual(Array.from(input.subarray(0, whole * 160)));
      expect(f.bufferedSamples).toBe(input.length - whole * 160);
      // flush pads the remainder with silence to one last full frame
      frames.length = 0;
      f.flush();
      expect(frames.length).toBe(1);
      expect(Array.from(frames[0].subarray(0, 37))).toEqual(Array.from(input.subarray(whole * 160)));
      expect(frames[0].subarray(37).every((s) => s === 0)).toBe(true);
    });
  }

  it('pull mode: nextFrame() and frames() hand out one preallocated frame', () => {
    const f = new Framer({ sampleRateHz: 16000 }); // 320-sample frames
    const out: Int16Array[] = [];
    let same: Int16Array | undefined;
    for (let i = 0; i < input.length; i += 1000) {
      f.push(input.subarray(i, i + 1000));
      for (const frame of f.frames()) {
        same ??= frame;
        expect(frame).toBe(same);
        out.push(frame.slice());
      }
    }
    expect(f.nextFrame()).toBeUndefined();
    const n = Math.floor(input.length / 320) * 320;
    expect(Array.from(concat(out))).toEqual(Array.from(input.subarray(0, n)));
  });

  it('pull mode grows the ring when the consumer lags', () => {
    const f = new Framer({ sampleRateHz: 8000, capacitySamples: 320 });
    f.push(input.subarray(0, 5000)); // far beyond 320
    expect(f.push(input.subarray(5000, 5003))).toBe(Math.floor(5003 / 160));
    const out: Int16Array[] = [];
    let frame: Int16Array | undefined;
    while ((frame = f.nextFrame())) out.push(frame.slice());
    expect(Array.from(concat(out))).toEqual(Array.from(input.subarray(0, out.length * 160)));
  });

  it('frames bytes (G.711 pass-through) and 24 kHz PCM', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const got: number[] = [];
    const bf = createByteFramer({ sampleRateHz: 8000 }, (frame) => {
      expect(frame).toBeInstanceOf(Uint8Array);
      got.push(...frame);
    });
    pushInChunks(bf, bytes, [33, 170]);
    expect(got).toEqual(Array.from(bytes.subarray(0, 960)));
    expect(new Framer({ sampleRateHz: 24000 }).frameSamples).toBe(480);
  });

  it('clear() drops buffered samples; bad configs throw', () => {
    const f = new Framer({ sampleRateHz: 8000 });
    f.push(input.subarray(0, 100));
    f.clear();
    expect(f.bufferedSamples).toBe(0);
    expect(f.flush()).toBeUndefined();
    expect(() => new Framer({ sampleRateHz: 11025, frameMs: 20 })).toThrow(/whole number/);
  });
});
