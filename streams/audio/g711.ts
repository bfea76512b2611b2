/**
 * G.711 mu-law and A-law through lookup tables built once at module load.
 *
 * Why tables: a 256-entry decode table and a 65,536-entry encode table turn each sample into one
 * indexed load, which is an order of magnitude cheaper than calling a codec function per sample
 * (see BENCHMARKS.md), and the tables cost 128 KiB + 1 KiB of memory for the whole process.
 *
 * Bit-exactness:
 * - Decode tables come from `alawmulaw`, whose decoders match the ITU-T G.191 vectors on all codes.
 * - Encode tables are built from the G.711 rule exactly as the ITU-T G.191 STL reference
 *   (`g711.c`: `ulaw_compress` / `alaw_compress`) implements it. `alawmulaw`'s encoders differ from
 *   the reference on 127 negative inputs per law (segment boundaries, one code step apart), so they
 *   are not used for encoding.
 *
 * Encode tables are indexed by `sample & 0xffff` (the 16-bit two's-complement bit pattern), which
 * is the same as `sample + 32768` rotated by half the table; `& 0xffff` needs no bounds branch.
 */
import alawmulaw from 'alawmulaw';

/** mu-law code -> linear 16-bit sample. */
export const MULAW_DECODE_TABLE: Int16Array = new Int16Array(256);
/** A-law code -> linear 16-bit sample. */
export const ALAW_DECODE_TABLE: Int16Array = new Int16Array(256);
/** (linear sample & 0xffff) -> mu-law code. */
export const MULAW_ENCODE_TABLE: Uint8Array = new Uint8Array(65536);
/** (linear sample & 0xffff) -> A-law code. */
export const ALAW_ENCODE_TABLE: Uint8Array = new Uint8Array(65536);

/**
 * Reference mu-law compression of one 16-bit sample (ITU-T G.191 `ulaw_compress`).
 * Works on the 14-bit magnitude (`>> 2`); negative inputs use the one's complement (`~x`), which
 * is what puts the segment decision boundaries where the reference has them.
 */
function ulawCompressReference(sample: number): number {
  // 33 is the bias that turns the A-law style segment thresholds into mu-law ones.
  let absno = (sample < 0 ? ~sample >> 2 : sample >> 2) + 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  const highNibble = 0x08 - segno;
  const lowNibble = 0x0f - ((absno >> segno) & 0x0f);
  let code = (highNibble << 4) | lowNibble;
  if (sample >= 0) code |= 0x80;
  return code;
}

/**
 * Reference A-law compression of one 16-bit sample (ITU-T G.191 `alaw_compress`).
 * Works on the magnitude of the 13-bit signed sample (sign + 12 bits, i.e. `>> 4` of the 16-bit
 * input, 0..2047 after the one's complement of negatives), then toggles the even bits (0x55).
 */
function alawCompressReference(sample: number): number {
  let ix = sample < 0 ? ~sample >> 4 : sample >> 4;
  if (ix > 15) {
    let iexp = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      iexp++;
    }
    ix -= 16; // drop the implicit leading one of the mantissa
    ix += iexp << 4;
  }
  if (sample >= 0) ix |= 0x80;
  return ix ^ 0x55;
}

// Built once at module load; everything below is read-only afterwards.
for (let code = 0; code < 256; code++) {
  MULAW_DECODE_TABLE[code] = alawmulaw.mulaw.decodeSample(code);
  ALAW_DECODE_TABLE[code] = alawmulaw.alaw.decodeSample(code);
}
for (let sample = -32768; sample <= 32767; sample++) {
  MULAW_ENCODE_TABLE[sample & 0xffff] = ulawCompressReference(sample);
  ALAW_ENCODE_TABLE[sample & 0xffff] = alawCompressReference(sample);
}

/** Encodes one linear 16-bit sample (any integer in -32768..32767) to a mu-law code. */
export function encodeMulawSample(sample: number): number {
  return MULAW_ENCODE_TABLE[sample & 0xffff];
}

/** Decodes one mu-law code (0..255) to a linear 16-bit sample. */
export function decodeMulawSample(code: number): number {
  return MULAW_DECODE_TABLE[code & 0xff];
}

/** Encodes one linear 16-bit sample (any integer in -32768..32767) to an A-law code. */
export function encodeAlawSample(sample: number): number {
  return ALAW_ENCODE_TABLE[sample & 0xffff];
}

/** Decodes one A-law code (0..255) to a linear 16-bit sample. */
export function decodeAlawSample(code: number): number {
  return ALAW_DECODE_TABLE[code & 0xff];
}

/** Resolves the sample count of an encode/decode call and checks that both buffers hold it. */
function count(srcLength: number, dstLength: number, n: number | undefined): number {
  const len = n ?? srcLength;
  if (len < 0 || len > srcLength || len > dstLength) {
    throw new RangeError(`g711: count ${len} exceeds src (${srcLength}) or dst (${dstLength}) length`);
  }
  return len;
}

/**
 * Encodes `n` (default `src.length`) linear samples to mu-law codes into `dst`.
 * @returns the number of codes written.
 */
export function encodeMulaw(src: Int16Array, dst: Uint8Array, n?: number): number {
  const len = count(src.length, dst.length, n);
  const table = MULAW_ENCODE_TABLE;
  for (let i = 0; i < len; i++) dst[i] = table[src[i] & 0xffff];
  return len;
}

/**
 * Decodes `n` (default `src.length`) mu-law codes to linear samples into `dst`.
 * @returns the number of samples written.
 */
export function decodeMulaw(src: Uint8Array, dst: Int16Array, n?: number): number {
  const len = count(src.length, dst.length, n);
  const table = MULAW_DECODE_TABLE;
  for (let i = 0; i < len; i++) dst[i] = table[src[i]];
  return len;
}

/**
 * Encodes `n` (default `src.length`) linear samples to A-law codes into `dst`.
 * @returns the number of codes written.
 */
export function encodeAlaw(src: Int16Array, dst: Uint8Array, n?: number): number {
  const len = count(src.length, dst.length, n);
  const table = ALAW_ENCODE_TABLE;
  for (let i = 0; i < len; i++) dst[i] = table[src[i] & 0xffff];
  return len;
}

/**
 * Decodes `n` (default `src.length`) A-law codes to linear samples into `dst`.
 * @returns the number of samples written.
 */
export function decodeAlaw(src: Uint8Array, dst: Int16Array, n?: number): number {
  const len = count(src.length, dst.length, n);
  const table = ALAW_DECODE_TABLE;
  for (let i = 0; i < len; i++) dst[i] = table[src[i]];
  return len;
}
