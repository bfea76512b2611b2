/**
 * Data survives a restart (same SQLite file), access keys are stored only as hashes, and the
 * CLI: `voipbin-ai customers create` and `voipbin-ai serve` as real child processes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ACTIONS,
  CANARY_ENGINE_KEY,
  aicallRow,
  aiBody,
  client,
  expectError,
  expectList,
  expectNoLeak,
  ok,
  waitFor,
} from './fixtures.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import { exitOf, killAll, runCli } from '../process/helpers.js';
import type { Child } from '../process/helpers.js';
import type { TestServer } from '../helpers/server.js';

const dirs: { cleanup: () => void }[] = [];
const servers = new Set<TestServer>();

afterAll(async () => {
  for (const s of servers) await s.close();
  await killAll();
  for (const d of dirs) d.cleanup();
});

function newDbPath(): string {
  const t = tempDir('voipbin-ai-persist-');
  dirs.push(t);
  return join(t.dir, 'voipbin.sqlite');
}

async function start(dbPath: string, env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startTestServer(dbPath, env);
  servers.add(s);
  return s;
}
async function stop(s: TestServer): Promise<void> {
  await s.close();
  servers.delete(s);
}

/** Every row of every table of the SQLite file, as text, plus the raw bytes of the file and its WAL. */
function dumpDatabase(dbPath: string): { rows: string[]; raw: Buffer[] } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const rows: string[] = [];
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    expect(tables.map((t) => t.name)).toContain('accesskeys');
    for (const { name } of tables) {
      for (const r of db.prepare(`SELECT * FROM "${name}"`).all()) rows.push(`${name}: ${JSON.stringify(r)}`);
    }
  } finally {
    db.close();
  }
  const raw = [dbPath, `${dbPath}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p));
  return { rows, raw };
}

function expectNotStored(dbPath: string, secret: string): void {
  const { rows, raw } = dumpDatabase(dbPath);
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.filter((r) => r.includes(secret))).toEqual([]);
  for (const buf of raw) expect(buf.includes(Buffer.from(secret, 'utf8'))).toBe(false);
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('restart', () => {
  it('everything stored survives a restart on the same file; the local customer and key are created once', async () => {
    const dbPath = newDbPath();
    const key = `vbl_persist_${randomUUID()}`;
    const s1 = await start(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: key, VOIPBIN_LOCAL_INITIAL_BALANCE: '500' });
    expect(s1.newLocalKey).toBe(key);
    const me = s1.localCustomerId!;
    const c1 = client(s1);
    const ai = ok(await c1.post('/ais', aiBody({ name: 'persistent' })));
    const flow = ok(await c1.post('/flows', { name: 'kept', actions: ACTIONS }));
    ok(await c1.post('/numbers', { number: '+15550700001', call_flow_id: flow.id }));
    ok(await c1.post('/messages', { source: { type: 'tel', target: '+15550700001' }, destinations: [{ type: 'tel', target: '+15550700002' }], text: 'hi' }));
    ok(await c1.post('/emails', { destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c' }));
    const call = ok(await c1.post('/calls', { source: { type: 'tel', target: '+15550700001' }, destinations: [{ type: 'extension', target: 'x' }], flow_id: flow.id })).calls[0];
    ok(await c1.post('/aisummaries', { reference_type: 'call', reference_id: call.id }));
    // Finished: a restart ends only what was left running (test/process covers that).
    const aicall = await s1.store.aicalls.insert(aicallRow(me, { status: 'terminated' }));
    ok(await c1.post('/aimessages', { aicall_id: aicall.id, role: 'user', content: 'remember me' }));
    const extraKey = ok(await c1.post('/accesskeys', { name: 'extra' }));
    ok(await c1.put('/customer', { name: 'Renamed', webhook_uri: 'https://example.com/hook' }));
    await waitFor(async () => ok(await c1.get(`/calls/${call.id}`)).status === 'hangup', 'the call to end');

    const snapshot = async (c: ReturnType<typeof client>) => {
      const out: Record<string, unknown> = { customer: ok(await c.get('/customer')) };
      for (const p of ['/ais', '/flows', '/numbers', '/messages', '/emails', '/calls', '/aisummaries', '/aicalls', '/accesskeys', '/billing_accounts']) {
        out[p] = expectList(await c.get(`${p}?page_size=100`));
      }
      out.aimessages = expectList(await c.get(`/aimessages?aicall_id=${aicall.id}`));
      return out;
    };
    const before = await snapshot(c1);
    // The call never connected (nobody at extension x): its 20 credits came back.
    expect((before['/billing_accounts'] as any[])[0].balance_credit).toBe(500 - 10 - 1);
    await stop(s1);

    // Same file, same pinned key: nothing new is created, nothing is printed.
    const s2 = await start(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: key, VOIPBIN_LOCAL_INITIAL_BALANCE: '999' });
    expect(s2.newLocalKey).toBeUndefined();
    expect(s2.localCustomerId).toBe(me);
    const c2 = client(s2);
    expect(await snapshot(c2)).toEqual(before);
    expect(await s2.store.ais.getSecret(me, ai.id)).toBe(CANARY_ENGINE_KEY);
    expect(ok(await client(s2, extraKey.token).get('/customer')).name).toBe('Renamed');

    // Changes made after the restart persist too.
    ok(await c2.put(`/ais/${ai.id}`, { name: 'renamed after restart' }));
    ok(await c2.del(`/flows/${flow.id}`));
    ok(await c2.del(`/accesskeys/${extraKey.id}`));
    await stop(s2);

    const s3 = await start(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: key });
    const c3 = client(s3);
    expect(ok(await c3.get(`/ais/${ai.id}`)).name).toBe('renamed after restart');
    expect(await s3.store.ais.getSecret(me, ai.id)).toBe(CANARY_ENGINE_KEY);
    expectError(await c3.get(`/flows/${flow.id}`), 404, 'NOT_FOUND', 'FLOW_NOT_FOUND');
    expectError(await client(s3, extraKey.token).get('/customer'), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expect(expectList(await c3.get('/billing_accounts'))[0].balance_credit).toBe(489);
    await stop(s3);

    // Only hashes of access keys are stored.
    for (const secret of [key, extraKey.token]) expectNotStored(dbPath, secret);
    const { rows } = dumpDatabase(dbPath);
    expect(rows.some((r) => r.startsWith('accesskeys: ') && r.includes(sha256(key)))).toBe(true);
  });

  it('a new pinned key on an existing database is added to the same local customer', async () => {
    const dbPath = newDbPath();
    const first = `vbl_first_${randomUUID()}`;
    const second = `vbl_second_${randomUUID()}`;
    const s1 = await start(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: first });
    const me = s1.localCustomerId;
    await stop(s1);
    const s2 = await start(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: second });
    expect(s2.newLocalKey).toBe(second);
    expect(s2.localCustomerId).toBe(me);
    expect(ok(await client(s2, first).get('/customer')).id).toBe(me);
    expect(ok(await client(s2, second).get('/customer')).id).toBe(me);
    expect(expectList(await client(s2).get('/accesskeys')).map((k) => k.name).sort()).toEqual(['default', 'pinned']);
    await stop(s2);
    for (const k of [first, second]) expectNotStored(dbPath, k);
  });
});

// ---- the CLI as child processes

const URL_LINE = /^voipbin-ai: local VoIPBIN API at (http:\/\/127\.0\.0\.1:(\d+)\/v1\.0) \(database .+\)$/;
const KEY_LINE = /^voipbin-ai: local access key \(shown once, only its hash is stored\): (\S+)$/;
const NO_KEY_LINE = 'voipbin-ai: the local access key was printed at first start; lost it? restart with VOIPBIN_LOCAL_ACCESSKEY=<a key of your choice> to add that key';

/** Starts `voipbin-ai serve` on port 0 and waits for its whole banner. */
async function serve(dbPath: string, env: Record<string, string> = {}) {
  const child = runCli(['serve'], { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, LOG_LEVEL: 'debug', ...env });
  const lines = await waitFor(
    async () => {
      if (child.proc.exitCode !== null) throw new Error(`serve exited early: ${child.stderr()}`);
      const ls = child.stdout().split('\n');
      // The banner ends with the curl hint (a new key) or with the "was printed" line (no new key).
      return ls.some((l) => l.startsWith('voipbin-ai: try: curl') || l === NO_KEY_LINE) ? ls : undefined;
    },
    'the serve banner',
    60_000,
  );
  // The first line names the real port (PORT=0 asks the OS for one).
  const m = URL_LINE.exec(lines[0]!);
  if (!m) throw new Error(`unexpected first line: ${lines[0]}`);
  expect(Number(m[2])).toBeGreaterThan(0);
  const keys = lines.map((l) => KEY_LINE.exec(l)?.[1]).filter((k): k is string => Boolean(k));
  expect(keys.length).toBeLessThanOrEqual(1);
  return { child, api: m[1]!, lines, printedKey: keys[0] };
}

async function http(method: string, url: string, key: string | null, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function sigterm(child: Child): Promise<void> {
  child.proc.kill('SIGTERM');
  const { code, signal } = await exitOf(child);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(child.stderr()).toContain('SIGTERM, shutting down');
}

describe('voipbin-ai customers create', () => {
  it('prints {"customer_id","accesskey"}; the key works against a server running on the same file', async () => {
    const dbPath = newDbPath();
    const s = await start(dbPath);
    const child = runCli(['customers', 'create', 'acme'], { VOIPBIN_AI_DB: dbPath, VOIPBIN_LOCAL_INITIAL_BALANCE: '321' });
    const { code } = await exitOf(child, 30_000);
    expect(code, child.stderr()).toBe(0);
    const lines = child.stdout().trim().split('\n');
    expect(lines).toHaveLength(1);
    const printed = JSON.parse(lines[0]!);
    expect(Object.keys(printed)).toEqual(['customer_id', 'accesskey']);
    expect(printed.customer_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(printed.accesskey).toMatch(/^vbl_[A-Za-z0-9_-]{32}$/);

    const c = client(s, printed.accesskey);
    expect(ok(await c.get('/customer'))).toMatchObject({ id: printed.customer_id, name: 'acme' });
    expect(expectList(await c.get('/billing_accounts'))[0]).toMatchObject({ customer_id: printed.customer_id, balance_credit: 321 });
    const keys = expectList(await c.get('/accesskeys'));
    expect(keys).toHaveLength(1);
    expect(keys[0].token).toBe('');
    // A customer of its own: it sees nothing of the local customer, and the other way round.
    ok(await client(s).post('/flows', { actions: ACTIONS }));
    expect(expectList(await c.get('/flows'))).toEqual([]);
    const theirs = ok(await c.post('/ais', aiBody({ name: 'acme agent' })));
    expectError(await client(s).get(`/ais/${theirs.id}`), 404, 'NOT_FOUND', 'AI_NOT_FOUND');
    await stop(s);
    expectNotStored(dbPath, printed.accesskey);
  }, 60000);
});

describe('voipbin-ai serve', () => {
  it('prints a new key once; the key drives AI CRUD; SIGTERM exits 0; a restart prints no key; VOIPBIN_LOCAL_ACCESSKEY pins one', async () => {
    // In a folder that does not exist yet, as `data/` on a fresh clone.
    const dbPath = join(dirname(newDbPath()), 'data', 'voipbin-ai.db');

    // First start: a new local customer and key.
    const first = await serve(dbPath);
    const key = first.printedKey!;
    expect(key).toMatch(/^vbl_[A-Za-z0-9_-]{32}$/);
    expect(first.lines).toContain(`voipbin-ai: try: curl -H "Authorization: Bearer ${key}" ${first.api}/ais`);
    expect(first.lines).not.toContain(NO_KEY_LINE);
    expectError(await http('GET', `${first.api}/ais`, null), 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED');
    const created = await http('POST', `${first.api}/ais`, key, aiBody({ name: 'from curl' }));
    expect(created.status).toBe(200);
    expect(created.body).not.toHaveProperty('engine_key');
    const id = created.body.id;
    const listed = await http('GET', `${first.api}/ais`, key);
    expect(listed.body.result.map((a: any) => a.id)).toEqual([id]);
    expect((await http('GET', `${first.api}/ais/${id}?accesskey=${encodeURIComponent(key)}`, null)).body.name).toBe('from curl');
    const updated = await http('PUT', `${first.api}/ais/${id}`, key, { name: 'updated by curl' });
    expect(updated.body).toMatchObject({ id, name: 'updated by curl' });
    const deleted = await http('DELETE', `${first.api}/ais/${id}`, key);
    expect(deleted.status).toBe(200);
    expect((await http('GET', `${first.api}/ais/${id}`, key)).status).toBe(404);
    const kept = await http('POST', `${first.api}/ais`, key, aiBody({ name: 'kept across restarts' }));
    expect(kept.status).toBe(200);
    for (const r of [created, listed, updated, deleted, kept]) expect(r.text).not.toContain(CANARY_ENGINE_KEY);
    await sigterm(first.child);
    // Logs (stderr) never carry the key or the engine_key, even at debug level.
    expect(first.child.stderr()).toContain('"msg":"http"');
    expect(first.child.stderr()).not.toContain(key);
    expect(first.child.stderr()).not.toContain(CANARY_ENGINE_KEY);

    // Second start on the same file: no key printed; the first key still works; data is there.
    const second = await serve(dbPath);
    expect(second.printedKey).toBeUndefined();
    expect(second.lines).toContain(NO_KEY_LINE);
    expect(second.child.stdout()).not.toContain(key);
    const after = await http('GET', `${second.api}/ais`, key);
    expect(after.body.result.map((a: any) => a.name)).toEqual(['kept across restarts']);
    await sigterm(second.child);

    // A pinned key (VOIPBIN_LOCAL_ACCESSKEY) is accepted for the same local customer, beside the first key.
    const pinned = `vbl_pinned_${randomUUID()}`;
    const third = await serve(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: pinned });
    expect((await http('GET', `${third.api}/ais`, pinned)).body.result.map((a: any) => a.name)).toEqual(['kept across restarts']);
    expect((await http('GET', `${third.api}/ais`, key)).status).toBe(200);
    expect(third.child.stderr()).not.toContain(pinned);
    await sigterm(third.child);

    for (const k of [key, pinned]) expectNotStored(dbPath, k);
  }, 120000);
});

describe('secrets', () => {
  it('no engine_key appeared in a response or a log line of this file', () => {
    expectNoLeak([CANARY_ENGINE_KEY]);
  });
});
