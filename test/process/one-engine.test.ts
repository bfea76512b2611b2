/**
 * One database, one live engine: `voipbin-ai mcp` over stdio acts through a running `serve` on
 * the same database (its phones ring, its hangups reach them), runs and publishes the engine
 * itself when no serve runs, ignores a stale discovery file, and a second server on a database
 * in use refuses to start, naming the owner's pid.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { discoveryPath } from '../../src/local/discovery.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import type { TestPhone } from '../media/helpers.js';
import { until } from '../media/helpers.js';
import { addNumber, api, exitOf, isAlive, killAll, phoneAt, runCli, spawnMcp, spawnServe, waitDiscovery } from './helpers.js';

const SOURCE = '+15550410001';
const PHONE = '+15550410002';
/** A call that answers and stays up (the sleep), so a hangup has something to end. */
const KEPT_UP = [{ type: 'answer' }, { type: 'sleep', option: { duration: 60_000 } }];

const cleanups: Array<() => void | Promise<void>> = [];
const phones: TestPhone[] = [];
afterEach(async () => {
  for (const p of phones.splice(0)) p.close();
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newDb(): string {
  const t = tempDir('voipbin-ai-process-');
  cleanups.push(t.cleanup);
  return join(t.dir, 'voipbin.sqlite');
}

/** A port something else listens on. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, server };
}

/** A pid that surely belongs to no process: a child that has already exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => p.once('exit', r));
  return p.pid!;
}

describe('one live engine per database', () => {
  it('serve first: an mcp create_call rings the phone registered on serve; mcp hangup_call reaches the phone', async () => {
    const db = newDb();
    const key = `vbl_one_engine_${process.pid}_a1`;
    const serve = await spawnServe(db, key);

    // The discovery file: only the user can read it; it carries the token, the logs never do.
    const file = discoveryPath(db);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    expect(rec).toMatchObject({ version: 1, pid: serve.child.proc.pid, role: 'serve', url: serve.url });
    expect(rec.token).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.customer_id).toMatch(/^[0-9a-f-]{36}$/);

    await addNumber(serve.url, key, SOURCE);
    await addNumber(serve.url, key, PHONE);
    const phone = await phoneAt(serve.url, key, PHONE);
    phones.push(phone);
    phone.autoAnswer();

    const mcp = await spawnMcp({ VOIPBIN_AI_DB: db });
    const placed = await mcp.tool('create_call', { source: { target: SOURCE }, destinations: [{ target: PHONE }], actions: KEPT_UP });
    const callId = placed.calls[0].id as string;
    // Rang on serve's engine: the phone registered there sees the call and answers it.
    expect((await phone.waitFor('incoming', (m) => m.call_id === callId, 20_000)).to.target).toBe(PHONE);
    await phone.waitFor('answered', (m) => m.call_id === callId, 20_000);
    await until(async () => (await mcp.tool('get_call', { id: callId })).call.status === 'progressing', 'the call progressing', 20_000);

    const hung = await mcp.tool('hangup_call', { id: callId });
    expect(hung.call.status).toBe('hangup');
    // The live call ended on serve's engine: the phone is told.
    expect((await phone.waitFor('hangup', (m) => m.call_id === callId, 20_000)).reason).toBe('normal');
    const row = (await api(serve.url, key, 'GET', `/calls/${callId}`)).body;
    expect(row).toMatchObject({ status: 'hangup', hangup_by: 'local', hangup_reason: 'normal' });

    // The mcp process said where it acts, and started no engine (no file of its own).
    expect(mcp.stderr()).toContain('using the local VoIPBIN already running on this database');
    expect(mcp.stderr()).toContain('"mode":"attached"');
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(serve.child.proc.pid);
    for (const out of [mcp.stderr(), serve.child.stderr(), serve.child.stdout()]) expect(out).not.toContain(rec.token);

    // serve removes its file when it stops.
    serve.child.proc.kill('SIGTERM');
    expect((await exitOf(serve.child)).code).toBe(0);
    expect(existsSync(file)).toBe(false);
  }, 120_000);

  it('mcp first: it listens (a free port when PORT is taken), publishes the discovery file, and its create_call rings a phone connected there; a later serve refuses, naming the pid', async () => {
    const db = newDb();
    const key = `vbl_one_engine_${process.pid}_b2`;
    const { port } = await takenPort();
    const mcp = await spawnMcp({ VOIPBIN_AI_DB: db, VOIPBIN_LOCAL_ACCESSKEY: key, HOST: '127.0.0.1', PORT: String(port) });
    const rec = await waitDiscovery(db, mcp.pid);
    expect(rec.role).toBe('mcp');
    expect(statSync(discoveryPath(db)).mode & 0o777).toBe(0o600);
    const url = new URL(rec.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).not.toBe(port); // fell back to a free port
    expect(mcp.stderr()).toContain('port taken; listening on a free port instead');
    expect(mcp.stderr()).toContain(`"url":"${rec.url}"`); // the URL is logged on stderr

    await addNumber(rec.url, key, SOURCE);
    await addNumber(rec.url, key, PHONE);
    const phone = await phoneAt(rec.url, key, PHONE);
    phones.push(phone);
    phone.autoAnswer();
    const placed = await mcp.tool('create_call', { source: { target: SOURCE }, destinations: [{ target: PHONE }], actions: KEPT_UP });
    const callId = placed.calls[0].id as string;
    await phone.waitFor('incoming', (m) => m.call_id === callId, 20_000);
    await phone.waitFor('answered', (m) => m.call_id === callId, 20_000);

    // A serve on the same database would be a second engine: it refuses with the owner's pid.
    const second = runCli(['serve'], { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: db, VOIPBIN_LOCAL_ACCESSKEY: key });
    const { code } = await exitOf(second);
    expect(code).toBe(1);
    expect(second.stderr()).toContain(`already in use by voipbin-ai mcp (pid ${mcp.pid}) at ${rec.url}`);
    expect(second.stderr()).not.toContain(rec.token);
    // ... and it left the owner alone: the call is still up, the file still the owner's.
    expect(phone.messages.some((m) => m.type === 'hangup')).toBe(false);
    expect(JSON.parse(readFileSync(discoveryPath(db), 'utf8')).pid).toBe(mcp.pid);

    await mcp.tool('hangup_call', { id: callId });
    await phone.waitFor('hangup', (m) => m.call_id === callId, 20_000);

    // Closing stdin ends the mcp process, its calls and its file.
    await mcp.client.close();
    await until(() => !isAlive(mcp.pid), 'the mcp process to exit', 20_000);
    expect(existsSync(discoveryPath(db))).toBe(false);
  }, 120_000);

  it('a stale discovery file (dead pid, or a URL that refuses) is ignored and replaced, by mcp and by serve', async () => {
    // mcp: the file names a pid that is gone.
    const db = newDb();
    const key = `vbl_one_engine_${process.pid}_c3`;
    const { port: closedPort, server } = await takenPort();
    await new Promise<void>((r) => server.close(() => r())); // nothing listens there any more
    const stale = (pid: number) =>
      JSON.stringify({ version: 1, pid, role: 'serve', url: `http://127.0.0.1:${closedPort}`, customer_id: '00000000-0000-0000-0000-000000000000', token: 'f'.repeat(64), nonce: 'old' });
    writeFileSync(discoveryPath(db), stale(await deadPid()), { mode: 0o600 });
    const mcp = await spawnMcp({ VOIPBIN_AI_DB: db, VOIPBIN_LOCAL_ACCESSKEY: key, HOST: '127.0.0.1', PORT: '0' });
    const rec = await waitDiscovery(db, mcp.pid);
    expect(rec.role).toBe('mcp');
    expect(mcp.stderr()).toContain('removing a stale discovery file (its process is gone)');
    expect(mcp.stderr()).toContain('"mode":"local"');
    expect((await mcp.tool('list_numbers', {})).numbers).toEqual([]);
    await mcp.client.close();
    await until(() => !isAlive(mcp.pid), 'the mcp process to exit', 20_000);

    // serve: the file names a live pid (this test process) whose URL refuses connections.
    writeFileSync(discoveryPath(db), stale(process.pid), { mode: 0o600 });
    const s: TestServer = await startTestServer(db, { VOIPBIN_LOCAL_ACCESSKEY: key });
    cleanups.push(() => s.close());
    expect(JSON.parse(readFileSync(discoveryPath(db), 'utf8'))).toMatchObject({ pid: process.pid, url: s.url, role: 'serve' });
    expect((await s.call('GET', '/numbers')).status).toBe(200);
  }, 120_000);
});
