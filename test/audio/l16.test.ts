import { describe, expect, it } from 'vitest';
import {
  HOST_IS_LITTLE_ENDIAN,
  int16AsL16Le,
  int16ToL16Be,
  int16ToL16Le,
  l16BeToInt16,
  l16LeAsInt16,
  l16LeToInt16,
  swapL16InPlace,
  viewL16Le,
} from '../../streams/audio/l16.js';

const samples = Int16Array.from([0, 1, -1, 32767, -32768, 0x1234, -0x1234, 255, -256]);
const le = Buffer.alloc(samples.length * 2);
samples.forEach((s, i) => le.writeInt16LE(s, i * 2));
const be = Buffer.alloc(samples.length * 2);
samples.forEach((s, i) => be.writeInt16BE(s, i * 2));

describe('L16', () => {
  it('runs on a little-endian host (zero-copy paths are live)', () => {
    expect(HOST_IS_LITTLE_ENDIAN).toBe(true);
  });

  it('views aligned little-endian bytes without copying', () => {
    const bytes = new Uint8Array(le.length + 2);
    bytes.set(le, 2);
    const aligned = bytes.subarray(2);
    const view = viewL16Le(aligned);
    expect(view).toBeDefined();
    expect(Array.from(view!)).toEqual(Array.from(samples));
    aligned[0] = 5; // same memory
    expect(view![0]).toBe(5);
  });

  it('copies unaligned little-endian bytes into the scratch array', () => {
    const bytes = new Uint8Array(le.length + 1);
    bytes.set(le, 1);
    const odd = bytes.subarray(1);
    expect(viewL16Le(odd)).toBeUndefined();
    const scratch = new Int16Array(samples.length);
    const out = l16LeAsInt16(odd, scratch);
    expect(out).toBe(scratch);
    expect(Array.from(out)).toEqual(Array.from(samples));
    const dst = new Int16Array(20);
    expect(l16LeToInt16(odd, dst)).toBe(samples.length);
    expect(Array.from(dst.subarray(0, samples.length))).toEqual(Array.from(samples));
  });

  it('round-trips little-endian and big-endian', () => {
    const outLe = new Uint8Array(le.length);
    expect(int16ToL16Le(samples, outLe)).toBe(le.length);
    expect(Buffer.from(outLe).equals(le)).toBe(true);
    const outBe = new Uint8Array(be.length);
    expect(int16ToL16Be(samples, outBe)).toBe(be.length);
    expect(Buffer.from(outBe).equals(be)).toBe(true);
    const back = new Int16Array(samples.length);
    expect(l16BeToInt16(be, back)).toBe(samples.length);
    expect(Array.from(back)).toEqual(Array.from(samples));
  });

  it('exposes Int16 samples as little-endian bytes without copying', () => {
    const copy = samples.slice();
    const bytes = int16AsL16Le(copy);
    expect(bytes.equals(le)).toBe(true);
    copy[0] = 0x0102;
    expect(bytes[0]).toBe(0x02);
  });

  it('swaps byte order in place', () => {
    const b = Buffer.from(le);
    swapL16InPlace(b);
    expect(b.equals(be)).toBe(true);
  });

  it('rejects odd byte lengths and short destinations', () => {
    expect(() => viewL16Le(new Uint8Array(3))).toThrow(/odd byte length/);
    expect(() => l16LeToInt16(new Uint8Array(8), new Int16Array(3))).toThrow(RangeError);
    expect(() => int16ToL16Be(samples, new Uint8Array(4))).toThrow(RangeError);
  });
});
