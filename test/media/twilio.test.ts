/**
 * The Twilio Media Streams ingress (`/carrier/twilio`) driven by a client speaking Twilio's exact
 * wire format: the stream becomes a call to a local number, the registered phone rings and
 * answers, audio flows both ways (mu-law: compared through the table codec's round trip),
 * DTMF, marks, `clear` on barge-in, `stop`; and the refusals (token, media before start).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { MULAW_DECODE_TABLE, encodeMulawSample } from '../../streams/audio/g711.js';
import { RawSocket, TestPhone, addNumbers, audible, callIds, expectSamples, goertzel, openRaw, probe, until, waitCall, wsBase } from './helpers.js';

const PHONE = '+15550300001';
const CALLER = '+14155550123';
const NOPHONE = '+15550300009';

const STREAM_SID = 'MZ00000000000000000000000000000001';
const CALL_SID = 'CA00000000000000000000000000000001';
const ACCOUNT_SID = 'AC00000000000000000000000000000001';

/** mu-law bytes of linear samples, through the table codec. */
function mulaw(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encodeMulawSample(samples[i]!);
  return out;
}

/** What linear audio becomes after a mu-law round trip (the exact expectation on a lossless path after it). */
function mulawRoundTrip(samples: Int16Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = MULAW_DECODE_TABLE[encodeMulawSample(samples[i]!)]!;
  return out;
}

function decodeMulaw(bytes: Buffer): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = MULAW_DECODE_TABLE[bytes[i]!]!;
  return out;
}

/** A Twilio-format client. */
class TwilioClient {
  private seq = 0;
  private chunk = 0;
  constructor(readonly raw: RawSocket, readonly streamSid = STREAM_SID) {}

  private next(): string {
    return String(++this.seq);
  }

  connected(): void {
    this.raw.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  start(customParameters: Record<string, string>): void {
    this.raw.sendJson({
      event: 'start',
      sequenceNumber: this.next(),
      start: {
        accountSid: ACCOUNT_SID,
        streamSid: this.streamSid,
        callSid: CALL_SID,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: this.streamSid,
    });
  }

  /** One `media` message per 20 ms of `samples`. */
  media(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i += 160) {
      this.chunk++;
      this.raw.sendJson({
        event: 'media',
        sequenceNumber: this.next(),
        media: { track: 'inbound', chunk: String(this.chunk), timestamp: String((this.chunk - 1) * 20), payload: mulaw(samples.subarray(i, i + 160)).toString('base64') },
        streamSid: this.streamSid,
      });
    }
  }

  mark(name: string): void {
    this.raw.sendJson({ event: 'mark', sequenceNumber: this.next(), streamSid: this.streamSid, mark: { name } });
  }

  dtmf(digit: string): void {
    this.raw.sendJson({ event: 'dtmf', streamSid: this.streamSid, sequenceNumber: this.next(), dtmf: { track: 'inbound_track', digit } });
  }

  stop(): void {
    this.raw.sendJson({ event: 'stop', sequenceNumber: this.next(), streamSid: this.streamSid, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } });
  }

  /** Outgoing `media` messages received so far, decoded. */
  receivedMedia(): { msg: any; samples: Int16Array }[] {
    return this.raw.jsons.filter((m) => m.event === 'media').map((msg) => ({ msg, samples: decodeMulaw(Buffer.from(msg.media.payload, 'base64')) }));
  }
}

describe('Twilio Media Streams ingress', () => {
  let s: TestServer;
  const t = tempDir();
  let phone: TestPhone;
  const url = (): string => `${wsBase(s)}/carrier/twilio`;

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [PHONE, NOPHONE]);
    phone = await TestPhone.register(s, PHONE);
  });
  afterAll(async () => {
    phone.close();
    await s.close();
    t.cleanup();
  });

  it('rings the local phone, carries audio both ways, DTMF, marks, clear and stop', async () => {
    const tw = new TwilioClient(await openRaw(url()));
    tw.connected();
    tw.start({ token: s.key, to: PHONE, from: CALLER });
    const incoming = await phone.waitFor('incoming');
    expect(incoming.from).toEqual({ type: 'tel', target: CALLER });
    expect(incoming.to).toEqual({ type: 'tel', target: PHONE });
    const outId = incoming.call_id;
    const out = (await s.call('GET', `/calls/${outId}`)).body;
    const carrierId = out.master_call_id as string;
    expect((await s.call('GET', `/calls/${carrierId}`)).body).toMatchObject({
      direction: 'incoming',
      status: 'ringing',
      source: { type: 'tel', target: CALLER },
      destination: { type: 'tel', target: PHONE },
    });
    // While it rings, the carrier gets no audio.
    expect(tw.raw.jsons.filter((m) => m.event === 'media')).toEqual([]);

    phone.client.send({ type: 'answer' });
    await phone.waitFor('answered');
    await until(() => s.engine.getLive(outId)?.peer?.id === carrierId, 'the carrier leg bridged to the phone');
    await waitCall(s, carrierId, (r) => r.status === 'progressing', 'progressing');

    // Carrier → phone: mu-law in, the phone hears exactly the mu-law round trip of what was sent.
    const fromCaller = probe(50, 6000);
    tw.media(fromCaller);
    // Phone → carrier: the carrier gets the mu-law of exactly what the phone said.
    const fromPhone = probe(50, 3000, 29);
    phone.sendAll(fromPhone);
    await until(
      () => phone.audible().length >= fromCaller.length && audible(tw.receivedMedia().map((m) => m.samples)).length >= fromPhone.length,
      'audio both ways',
    );
    expectSamples(phone.audible(), mulawRoundTrip(fromCaller));
    expectSamples(audible(tw.receivedMedia().map((m) => m.samples)), mulawRoundTrip(fromPhone));
    expect(goertzel(phone.audible(), 1000)).toBeGreaterThan(5500);
    // Every outgoing media message: the stream's sid and valid base64 of exactly 160 mu-law bytes.
    for (const { msg } of tw.receivedMedia()) {
      expect(msg.streamSid).toBe(STREAM_SID);
      expect(Object.keys(msg).sort()).toEqual(['event', 'media', 'streamSid']);
      expect(msg.media.payload).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(msg.media.payload, 'base64').length).toBe(160);
      expect(Buffer.from(msg.media.payload, 'base64').toString('base64')).toBe(msg.media.payload);
    }

    // DTMF from the carrier reaches the carrier leg's listeners; marks are accepted quietly.
    const digits: string[] = [];
    s.engine.getLive(carrierId)!.onDtmf((d) => digits.push(d));
    tw.mark('greeting-done');
    tw.dtmf('7');
    tw.dtmf('#');
    await until(() => digits.length === 2, 'the DTMF digits');
    expect(digits).toEqual(['7', '#']);
    expect(tw.raw.closeInfo).toBeUndefined();

    // Barge-in: clearing the call's sources sends Twilio's `clear` for this stream.
    const textsBefore = tw.raw.texts.length;
    s.engine.getLive(carrierId)!.clearSources();
    const clear = await tw.raw.waitJson((m) => m.event === 'clear', 'clear');
    expect(clear).toEqual({ event: 'clear', streamSid: STREAM_SID });
    expect(tw.raw.texts.slice(textsBefore).map((x) => JSON.parse(x).event)).toContain('clear');

    // Twilio's stop ends the call: the socket closes 1000, the phone hears the hangup, both rows end.
    tw.stop();
    expect((await tw.raw.waitClosed()).code).toBe(1000);
    expect((await phone.waitFor('hangup')).reason).toBe('normal');
    expect((await waitCall(s, carrierId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('normal');
    expect((await waitCall(s, outId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('normal');
  });

  it('the carrier socket closing ends the call for the phone', async () => {
    phone.messages.length = 0;
    const tw = new TwilioClient(await openRaw(url()), 'MZclose');
    tw.connected();
    tw.start({ token: s.key, to: PHONE, from: CALLER });
    const outId = (await phone.waitFor('incoming')).call_id;
    phone.client.send({ type: 'answer' });
    await phone.waitFor('answered');
    await tw.raw.waitJson((m) => m.event === 'media', 'first media');
    expect(tw.raw.jsons.find((m) => m.event === 'media').streamSid).toBe('MZclose');
    tw.raw.close();
    expect((await phone.waitFor('hangup')).reason).toBe('normal');
    await waitCall(s, outId, (r) => r.status === 'hangup', 'hangup');
  });

  it('a start without a token, or with a wrong one, closes 1008 and stores no call', async () => {
    const before = await callIds(s);
    const rings = phone.messages.filter((m) => m.type === 'incoming').length;
    const attempts: Record<string, string>[] = [{ to: PHONE, from: CALLER }, { token: 'vbl_not_a_key', to: PHONE, from: CALLER }, { token: '', to: PHONE }];
    for (const params of attempts) {
      const tw = new TwilioClient(await openRaw(url()));
      tw.connected();
      tw.start(params);
      tw.media(probe(2, 1000)); // media racing the refused start is dropped, not a crash
      const closed = await tw.raw.waitClosed();
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/access key/);
      expect(closed.reason).not.toContain('vbl_not_a_key');
    }
    expect(await callIds(s)).toEqual(before);
    expect(phone.messages.filter((m) => m.type === 'incoming').length).toBe(rings);
  });

  it('media before start closes 1008', async () => {
    const tw = new TwilioClient(await openRaw(url()));
    tw.connected();
    tw.media(probe(1, 1000));
    expect((await tw.raw.waitClosed()).code).toBe(1008);
  });

  it('a start to a local number with no phone ends the stream (1000, failed)', async () => {
    const before = await callIds(s);
    const tw = new TwilioClient(await openRaw(url()));
    tw.connected();
    tw.start({ token: s.key, to: NOPHONE, from: CALLER });
    const closed = await tw.raw.waitClosed();
    expect(closed.code).toBe(1000);
    expect(closed.reason).toBe('call ended: failed');
    const added = (await callIds(s)).filter((id) => !before.includes(id));
    expect(added.length).toBe(1);
    expect(await waitCall(s, added[0]!, (r) => r.status === 'hangup', 'hangup')).toMatchObject({ hangup_reason: 'failed', direction: 'incoming' });
  });

  it('an unknown carrier is refused at the upgrade with 404', async () => {
    await expect(openRaw(`${wsBase(s)}/carrier/nope`)).rejects.toThrow(/HTTP 404/);
  });
});
