/**
 * Carrier media-stream protocols: the JSON-over-WebSocket formats carriers use when *they* dial the
 * gateway (Twilio Media Streams, and the many carriers that copy it: Telnyx, Plivo, Exotel, ...).
 *
 * Each carrier is one module implementing {@link CarrierProtocol} (parse an incoming text message
 * into a {@link CarrierEvent}, build the outgoing media/mark/clear messages), registered in
 * `index.ts`, so adding a carrier touches one file plus one registry line. Field names follow
 * Twilio's (`streamSid`, `callSid`, `accountSid`); other carriers map their ids onto them.
 */

/** The stream began: ids, the caller's custom parameters and the audio format. */
export interface CarrierStartEvent {
  type: 'start';
  streamSid: string;
  callSid: string;
  accountSid: string;
  /** Custom parameters from the carrier's stream instruction (e.g. TwiML `<Parameter>`). */
  customParameters: Record<string, string>;
  /** The carrier's encoding name, e.g. `audio/x-mulaw`. */
  encoding: string;
  sampleRateHz: number;
  /** The tracks the carrier streams, e.g. `['inbound']`. */
  tracks: string[];
}

/** One incoming carrier message, carrier-independent. */
export type CarrierEvent =
  | { type: 'connected' }
  | CarrierStartEvent
  /**
   * Audio decoded to 16-bit linear PCM at the start event's rate (8 kHz for Twilio); a fresh
   * array the receiver owns. `timestampMs` is the carrier's media clock from stream start.
   */
  | { type: 'media'; samples: Int16Array; timestampMs: number; track: string }
  /** The carrier finished playing the audio sent before the mark of that name. */
  | { type: 'mark'; name: string }
  | { type: 'dtmf'; digit: string }
  | { type: 'stop' };

/** The wire format of one carrier. Stateless: one object serves every stream. */
export interface CarrierProtocol {
  /** Registry key, e.g. `twilio`. */
  readonly name: string;
  /** Parses one text message; throws MediaProtocolError (reason <= 120 bytes, a close code) on bad input. */
  parse(text: string): CarrierEvent;
  /** Builds one outgoing media message from linear PCM at the stream's rate (normally one 20 ms frame). */
  encodeMedia(streamSid: string, samples: Int16Array): string;
  /** Builds a mark message: the carrier echoes it back once the audio sent before it has played. */
  encodeMark(streamSid: string, name: string): string;
  /** Builds a clear message: the carrier drops the audio it has queued (barge-in). */
  encodeClear(streamSid: string): string;
  /** The gateway auth token the caller passed in the start event (Twilio: `customParameters.token`). */
  authTokenFrom(start: CarrierStartEvent): string | undefined;
}

/**
 * The name of a playout mark: `<responseId>:<ms>`, the position (ms from the response's first
 * sample) the audio sent before the mark reaches. The carrier echoes it once that audio played,
 * and the port acknowledges that position to its playout. `ms` is whole milliseconds.
 */
export function playoutMarkName(responseId: string, ms: number): string {
  return `${responseId}:${Math.floor(ms)}`;
}

/** Parses a {@link playoutMarkName} (a response id may itself hold `:`); undefined for any other name. */
export function parsePlayoutMark(name: string): { responseId: string; ms: number } | undefined {
  const at = name.lastIndexOf(':');
  if (at <= 0 || at === name.length - 1) return undefined;
  const ms = Number(name.slice(at + 1));
  if (!Number.isInteger(ms) || ms < 0) return undefined;
  return { responseId: name.slice(0, at), ms };
}
