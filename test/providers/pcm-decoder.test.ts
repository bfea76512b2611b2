import { describe, expect, it } from 'vitest';
import { Pcm16leDecoder } from '../../src/providers/tts/stream.js';
import { knownPcm, pcmBytes } from './fake-tts-servers.js';

/** Decodes `bytes` split at the given chunk sizes (cycled). */
function decodeSplit(bytes: Uint8Array, sizes: number[]): { samples: number[]; decoder: Pcm16leDecoder } {
  const decoder = new Pcm16leDecoder();
  const samples: number[] = [];
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const size = Math.min(sizes[i % sizes.length], bytes.length - off);
    samples.push(...decoder.decode(bytes.subarray(off, off + size)));
    off += size;
  }
  return { samples, decoder };
}

describe('Pcm16leDecoder', () => {
  const pcm = knownPcm(16000);
  const bytes = pcmBytes(pcm);

  it('decodes little-endian signed samples exactly (edge values included)', () => {
    const { samples, decoder } = decodeSplit(bytes, [bytes.length]);
    expect(samples).toEqual(Array.from(pcm));
    expect(samples.slice(0, 4)).toEqual([32767, -32768, -1, 0]);
    expect(decoder.pendingByte).toBe(false);
  });

  it.each([[[1]], [[3]], [[1, 2]], [[5, 1, 7, 2]], [[13, 255, 1]], [[2, 1, 1]]])('carries the odd byte across chunk sizes %j', (sizes) => {
    const { samples, decoder } = decodeSplit(bytes, sizes);
    expect(samples).toEqual(Array.from(pcm));
    expect(decoder.pendingByte).toBe(false);
  });

  it('keeps a trailing half sample pending and yields nothing for an empty chunk', () => {
    const d = new Pcm16leDecoder();
    expect(Array.from(d.decode(Uint8Array.of(0x34)))).toEqual([]);
    expect(d.pendingByte).toBe(true);
    expect(Array.from(d.decode(new Uint8Array(0)))).toEqual([]);
    expect(d.pendingByte).toBe(true);
    expect(Array.from(d.decode(Uint8Array.of(0x12, 0xff)))).toEqual([0x1234]);
    expect(d.pendingByte).toBe(true);
    expect(Array.from(d.decode(Uint8Array.of(0xff)))).toEqual([-1]);
    expect(d.pendingByte).toBe(false);
  });
});
