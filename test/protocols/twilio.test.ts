import { describe, expect, it } from 'vitest';
import { MULAW_DECODE_TABLE, decodeMulawSample, encodeMulawSample } from '../../streams/audio/g711.js';
import {
  CARRIER_PROTOCOLS,
  MediaProtocolError,
  carrierProtocol,
  encodeTwilioClear,
  encodeTwilioMark,
  encodeTwilioMedia,
  parseTwilioMessage,
  twilio,
} from '../../streams/protocols/index.js';
import type { CarrierStartEvent } from '../../streams/protocols/index.js';

const STREAM_SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';
const ACCOUNT_SID = 'AC123';
const CALL_SID = 'CA123';

// Messages shaped exactly as in Twilio's "Media Streams - WebSocket Messages" documentation.
const connected = { event: 'connected', protocol: 'Call', version: '1.0.0' };
const start = {
  event: 'start',
  sequenceNumber: '1',
  start: {
    accountSid: ACCOUNT_SID,
    streamSid: STREAM_SID,
    callSid: CALL_SID,
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: { FirstName: 'Jane', LastName: 'Doe', RemoteParty: 'Bob', token: 'gw-token-123' },
  },
  streamSid: STREAM_SID,
};
function media(payload: string, extra: Record<string, string> = {}) {
  return {
    event: 'media',
    sequenceNumber: '3',
    media: { track: 'outbound', chunk: '1', timestamp: '5', payload, ...extra },
    streamSid: STREAM_SID,
  };
}
const mark = { event: 'mark', sequenceNumber: '4', streamSid: STREAM_SID, mark: { name: 'my label' } };
const dtmf = { event: 'dtmf', streamSid: STREAM_SID, sequenceNumber: '5', dtmf: { track: 'inbound_track', digit: '1' } };
const stop = { event: 'stop', sequenceNumber: '5', streamSid: STREAM_SID, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } };

function expectProtocolError(text: string, closeCode: number, reason: RegExp): void {
  let caught: unknown;
  try {
    parseTwilioMessage(text);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MediaProtocolError);
  expect((caught as MediaProtocolError).closeCode).toBe(closeCode);
  expect((caught as MediaProtocolError).message).toMatch(reason);
  expect(Buffer.byteLength((caught as MediaProtocolError).message)).toBeLessThanOrEqual(120);
}

describe('parseTwilioMessage', () => {
  it('parses connected, start, mark, dtmf and stop', () => {
    expect(parseTwilioMessage(JSON.stringify(connected))).toEqual({ type: 'connected' });
    expect(parseTwilioMessage(JSON.stringify(start))).toEqual({
      type: 'start',
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      accountSid: ACCOUNT_SID,
      customParameters: { FirstName: 'Jane', LastName: 'Doe', RemoteParty: 'Bob', token: 'gw-token-123' },
      encoding: 'audio/x-mulaw',
      sampleRateHz: 8000,
      tracks: ['inbound'],
    });
    expect(parseTwilioMessage(JSON.stringify(mark))).toEqual({ type: 'mark', name: 'my label' });
    expect(parseTwilioMessage(JSON.stringify(dtmf))).toEqual({ type: 'dtmf', digit: '1' });
    expect(parseTwilioMessage(JSON.stringify(stop))).toEqual({ type: 'stop' });
  });

  it('decodes media payloads (base64 mu-law) to 8 kHz slin with the table decoder', () => {
    const codes = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff));
    const ev = parseTwilioMessage(JSON.stringify(media(codes.toString('base64'))));
    expect(ev.type).toBe('media');
    if (ev.type !== 'media') return;
    expect(ev.track).toBe('outbound');
    expect(ev.timestampMs).toBe(5);
    expect(Array.from(ev.samples)).toEqual(Array.from(codes, (c) => MULAW_DECODE_TABLE[c]));
    // Twilio's silence is 0xff.
    const silence = parseTwilioMessage(JSON.stringify(media(Buffer.alloc(160, 0xff).toString('base64'))));
    expect(silence.type === 'media' && Array.from(silence.samples).every((s) => s === 0)).toBe(true);
  });

  it('returns a fresh sample array per media message', () => {
    const a = parseTwilioMessage(JSON.stringify(media(Buffer.alloc(160, 0x00).toString('base64'))));
    const b = parseTwilioMessage(JSON.stringify(media(Buffer.alloc(160, 0x80).toString('base64'))));
    expect(a.type === 'media' && b.type === 'media' && a.samples !== b.samples).toBe(true);
    expect(a.type === 'media' && a.samples[0]).toBe(MULAW_DECODE_TABLE[0]);
  });

  it('rejects bad input with a clear reason and close code', () => {
    expectProtocolError('{"event":"media"', 1007, /not valid JSON/);
    expectProtocolError('[1,2]', 1007, /not a JSON object/);
    expectProtocolError('{"streamSid":"MZ1"}', 1007, /no "event"/);
    expectProtocolError('{"event":"bogus"}', 1003, /twilio event "bogus" is not supported/);
    expectProtocolError(JSON.stringify(media('%%%%')), 1007, /not valid base64/);
    expectProtocolError(JSON.stringify(media('AAA')), 1007, /not valid base64/);
    expectProtocolError(JSON.stringify(media('')), 1007, /payload is empty/);
    expectProtocolError(JSON.stringify(media(Buffer.alloc(8001).toString('base64'))), 1009, /payload of 8001 bytes exceeds 8000/);
    expectProtocolError(JSON.stringify(media(Buffer.alloc(160).toString('base64'), { timestamp: 'soon' })), 1007, /"timestamp" is not a number/);
    expectProtocolError(JSON.stringify({ event: 'media', streamSid: STREAM_SID }), 1007, /no "media" object/);
    expectProtocolError(JSON.stringify({ ...mark, mark: {} }), 1007, /no "name" string/);
    expectProtocolError(JSON.stringify({ ...dtmf, dtmf: { digit: 'x' } }), 1007, /dtmf digit/);
    expectProtocolError(JSON.stringify({ ...start, start: { ...start.start, callSid: undefined } }), 1007, /no "callSid"/);
    expectProtocolError(
      JSON.stringify({ ...start, start: { ...start.start, mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 } } }),
      1003,
      /media format audio\/x-l16\/16000\/1 unsupported/,
    );
    expectProtocolError(' '.repeat(65537), 1009, /exceeds 65536/);
  });
});

describe('encoding outgoing Twilio messages', () => {
  it('builds media, mark and clear exactly as Twilio documents them', () => {
    const samples = new Int16Array(160); // silence
    expect(JSON.parse(encodeTwilioMedia(STREAM_SID, samples))).toEqual({
      event: 'media',
      streamSid: STREAM_SID,
      media: { payload: Buffer.alloc(160, 0xff).toString('base64') },
    });
    expect(JSON.parse(encodeTwilioMark(STREAM_SID, 'my label'))).toEqual({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'my label' } });
    expect(JSON.parse(encodeTwilioClear(STREAM_SID))).toEqual({ event: 'clear', streamSid: STREAM_SID });
    expect(() => encodeTwilioMark(STREAM_SID, '')).toThrow(TypeError);
    expect(() => encodeTwilioClear('')).toThrow(TypeError);
  });

  it('encodes with the table mu-law encoder', () => {
    const samples = Int16Array.from({ length: 160 }, (_, i) => Math.round(12000 * Math.sin(i / 3)) - (i % 7));
    const msg = JSON.parse(encodeTwilioMedia(STREAM_SID, samples));
    const bytes = Buffer.from(msg.media.payload, 'base64');
    expect(Array.from(bytes)).toEqual(Array.from(samples, (s) => encodeMulawSample(s)));
  });

  it('round-trips mu-law through the Twilio path', () => {
    // Every value a mu-law decoder can produce survives encode → base64 → parse exactly.
    const exact = Int16Array.from({ length: 256 }, (_, c) => decodeMulawSample(c));
    const payload = JSON.parse(encodeTwilioMedia(STREAM_SID, exact)).media.payload as string;
    const back = parseTwilioMessage(JSON.stringify(media(payload)));
    expect(back.type === 'media' && Array.from(back.samples)).toEqual(Array.from(exact));
    // Arbitrary audio comes back within one mu-law step (<= 1/16 of the magnitude + rounding).
    const tone = Int16Array.from({ length: 320 }, (_, i) => Math.round(20000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    const echoed = parseTwilioMessage(JSON.stringify(media(JSON.parse(encodeTwilioMedia(STREAM_SID, tone)).media.payload)));
    expect(echoed.type).toBe('media');
    if (echoed.type !== 'media') return;
    tone.forEach((s, i) => expect(Math.abs(echoed.samples[i] - s)).toBeLessThanOrEqual(Math.abs(s) / 16 + 8));
  });

  it('grows its scratch buffer for frames larger than 20 ms', () => {
    const big = new Int16Array(800).fill(1000);
    const bytes = Buffer.from(JSON.parse(encodeTwilioMedia(STREAM_SID, big)).media.payload, 'base64');
    expect(bytes.length).toBe(800);
  });
});

describe('CarrierProtocol registry', () => {
  it('registers twilio and reads the auth token from customParameters.token', () => {
    expect(CARRIER_PROTOCOLS.twilio).toBe(twilio);
    expect(carrierProtocol('twilio')).toBe(twilio);
    expect(carrierProtocol('toString')).toBeUndefined();
    const ev = twilio.parse(JSON.stringify(start)) as CarrierStartEvent;
    expect(twilio.authTokenFrom(ev)).toBe('gw-token-123');
    expect(twilio.authTokenFrom({ ...ev, customParameters: {} })).toBeUndefined();
    expect(twilio.encodeClear(STREAM_SID)).toBe(encodeTwilioClear(STREAM_SID));
  });
});
