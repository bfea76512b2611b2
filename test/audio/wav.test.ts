import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE, encodeAlaw, encodeMulaw } from '../../streams/audio/g711.js';
import { WavError, readWav, readWavFile, writeWav, writeWavFile } from '../../streams/audio/wav.js';

interface Spec {
  format: number;
  channels: number;
  rateHz: number;
  bits: number;
  data: Uint8Array;
  extensible?: boolean;
  extraChunk?: boolean;
}

/** Builds a WAV file by hand, independently of writeWav. */
function buildWav(s: Spec): Buffer {
  const bytesPerSample = s.bits / 8;
  const fmtLen = s.extensible ? 40 : 16;
  const fmt = Buffer.alloc(8 + fmtLen);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(fmtLen, 4);
  fmt.writeUInt16LE(s.extensible ? 0xfffe : s.format, 8);
  fmt.writeUInt16LE(s.channels, 10);
  fmt.writeUInt32LE(s.rateHz, 12);
  fmt.writeUInt32LE(s.rateHz * s.channels * bytesPerSample, 16);
  fmt.writeUInt16LE(s.channels * bytesPerSample, 20);
  fmt.writeUInt16LE(s.bits, 22);
  if (s.extensible) {
    fmt.writeUInt16LE(22, 24);
    fmt.writeUInt16LE(s.bits, 26);
    fmt.writeUInt16LE(s.format, 32); // sub-format GUID starts with the format code
  }
  const extra = s.extraChunk ? Buffer.from('LIST\x03\x00\x00\x00abc\x00', 'latin1') : Buffer.alloc(0); // odd size + pad byte
  const dataHdr = Buffer.alloc(8);
  dataHdr.write('data', 0, 'latin1');
  dataHdr.writeUInt32LE(s.data.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), extra, fmt, dataHdr, s.data]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

const pcm = Int16Array.from({ length: 400 }, (_, i) => Math.round(20000 * Math.sin(i / 7)));

describe('WAV', () => {
  it('round-trips 16-bit mono PCM', () => {
    const file = writeWav(pcm, 16000);
    expect(file.length).toBe(44 + pcm.length * 2);
    const wav = readWav(file);
    expect(wav).toMatchObject({ sampleRateHz: 16000, channels: 1, encoding: 'pcm16' });
    expect(Array.from(wav.samples)).toEqual(Array.from(pcm));
  });

  it('round-trips through files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wav-test-'));
    try {
      const path = join(dir, 'a.wav');
      await writeWavFile(path, pcm, 8000);
      const wav = await readWavFile(path);
      expect(wav.sampleRateHz).toBe(8000);
      expect(Array.from(wav.samples)).toEqual(Array.from(pcm));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('downmixes stereo to mono, skipping unknown chunks', () => {
    const data = Buffer.alloc(4 * 3);
    const frames = [
      [1000, 3000],
      [-2000, -4001],
      [32767, 32767],
    ];
    frames.forEach(([l, r], i) => {
      data.writeInt16LE(l, i * 4);
      data.writeInt16LE(r, i * 4 + 2);
    });
    const wav = readWav(buildWav({ format: 1, channels: 2, rateHz: 24000, bits: 16, data, extraChunk: true }));
    expect(wav.channels).toBe(2);
    expect(Array.from(wav.samples)).toEqual([2000, -3000, 32767]);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE PCM', () => {
    const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    const wav = readWav(buildWav({ format: 1, channels: 1, rateHz: 8000, bits: 16, data, extensible: true }));
    expect(Array.from(wav.samples)).toEqual(Array.from(pcm));
  });

  it('decodes 8-bit mu-law (format 7) and A-law (format 6) to Int16', () => {
    const mu = new Uint8Array(pcm.length);
    encodeMulaw(pcm, mu);
    const a = new Uint8Array(pcm.length);
    encodeAlaw(pcm, a);
    const wu = readWav(buildWav({ format: 7, channels: 1, rateHz: 8000, bits: 8, data: mu }));
    const wa = readWav(buildWav({ format: 6, channels: 1, rateHz: 8000, bits: 8, data: a }));
    expect(wu.encoding).toBe('mulaw');
    expect(wa.encoding).toBe('alaw');
    expect(Array.from(wu.samples)).toEqual(Array.from(mu, (c) => MULAW_DECODE_TABLE[c]));
    expect(Array.from(wa.samples)).toEqual(Array.from(a, (c) => ALAW_DECODE_TABLE[c]));
  });

  it('tolerates a streamed data size (0xffffffff) and a trailing partial frame', () => {
    const file = Buffer.concat([writeWav(pcm.subarray(0, 10), 8000), Buffer.from([1])]);
    file.writeUInt32LE(0xffffffff, 40);
    expect(readWav(file).samples.length).toBe(10);
  });

  it.each([
    ['empty', Buffer.alloc(0), /too short/],
    ['not RIFF', Buffer.from('RIFX\0\0\0\0WAVEfmt '), /not a RIFF\/WAVE file/],
    ['no fmt', Buffer.from('RIFF\x0c\0\0\0WAVEdata\0\0\0\0', 'latin1'), /no "fmt " chunk/],
    ['no data', writeWav(pcm, 8000).subarray(0, 36), /no "data" chunk/],
    ['8-bit PCM', buildWav({ format: 1, channels: 1, rateHz: 8000, bits: 8, data: new Uint8Array(4) }), /unsupported encoding: format 1, 8 bits/],
    ['float', buildWav({ format: 3, channels: 1, rateHz: 8000, bits: 32, data: new Uint8Array(8) }), /unsupported encoding: format 3, 32 bits/],
    ['truncated fmt', Buffer.from('RIFF\x14\0\0\0WAVEfmt \x10\0\0\0\x01\0', 'latin1'), /"fmt " chunk too short/],
  ])('rejects a bad file (%s) with a clear WavError', (_name, buf, message) => {
    expect(() => readWav(buf)).toThrow(WavError);
    expect(() => readWav(buf)).toThrow(message);
  });

  it('rejects an invalid sample rate on write', () => {
    expect(() => writeWav(pcm, 0)).toThrow(WavError);
  });
});
