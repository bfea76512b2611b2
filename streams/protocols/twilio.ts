/**
 * Twilio Media Streams (https://www.twilio.com/docs/voice/media-streams/websocket-messages):
 * JSON text messages, audio as base64 G.711 mu-law at 8 kHz mono (20 ms = 160 bytes per message).
 *
 * Incoming (Twilio → us):
 * - `{"event":"connected","protocol":"Call","version":"1.0.0"}`
 * - `{"event":"start","sequenceNumber":"1","start":{"accountSid","streamSid","callSid","tracks":["inbound"],
 *    "customParameters":{...},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid"}`
 * - `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"<base64>"},"streamSid"}`
 * - `{"event":"mark","sequenceNumber":"4","streamSid","mark":{"name"}}`
 * - `{"event":"dtmf","streamSid","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}`
 * - `{"event":"stop","sequenceNumber":"5","streamSid","stop":{"accountSid","callSid"}}`
 *
 * Outgoing (us → Twilio, bidirectional streams): `media` `{event, streamSid, media:{payload}}`,
 * `mark` `{event, streamSid, mark:{name}}`, `clear` `{event, streamSid}`.
 *
 * mu-law goes through the table-based G.711 codec of the audio core.
 */
import { decodeMulaw, encodeMulaw } from '../audio/g711.js';
import type { CarrierEvent, CarrierProtocol, CarrierStartEvent } from './carrier.js';
import { invalidPayload, messageTooBig, unsupportedData } from './errors.js';

/** Every internal event a Twilio message parses to. */
export type TwilioEvent = CarrierEvent;

/** Longest text message accepted (in UTF-16 code units); more is a 1009. */
export const TWILIO_MAX_MESSAGE_CHARS = 65536;
/** Largest decoded media payload accepted: 1 s of 8 kHz mu-law; more is a 1009. */
export const TWILIO_MAX_MEDIA_BYTES = 8000;
/** Twilio's only media format. */
export const TWILIO_ENCODING = 'audio/x-mulaw';
export const TWILIO_SAMPLE_RATE_HZ = 8000;

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const DTMF_DIGIT_RE = /^[0-9A-D*#]$/;

// Scratch buffers for base64 <-> mu-law bytes. Safe to share across streams: every use is
// synchronous and nothing referring to them outlives the call (results are new strings/arrays).
const mulawIn = Buffer.alloc(TWILIO_MAX_MEDIA_BYTES);
let mulawOut = Buffer.alloc(160);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireObject(parent: Json, key: string, event: string): Json {
  const v = parent[key];
  if (!isObject(v)) throw invalidPayload(`twilio ${event} message has no "${key}" object`);
  return v;
}

function requireString(parent: Json, key: string, event: string): string {
  const v = parent[key];
  if (typeof v !== 'string' || v === '') throw invalidPayload(`twilio ${event} message has no "${key}" string`);
  return v;
}

/** Twilio sends numbers as strings ("5"); accepts both. `undefined` when absent. */
function optionalNumber(parent: Json, key: string, event: string): number | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw invalidPayload(`twilio ${event} "${key}" is not a number`);
  return n;
}

function parseStart(msg: Json): CarrierStartEvent {
  const start = requireObject(msg, 'start', 'start');
  const streamSid = typeof start.streamSid === 'string' && start.streamSid !== '' ? start.streamSid : requireString(msg, 'streamSid', 'start');
  const customParameters: Record<string, string> = {};
  if (start.customParameters !== undefined && start.customParameters !== null) {
    if (!isObject(start.customParameters)) throw invalidPayload('twilio start "customParameters" is not an object');
    for (const [k, v] of Object.entries(start.customParameters)) {
      if (k === '__proto__') continue;
      if (typeof v === 'string') customParameters[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') customParameters[k] = String(v);
    }
  }
  let encoding = TWILIO_ENCODING;
  let sampleRateHz = TWILIO_SAMPLE_RATE_HZ;
  if (start.mediaFormat !== undefined) {
    const mf = requireObject(start, 'mediaFormat', 'start');
    if (mf.encoding !== undefined) encoding = String(mf.encoding);
    sampleRateHz = optionalNumber(mf, 'sampleRate', 'start') ?? TWILIO_SAMPLE_RATE_HZ;
    const channels = optionalNumber(mf, 'channels', 'start') ?? 1;
    if (encoding !== TWILIO_ENCODING || sampleRateHz !== TWILIO_SAMPLE_RATE_HZ || channels !== 1) {
      throw unsupportedData(`twilio media format ${encoding.slice(0, 32)}/${sampleRateHz}/${channels} unsupported; expected audio/x-mulaw/8000/1`);
    }
  }
  const tracks = Array.isArray(start.tracks) ? start.tracks.filter((t): t is string => typeof t === 'string') : ['inbound'];
  return {
    type: 'start',
    streamSid,
    callSid: requireString(start, 'callSid', 'start'),
    accountSid: requireString(start, 'accountSid', 'start'),
    customParameters,
    encoding,
    sampleRateHz,
    tracks,
  };
}

/** Decodes base64 mu-law into a fresh Int16Array of 8 kHz linear PCM. */
function decodePayload(payload: string): Int16Array {
  const chars = payload.length;
  if (chars === 0) throw invalidPayload('twilio media payload is empty');
  if (chars % 4 !== 0 || !BASE64_RE.test(payload)) throw invalidPayload('twilio media payload is not valid base64');
  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const bytes = (chars / 4) * 3 - padding;
  if (bytes > TWILIO_MAX_MEDIA_BYTES) throw messageTooBig(`twilio media payload of ${bytes} bytes exceeds ${TWILIO_MAX_MEDIA_BYTES}`);
  if (bytes === 0) throw invalidPayload('twilio media payload is empty');
  const n = mulawIn.write(payload, 0, 'base64');
  const samples = new Int16Array(n);
  decodeMulaw(mulawIn, samples, n);
  return samples;
}

/**
 * Parses one Twilio Media Streams text message into an internal event. Throws
 * {@link MediaProtocolError}: 1009 for a message or payload too large, 1003 for an unknown event
 * or an unsupported media format, 1007 for anything malformed (JSON, fields, base64, DTMF digit).
 */
export function parseTwilioMessage(text: string): TwilioEvent {
  if (text.length > TWILIO_MAX_MESSAGE_CHARS) {
    throw messageTooBig(`twilio message of ${text.length} chars exceeds ${TWILIO_MAX_MESSAGE_CHARS}`);
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw invalidPayload('twilio message is not valid JSON');
  }
  if (!isObject(msg)) throw invalidPayload('twilio message is not a JSON object');
  const event = msg.event;
  if (typeof event !== 'string') throw invalidPayload('twilio message has no "event" string');
  switch (event) {
    case 'media': {
      const media = requireObject(msg, 'media', 'media');
      const payload = media.payload;
      if (typeof payload !== 'string') throw invalidPayload('twilio media message has no "payload" string');
      const samples = decodePayload(payload);
      const timestampMs = optionalNumber(media, 'timestamp', 'media') ?? 0;
      const track = typeof media.track === 'string' ? media.track : 'inbound';
      return { type: 'media', samples, timestampMs, track };
    }
    case 'connected':
      return { type: 'connected' };
    case 'start':
      return parseStart(msg);
    case 'mark':
      return { type: 'mark', name: requireString(requireObject(msg, 'mark', 'mark'), 'name', 'mark') };
    case 'dtmf': {
      const digit = requireString(requireObject(msg, 'dtmf', 'dtmf'), 'digit', 'dtmf').toUpperCase();
      if (!DTMF_DIGIT_RE.test(digit)) throw invalidPayload('twilio dtmf digit is not 0-9, A-D, * or #');
      return { type: 'dtmf', digit };
    }
    case 'stop':
      return { type: 'stop' };
    default:
      throw unsupportedData(`twilio event ${JSON.stringify(event.slice(0, 40))} is not supported`);
  }
}

function checkSid(streamSid: string): void {
  if (typeof streamSid !== 'string' || streamSid === '') throw new TypeError('twilio: streamSid must be a non-empty string');
}

/**
 * An outgoing `media` message: `samples` (8 kHz linear PCM, normally one 20 ms frame) encoded to
 * mu-law with the table encoder, then base64.
 */
export function encodeTwilioMedia(streamSid: string, samples: Int16Array): string {
  checkSid(streamSid);
  const n = samples.length;
  if (n > mulawOut.length) mulawOut = Buffer.alloc(Math.max(n, mulawOut.length * 2));
  encodeMulaw(samples, mulawOut, n);
  // base64 needs no JSON escaping, so the payload goes in as is.
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${mulawOut.toString('base64', 0, n)}"}}`;
}

/** An outgoing `mark` message; Twilio echoes it back once the media sent before it has played. */
export function encodeTwilioMark(streamSid: string, name: string): string {
  checkSid(streamSid);
  if (typeof name !== 'string' || name === '') throw new TypeError('twilio: mark name must be a non-empty string');
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

/**
 * An outgoing `clear` message. Twilio's documentation (Media Streams - WebSocket Messages, "Send a
 * clear message"): Twilio empties the audio buffer and sends back mark messages matching any
 * remaining marks from the server. So the marks echoed after a clear name audio that was
 * dropped, not played; what was heard is what the marks echoed before it confirmed.
 */
export function encodeTwilioClear(streamSid: string): string {
  checkSid(streamSid);
  return JSON.stringify({ event: 'clear', streamSid });
}

/** The Twilio Media Streams protocol as a {@link CarrierProtocol}. */
export const twilio: CarrierProtocol = {
  name: 'twilio',
  parse: parseTwilioMessage,
  encodeMedia: encodeTwilioMedia,
  encodeMark: encodeTwilioMark,
  encodeClear: encodeTwilioClear,
  authTokenFrom(start: CarrierStartEvent): string | undefined {
    const token = start.customParameters.token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  },
};
