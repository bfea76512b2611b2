/**
 * Bad input on every socket (local phone, media_stream in each encapsulation, Twilio ingress):
 * wrong sizes, garbage, text where binary is due and the reverse, oversized messages. Each gets a
 * clear close code, nothing crashes, and a call running meanwhile keeps its audio flowing both
 * ways (checked after every bad socket has closed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { MAX_WS_MESSAGE_BYTES } from '../../src/local/ws/upgrade.js';
import type { Encapsulation } from '../../streams/protocols/encapsulation.js';
import { RawSocket, TestPhone, addNumbers, isSilent, keptUpCall, mediaStream, openRaw, probe, until, wsBase } from './helpers.js';
import type { MediaStreamClient } from '../../streams/media-stream-client.js';

const BACKGROUND = '+15550400001';
const VICTIM = '+15550400002';
const TWILIO_PHONE = '+15550400003';

interface BadCase {
  name: string;
  send: (raw: RawSocket) => void;
  code: number;
}

function rtpHeader(payloadBytes: number, b0 = 0x80, b1 = 96): Buffer {
  const b = Buffer.alloc(12 + payloadBytes);
  b[0] = b0;
  b[1] = b1;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(160, 4);
  b.writeUInt32BE(42, 8);
  return b;
}

const OVERSIZED = Buffer.alloc(MAX_WS_MESSAGE_BYTES + 1);

const MEDIA_STREAM_CASES: Record<Encapsulation, BadCase[]> = {
  sln: [
    { name: 'an odd byte count', send: (r) => r.send(Buffer.alloc(321)), code: 1007 },
    { name: 'a payload over 4096 bytes', send: (r) => r.send(Buffer.alloc(5000)), code: 1009 },
  ],
  rtp: [
    { name: 'a packet shorter than the header', send: (r) => r.send(Buffer.from([0x80, 96, 0, 1, 0])), code: 1007 },
    { name: 'an odd payload', send: (r) => r.send(rtpHeader(321)), code: 1007 },
    { name: 'version 1', send: (r) => r.send(rtpHeader(320, 0x40)), code: 1007 },
    { name: 'payload type 0 (PCMU)', send: (r) => r.send(rtpHeader(160, 0x80, 0)), code: 1007 },
    { name: 'garbage bytes', send: (r) => r.send(Buffer.alloc(100, 0xff)), code: 1007 },
    { name: 'a bad padding count', send: (r) => { const b = rtpHeader(20, 0xa0); b[b.length - 1] = 200; r.send(b); }, code: 1007 },
    { name: 'a payload over 4096 bytes', send: (r) => r.send(rtpHeader(5000)), code: 1009 },
  ],
  audiosocket: [
    { name: 'a truncated header', send: (r) => r.send(Buffer.from([0x10, 0x01])), code: 1007 },
    { name: 'an odd audio payload', send: (r) => r.send(Buffer.from([0x10, 0x00, 0x03, 1, 2, 3])), code: 1007 },
    { name: 'a truncated payload', send: (r) => r.send(Buffer.concat([Buffer.from([0x10, 0x01, 0x40]), Buffer.alloc(10)])), code: 1007 },
    { name: 'an unknown kind', send: (r) => r.send(Buffer.from([0x42, 0x00, 0x00])), code: 1003 },
    { name: 'a bad DTMF byte', send: (r) => r.send(Buffer.from([0x03, 0x00, 0x01, 0x78])), code: 1007 },
    { name: 'a message over 16 KiB', send: (r) => r.send(Buffer.alloc(20000)), code: 1009 },
  ],
};

describe('bad input on every socket; a concurrent call keeps flowing', () => {
  let s: TestServer;
  const t = tempDir();
  let bgPhone: TestPhone;
  let bgStream: { client: MediaStreamClient; heard: Int16Array[] };
  let victimPhone: TestPhone;
  let victimId = '';
  let twilioPhone: TestPhone;
  let pump: ReturnType<typeof setInterval> | undefined;

  /** Both directions of the background call carried at least `frames` more frames of sound. */
  async function expectStillFlowing(frames = 5): Promise<void> {
    const phoneBefore = bgPhone.heard.filter((f) => !isSilent(f)).length;
    const streamBefore = bgStream.heard.length;
    await until(
      () => bgPhone.heard.filter((f) => !isSilent(f)).length >= phoneBefore + frames && bgStream.heard.length >= streamBefore + frames,
      'the background call to keep flowing',
    );
    expect((await s.call('GET', '/calls?page_size=1')).status).toBe(200);
  }

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [BACKGROUND, VICTIM, TWILIO_PHONE]);
    bgPhone = (await TestPhone.register(s, BACKGROUND)).autoAnswer();
    const bgId = await keptUpCall(s, bgPhone, BACKGROUND);
    bgStream = await mediaStream(s, bgId, 'sln');
    victimPhone = (await TestPhone.register(s, VICTIM)).autoAnswer();
    victimId = await keptUpCall(s, victimPhone, VICTIM);
    twilioPhone = (await TestPhone.register(s, TWILIO_PHONE)).autoAnswer();
    // The background call talks both ways, in real time, for the whole file.
    const a = probe(1, 2000);
    const b = probe(1, 3000);
    pump = setInterval(() => {
      bgPhone.client.sendAudio(a);
      bgStream.client.sendAudio(b);
    }, 20);
    await expectStillFlowing();
  });
  afterAll(async () => {
    if (pump) clearInterval(pump);
    for (const p of [bgPhone, victimPhone, twilioPhone]) p?.close();
    await s.close();
    t.cleanup();
  });

  describe('local phone', () => {
    const cases: BadCase[] = [
      { name: 'an odd byte count', send: (r) => r.send(Buffer.alloc(321)), code: 1007 },
      { name: 'audio over 4096 bytes', send: (r) => r.send(Buffer.alloc(5000)), code: 1007 },
      { name: 'text that is not JSON', send: (r) => r.send('{"type": "register", '), code: 1007 },
      { name: 'JSON null', send: (r) => r.send('null'), code: 1007 },
      { name: 'an unknown message type', send: (r) => r.sendJson({ type: 'explode' }), code: 1007 },
      { name: 'a binary message over 64 KiB', send: (r) => r.send(OVERSIZED), code: 1009 },
      { name: 'a text message over 64 KiB', send: (r) => r.send('x'.repeat(MAX_WS_MESSAGE_BYTES + 1)), code: 1009 },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.code}`, async () => {
        const raw = await openRaw(`${wsBase(s)}/local/phone`, { authorization: `Bearer ${s.key}` });
        c.send(raw);
        expect((await raw.waitClosed()).code).toBe(c.code);
        await expectStillFlowing();
      });
    }

    it('a registered phone on a call sending an odd frame is closed (1007) and its call ends; others go on', async () => {
      const raw = await openRaw(`${wsBase(s)}/local/phone`, { authorization: `Bearer ${s.key}` });
      raw.sendJson({ type: 'register', address: { type: 'extension', target: 'garbage' } });
      await raw.waitJson((m) => m.type === 'registered', 'registered');
      const res = await s.call('POST', '/calls', {
        source: { type: 'tel', target: BACKGROUND },
        destinations: [{ type: 'extension', target: 'garbage' }],
        actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
      });
      const id = res.body.calls[0].id as string;
      await raw.waitJson((m) => m.type === 'incoming', 'incoming');
      raw.sendJson({ type: 'answer' });
      await raw.waitJson((m) => m.type === 'answered', 'answered');
      raw.send(Buffer.alloc(320)); // a good frame first
      raw.send(Buffer.alloc(333));
      expect((await raw.waitClosed()).code).toBe(1007);
      await until(() => s.engine.getLive(id) === undefined, 'the closed phone’s call to end');
      expect((await s.call('GET', `/calls/${id}`)).body.status).toBe('hangup');
      await expectStillFlowing();
    });

    it('a wrongly typed dial is answered with an error, the socket stays open', async () => {
      const p = await TestPhone.register(s, 'ext:typo');
      p.client.send({ type: 'dial', to: 5 as never });
      expect((await p.waitFor('error')).message).toMatch(/dial needs "to"/);
      expect(p.closeInfo).toBeUndefined();
      p.close();
    });
  });

  describe('media_stream', () => {
    for (const enc of ['sln', 'rtp', 'audiosocket'] as const) {
      const cases: BadCase[] = [
        ...MEDIA_STREAM_CASES[enc],
        { name: 'a text message', send: (r) => r.send('hello'), code: 1003 },
        { name: 'a message over 64 KiB', send: (r) => r.send(OVERSIZED), code: 1009 },
      ];
      for (const c of cases) {
        it(`${enc}: ${c.name} → ${c.code}; the call it was on goes on`, async () => {
          const raw = await openRaw(`${wsBase(s)}/v1.0/calls/${victimId}/media_stream?encapsulation=${enc}`, { authorization: `Bearer ${s.key}` });
          c.send(raw);
          expect((await raw.waitClosed()).code).toBe(c.code);
          expect(s.engine.getLive(victimId)?.ended).toBe(false);
          await expectStillFlowing();
        });
      }
    }

    it('the call a bad stream was on still carries a good stream afterwards', async () => {
      const ms = await mediaStream(s, victimId, 'rtp');
      const sent = probe(10, 1500);
      victimPhone.sendAll(sent);
      // The stream also carries silence, so count the phone's (non-silent) frames.
      await until(() => ms.heard.filter((f) => !isSilent(f)).length >= 10, 'the good stream hearing the phone');
      ms.client.close();
      await ms.closed;
    });
  });

  describe('twilio', () => {
    const start = (token: string, extra: Record<string, unknown> = {}) => ({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: 'AC1',
        streamSid: 'MZbad',
        callSid: 'CA1',
        tracks: ['inbound'],
        customParameters: { token, to: TWILIO_PHONE, from: '+14155550100' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        ...extra,
      },
      streamSid: 'MZbad',
    });
    const cases: BadCase[] = [
      { name: 'a binary message', send: (r) => r.send(Buffer.alloc(160, 0xff)), code: 1003 },
      { name: 'text that is not JSON', send: (r) => r.send('{"event":'), code: 1007 },
      { name: 'a JSON array', send: (r) => r.send('[1,2]'), code: 1007 },
      { name: 'an unknown event', send: (r) => r.sendJson({ event: 'explode' }), code: 1003 },
      { name: 'a message over 64 KiB', send: (r) => r.send(JSON.stringify({ event: 'media', pad: 'x'.repeat(MAX_WS_MESSAGE_BYTES) })), code: 1009 },
      { name: 'media before start', send: (r) => r.sendJson({ event: 'media', media: { payload: Buffer.alloc(160, 0xff).toString('base64') }, streamSid: 'MZbad' }), code: 1008 },
      { name: 'a start without a token', send: (r) => r.sendJson(start('')), code: 1008 },
      { name: 'a start with an unsupported media format', send: (r) => r.sendJson(start('x', { mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 } })), code: 1003 },
      { name: 'a start without callSid', send: (r) => r.sendJson({ event: 'start', start: { accountSid: 'AC1', streamSid: 'MZ' } }), code: 1007 },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.code}`, async () => {
        const raw = await openRaw(`${wsBase(s)}/carrier/twilio`);
        c.send(raw);
        expect((await raw.waitClosed()).code).toBe(c.code);
        await expectStillFlowing();
      });
    }

    it('bad media on a live carrier call closes 1007 and ends that call cleanly', async () => {
      const raw = await openRaw(`${wsBase(s)}/carrier/twilio`);
      raw.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      raw.sendJson(start(s.key));
      await twilioPhone.waitFor('answered');
      await raw.waitJson((m) => m.event === 'media', 'media from the call');
      raw.sendJson({ event: 'media', media: { payload: '%%%not-base64%%%' }, streamSid: 'MZbad' });
      const closed = await raw.waitClosed();
      expect(closed.code).toBe(1007);
      expect(closed.reason).toMatch(/base64/);
      expect((await twilioPhone.waitFor('hangup')).reason).toBe('normal');
      await expectStillFlowing();
    });
  });
});
