/**
 * VoIPBIN `sln` encapsulation: each WebSocket binary message is raw 8 kHz 16-bit signed linear
 * mono, no header, no padding. VoIPBIN's docs say "byte order: native"; in practice (and for the
 * other two encapsulations, which carry the same audio) that is little-endian, so we read and
 * write little-endian regardless of the host.
 */
import type { Encapsulation, EncapsulationCodec, MediaEvent } from './encapsulation.js';
import { invalidPayload, messageTooBig } from './errors.js';
import { FRAME_BYTES, MAX_AUDIO_PAYLOAD_BYTES, OutputBuffer, SlinReader, checkOutgoingSamples, writeSlinLe } from './slin.js';

/** Largest `sln` message accepted; more is a 1009. */
export const SLN_MAX_MESSAGE_BYTES = MAX_AUDIO_PAYLOAD_BYTES;

/** Parses and builds `sln` messages. */
export class SlnCodec implements EncapsulationCodec {
  readonly name: Encapsulation = 'sln';
  private readonly reader = new SlinReader(SLN_MAX_MESSAGE_BYTES);
  private readonly out = new OutputBuffer(FRAME_BYTES);

  /** One message → one audio event (none for an empty message). */
  decode(message: Buffer): MediaEvent[] {
    const len = message.length;
    if (len > SLN_MAX_MESSAGE_BYTES) throw messageTooBig(`sln message of ${len} bytes exceeds ${SLN_MAX_MESSAGE_BYTES}`);
    if ((len & 1) !== 0) throw invalidPayload(`sln message of ${len} bytes is odd; slin needs 2 bytes per sample`);
    if (len === 0) return [];
    this.reader.reset();
    return [{ kind: 'audio', samples: this.reader.read(message, 0, len) }];
  }

  /** The samples as little-endian bytes, in the codec's output buffer. */
  encodeAudio(samples: Int16Array): Buffer {
    checkOutgoingSamples('sln', samples);
    const out = this.out.take(samples.length * 2);
    writeSlinLe(samples, out, 0);
    return out;
  }

  /** `sln` has no control packets. */
  encodeHangup(): null {
    return null;
  }
}
