/**
 * VoIPBIN `rtp` encapsulation: each WebSocket binary message is one RTP packet (RFC 3550):
 *
 * ```
 *  0                   1                   2                   3
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers (CC x 4)    |
 * |  [X] profile-defined (16) |  extension length in words (16)  | + words
 * |  payload ...                                 [P] padding, last byte = count |
 * ```
 *
 * Payload type 96 (dynamic; VoIPBIN's fixed convention for L16/8000/1, no SDP), 160 samples
 * (320 bytes) per 20 ms packet, timestamp in 8 kHz sample units.
 *
 * Byte order: RFC 3551 defines L16 as network order (big-endian), but VoIPBIN's docs state that
 * this stream's payload is "raw 16-bit signed linear PCM (little-endian, matching AudioSocket's
 * Slin format)". We follow VoIPBIN's docs: the payload is **little-endian** in both directions.
 */
import { randomInt } from 'node:crypto';
import type { Encapsulation, EncapsulationCodec, EncapsulationCodecOptions, MediaEvent } from './encapsulation.js';
import { invalidPayload, messageTooBig } from './errors.js';
import { FRAME_BYTES, MAX_AUDIO_PAYLOAD_BYTES, OutputBuffer, SlinReader, checkOutgoingSamples, writeSlinLe } from './slin.js';

/** RTP version this codec speaks. */
export const RTP_VERSION = 2;
/** The payload type VoIPBIN uses for L16/8000/1. */
export const RTP_PAYLOAD_TYPE = 96;
/** Size of the fixed RTP header. */
export const RTP_HEADER_BYTES = 12;
/**
 * Largest `rtp` message accepted (fixed header + 15 CSRCs + a generous header extension +
 * the largest payload); more is a 1009.
 */
export const RTP_MAX_MESSAGE_BYTES = 8192;

/** The header fields of the last packet {@link RtpCodec.decode} accepted (one object, updated in place). */
export interface RtpHeaderInfo {
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
  payloadType: number;
  /** Number of CSRC identifiers that were skipped. */
  csrcCount: number;
  /** Whether a header extension was skipped. */
  extension: boolean;
  /** Padding bytes that were removed. */
  paddingBytes: number;
}

function checkUint(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`rtp: ${name} ${value} is not an integer in 0..${max}`);
  return value;
}

/** Parses and builds `rtp` messages; one instance per stream (it owns the outgoing sequence). */
export class RtpCodec implements EncapsulationCodec {
  readonly name: Encapsulation = 'rtp';
  /** The SSRC of every packet this codec sends. */
  readonly ssrc: number;
  /** Header of the last packet decoded (valid after the first successful `decode()`). */
  readonly lastHeader: RtpHeaderInfo = {
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    marker: false,
    payloadType: RTP_PAYLOAD_TYPE,
    csrcCount: 0,
    extension: false,
    paddingBytes: 0,
  };
  private sequenceNumber: number;
  private timestamp: number;
  private first = true;
  private readonly reader = new SlinReader(RTP_MAX_MESSAGE_BYTES);
  private readonly out = new OutputBuffer(RTP_HEADER_BYTES + FRAME_BYTES);

  constructor(opts: EncapsulationCodecOptions = {}) {
    this.ssrc = opts.ssrc !== undefined ? checkUint('ssrc', opts.ssrc, 0xffffffff) : randomInt(0, 0x1_0000_0000);
    this.sequenceNumber =
      opts.sequenceNumber !== undefined ? checkUint('sequenceNumber', opts.sequenceNumber, 0xffff) : randomInt(0, 0x1_0000);
    this.timestamp = opts.timestamp !== undefined ? checkUint('timestamp', opts.timestamp, 0xffffffff) : randomInt(0, 0x1_0000_0000);
  }

  /** The sequence number the next sent packet will carry. */
  get nextSequenceNumber(): number {
    return this.sequenceNumber;
  }

  /** The timestamp the next sent packet will carry. */
  get nextTimestamp(): number {
    return this.timestamp;
  }

  /**
   * One RTP packet → one audio event (none when the payload is empty). Checks version 2 and
   * payload type 96; skips CSRCs, the header extension and padding.
   */
  decode(message: Buffer): MediaEvent[] {
    const len = message.length;
    if (len > RTP_MAX_MESSAGE_BYTES) throw messageTooBig(`rtp packet of ${len} bytes exceeds ${RTP_MAX_MESSAGE_BYTES}`);
    if (len < RTP_HEADER_BYTES) throw invalidPayload(`rtp packet of ${len} bytes is shorter than the 12-byte header`);
    const b0 = message[0];
    const b1 = message[1];
    const version = b0 >> 6;
    if (version !== RTP_VERSION) throw invalidPayload(`rtp version ${version}, expected 2`);
    const payloadType = b1 & 0x7f;
    if (payloadType !== RTP_PAYLOAD_TYPE) throw invalidPayload(`rtp payload type ${payloadType}, expected 96`);
    const csrcCount = b0 & 0x0f;
    const hasExtension = (b0 & 0x10) !== 0;
    let start = RTP_HEADER_BYTES + 4 * csrcCount;
    if (start > len) throw invalidPayload(`rtp packet of ${len} bytes is too short for ${csrcCount} CSRCs`);
    if (hasExtension) {
      if (start + 4 > len) throw invalidPayload(`rtp packet of ${len} bytes is too short for its header extension`);
      const extensionWords = message.readUInt16BE(start + 2);
      start += 4 + 4 * extensionWords;
      if (start > len) throw invalidPayload(`rtp header extension of ${extensionWords} words overruns the ${len}-byte packet`);
    }
    let end = len;
    let paddingBytes = 0;
    if ((b0 & 0x20) !== 0) {
      paddingBytes = message[len - 1];
      if (paddingBytes === 0 || start + paddingBytes > len) {
        throw invalidPayload(`rtp padding count ${paddingBytes} is invalid for a ${len - start}-byte payload`);
      }
      end -= paddingBytes;
    }
    const payloadBytes = end - start;
    if ((payloadBytes & 1) !== 0) throw invalidPayload(`rtp payload of ${payloadBytes} bytes is odd; L16 needs 2 bytes per sample`);
    if (payloadBytes > MAX_AUDIO_PAYLOAD_BYTES) {
      throw messageTooBig(`rtp payload of ${payloadBytes} bytes exceeds ${MAX_AUDIO_PAYLOAD_BYTES}`);
    }

    const h = this.lastHeader;
    h.sequenceNumber = message.readUInt16BE(2);
    h.timestamp = message.readUInt32BE(4);
    h.ssrc = message.readUInt32BE(8);
    h.marker = (b1 & 0x80) !== 0;
    h.payloadType = payloadType;
    h.csrcCount = csrcCount;
    h.extension = hasExtension;
    h.paddingBytes = paddingBytes;

    if (payloadBytes === 0) return [];
    this.reader.reset();
    return [{ kind: 'audio', samples: this.reader.read(message, start, payloadBytes) }];
  }

  /**
   * One packet: version 2, no padding/extension/CSRC, marker on the first packet only, payload
   * type 96, then the sequence number advances by 1 (mod 2^16) and the timestamp by the sample
   * count (mod 2^32; +160 per 20 ms frame). Payload little-endian (see the module comment).
   */
  encodeAudio(samples: Int16Array): Buffer {
    checkOutgoingSamples('rtp', samples);
    const out = this.out.take(RTP_HEADER_BYTES + samples.length * 2);
    out[0] = RTP_VERSION << 6;
    out[1] = (this.first ? 0x80 : 0) | RTP_PAYLOAD_TYPE;
    out.writeUInt16BE(this.sequenceNumber, 2);
    out.writeUInt32BE(this.timestamp, 4);
    out.writeUInt32BE(this.ssrc, 8);
    writeSlinLe(samples, out, RTP_HEADER_BYTES);
    this.first = false;
    this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
    this.timestamp = (this.timestamp + samples.length) >>> 0;
    return out;
  }

  /** RTP has no hangup packet (the WebSocket close ends the stream). */
  encodeHangup(): null {
    return null;
  }
}
