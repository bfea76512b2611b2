/**
 * Crash and shutdown of a spawned `voipbin-ai serve`:
 * - kill -9 during live calls: the next start on the same database ends every call, activeflow,
 *   AI call, transcribe and AI summary the dead process left open, with a reason that says the
 *   server restarted, and leaves finished rows alone; a database from before migration 003 is
 *   backfilled so the same rows are found by the indexed status column;
 * - SIGTERM ends calls first: the phone gets `hangup`, the media stream and the carrier stream a
 *   1001 "server shutting down" close, then the process exits 0 having written the hangups.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../db/sqlite-store.js';
import type { Row } from '../../db/store.js';
import { newAicallRow, newCallRow } from '../../src/local/rows.js';
import { TM_NEVER, nowTimestamp } from '../../src/util/time.js';
import { connectMediaStream } from '../../streams/media-stream-client.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { openRaw, until } from '../media/helpers.js';
import type { RawSocket, TestPhone } from '../media/helpers.js';
import { addNumber, api, exitOf, killAll, phoneAt, spawnServe } from './helpers.js';

const SOURCE = '+15550420001';
const ANSWERS = '+15550420002';
const RINGS = '+15550420003';
const CARRIER_TO = '+15550420004';
const NOBODY = '+15550420009';
const KEPT_UP = [{ type: 'answer' }, { type: 'sleep', option: { duration: 120_000 } }];
const RESTARTED = 'the server restarted';

const cleanups: Array<() => void | Promise<void>> = [];
const phones: TestPhone[] = [];
const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const p of phones.splice(0)) p.close();
  for (const s of sockets.splice(0)) s.close();
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newDb(): string {
  const t = tempDir('voipbin-ai-crash-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'voipbin.sqlite');
}

async function restart(db: string, key: string): Promise<TestServer> {
  const s = await startTestServer(db, { VOIPBIN_LOCAL_ACCESSKEY: key });
  cleanups.push(() => s.close());
  return s;
}

async function placeKeptUp(url: string, key: string, to: string): Promise<string> {
  const r = await api(url, key, 'POST', '/calls', { source: { type: 'tel', target: SOURCE }, destinations: [{ type: 'tel', target: to }], actions: KEPT_UP });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.calls[0].id as string;
}

/** Rows of every kind a restart must end, stored directly (as an engine would have). */
async function seedUnfinished(db: string, customerId: string, callId: string): Promise<Record<string, string>> {
  const store = SqliteStore.open(db);
  try {
    const now = nowTimestamp();
    const dialing = await store.calls.insert({ ...newCallRow(customerId, { type: 'tel', target: SOURCE }, { type: 'tel', target: NOBODY }), status: 'dialing' });
    const aicall = await store.aicalls.insert(newAicallRow(customerId, { reference_id: callId, status: 'progressing' }));
    const pausing = await store.aicalls.insert(newAicallRow(customerId, { reference_id: callId, status: 'initiating' }));
    const finishedAicall = await store.aicalls.insert(
      newAicallRow(customerId, { reference_id: callId, status: 'terminated', metadata: { termination_reason: 'ended' }, tm_end: now }),
    );
    const transcribe = await store.transcribes.insert({
      id: randomUUID(), customer_id: customerId, activeflow_id: '00000000-0000-0000-0000-000000000000', on_end_flow_id: '00000000-0000-0000-0000-000000000000',
      reference_type: 'call', reference_id: callId, status: 'progressing', language: 'en-US', direction: 'both', provider: '',
      tm_create: now, tm_update: TM_NEVER, tm_delete: TM_NEVER,
    });
    const summary = await store.aisummaries.insert({
      id: randomUUID(), customer_id: customerId, activeflow_id: '00000000-0000-0000-0000-000000000000', on_end_flow_id: '00000000-0000-0000-0000-000000000000',
      reference_type: 'call', reference_id: callId, status: 'progressing', language: 'en-US', content: '',
      tm_create: now, tm_update: TM_NEVER, tm_delete: TM_NEVER,
    });
    return { dialing: dialing.id, aicall: aicall.id, initiating: pausing.id, finishedAicall: finishedAicall.id, transcribe: transcribe.id, summary: summary.id };
  } finally {
    await store.close();
  }
}

describe('kill -9, then a restart on the same database', () => {
  it('ends every call, activeflow, AI call, transcribe and summary the dead process left open, with the restart as the reason', async () => {
    const db = newDb();
    const key = `vbl_crash_${process.pid}_a1`;
    const serve = await spawnServe(db, key);
    for (const n of [SOURCE, ANSWERS, RINGS]) await addNumber(serve.url, key, n);
    const me = serve.rec.customer_id;

    // Finished before the crash: must stay as it is.
    const failed = (await api(serve.url, key, 'POST', '/calls', { source: { type: 'tel', target: SOURCE }, destinations: [{ type: 'tel', target: NOBODY }], actions: KEPT_UP })).body.calls[0].id;
    await until(async () => (await api(serve.url, key, 'GET', `/calls/${failed}`)).body.status === 'hangup', 'the unreachable call to fail', 20_000);

    // Live: a phone in a call whose flow sleeps (activeflow running), and a phone left ringing.
    const a = await phoneAt(serve.url, key, ANSWERS);
    phones.push(a.autoAnswer());
    const b = await phoneAt(serve.url, key, RINGS);
    phones.push(b);
    const talking = await placeKeptUp(serve.url, key, ANSWERS);
    await a.waitFor('answered', (m) => m.call_id === talking, 20_000);
    const ringing = await placeKeptUp(serve.url, key, RINGS);
    await b.waitFor('incoming', (m) => m.call_id === ringing, 20_000);
    let activeflowId = '';
    await until(async () => {
      const c = (await api(serve.url, key, 'GET', `/calls/${talking}`)).body;
      activeflowId = c.activeflow_id;
      return c.status === 'progressing' && activeflowId !== '00000000-0000-0000-0000-000000000000';
    }, 'the call progressing with its activeflow', 20_000);
    expect((await api(serve.url, key, 'GET', `/activeflows/${activeflowId}`)).body.status).toBe('running');
    expect((await api(serve.url, key, 'GET', `/calls/${ringing}`)).body.status).toBe('ringing');
    const seeded = await seedUnfinished(db, me, talking);

    serve.child.proc.kill('SIGKILL');
    expect((await exitOf(serve.child)).signal).toBe('SIGKILL');
    await a.closed; // the phone lost its server

    const s = await restart(db, key);
    const get = async (path: string) => {
      const r = await s.call('GET', path);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body;
    };
    for (const id of [talking, ringing, seeded.dialing!]) {
      const c = await get(`/calls/${id}`);
      expect(c, id).toMatchObject({ status: 'hangup', hangup_by: 'local', hangup_reason: 'failed', metadata: { termination_reason: RESTARTED } });
      expect(c.tm_hangup).not.toBe(TM_NEVER);
    }
    expect(await get(`/activeflows/${activeflowId}`)).toMatchObject({ status: 'ended', termination_reason: RESTARTED });
    for (const id of [seeded.aicall!, seeded.initiating!]) {
      const ac = await get(`/aicalls/${id}`);
      expect(ac).toMatchObject({ status: 'terminated', metadata: { termination_reason: RESTARTED } });
      expect(ac.tm_end).not.toBe(TM_NEVER);
    }
    expect(await get(`/transcribes/${seeded.transcribe}`)).toMatchObject({ status: 'done', termination_reason: RESTARTED });
    expect(await get(`/aisummaries/${seeded.summary}`)).toMatchObject({ status: 'failed', failure_reason: RESTARTED });

    // Finished rows are untouched.
    const done = await get(`/calls/${failed}`);
    expect(done).toMatchObject({ status: 'hangup', hangup_reason: 'failed' });
    expect(done.metadata?.termination_reason).toBeUndefined();
    expect(await get(`/aicalls/${seeded.finishedAicall}`)).toMatchObject({ status: 'terminated', metadata: { termination_reason: 'ended' } });
    expect(capturedLogs.some((l) => l.includes('ended work a previous process left unfinished') && l.includes('"calls":3'))).toBe(true);

    // The stale discovery file of the killed process did not stop the restart; it is the new owner's now.
    expect(s.discoveryFile).toBeDefined();
  }, 120_000);

  it('a database from before migration 003 gets its status column backfilled, so recovery finds old rows', async () => {
    const db = newDb();
    const key = `vbl_crash_${process.pid}_b2`;
    const first = await restart(db, key);
    const me = first.localCustomerId!;
    await first.close();

    // Turn the file back into a pre-003 database holding a live-looking call.
    const raw = new Database(db);
    const call: Row = { ...newCallRow(me, { type: 'tel', target: SOURCE }, { type: 'tel', target: NOBODY }), status: 'progressing' };
    try {
      for (const t of ['calls', 'activeflows', 'aicalls', 'transcribes', 'aisummaries']) {
        raw.exec(`DROP INDEX idx_${t}_status; ALTER TABLE ${t} DROP COLUMN status;`);
      }
      raw.prepare('DELETE FROM schema_migrations WHERE version = 3').run();
      raw
        .prepare('INSERT INTO calls (id, customer_id, tm_create, tm_update, tm_delete, activeflow_id, data) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(call.id, me, call.tm_create, call.tm_update, call.tm_delete, call.activeflow_id, JSON.stringify(call));
    } finally {
      raw.close();
    }

    const s = await restart(db, key);
    expect((await s.call('GET', `/calls/${call.id}`)).body).toMatchObject({ status: 'hangup', hangup_reason: 'failed', metadata: { termination_reason: RESTARTED } });
    expect(await s.store.calls.findBy('status', 'hangup')).toHaveLength(1);
    expect(await s.store.calls.findBy('status', 'progressing')).toEqual([]);
  }, 60_000);
});

describe('SIGTERM', () => {
  it('ends calls first: the phone gets hangup, media and carrier streams close 1001 "server shutting down", exit 0', async () => {
    const db = newDb();
    const key = `vbl_sigterm_${process.pid}_c3`;
    const serve = await spawnServe(db, key);
    for (const n of [SOURCE, ANSWERS, CARRIER_TO]) await addNumber(serve.url, key, n);
    const phone = await phoneAt(serve.url, key, ANSWERS);
    phones.push(phone.autoAnswer());
    const callId = await placeKeptUp(serve.url, key, ANSWERS);
    await phone.waitFor('answered', (m) => m.call_id === callId, 20_000);
    await until(async () => (await api(serve.url, key, 'GET', `/calls/${callId}`)).body.status === 'progressing', 'the call progressing', 20_000);

    const media = await connectMediaStream({ url: `${serve.url}/v1.0`, callId, encapsulation: 'sln', accessKey: key });
    cleanups.push(() => media.close());
    const mediaClosed = new Promise<[number, string]>((r) => media.on('close', (code: number, reason: string) => r([code, reason])));
    let frames = 0;
    media.on('audio', () => frames++);
    await until(() => frames > 0, 'media stream audio', 20_000);

    // A carrier (Twilio format) stream: an inbound leg bridged to a second phone.
    const callee = await phoneAt(serve.url, key, CARRIER_TO);
    phones.push(callee.autoAnswer());
    const carrier = await openRaw(`${serve.url.replace(/^http/, 'ws')}/carrier/twilio`);
    sockets.push(carrier);
    carrier.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    carrier.sendJson({
      event: 'start',
      sequenceNumber: '1',
      streamSid: 'MZ00000000000000000000000000000042',
      start: {
        accountSid: 'AC00000000000000000000000000000042', streamSid: 'MZ00000000000000000000000000000042', callSid: 'CA00000000000000000000000000000042',
        tracks: ['inbound'], customParameters: { token: key, to: CARRIER_TO, from: '+14155550142' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    await callee.waitFor('answered', () => true, 20_000);

    serve.child.proc.kill('SIGTERM');
    const exit = await exitOf(serve.child);
    expect(exit, serve.child.stderr()).toEqual({ code: 0, signal: null });

    // Calls were ended before their sockets closed: hangup first, then a 1001 close with a reason.
    expect((await phone.waitFor('hangup', (m) => m.call_id === callId)).reason).toBe('normal');
    expect(await phone.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await mediaClosed).toEqual([1001, 'server shutting down']);
    expect(await carrier.waitClosed()).toEqual({ code: 1001, reason: 'server shutting down' });
    await callee.waitFor('hangup');

    // The shutdown wrote the hangup itself (not left to the next start's recovery).
    const store = SqliteStore.open(db);
    try {
      const row = await store.calls.getById(callId);
      expect(row).toMatchObject({ status: 'hangup', hangup_by: 'local', hangup_reason: 'normal' });
      expect((row!.metadata as Record<string, unknown>).termination_reason).toBeUndefined();
      expect((await store.activeflows.findBy('status', 'running'))).toEqual([]);
      expect((await store.calls.findBy('status', 'progressing'))).toEqual([]);
    } finally {
      await store.close();
    }
  }, 120_000);
});
