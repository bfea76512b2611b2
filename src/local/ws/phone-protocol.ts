/**
 * The local phone protocol: how a softphone (e.g. `voipbin-ai call`, a browser) registers with
 * the local VoIPBIN, rings, answers, talks and hangs up. One WebSocket per phone at
 * `/local/phone` (access key as `Authorization: Bearer` or `?accesskey=`).
 *
 * Text frames are JSON control messages; binary frames are audio: 8 kHz, 16-bit signed
 * little-endian mono, 20 ms = 320 bytes (any even size up to 4096 bytes is accepted inbound).
 * A phone carries one call at a time.
 */

export const PHONE_PATH = '/local/phone';

/** Largest binary audio message a phone may send. */
export const MAX_PHONE_AUDIO_BYTES = 4096;

/** An address a phone answers: a local number of the customer, or an extension name. */
export interface PhoneAddress {
  type: 'tel' | 'extension';
  target: string;
}

/** Phone → server. */
export type PhoneClientMessage =
  | { type: 'register'; address: PhoneAddress }
  | { type: 'dial'; to: string }
  | { type: 'answer' }
  | { type: 'hangup' }
  | { type: 'dtmf'; digits: string };

/** Server → phone. */
export type PhoneServerMessage =
  | { type: 'registered'; address: PhoneAddress }
  | { type: 'incoming'; call_id: string; from: PhoneAddress; to: PhoneAddress }
  | { type: 'ringing'; call_id: string }
  | { type: 'answered'; call_id: string }
  | { type: 'hangup'; call_id: string; reason: string }
  | { type: 'error'; message: string };

/** Close codes the server uses. */
export const PHONE_CLOSE = {
  /** Not valid JSON, an unknown message, or audio of odd length. */
  invalidData: 1007,
  /** A well-formed request that is not allowed (e.g. registering another customer's number). */
  policy: 1008,
  /** Larger than the limit. */
  tooBig: 1009,
} as const;
