/**
 * `GET /v1.0/calls/{id}/media_stream` over a real WebSocket on 127.0.0.1, for every
 * encapsulation, both directions: what the client injects is heard by the phone and what the
 * phone says reaches the client, sample for sample (slin is lossless end to end). Plus the wire
 * format of each encapsulation, the upgrade's refusals in VoIPBIN's envelope, and the close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createCustomer } from '../../src/local/customers.js';
import { ConflictError, NotFoundError } from '../../src/client/errors.js';
import { connectMediaStream } from '../../streams/media-stream-client.js';
import { createEncapsulationCodec, ENCAPSULATIONS } from '../../streams/protocols/encapsulation.js';
import type { Encapsulation } from '../../streams/protocols/encapsulation.js';
import { AudioSocketCodec } from '../../streams/protocols/voipbin-audiosocket.js';
import {
  FRAME,
  TestPhone,
  addNumbers,
  audible,
  dominantFrequency,
  expectEnvelope,
  expectSamples,
  framesOf,
  goertzel,
  keptUpCall,
  mediaStream,
  openRaw,
  probe,
  until,
  upgradeRejection,
  waitCall,
  wsBase,
} from './helpers.js';

const NUMBER: Record<Encapsulation, string> = { rtp: '+15550200001', sln: '+15550200002', audiosocket: '+15550200003' };
const RAW_NUMBER: Record<Encapsulation, string> = { rtp: '+15550200011', sln: '+15550200012', audiosocket: '+15550200013' };
const RINGING = '+15550200020';
const MIX = '+15550200021';
const MISC = '+15550200022';

describe('media_stream', () => {
  let s: TestServer;
  const t = tempDir();
  const phones: TestPhone[] = [];
  const reg = async (n: string): Promise<TestPhone> => {
    const p = (await TestPhone.register(s, n)).autoAnswer();
    phones.push(p);
    return p;
  };
  const streamUrl = (id: string, enc = 'sln'): string => `${wsBase(s)}/v1.0/calls/${id}/media_stream?encapsulation=${enc}`;

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [...Object.values(NUMBER), ...Object.values(RAW_NUMBER), RINGING, MIX, MISC]);
  });
  afterAll(async () => {
    for (const p of phones) p.close();
    await s.close();
    t.cleanup();
  });

  for (const enc of ENCAPSULATIONS) {
    it(`${enc}: injected audio is heard by the phone and the phone reaches the client, exactly; closes 1000 when the call ends`, async () => {
      const phone = await reg(NUMBER[enc]);
      const id = await keptUpCall(s, phone, NUMBER[enc]);
      const ms = await mediaStream(s, id, enc);
      expect(ms.client.encapsulation).toBe(enc);

      const injected = probe(50, 5000); // 1 s, 1 kHz, amplitude 5000 + 37 x frame
      const spoken = probe(50, 2000, 53);
      expect(ms.client.sendAudio(injected)).toBe(true);
      expect(ms.client.pendingSamples).toBe(0);
      phone.sendAll(spoken);

      await until(() => phone.audible().length >= injected.length && audible(ms.heard).length >= spoken.length, 'audio both ways');
      expectSamples(phone.audible(), injected);
      expectSamples(audible(ms.heard), spoken);
      // The client hears the party in 20 ms frames.
      expect(ms.heard.every((f) => f.length === FRAME)).toBe(true);
      // And it is the 1 kHz tone of the expected amplitude.
      const heardByPhone = phone.audible();
      expect(dominantFrequency(heardByPhone)).toBe(1000);
      expect(goertzel(heardByPhone, 1000)).toBeGreaterThan(5000);
      expect(goertzel(heardByPhone, 1000)).toBeLessThan(5000 + 37 * 50);
      expect(goertzel(heardByPhone, 440)).toBeLessThan(100);

      // The call ends (REST hangup): the stream closes with 1000; audiosocket says hangup first.
      expect((await s.call('POST', `/calls/${id}/hangup`)).status).toBe(200);
      const [code] = await ms.closed;
      expect(code).toBe(1000);
      expect(ms.events).toEqual(enc === 'audiosocket' ? ['hangup', 'close:1000'] : ['close:1000']);
      expect((await phone.waitFor('hangup')).reason).toBe('normal');
      expect(ms.client.sendAudio(injected)).toBe(false);
    });

    it(`${enc}: the wire format (raw socket) is VoIPBIN's 20 ms frames both ways`, async () => {
      const phone = await reg(RAW_NUMBER[enc]);
      const id = await keptUpCall(s, phone, RAW_NUMBER[enc]);
      const raw = await openRaw(streamUrl(id, enc), { authorization: `Bearer ${s.key}` });
      const spoken = probe(5, 1200);
      phone.sendAll(spoken);
      // The stream is continuous (silence frames before and after the phone's audio), so wait for
      // the five spoken frames and check every packet received so far.
      const payloadAt = enc === 'rtp' ? 12 : enc === 'audiosocket' ? 3 : 0;
      const spokenFrames = (): number => raw.binaries.filter((b) => b.subarray(payloadAt).some((x) => x !== 0)).length;
      await until(() => spokenFrames() >= 5, 'five spoken frames at the raw socket');
      const got = raw.binaries.slice();
      const payloads: Int16Array[] = [];
      if (enc === 'sln') {
        for (const b of got) expect(b.length).toBe(320);
        for (const b of got) payloads.push(le16(b));
      } else if (enc === 'rtp') {
        const ssrc = got[0]!.readUInt32BE(8);
        got.forEach((b, i) => {
          expect(b.length).toBe(332);
          expect(b[0]! >> 6).toBe(2); // version 2, no padding/extension/CSRC
          expect(b[0]! & 0x3f).toBe(0);
          expect(b[1]! & 0x7f).toBe(96);
          expect((b[1]! & 0x80) !== 0).toBe(i === 0); // marker on the first packet only
          expect(b.readUInt16BE(2)).toBe((got[0]!.readUInt16BE(2) + i) & 0xffff);
          expect(b.readUInt32BE(4)).toBe((got[0]!.readUInt32BE(4) + 160 * i) >>> 0);
          expect(b.readUInt32BE(8)).toBe(ssrc);
          payloads.push(le16(b.subarray(12)));
        });
      } else {
        for (const b of got) {
          expect(b.length).toBe(323);
          expect([...b.subarray(0, 3)]).toEqual([0x10, 0x01, 0x40]);
          payloads.push(le16(b.subarray(3)));
        }
      }
      expectSamples(audible(payloads), spoken);

      // Frames built by an independent codec instance go the other way.
      const codec = createEncapsulationCodec(enc, { ssrc: 1234, sequenceNumber: 65534, timestamp: 4294967000 });
      const injected = probe(5, 700);
      for (const f of framesOf(injected)) raw.send(Buffer.from(codec.encodeAudio(f)));
      await until(() => phone.audible().length >= injected.length, 'the phone hearing the raw frames');
      expectSamples(phone.audible(), injected);

      // The phone hangs up: the raw socket gets (audiosocket) the hangup packet, then a 1000 close.
      phone.client.send({ type: 'hangup' });
      expect((await raw.waitClosed()).code).toBe(1000);
      if (enc === 'audiosocket') expect([...raw.binaries.at(-1)!]).toEqual([0x00, 0x00, 0x00]);
      expect((await waitCall(s, id, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('normal');
    });
  }

  it('several streams on one call: the phone hears their sum, each stream hears the phone', async () => {
    const phone = await reg(MIX);
    const id = await keptUpCall(s, phone, MIX);
    const one = await mediaStream(s, id, 'sln');
    const two = await mediaStream(s, id, 'rtp');
    // Constant frames make the mix checkable whatever tick each source starts on: every heard
    // sample is one source, the other or their sum, and nothing is lost or added.
    const frames = 25;
    const a = new Int16Array(FRAME).fill(1000);
    const b = new Int16Array(FRAME).fill(234);
    for (let i = 0; i < frames; i++) {
      one.client.sendAudio(a);
      two.client.sendAudio(b);
    }
    let total = 0;
    await until(() => {
      total = phone.audible().reduce((acc, v) => acc + v, 0);
      return total >= frames * FRAME * 1234;
    }, 'the mix of both streams');
    expect(total).toBe(frames * FRAME * 1234);
    const heardFrames = phone.heard.filter((f) => f[0] !== 0);
    for (const f of heardFrames) expect([1000, 234, 1234]).toContain(f[0]);
    expect(heardFrames.every((f) => f.every((v) => v === f[0]))).toBe(true);
    expect(heardFrames.filter((f) => f[0] === 1234).length).toBeGreaterThan(frames / 2);
    const spoken = probe(10, 4000);
    phone.sendAll(spoken);
    await until(() => audible(one.heard).length >= spoken.length && audible(two.heard).length >= spoken.length, 'both streams hearing the phone');
    expectSamples(audible(one.heard), spoken);
    expectSamples(audible(two.heard), spoken);
    // Closing one stream leaves the other (and the call) running.
    one.client.close();
    expect((await one.closed)[0]).toBe(1000);
    const before = two.heard.length;
    phone.sendAll(probe(5, 4000));
    await until(() => two.heard.length >= before + 5, 'the other stream still hearing');
    expect(s.engine.getLive(id)?.ended).toBe(false);
    two.client.close();
    await two.closed;
  });

  it('audiosocket DTMF from the client reaches the call’s DTMF listeners; its hangup closes the stream only', async () => {
    const phone = await reg(MISC);
    const id = await keptUpCall(s, phone, MISC);
    const digits: string[] = [];
    s.engine.getLive(id)!.onDtmf((d) => digits.push(d));
    const raw = await openRaw(streamUrl(id, 'audiosocket'), { authorization: `Bearer ${s.key}` });
    const codec = new AudioSocketCodec();
    raw.send(Buffer.concat([codec.encodeDtmf('5'), codec.encodeDtmf('#'), codec.encodeUuid(randomUUID())]));
    await until(() => digits.length === 2, 'two digits');
    expect(digits).toEqual(['5', '#']);
    raw.send(codec.encodeHangup());
    expect((await raw.waitClosed()).code).toBe(1000);
    // The call itself goes on.
    expect(s.engine.getLive(id)?.ended).toBe(false);

    // Refused upgrades answer with VoIPBIN's envelope, not a socket that dies.
    const auth = { authorization: `Bearer ${s.key}` };
    let r = await upgradeRejection(streamUrl(id, 'mp3'), auth);
    expect(r.status).toBe(400);
    expectEnvelope(r.body, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    expect(r.body.error.message).toMatch(/rtp, sln, audiosocket/);
    r = await upgradeRejection(streamUrl(id, 'sln'));
    expect(r.status).toBe(401);
    expectEnvelope(r.body, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED');
    r = await upgradeRejection(streamUrl(id, 'sln'), { authorization: 'Bearer vbl_wrong' });
    expect(r.status).toBe(401);
    expectEnvelope(r.body, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    r = await upgradeRejection(streamUrl(randomUUID(), 'sln'), auth);
    expect(r.status).toBe(404);
    expectEnvelope(r.body, 'NOT_FOUND', 'CALL_NOT_FOUND');
    r = await upgradeRejection(streamUrl('not-a-uuid', 'sln'), auth);
    expect(r.status).toBe(400);
    // Another customer's call is indistinguishable from a missing one.
    const other = await createCustomer(s.store, { name: 'other', initialBalanceCredit: 100 });
    r = await upgradeRejection(streamUrl(id, 'sln'), { authorization: `Bearer ${other.token}` });
    expect(r.status).toBe(404);
    expectEnvelope(r.body, 'NOT_FOUND', 'CALL_NOT_FOUND');
    // The gateway's client maps the envelope to typed errors.
    await expect(connectMediaStream({ url: s.api, callId: id, encapsulation: 'sln', accessKey: other.token })).rejects.toBeInstanceOf(NotFoundError);
    // The key in the query string works as VoIPBIN's docs show it.
    const q = await openRaw(`${streamUrl(id, 'sln')}&token=${s.key}`);
    q.close();
    await q.closed;

    // An ended call: 409 CALL_ALREADY_HANGUP.
    await s.call('POST', `/calls/${id}/hangup`);
    await waitCall(s, id, (row) => row.status === 'hangup', 'hangup');
    r = await upgradeRejection(streamUrl(id, 'sln'), auth);
    expect(r.status).toBe(409);
    expectEnvelope(r.body, 'FAILED_PRECONDITION', 'CALL_ALREADY_HANGUP');
  });

  it('a ringing call refuses the stream with 409 CALL_STATE_INVALID', async () => {
    const p = await TestPhone.register(s, RINGING); // never answers
    phones.push(p);
    const res = await s.call('POST', '/calls', {
      source: { type: 'tel', target: MISC },
      destinations: [{ type: 'tel', target: RINGING }],
      actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
    });
    const id = res.body.calls[0].id as string;
    await p.waitFor('incoming');
    for (const enc of ENCAPSULATIONS) {
      const r = await upgradeRejection(streamUrl(id, enc), { authorization: `Bearer ${s.key}` });
      expect(r.status).toBe(409);
      expectEnvelope(r.body, 'FAILED_PRECONDITION', 'CALL_STATE_INVALID');
    }
    const err = await connectMediaStream({ url: s.api, callId: id, encapsulation: 'rtp', accessKey: s.key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).reason).toBe('CALL_STATE_INVALID');
    // Once answered, the same stream opens.
    p.client.send({ type: 'answer' });
    await p.waitFor('answered');
    const ms = await mediaStream(s, id, 'rtp');
    expect(ms.client.isOpen).toBe(true);
    p.client.send({ type: 'hangup' });
    expect((await ms.closed)[0]).toBe(1000);
  });
});

function le16(b: Buffer): Int16Array {
  const out = new Int16Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}
