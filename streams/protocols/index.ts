/**
 * Wire protocols of the media-stream gateway: VoIPBIN's media_stream encapsulations (the gateway
 * as a client) and carrier media-stream formats (the gateway as a server for Twilio-style carriers).
 */
import type { CarrierProtocol } from './carrier.js';
import { twilio } from './twilio.js';

export * from './errors.js';
export * from './encapsulation.js';
export { SlnCodec, SLN_MAX_MESSAGE_BYTES } from './voipbin-sln.js';
export { RtpCodec, RTP_HEADER_BYTES, RTP_MAX_MESSAGE_BYTES, RTP_PAYLOAD_TYPE, RTP_VERSION } from './voipbin-rtp.js';
export type { RtpHeaderInfo } from './voipbin-rtp.js';
export {
  AudioSocketCodec,
  AUDIOSOCKET_HEADER_BYTES,
  AUDIOSOCKET_KIND,
  AUDIOSOCKET_MAX_MESSAGE_BYTES,
} from './voipbin-audiosocket.js';
export type { CarrierEvent, CarrierProtocol, CarrierStartEvent } from './carrier.js';
export * from './twilio.js';

/** Carrier protocols by name; add a carrier by adding its module and one line here. */
export const CARRIER_PROTOCOLS = { twilio } as const satisfies Record<string, CarrierProtocol>;

/** Names of the registered carrier protocols. */
export type CarrierName = keyof typeof CARRIER_PROTOCOLS;

/** The carrier protocol registered as `name`, or `undefined`. */
export function carrierProtocol(name: string): CarrierProtocol | undefined {
  return Object.hasOwn(CARRIER_PROTOCOLS, name) ? CARRIER_PROTOCOLS[name as CarrierName] : undefined;
}
