/**
 * Byte-level helpers the VoIPBIN encapsulations share: 16-bit signed little-endian ("slin") audio
 * in and out of WebSocket messages without allocating per frame.
 */
import { HOST_IS_LITTLE_ENDIAN } from '../audio/l16.js';

/** Sample rate of every VoIPBIN media_stream encapsulation. */
export const MEDIA_STREAM_SAMPLE_RATE_HZ = 8000;
/** Samples in one 20 ms frame at 8 kHz. */
export const FRAME_SAMPLES = 160;
/** Bytes of slin in one 20 ms frame at 8 kHz. */
export const FRAME_BYTES = FRAME_SAMPLES * 2;
/** Largest audio payload accepted in one packet (256 ms of 8 kHz slin); more is a 1009. */
export const MAX_AUDIO_PAYLOAD_BYTES = 4096;

/**
 * Hands out decoded slin as Int16Array: a zero-copy view into the incoming message when the
 * payload is 2-byte aligned (on a little-endian host), otherwise a copy into a preallocated arena.
 * Everything handed out since the last {@link SlinReader.reset} stays valid until the next reset,
 * so one message may yield several audio events (audiosocket) without them overwriting each other.
 */
export class SlinReader {
  private readonly arena: Int16Array;
  private used = 0;

  /** @param capacityBytes the most slin bytes one message can hold (the codec's message cap). */
  constructor(capacityBytes: number) {
    this.arena = new Int16Array(Math.ceil(capacityBytes / 2));
  }

  /** Starts a new message: the arena is reused from the beginning. */
  reset(): void {
    this.used = 0;
  }

  /**
   * Reads `byteLength` (even) bytes of little-endian slin starting at `start` in `message`.
   * The caller has checked the bounds, the parity and the message cap.
   */
  read(message: Buffer, start: number, byteLength: number): Int16Array {
    const n = byteLength >> 1;
    const absolute = message.byteOffset + start;
    if (HOST_IS_LITTLE_ENDIAN && (absolute & 1) === 0) return new Int16Array(message.buffer, absolute, n);
    const arena = this.arena;
    const at = this.used;
    // (hi << 24) >> 16 sign-extends the high byte without a branch.
    for (let i = 0, j = start; i < n; i++, j += 2) arena[at + i] = ((message[j + 1] << 24) >> 16) | message[j];
    this.used = at + n;
    return arena.subarray(at, at + n);
  }
}

/**
 * A codec-owned output Buffer: one allocation for the usual frame size, grown (once) for a larger
 * one. `take(n)` returns the whole buffer when `n` is its size (no view allocated), else a view.
 */
export class OutputBuffer {
  private buf: Buffer;

  constructor(initialBytes: number) {
    this.buf = Buffer.alloc(initialBytes);
  }

  /** A Buffer of exactly `byteLength` bytes, owned by this object and valid until the next call. */
  take(byteLength: number): Buffer {
    if (byteLength === this.buf.length) return this.buf;
    if (byteLength > this.buf.length) {
      this.buf = Buffer.alloc(byteLength);
      return this.buf;
    }
    return this.buf.subarray(0, byteLength);
  }
}

/** Writes `samples` as little-endian slin into `out` from byte `offset` (any alignment, any host). */
export function writeSlinLe(samples: Int16Array, out: Uint8Array, offset: number): void {
  const n = samples.length;
  for (let i = 0, j = offset; i < n; i++, j += 2) {
    const s = samples[i];
    out[j] = s & 0xff;
    out[j + 1] = (s >> 8) & 0xff;
  }
}

/** Throws a RangeError when an outgoing frame is larger than one packet may carry (a caller bug). */
export function checkOutgoingSamples(codec: string, samples: Int16Array): void {
  if (samples.length * 2 > MAX_AUDIO_PAYLOAD_BYTES) {
    throw new RangeError(`${codec}: ${samples.length} samples exceed ${MAX_AUDIO_PAYLOAD_BYTES / 2} per packet`);
  }
}
