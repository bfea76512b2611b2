import { readFileSync } from 'node:fs';
import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import {
  decodeAlaw,
  decodeAlawSample,
  decodeMulaw,
  decodeMulawSample,
  encodeAlaw,
  encodeAlawSample,
  encodeMulaw,
  encodeMulawSample,
} from '../../streams/audio/g711.js';

// ITU-T G.191 STL vectors; /work/shared sits beside the repo root (CI clones it the same way).
const VECTORS = new URL('../../../shared/reference/itu-g711/', import.meta.url);

/** One vector file: 65,536 little-endian 16-bit words. */
function words(name: string): Int16Array {
  const buf = readFileSync(new URL(name, VECTORS));
  expect(buf.length).toBe(65536 * 2);
  const out = new Int16Array(65536);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}
const lowBytes = (w: Int16Array): Uint8Array => Uint8Array.from(w, (x) => x & 0xff);

const src = words('sweep.src');

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('G.711 against the ITU-T G.191 vectors (all 65,536 inputs)', () => {
  it('sweep.src is every 16-bit value in order', () => {
    for (let i = 0; i < 65536; i++) expect(src[i]).toBe(i - 32768);
  });

  for (const law of [
    { name: 'mu-law', enc: encodeMulaw, dec: decodeMulaw, encS: encodeMulawSample, decS: decodeMulawSample, file: 'sweep-r.u', lib: alawmulaw.mulaw },
    { name: 'A-law', enc: encodeAlaw, dec: decodeAlaw, encS: encodeAlawSample, decS: decodeAlawSample, file: 'sweep-r.a', lib: alawmulaw.alaw },
  ]) {
    describe(law.name, () => {
      const codesRef = lowBytes(words(law.file));
      const decodedRef = words(`${law.file}-${law.file.at(-1)}`);

      it('encode is bit-exact', () => {
        const codes = new Uint8Array(65536);
        expect(law.enc(src, codes)).toBe(65536);
        expect(mismatches(codes, codesRef)).toBe(0);
        for (let i = 0; i < 65536; i += 97) expect(law.encS(src[i])).toBe(codesRef[i]);
      });

      it('decode is bit-exact', () => {
        const pcm = new Int16Array(65536);
        expect(law.dec(codesRef, pcm)).toBe(65536);
        expect(mismatches(pcm, decodedRef)).toBe(0);
        for (let c = 0; c < 256; c++) expect(law.decS(c)).toBe(law.lib.decodeSample(c) | 0); // | 0: the library returns -0 for one code
      });

      it('differs from alawmulaw encode on exactly the 127 boundary inputs (why it is not used)', () => {
        let n = 0;
        // & 0xff: the library's mu-law encoder returns the code unmasked (a negative number).
        for (let i = 0; i < 65536; i++) if ((law.lib.encodeSample(src[i]) & 0xff) !== codesRef[i]) n++;
        expect(n).toBe(127);
      });

      it('re-encoding any decoded value decodes to the same value', () => {
        for (let c = 0; c < 256; c++) {
          const back = law.encS(law.decS(c));
          expect(law.decS(back)).toBe(law.decS(c));
        }
      });

      it('honours n and rejects buffers that are too small', () => {
        const codes = new Uint8Array(4).fill(7);
        expect(law.enc(src, codes, 2)).toBe(2);
        expect(codes[2]).toBe(7);
        expect(() => law.enc(src, codes)).toThrow(RangeError);
        expect(() => law.dec(codes, new Int16Array(2))).toThrow(RangeError);
      });
    });
  }
});
