/**
 * WAV (RIFF) reading and writing for test fixtures, recordings and benches; not the hot path.
 *
 * Reads 16-bit PCM (format 1, or WAVE_FORMAT_EXTENSIBLE with a PCM sub-format) and 8-bit G.711
 * (format 7 mu-law, format 6 A-law), any channel count, downmixed to mono Int16. Writes 16-bit PCM
 * mono. Anything else is rejected with a {@link WavError} that says what was found.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE } from './g711.js';

/** A malformed or unsupported WAV file. */
export class WavError extends Error {
  constructor(message: string) {
    super(`wav: ${message}`);
    this.name = 'WavError';
  }
}

/** Sample encodings {@link readWav} accepts. */
export type WavEncoding = 'pcm16' | 'mulaw' | 'alaw';

/** A decoded WAV file. */
export interface WavAudio {
  sampleRateHz: number;
  /** Channel count in the file (the samples are already downmixed to mono). */
  channels: number;
  /** Encoding in the file. */
  encoding: WavEncoding;
  /** Mono samples (channels averaged). */
  samples: Int16Array;
}

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

function fourcc(buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at], buf[at + 1], buf[at + 2], buf[at + 3]);
}

/** Parses a WAV file held in memory. Throws {@link WavError} on anything it cannot decode. */
export function readWav(buf: Uint8Array): WavAudio {
  if (buf.byteLength < 12) throw new WavError(`file too short (${buf.byteLength} bytes) for a RIFF header`);
  if (fourcc(buf, 0) !== 'RIFF' || fourcc(buf, 8) !== 'WAVE') {
    throw new WavError(`not a RIFF/WAVE file (starts with "${fourcc(buf, 0)}"…"${fourcc(buf, 8)}")`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let fmt: { format: number; channels: number; sampleRateHz: number; blockAlign: number; bits: number } | undefined;
  let dataAt = -1;
  let dataLen = 0;
  let at = 12;
  while (at + 8 <= buf.byteLength) {
    const id = fourcc(buf, at);
    const size = dv.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.byteLength) throw new WavError(`"fmt " chunk too short (${size} bytes)`);
      let format = dv.getUint16(body, true);
      if (format === FORMAT_EXTENSIBLE) {
        // WAVE_FORMAT_EXTENSIBLE: the real format is the first 2 bytes of the sub-format GUID at +24.
        if (size < 40 || body + 26 > buf.byteLength) throw new WavError('WAVE_FORMAT_EXTENSIBLE "fmt " chunk too short');
        format = dv.getUint16(body + 24, true);
      }
      fmt = {
        format,
        channels: dv.getUint16(body + 2, true),
        sampleRateHz: dv.getUint32(body + 4, true),
        blockAlign: dv.getUint16(body + 12, true),
        bits: dv.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      dataAt = body;
      // Streamed WAVs often leave the size at 0 or 0xffffffff; take what is actually there.
      dataLen = Math.min(size, buf.byteLength - body);
      if (fmt) break;
    }
    at = body + size + (size & 1); // chunks are padded to an even size
  }
  if (!fmt) throw new WavError('no "fmt " chunk');
  if (dataAt < 0) throw new WavError('no "data" chunk');
  const { format, channels, sampleRateHz, bits } = fmt;
  if (channels < 1) throw new WavError(`invalid channel count ${channels}`);
  if (sampleRateHz < 1) throw new WavError(`invalid sample rate ${sampleRateHz}`);
  let encoding: WavEncoding;
  let bytesPerSample: number;
  if (format === FORMAT_PCM && bits === 16) {
    encoding = 'pcm16';
    bytesPerSample = 2;
  } else if ((format === FORMAT_MULAW || format === FORMAT_ALAW) && bits === 8) {
    encoding = format === FORMAT_MULAW ? 'mulaw' : 'alaw';
    bytesPerSample = 1;
  } else {
    throw new WavError(
      `unsupported encoding: format ${format}, ${bits} bits (supported: PCM 16-bit, mu-law 8-bit (7), A-law 8-bit (6))`,
    );
  }
  if (fmt.blockAlign !== channels * bytesPerSample) {
    throw new WavError(`block align ${fmt.blockAlign} does not match ${channels} channel(s) x ${bytesPerSample} byte(s)`);
  }
  const frames = Math.floor(dataLen / fmt.blockAlign); // a trailing partial frame is dropped
  const samples = new Int16Array(frames);
  const table = encoding === 'mulaw' ? MULAW_DECODE_TABLE : ALAW_DECODE_TABLE;
  for (let f = 0, p = dataAt; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, p += bytesPerSample) {
      sum += bytesPerSample === 2 ? dv.getInt16(p, true) : table[buf[p]];
    }
    samples[f] = channels === 1 ? sum : Math.round(sum / channels);
  }
  return { sampleRateHz, channels, encoding, samples };
}

/** Encodes mono 16-bit PCM as a WAV file (44-byte header). */
export function writeWav(samples: Int16Array, sampleRateHz: number): Buffer {
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1) throw new WavError(`invalid sample rate ${sampleRateHz}`);
  const dataLen = samples.length * 2;
  const out = Buffer.alloc(44 + dataLen);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataLen, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FORMAT_PCM, 20);
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRateHz, 24);
  out.writeUInt32LE(sampleRateHz * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataLen, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], 44 + i * 2);
  return out;
}

/** Reads and parses a WAV file from disk. */
export async function readWavFile(path: string): Promise<WavAudio> {
  return readWav(await readFile(path));
}

/** Writes mono 16-bit PCM to a WAV file on disk. */
export async function writeWavFile(path: string, samples: Int16Array, sampleRateHz: number): Promise<void> {
  await writeFile(path, writeWav(samples, sampleRateHz));
}
