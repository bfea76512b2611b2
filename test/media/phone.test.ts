/**
 * The local phone protocol (`/local/phone`) over a real WebSocket on 127.0.0.1: register, place,
 * ring, answer, talk (lossless slin both ways), DTMF, hang up, cancel, no-answer, busy, failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createCustomer } from '../../src/local/customers.js';
import { PHONE_CLOSE } from '../../src/local/ws/phone-protocol.js';
import { TestPhone, addNumbers, expectSamples, goertzel, keptUpCall, openRaw, probe, until, waitCall, wsBase } from './helpers.js';

const A = '+15550100001';
const B = '+15550100002';
const C = '+15550100003';
const D = '+15550100004';
const UNREGISTERED = '+15550100009';

describe('local phone protocol', () => {
  let s: TestServer;
  const t = tempDir();
  let otherKey = '';
  const phones: TestPhone[] = [];
  const reg = async (address: string, key?: string): Promise<TestPhone> => {
    const p = await TestPhone.register(s, address, key);
    phones.push(p);
    return p;
  };

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [A, B, C, D, UNREGISTERED]);
    const other = await createCustomer(s.store, { name: 'other', initialBalanceCredit: 100 });
    otherKey = other.token;
    await addNumbers(s, ['+15550100077'], otherKey);
  });
  afterAll(async () => {
    for (const p of phones) p.close();
    await s.close();
    t.cleanup();
  });

  describe('register', () => {
    it('registers an owned number (normalized) and an extension', async () => {
      const p = await TestPhone.connect(s);
      phones.push(p);
      expect(await p.client.register({ type: 'tel', target: '+1 555-010-0004' })).toEqual({ type: 'tel', target: D });
      p.client.send({ type: 'register', address: { type: 'tel', target: D } });
      expect((await p.waitFor('error')).message).toMatch(/already registered/);
      const e = await TestPhone.connect(s);
      phones.push(e);
      expect(await e.client.register({ type: 'extension', target: 'desk' })).toEqual({ type: 'extension', target: 'desk' });
    });

    it('refuses a non-E.164 number with 1007', async () => {
      const p = await TestPhone.connect(s);
      p.client.send({ type: 'register', address: { type: 'tel', target: '555-0100' } });
      expect((await p.closed).code).toBe(PHONE_CLOSE.invalidData);
      expect(PHONE_CLOSE.invalidData).toBe(1007);
    });

    it('refuses a malformed register with 1007', async () => {
      const p = await TestPhone.connect(s);
      p.client.send({ type: 'register' } as never);
      expect((await p.closed).code).toBe(1007);
    });

    it("refuses another customer's number, and a number that is nobody's, with 1008", async () => {
      const p = await TestPhone.connect(s);
      p.client.send({ type: 'register', address: { type: 'tel', target: '+15550100077' } });
      const closed = await p.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/not a number of this account/);
      const q = await TestPhone.connect(s);
      q.client.send({ type: 'register', address: { type: 'tel', target: '+15550188888' } });
      expect((await q.closed).code).toBe(1008);
      // The other customer can register its own number.
      const mine = await reg('+15550100077', otherKey);
      expect(mine.closeInfo).toBeUndefined();
    });

    it('refuses a second phone on an address that is taken with 1008', async () => {
      await reg(C);
      const dup = await TestPhone.connect(s);
      dup.client.send({ type: 'register', address: { type: 'tel', target: C } });
      expect((await dup.closed).code).toBe(1008);
    });

    it('refuses a connection without a valid key at the upgrade (401)', async () => {
      await expect(openRaw(`${wsBase(s)}/local/phone`)).rejects.toThrow(/HTTP 401/);
      await expect(openRaw(`${wsBase(s)}/local/phone`, { authorization: 'Bearer nope' })).rejects.toThrow(/HTTP 401/);
    });

    it('answers out-of-state requests with an error message, not a close', async () => {
      const p = await TestPhone.connect(s);
      phones.push(p);
      p.client.send({ type: 'dial', to: A });
      expect((await p.waitFor('error')).message).toMatch(/register before dialing/);
      await p.client.register({ type: 'extension', target: 'idle' });
      p.client.send({ type: 'answer' });
      expect((await p.waitFor('error', (m) => /no call is ringing/.test(m.message))).type).toBe('error');
      p.client.send({ type: 'hangup' });
      expect((await p.waitFor('error', (m) => /no call to hang up/.test(m.message))).type).toBe('error');
      p.client.send({ type: 'dtmf', digits: '1' });
      expect((await p.waitFor('error', (m) => /no call for DTMF/.test(m.message))).type).toBe('error');
      expect(p.closeInfo).toBeUndefined();
    });
  });

  describe('phone to phone', () => {
    it('places, rings, answers, talks both ways losslessly, sends DTMF and hangs up', async () => {
      const a = await reg(A);
      const b = await reg(B);
      a.client.send({ type: 'dial', to: B });
      const ringing = await a.waitFor('ringing');
      const incoming = await b.waitFor('incoming');
      expect(incoming.from).toEqual({ type: 'tel', target: A });
      expect(incoming.to).toEqual({ type: 'tel', target: B });
      const aId = ringing.call_id;
      const bId = incoming.call_id;
      expect(aId).not.toBe(bId);
      expect((await s.call('GET', `/calls/${aId}`)).body).toMatchObject({ status: 'ringing', direction: 'incoming', chained_call_ids: [bId] });
      expect((await s.call('GET', `/calls/${bId}`)).body).toMatchObject({ status: 'ringing', direction: 'outgoing', master_call_id: aId });
      // Nothing is heard before the answer.
      expect(a.heard.length + b.heard.length).toBe(0);

      b.client.send({ type: 'answer' });
      await a.waitFor('answered', (m) => m.call_id === aId);
      await b.waitFor('answered', (m) => m.call_id === bId);
      await until(() => s.engine.getLive(aId)?.peer?.id === bId, 'the two legs bridged');
      for (const id of [aId, bId]) expect((await s.call('GET', `/calls/${id}`)).body.status).toBe('progressing');

      // Talk: 1 s each way, sent at once; the mixer plays it in real time, one source → exact samples.
      const fromA = probe(50, 3000);
      const fromB = probe(50, 9000, -41);
      a.sendAll(fromA);
      b.sendAll(fromB);
      await until(() => b.audible().length >= fromA.length && a.audible().length >= fromB.length, 'both sides to hear 1 s');
      expectSamples(b.audible(), fromA);
      expectSamples(a.audible(), fromB);
      expect(goertzel(b.audible(), 1000)).toBeGreaterThan(3000);
      // Silence frames keep coming between talk (a real line carries audio continuously).
      expect(b.heard.length).toBeGreaterThan(50);

      // DTMF from each phone reaches the listeners of its own call leg, in order.
      const digitsA: string[] = [];
      const digitsB: string[] = [];
      s.engine.getLive(aId)!.onDtmf((d) => digitsA.push(d));
      s.engine.getLive(bId)!.onDtmf((d) => digitsB.push(d));
      a.client.send({ type: 'dtmf', digits: '12#*' });
      b.client.send({ type: 'dtmf', digits: '9A' });
      await until(() => digitsA.length === 4 && digitsB.length === 2, 'the DTMF digits');
      expect(digitsA).toEqual(['1', '2', '#', '*']);
      expect(digitsB).toEqual(['9', 'A']);
      a.client.send({ type: 'dtmf', digits: '1x' });
      expect((await a.waitFor('error')).message).toMatch(/dtmf digits/);

      a.client.send({ type: 'hangup' });
      expect((await b.waitFor('hangup')).reason).toBe('normal');
      expect((await a.waitFor('hangup')).reason).toBe('normal');
      const rowA = await waitCall(s, aId, (r) => r.status === 'hangup', 'hangup');
      const rowB = await waitCall(s, bId, (r) => r.status === 'hangup', 'hangup');
      expect(rowA).toMatchObject({ hangup_reason: 'normal', hangup_by: 'remote' });
      expect(rowB.hangup_reason).toBe('normal');
      expect(rowA.tm_hangup).not.toBe('9999-01-01T00:00:00.000000Z');
      expect(s.engine.getLive(aId)).toBeUndefined();
      // Phones are free again: B can be called once more.
      expect(a.closeInfo).toBeUndefined();
      expect(b.closeInfo).toBeUndefined();
    });

    it('a caller hanging up while ringing cancels the callee', async () => {
      const a = phones.find((p) => p.messages.some((m) => m.type === 'registered' && m.address.target === A))!;
      const b = phones.find((p) => p.messages.some((m) => m.type === 'registered' && m.address.target === B))!;
      a.messages.length = 0;
      b.messages.length = 0;
      a.client.send({ type: 'dial', to: B });
      const aId = (await a.waitFor('ringing')).call_id;
      const bId = (await b.waitFor('incoming')).call_id;
      a.client.send({ type: 'hangup' });
      expect((await b.waitFor('hangup')).reason).toBe('cancel');
      expect((await a.waitFor('hangup')).reason).toBe('cancel');
      expect((await waitCall(s, aId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('cancel');
      expect((await waitCall(s, bId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('cancel');
    });

    it('a phone whose socket closes mid-call ends it for the other side', async () => {
      const x = await reg('ext:x');
      const y = await reg('ext:y');
      x.client.send({ type: 'dial', to: 'y' });
      const xId = (await x.waitFor('ringing')).call_id;
      y.client.send({ type: 'answer' });
      await x.waitFor('answered');
      y.close();
      expect((await x.waitFor('hangup')).reason).toBe('normal');
      expect((await waitCall(s, xId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('normal');
    });
  });

  describe('busy and failed', () => {
    it('a phone on a call is busy for a phone dialing it and for POST /calls', async () => {
      const talker = await reg('ext:talker');
      const callee = (await reg('ext:callee')).autoAnswer();
      talker.client.send({ type: 'dial', to: 'callee' });
      await talker.waitFor('answered');

      const c = phones.find((p) => p.messages.some((m) => m.type === 'registered' && m.address.target === C))!;
      c.client.send({ type: 'dial', to: 'callee' });
      const hung = await c.waitFor('hangup');
      expect(hung.reason).toBe('busy');
      expect(c.messages.some((m) => m.type === 'ringing')).toBe(false);
      expect((await waitCall(s, hung.call_id, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('busy');

      const res = await s.call('POST', '/calls', {
        source: { type: 'tel', target: A },
        destinations: [{ type: 'extension', target: 'callee' }],
        actions: [{ type: 'answer' }],
      });
      expect(res.status).toBe(200);
      const row = await waitCall(s, res.body.calls[0].id, (r) => r.status === 'hangup', 'hangup');
      expect(row).toMatchObject({ hangup_reason: 'busy', hangup_by: 'remote' });
      // The call in progress is untouched.
      expect(callee.messages.some((m) => m.type === 'hangup')).toBe(false);
      talker.client.send({ type: 'hangup' });
      await callee.waitFor('hangup');
    });

    it('POST /calls to a destination with no phone registered ends as failed', async () => {
      const res = await s.call('POST', '/calls', {
        source: { type: 'tel', target: A },
        destinations: [{ type: 'tel', target: UNREGISTERED }],
        actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
      });
      expect(res.status).toBe(200);
      const row = await waitCall(s, res.body.calls[0].id, (r) => r.status === 'hangup', 'hangup');
      expect(row).toMatchObject({ hangup_reason: 'failed', hangup_by: 'remote' });
    });

    it('a phone dialing a local number with no phone, or an unknown number, gets hangup failed', async () => {
      const c = phones.find((p) => p.messages.some((m) => m.type === 'registered' && m.address.target === C))!;
      for (const to of [UNREGISTERED, '+15550177777', 'nobody']) {
        c.messages.length = 0;
        c.client.send({ type: 'dial', to });
        const hung = await c.waitFor('hangup');
        expect(hung.reason).toBe('failed');
        expect(c.messages.some((m) => m.type === 'ringing')).toBe(false);
        expect((await waitCall(s, hung.call_id, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('failed');
      }
      // Calling oneself fails too.
      c.messages.length = 0;
      c.client.send({ type: 'dial', to: C });
      expect((await c.waitFor('hangup')).reason).toBe('failed');
    });
  });

  it('a call kept up by a flow carries the phone; hanging up by REST tells the phone', async () => {
    const p = (await reg('ext:kept')).autoAnswer();
    const id = await keptUpCall(s, p, 'kept');
    const res = await s.call('POST', `/calls/${id}/hangup`);
    expect(res.status).toBe(200);
    expect((await p.waitFor('hangup')).reason).toBe('normal');
    expect((await waitCall(s, id, (r) => r.status === 'hangup', 'hangup')).hangup_by).toBe('local');
  });
});

describe('no answer', () => {
  let s: TestServer;
  const t = tempDir();
  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'), {}, { engine: { ringTimeoutMs: 300 } });
    await addNumbers(s, [A, B]);
  });
  afterAll(async () => {
    await s.close();
    t.cleanup();
  });

  it('POST /calls to a phone that never answers ends as noanswer on the row and the phone', async () => {
    const b = await TestPhone.register(s, B);
    const res = await s.call('POST', '/calls', {
      source: { type: 'tel', target: A },
      destinations: [{ type: 'tel', target: B }],
      actions: [{ type: 'answer' }],
    });
    const id = res.body.calls[0].id as string;
    expect((await b.waitFor('incoming')).call_id).toBe(id);
    const hung = await b.waitFor('hangup');
    expect(hung).toEqual({ type: 'hangup', call_id: id, reason: 'noanswer' });
    const row = await waitCall(s, id, (r) => r.status === 'hangup', 'hangup');
    expect(row).toMatchObject({ hangup_reason: 'noanswer', hangup_by: 'remote' });
    // An answer after the timeout is too late.
    b.client.send({ type: 'answer' });
    expect((await b.waitFor('error')).message).toMatch(/no call is ringing/);
    b.close();
  });

  it('a phone calling a phone that never answers: both legs end as noanswer', async () => {
    const a = await TestPhone.register(s, A);
    const b = await TestPhone.register(s, B);
    a.client.send({ type: 'dial', to: B });
    const aId = (await a.waitFor('ringing')).call_id;
    const bId = (await b.waitFor('incoming')).call_id;
    expect((await b.waitFor('hangup')).reason).toBe('noanswer');
    expect((await waitCall(s, bId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('noanswer');
    // The caller learns why its call ended (VoIPBIN reports the dialed leg's reason on the master call).
    expect((await a.waitFor('hangup')).reason).toBe('noanswer');
    expect((await waitCall(s, aId, (r) => r.status === 'hangup', 'hangup')).hangup_reason).toBe('noanswer');
    a.close();
    b.close();
  });
});
