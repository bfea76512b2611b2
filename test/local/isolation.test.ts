/**
 * Tenant isolation and access-key lifetime on the real server (SQLite file, HTTP and
 * WebSockets on 127.0.0.1): a deleted number takes its phones off the line, routing never hands
 * a number's call to another customer's phone, a deleted or expired access key ends the phones
 * and media streams it opened, `PUT /numbers` refuses what it cannot change, and a deleted AI's
 * engine_key is erased from the database file.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createCustomer } from '../../src/local/customers.js';
import { KeySessions, MAX_TIMER_MS } from '../../src/local/key-sessions.js';
import type { KeyRevocation } from '../../src/local/key-sessions.js';
import { SqliteStore } from '../../db/sqlite-store.js';
import { TM_NEVER } from '../../src/util/time.js';
import { TestPhone, addNumbers, delay, openRaw, until, waitCall, wsBase } from '../media/helpers.js';
import type { RawSocket } from '../media/helpers.js';

/** Generous bound for anything that should happen "at once" (a busy 2-core machine). */
const SOON_MS = 10_000;

let s: TestServer;
const t = tempDir();
const dbPath = join(t.dir, 'db.sqlite');
/** Customer 2 (customer 1 is the server's local customer, key `s.key`). */
let key2 = '';
const phones: TestPhone[] = [];
const sockets: RawSocket[] = [];

/** Customer 1's and customer 2's own source numbers (a call's source must be a number of its account). */
const SRC1 = '+15550700001';
const SRC2 = '+15550700002';

async function phone(address: string, key = s.key): Promise<TestPhone> {
  const p = await TestPhone.register(s, address, key);
  phones.push(p);
  return p;
}

/** What the phone had received when its socket closed (to prove `hangup` came before the close). */
function messagesAtClose(p: TestPhone): Promise<string[]> {
  return p.closed.then(() => p.messages.map((m) => m.type));
}

/** The close of the phone's socket, failing after `timeoutMs`. */
function closedWithin(p: TestPhone, timeoutMs = SOON_MS): Promise<{ code: number; reason: string }> {
  return Promise.race([
    p.closed,
    delay(timeoutMs).then(() => {
      throw new Error(`phone not closed after ${timeoutMs} ms`);
    }),
  ]);
}

/** `POST /calls` to `destination` with a flow that answers and stays up; returns the call id. */
async function placeCall(destination: string, key: string, source: string): Promise<string> {
  const res = await s.call(
    'POST',
    '/calls',
    {
      source: { type: 'tel', target: source },
      destinations: [{ type: 'tel', target: destination }],
      actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
    },
    key,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.calls[0].id as string;
}

/** A call that `p` (auto-answering, registered at `destination`) has answered. */
async function answeredCall(p: TestPhone, destination: string, key = s.key, source = SRC1): Promise<string> {
  const id = await placeCall(destination, key, source);
  await p.waitFor('answered', (m) => m.call_id === id);
  await until(() => s.engine.getLive(id)?.answered === true, 'the call answered');
  return id;
}

async function numberId(number: string, key: string): Promise<string> {
  const res = await s.call('GET', '/numbers?page_size=100', undefined, key);
  expect(res.status).toBe(200);
  return (res.body.result as { id: string; number: string }[]).find((n) => n.number === number)!.id;
}

beforeAll(async () => {
  s = await startTestServer(dbPath);
  key2 = (await createCustomer(s.store, { name: 'customer 2', initialBalanceCredit: 100_000 })).token;
  await addNumbers(s, [SRC1]);
  await addNumbers(s, [SRC2], key2);
});
afterAll(async () => {
  for (const p of phones) p.close();
  for (const r of sockets) r.close();
  await s.close();
  t.cleanup();
});

describe('numbers and the phones registered on them', () => {
  it('deleting a number hangs up its phone, closes it with 1008, and the number then serves its new owner', async () => {
    const N = '+15550710001';
    await addNumbers(s, [N]);
    const p1 = (await phone(N)).autoAnswer();
    const order = messagesAtClose(p1);
    const callId = await answeredCall(p1, N);

    const del = await s.call('DELETE', `/numbers/${await numberId(N, s.key)}`);
    expect(del.status).toBe(200);
    const closed = await closedWithin(p1, SOON_MS);
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe(`number ${N} was deleted; register again on a number of this account`);
    // The live call ended first: the phone got its hangup before the close.
    expect(await order).toContain('hangup');
    expect((await p1.waitFor('hangup')).call_id).toBe(callId);
    await waitCall(s, callId, (c) => c.status === 'hangup', 'hung up');

    // Customer 2 creates the same number, registers its own phone on it and gets its calls.
    await addNumbers(s, [N], key2);
    const p2 = (await phone(N, key2)).autoAnswer();
    expect(p2.closeInfo).toBeUndefined();
    const call2 = await answeredCall(p2, N, key2, SRC2);
    expect(p1.messages.filter((m) => m.type === 'incoming').map((m) => (m as { call_id: string }).call_id)).toEqual([callId]);
    expect((await s.call('GET', `/calls/${call2}`, undefined, key2)).body.status).toBe('progressing');
  });

  it("routing checks the number's owner: a phone left on a number never gets the next owner's calls", async () => {
    const N = '+15550710002';
    await addNumbers(s, [N]);
    const stale = await phone(N);
    // The number goes without its phone being dropped (as when the deletion raced the
    // registration, or another process deleted it): the phone of customer 1 stays connected.
    const c1 = s.localCustomerId!;
    expect(await s.store.numbers.softDelete(c1, await numberId(N, s.key))).toBeDefined();
    expect(stale.closeInfo).toBeUndefined();

    await addNumbers(s, [N], key2);
    // Customer 2 calls its number: no phone of customer 2 is on it yet, so the call fails; the
    // phone of customer 1 is never rung.
    const failed = await placeCall(N, key2, SRC2);
    const row = await waitCall(s, failed, (c) => c.status === 'hangup', 'ended', key2);
    expect(row.hangup_reason).toBe('failed');
    await delay(200);
    expect(stale.messages.filter((m) => m.type === 'incoming')).toEqual([]);

    // Customer 2 can register its own phone on the number (the stale one does not hold it) and gets the call.
    const own = (await phone(N, key2)).autoAnswer();
    expect(own.closeInfo).toBeUndefined();
    await answeredCall(own, N, key2, SRC2);
    expect(stale.messages.filter((m) => m.type === 'incoming')).toEqual([]);
  });

  it('PUT /numbers/{id} refuses the fields it cannot change, naming them; another customer still gets 404', async () => {
    const N = '+15550710003';
    await addNumbers(s, [N]);
    const id = await numberId(N, s.key);
    const changed = await s.call('PUT', `/numbers/${id}`, { number: '+15550710099', name: 'x' });
    expect(changed.status).toBe(400);
    expect(changed.body.error).toMatchObject({ status: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' });
    expect(changed.body.error.message).toMatch(/^number: a number cannot be changed; delete it and create the new one/);
    const typed = await s.call('PUT', `/numbers/${id}`, { type: 'virtual' });
    expect(typed.status).toBe(400);
    expect(typed.body.error.message).toMatch(/^type: /);
    expect(typed.body.error.message).toContain('call_flow_id, message_flow_id, name or detail');
    // Nothing changed, not even the name sent beside the refused field.
    const got = await s.call('GET', `/numbers/${id}`);
    expect(got.body).toMatchObject({ number: N, type: 'normal', name: '' });
    // Another customer's number is indistinguishable from a missing one, whatever the body.
    const other = await s.call('PUT', `/numbers/${id}`, { number: '+15550710099' }, key2);
    expect(other.status).toBe(404);
    expect(other.body.error.reason).toBe('NUMBER_NOT_FOUND');
    expect((await s.call('PUT', `/numbers/${id}`, { name: 'main' })).body.name).toBe('main');
  });
});

describe('what an access key opened ends with the key', () => {
  it('DELETE /accesskeys/{id}: its phone hangs up and closes 1008, its media stream closes 1008; other keys are untouched', async () => {
    const [K_NUM, L_NUM] = ['+15550720001', '+15550720002'];
    await addNumbers(s, [K_NUM, L_NUM]);
    const created = await s.call('POST', '/accesskeys', { name: 'to delete' });
    expect(created.status).toBe(200);
    const K = created.body.token as string;

    const pk = (await phone(K_NUM, K)).autoAnswer();
    const pkOrder = messagesAtClose(pk);
    const pl = (await phone(L_NUM)).autoAnswer(); // on the server's own key
    const callK = await answeredCall(pk, K_NUM);
    const callL = await answeredCall(pl, L_NUM);
    // A media stream opened with K on a call whose phone is not K's.
    const ms = await openRaw(`${wsBase(s)}/v1.0/calls/${callL}/media_stream?encapsulation=sln`, { authorization: `Bearer ${K}` });
    sockets.push(ms);

    const del = await s.call('DELETE', `/accesskeys/${created.body.id}`);
    expect(del.status).toBe(200);
    expect(JSON.stringify(del.body)).not.toContain(K);

    const phoneClosed = await closedWithin(pk, SOON_MS);
    expect(phoneClosed).toEqual({ code: 1008, reason: 'the access key was deleted' });
    expect(await pkOrder).toContain('hangup');
    expect((await pk.waitFor('hangup')).call_id).toBe(callK);
    await waitCall(s, callK, (c) => c.status === 'hangup', 'hung up');
    expect(await ms.waitClosed(SOON_MS)).toEqual({ code: 1008, reason: 'the access key was deleted' });

    // The server key's phone and its call go on; the deleted key opens nothing any more.
    expect(pl.closeInfo).toBeUndefined();
    expect(s.engine.getLive(callL)?.ended).toBe(false);
    await expect(TestPhone.connect(s, K)).rejects.toThrow(/HTTP 401/);
    expect(s.ctx.keySessions.count(created.body.id)).toBe(0);
  });

  it('DELETE /accesskeys/{id}: a carrier stream started with the key ends its call and closes 1008', async () => {
    const C_NUM = '+15550720004';
    await addNumbers(s, [C_NUM]);
    const created = await s.call('POST', '/accesskeys', { name: 'carrier key' });
    const K = created.body.token as string;
    const callee = (await phone(C_NUM)).autoAnswer();
    const carrier = await openRaw(`${wsBase(s)}/carrier/twilio`);
    sockets.push(carrier);
    const sid = 'MZ00000000000000000000000000000042';
    carrier.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    carrier.sendJson({
      event: 'start',
      sequenceNumber: '1',
      start: {
        accountSid: 'AC00000000000000000000000000000042',
        streamSid: sid,
        callSid: 'CA00000000000000000000000000000042',
        tracks: ['inbound'],
        customParameters: { token: K, to: C_NUM, from: '+14155550142' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
      streamSid: sid,
    });
    const incoming = await callee.waitFor('answered');
    await until(() => s.engine.getLive(incoming.call_id)?.answered === true, 'the bridged leg answered');
    expect(s.ctx.keySessions.count(created.body.id)).toBe(1);

    expect((await s.call('DELETE', `/accesskeys/${created.body.id}`)).status).toBe(200);
    expect(await carrier.waitClosed(SOON_MS)).toEqual({ code: 1008, reason: 'the access key was deleted' });
    // The carrier's call ended, and with it the bridged leg to the phone; the phone stays registered.
    expect((await callee.waitFor('hangup')).call_id).toBe(incoming.call_id);
    expect(callee.closeInfo).toBeUndefined();
    expect(s.ctx.keySessions.count(created.body.id)).toBe(0);
  });

  it('an expired access key ends its phone (hangup, then 1008 "expired") at tm_expire', async () => {
    const E_NUM = '+15550720003';
    await addNumbers(s, [E_NUM]);
    const created = await s.call('POST', '/accesskeys', { name: 'short', expire: 4 });
    expect(created.status).toBe(200);
    const pe = (await phone(E_NUM, created.body.token)).autoAnswer();
    const order = messagesAtClose(pe);
    const callId = await answeredCall(pe, E_NUM);
    // 4 s after creation, plus a generous margin for a busy machine.
    const closed = await closedWithin(pe, 25_000);
    expect(closed).toEqual({ code: 1008, reason: 'the access key expired' });
    expect(await order).toContain('hangup');
    await waitCall(s, callId, (c) => c.status === 'hangup', 'hung up');
  }, 40_000);
});

describe('KeySessions timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits past the 2^31-1 ms setTimeout limit in re-armed steps and ends sessions only when the key is due', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'queueMicrotask'] });
    const reg = new KeySessions();
    const thirtyDays = 30 * 24 * 3600_000;
    const tmExpire = new Date(Date.now() + thirtyDays).toISOString().replace('Z', '000Z');
    const ended: KeyRevocation[] = [];
    reg.bind({ keyId: 'k1', tmExpire }, (cause) => void ended.push(cause));
    // A timer of 30 days would fire at once (Node clamps an over-large delay to 1 ms).
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(thirtyDays - MAX_TIMER_MS - 1_000 - 10);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(ended).toEqual(['expired']);
    expect(reg.count('k1')).toBe(0);
  });

  it('a session that binds after its key was deleted (or expired) ends at once; a never-expiring key has no timer', async () => {
    const reg = new KeySessions();
    const ended: string[] = [];
    const unbind = reg.bind({ keyId: 'k2', tmExpire: TM_NEVER }, (c) => void ended.push(`a:${c}`));
    expect(await reg.revoke('k2', 'deleted')).toBe(1);
    unbind();
    reg.bind({ keyId: 'k2', tmExpire: TM_NEVER }, (c) => void ended.push(`late:${c}`));
    reg.bind({ keyId: 'k3', tmExpire: '2000-01-01T00:00:00.000000Z' }, (c) => void ended.push(`old:${c}`));
    await until(() => ended.length === 3, 'late sessions ended');
    expect(ended).toEqual(['a:deleted', 'late:deleted', 'old:expired']);
    expect(reg.count('k2') + reg.count('k3')).toBe(0);
  });
});

describe('a deleted AI', () => {
  it("has its engine_key erased from the database file (main file and WAL), not kept beside the deleted row", async () => {
    const canary = `sk-erase-canary-${process.pid}-7f3a9c1e5b`;
    const ai = await s.call('POST', '/ais', {
      name: 'to erase',
      engine_model: 'openai.gpt-4o',
      engine_key: canary,
      init_prompt: 'hi',
      tts_type: 'openai',
      stt_type: 'deepgram',
    });
    expect(ai.status, JSON.stringify(ai.body)).toBe(200);
    const files = () => [dbPath, `${dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f));
    const holds = () => files().some((b) => b.includes(canary));
    const db = (s.store as SqliteStore).db;
    // The reading works: the key is in the file while the AI exists.
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(holds()).toBe(true);

    expect((await s.call('DELETE', `/ais/${ai.body.id}`)).status).toBe(200);
    expect(holds()).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(holds()).toBe(false);
    const raw = db.prepare('SELECT secret, tm_delete FROM ais WHERE id = ?').get(ai.body.id) as { secret: string | null; tm_delete: string };
    expect(raw.secret).toBeNull();
    expect(raw.tm_delete).not.toBe(TM_NEVER);
  });
});
