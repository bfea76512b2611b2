/**
 * VoIPBIN `audiosocket` encapsulation: Asterisk AudioSocket packets carried in WebSocket binary
 * messages. Each packet is
 *
 * ```
 * | kind (1 byte) | payload length (2 bytes, big-endian) | payload (length bytes) |
 * ```
 *
 * Kinds (Asterisk `res_audiosocket`): 0x00 hangup, 0x01 UUID (16 bytes), 0x03 DTMF (1 ASCII
 * byte), 0x10 audio (slin, 16-bit signed little-endian, 8 kHz mono; 320 bytes per 20 ms),
 * 0xff error (1-byte code; Asterisk's codes: 0x00 none, 0x01 caller hung up, 0x02 frame
 * forwarding, 0x04 memory). One WebSocket message may hold several packets.
 */
import type { Encapsulation, EncapsulationCodec, MediaEvent } from './encapsulation.js';
import { invalidPayload, messageTooBig, unsupportedData } from './errors.js';
import { FRAME_BYTES, MAX_AUDIO_PAYLOAD_BYTES, OutputBuffer, SlinReader, checkOutgoingSamples, writeSlinLe } from './slin.js';

/** AudioSocket packet kinds. */
export const AUDIOSOCKET_KIND = {
  hangup: 0x00,
  uuid: 0x01,
  dtmf: 0x03,
  audio: 0x10,
  error: 0xff,
} as const;

/** Bytes before each packet's payload: kind + 2-byte length. */
export const AUDIOSOCKET_HEADER_BYTES = 3;
/** Largest `audiosocket` message accepted (several packets); more is a 1009. */
export const AUDIOSOCKET_MAX_MESSAGE_BYTES = 16384;
/** Bytes of a UUID packet's payload. */
const UUID_BYTES = 16;
const DTMF_DIGIT_RE = /^[0-9A-D*#]$/;
const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Formats 16 bytes as a lower-case 8-4-4-4-12 UUID string. */
function formatUuid(message: Buffer, start: number): string {
  const hex = message.toString('hex', start, start + UUID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Parses and builds `audiosocket` messages; one instance per stream. */
export class AudioSocketCodec implements EncapsulationCodec {
  readonly name: Encapsulation = 'audiosocket';
  private readonly reader = new SlinReader(AUDIOSOCKET_MAX_MESSAGE_BYTES);
  private readonly out = new OutputBuffer(AUDIOSOCKET_HEADER_BYTES + FRAME_BYTES);
  private readonly hangupPacket = Buffer.from([AUDIOSOCKET_KIND.hangup, 0, 0]);

  /**
   * Every packet of one message, in order. A truncated header or payload, a malformed UUID,
   * DTMF or audio payload is a 1007; an unknown kind a 1003; an oversized message or audio
   * payload a 1009.
   */
  decode(message: Buffer): MediaEvent[] {
    const len = message.length;
    if (len > AUDIOSOCKET_MAX_MESSAGE_BYTES) {
      throw messageTooBig(`audiosocket message of ${len} bytes exceeds ${AUDIOSOCKET_MAX_MESSAGE_BYTES}`);
    }
    this.reader.reset();
    const events: MediaEvent[] = [];
    let offset = 0;
    while (offset < len) {
      if (offset + AUDIOSOCKET_HEADER_BYTES > len) {
        throw invalidPayload(`audiosocket packet header truncated: ${len - offset} of 3 bytes at offset ${offset}`);
      }
      const kind = message[offset];
      const payloadBytes = message.readUInt16BE(offset + 1);
      const start = offset + AUDIOSOCKET_HEADER_BYTES;
      if (start + payloadBytes > len) {
        throw invalidPayload(`audiosocket kind 0x${kind.toString(16).padStart(2, '0')} payload truncated: ${len - start} of ${payloadBytes} bytes`);
      }
      switch (kind) {
        case AUDIOSOCKET_KIND.audio:
          if ((payloadBytes & 1) !== 0) throw invalidPayload(`audiosocket audio payload of ${payloadBytes} bytes is odd`);
          if (payloadBytes > MAX_AUDIO_PAYLOAD_BYTES) {
            throw messageTooBig(`audiosocket audio payload of ${payloadBytes} bytes exceeds ${MAX_AUDIO_PAYLOAD_BYTES}`);
          }
          if (payloadBytes > 0) events.push({ kind: 'audio', samples: this.reader.read(message, start, payloadBytes) });
          break;
        case AUDIOSOCKET_KIND.hangup:
          // The payload is empty by spec; anything there is ignored.
          events.push({ kind: 'hangup' });
          break;
        case AUDIOSOCKET_KIND.uuid:
          if (payloadBytes !== UUID_BYTES) throw invalidPayload(`audiosocket uuid payload of ${payloadBytes} bytes, expected 16`);
          events.push({ kind: 'uuid', id: formatUuid(message, start) });
          break;
        case AUDIOSOCKET_KIND.dtmf: {
          if (payloadBytes !== 1) throw invalidPayload(`audiosocket dtmf payload of ${payloadBytes} bytes, expected 1`);
          const digit = String.fromCharCode(message[start]).toUpperCase();
          if (!DTMF_DIGIT_RE.test(digit)) throw invalidPayload(`audiosocket dtmf byte 0x${message[start].toString(16)} is not 0-9, A-D, * or #`);
          events.push({ kind: 'dtmf', digit });
          break;
        }
        case AUDIOSOCKET_KIND.error:
          // Asterisk documents the code as optional: an empty payload means 0x00 (none).
          events.push({ kind: 'error', code: payloadBytes > 0 ? message[start] : 0 });
          break;
        default:
          throw unsupportedData(`audiosocket kind 0x${kind.toString(16).padStart(2, '0')} is not supported`);
      }
      offset = start + payloadBytes;
    }
    return events;
  }

  /** One audio packet (kind 0x10) in the codec's output buffer. */
  encodeAudio(samples: Int16Array): Buffer {
    checkOutgoingSamples('audiosocket', samples);
    const payloadBytes = samples.length * 2;
    const out = this.out.take(AUDIOSOCKET_HEADER_BYTES + payloadBytes);
    out[0] = AUDIOSOCKET_KIND.audio;
    out.writeUInt16BE(payloadBytes, 1);
    writeSlinLe(samples, out, AUDIOSOCKET_HEADER_BYTES);
    return out;
  }

  /** The hangup packet (kind 0x00, empty payload); a codec-owned Buffer. */
  encodeHangup(): Buffer {
    return this.hangupPacket;
  }

  /** A UUID packet (kind 0x01) for `id` (with or without dashes). A new Buffer (not hot path). */
  encodeUuid(id: string): Buffer {
    if (!UUID_RE.test(id)) throw new RangeError('audiosocket: uuid must be 32 hex digits (8-4-4-4-12)');
    const out = Buffer.alloc(AUDIOSOCKET_HEADER_BYTES + UUID_BYTES);
    out[0] = AUDIOSOCKET_KIND.uuid;
    out.writeUInt16BE(UUID_BYTES, 1);
    out.write(id.replace(/-/g, ''), AUDIOSOCKET_HEADER_BYTES, 'hex');
    return out;
  }

  /** A DTMF packet (kind 0x03) for one digit 0-9, A-D, * or #. A new Buffer (not hot path). */
  encodeDtmf(digit: string): Buffer {
    const d = digit.toUpperCase();
    if (!DTMF_DIGIT_RE.test(d)) throw new RangeError(`audiosocket: dtmf digit must be one of 0-9, A-D, * or #`);
    return Buffer.from([AUDIOSOCKET_KIND.dtmf, 0, 1, d.charCodeAt(0)]);
  }

  /** An error packet (kind 0xff) with a 1-byte code. A new Buffer (not hot path). */
  encodeError(code: number): Buffer {
    if (!Number.isInteger(code) || code < 0 || code > 0xff) throw new RangeError('audiosocket: error code must be 0..255');
    return Buffer.from([AUDIOSOCKET_KIND.error, 0, 1, code]);
  }
}
