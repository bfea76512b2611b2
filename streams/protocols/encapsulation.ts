/**
 * VoIPBIN media_stream encapsulations: the common interface and the factory.
 *
 * Every encapsulation carries the same audio, 8 kHz 16-bit signed little-endian mono ("slin") in
 * 20 ms frames (160 samples, 320 bytes); they differ only in framing (see
 * voipbin-docs/mediastream_overview.rst). One module per wire format, each turning one WebSocket
 * binary message into internal {@link MediaEvent}s and one frame of slin into one message:
 * - `sln`: the raw payload ({@link SlnCodec}, voipbin-sln.ts)
 * - `rtp`: RFC 3550 header + payload type 96 ({@link RtpCodec}, voipbin-rtp.ts)
 * - `audiosocket`: Asterisk AudioSocket kind/length/payload packets ({@link AudioSocketCodec}, voipbin-audiosocket.ts)
 */
import { AudioSocketCodec } from './voipbin-audiosocket.js';
import { RtpCodec } from './voipbin-rtp.js';
import { SlnCodec } from './voipbin-sln.js';

export {
  MediaProtocolError,
  CLOSE_UNSUPPORTED_DATA,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_MESSAGE_TOO_BIG,
} from './errors.js';
export type { MediaProtocolCloseCode } from './errors.js';
export { FRAME_SAMPLES, FRAME_BYTES, MAX_AUDIO_PAYLOAD_BYTES, MEDIA_STREAM_SAMPLE_RATE_HZ } from './slin.js';

/** The `encapsulation` query value of `GET /calls/{id}/media_stream`. */
export type Encapsulation = 'sln' | 'rtp' | 'audiosocket';

/** Every supported encapsulation, in the order VoIPBIN's docs list them. */
export const ENCAPSULATIONS: readonly Encapsulation[] = ['rtp', 'sln', 'audiosocket'];

/** True when `value` names a supported encapsulation. */
export function isEncapsulation(value: unknown): value is Encapsulation {
  return value === 'sln' || value === 'rtp' || value === 'audiosocket';
}

/** One thing that arrived on a media stream, independent of the encapsulation. */
export type MediaEvent =
  /**
   * 8 kHz slin, `length` = payload bytes / 2. A view into the incoming message or into the
   * codec's arena: valid until the codec's next `decode()`; copy it to keep it.
   */
  | { kind: 'audio'; samples: Int16Array }
  /** A DTMF digit (audiosocket kind 0x03). */
  | { kind: 'dtmf'; digit: string }
  /** The stream's UUID (audiosocket kind 0x01), lower-case 8-4-4-4-12. */
  | { kind: 'uuid'; id: string }
  /** The far end hung up (audiosocket kind 0x00). */
  | { kind: 'hangup' }
  /** An error reported by the far end (audiosocket kind 0xff), its 1-byte code. */
  | { kind: 'error'; code: number };

/** A parser/serializer of one encapsulation, one instance per stream (it holds per-stream state). */
export interface EncapsulationCodec {
  readonly name: Encapsulation;
  /**
   * Parses one WebSocket binary message. Throws {@link MediaProtocolError} (with a reason fit for
   * a close frame, <= 120 bytes) on malformed input. One message may hold several audiosocket
   * packets, hence the array. Audio samples are valid until the next `decode()` call.
   */
  decode(message: Buffer): MediaEvent[];
  /**
   * Encodes one frame of 8 kHz slin (normally 160 samples) into one WebSocket binary message.
   * The Buffer is owned by the codec and overwritten by the next encode call: send it at once.
   * A `ws` client copies it while masking the frame; a `ws` *server* (unmasked frames) may queue
   * the Buffer itself under backpressure, so server code must send `Buffer.from(result)`.
   */
  encodeAudio(samples: Int16Array): Buffer;
  /** The encapsulation's hangup packet (audiosocket kind 0x00); `null` for rtp and sln. */
  encodeHangup(): Buffer | null;
}

/** Options of {@link createEncapsulationCodec}. */
export interface EncapsulationCodecOptions {
  /** RTP only: the SSRC to send (default random). */
  ssrc?: number;
  /** RTP only: the first sequence number to send (default random, RFC 3550 §5.1). */
  sequenceNumber?: number;
  /** RTP only: the first timestamp to send (default random, RFC 3550 §5.1). */
  timestamp?: number;
}

/** Creates a fresh codec (per-stream state: RTP sequence/timestamp, scratch buffers). */
export function createEncapsulationCodec(name: Encapsulation, opts: EncapsulationCodecOptions = {}): EncapsulationCodec {
  switch (name) {
    case 'sln':
      return new SlnCodec();
    case 'rtp':
      return new RtpCodec(opts);
    case 'audiosocket':
      return new AudioSocketCodec();
    default: {
      const never: never = name;
      throw new TypeError(`unsupported encapsulation ${JSON.stringify(never)}; expected rtp, sln or audiosocket`);
    }
  }
}
