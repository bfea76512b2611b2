/**
 * Authentication (`Authorization: Bearer` or `?accesskey=`) and customer scoping: another
 * customer's resource answers exactly like a missing one (same status, reason and message
 * shape) on every route, lists are scoped, and nothing of the owner changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ACTIONS,
  CANARY_ENGINE_KEY,
  REQUEST_ID_RE,
  activeflowRow,
  aicallRow,
  aiBody,
  capturedLogs,
  expectError,
  expectInvalid,
  expectList,
  expectNoLeak,
  ok,
  otherCustomer,
  request,
  startLocal,
} from './fixtures.js';
import type { Client, Local, Res } from './fixtures.js';

let L: Local;
let A: string;
let B: { customerId: string; key: string; c: Client };

/** What customer A owns, by resource. */
const owned: Record<string, any> = {};

beforeAll(async () => {
  L = await startLocal();
  A = L.server.localCustomerId!;
  B = await otherCustomer(L.server, 'customer b');
  const c = L.c;
  owned.ai = ok(await c.post('/ais', aiBody({ name: 'A’s agent' })));
  owned.accesskey = ok(await c.post('/accesskeys', { name: 'A’s extra key' }));
  owned.flow = ok(await c.post('/flows', { name: 'A’s flow', actions: ACTIONS }));
  owned.number = ok(await c.post('/numbers', { number: '+15550300001', name: 'A’s number' }));
  owned.call = ok(await c.post('/calls', { source: { type: 'tel', target: '+15550300001' }, destinations: [{ type: 'extension', target: 'nobody' }], flow_id: owned.flow.id })).calls[0];
  owned.message = ok(await c.post('/messages', { source: { type: 'tel', target: '+15550300001' }, destinations: [{ type: 'tel', target: '+15550300002' }], text: 'hi' }));
  owned.email = ok(await c.post('/emails', { destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c' }));
  owned.aisummary = ok(await c.post('/aisummaries', { reference_type: 'call', reference_id: owned.call.id }));
  // Without a summary LLM it ends `failed` in the background: compare against its final state.
  for (let i = 0; i < 200 && owned.aisummary.status === 'progressing'; i++) {
    await new Promise((r) => setTimeout(r, 25));
    owned.aisummary = ok(await c.get(`/aisummaries/${owned.aisummary.id}`));
  }
  expect(owned.aisummary.status).toBe('failed');
  owned.aicall = await L.server.store.aicalls.insert(aicallRow(A));
  owned.aimessage = ok(await c.post('/aimessages', { aicall_id: owned.aicall.id, role: 'user', content: 'A’s words' }));
  owned.activeflow = await L.server.store.activeflows.insert(activeflowRow(A));
  owned.billing = expectList(await c.get('/billing_accounts'))[0];
});
afterAll(async () => {
  await L?.stop();
});

describe('authentication', () => {
  it('no key: 401 AUTHENTICATION_REQUIRED on every route, before the body is even parsed', async () => {
    const id = randomUUID();
    const routes: [string, string, unknown?][] = [
      ['GET', '/customer'], ['PUT', '/customer', {}],
      ['GET', '/accesskeys'], ['POST', '/accesskeys', {}], ['GET', `/accesskeys/${id}`], ['PUT', `/accesskeys/${id}`, {}], ['DELETE', `/accesskeys/${id}`],
      ['GET', '/billing_accounts'], ['GET', `/billing_accounts/${id}`], ['GET', '/billing_account'],
      ['GET', '/ais'], ['POST', '/ais', aiBody()], ['GET', `/ais/${id}`], ['PUT', `/ais/${id}`, {}], ['DELETE', `/ais/${id}`],
      ['GET', '/aicalls'], ['POST', '/aicalls', {}], ['GET', `/aicalls/${id}`], ['DELETE', `/aicalls/${id}`], ['POST', `/aicalls/${id}/terminate`],
      ['GET', `/aimessages?aicall_id=${id}`], ['POST', '/aimessages', {}], ['GET', `/aimessages/${id}`], ['DELETE', `/aimessages/${id}`],
      ['GET', '/calls'], ['POST', '/calls', {}], ['GET', `/calls/${id}`], ['POST', `/calls/${id}/hangup`], ['DELETE', `/calls/${id}`],
      ['GET', '/flows'], ['POST', '/flows', {}], ['GET', `/flows/${id}`], ['PUT', `/flows/${id}`, {}], ['DELETE', `/flows/${id}`],
      ['GET', '/activeflows'], ['GET', `/activeflows/${id}`], ['POST', `/activeflows/${id}/stop`],
      ['GET', '/messages'], ['POST', '/messages', {}], ['GET', `/messages/${id}`],
      ['GET', '/emails'], ['POST', '/emails', {}], ['GET', `/emails/${id}`],
      ['GET', '/numbers'], ['POST', '/numbers', {}], ['GET', `/numbers/${id}`], ['PUT', `/numbers/${id}`, {}], ['DELETE', `/numbers/${id}`],
      ['GET', '/aisummaries'], ['POST', '/aisummaries', {}], ['GET', `/aisummaries/${id}`], ['DELETE', `/aisummaries/${id}`],
      ['GET', '/ais/not-a-uuid'],
    ];
    for (const [method, path, body] of routes) {
      const res = await request(L.server, method, path, body, { key: null });
      expectError(res, 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED', 'Authorization: Bearer');
    }
    // Invalid JSON without a key is still a 401: auth comes first.
    expectError(await request(L.server, 'POST', '/ais', undefined, { key: null, raw: '{nope' }), 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED');
    expect(expectList(await L.c.get('/ais'))).toHaveLength(1);
  });

  it('an unknown, empty or non-bearer credential is refused', async () => {
    const wrong = `vbl_wrong_${randomUUID()}`;
    expectError(await request(L.server, 'GET', '/ais', undefined, { key: wrong }), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expectError(await request(L.server, 'GET', `/ais?accesskey=${wrong}`, undefined, { key: null }), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expectError(await request(L.server, 'GET', '/ais', undefined, { key: null, headers: { authorization: 'Bearer ' } }), 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED');
    expectError(
      await request(L.server, 'GET', '/ais', undefined, { key: null, headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } }),
      401,
      'UNAUTHENTICATED',
      'AUTHENTICATION_REQUIRED',
    );
    expectError(await request(L.server, 'GET', '/ais?accesskey=', undefined, { key: null }), 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED');
    // A key's hash prefix or a near miss is not the key.
    expectError(await request(L.server, 'GET', '/ais', undefined, { key: L.server.key + 'x' }), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expectError(await request(L.server, 'GET', '/ais', undefined, { key: L.server.key.toUpperCase() }), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expect(capturedLogs.some((l) => l.includes(wrong))).toBe(false);
  });

  it('accepts the key as Authorization: Bearer (any case) and as ?accesskey=', async () => {
    expect(ok(await request(L.server, 'GET', '/customer', undefined, { key: null, headers: { authorization: `Bearer ${L.server.key}` } })).id).toBe(A);
    expect(ok(await request(L.server, 'GET', '/customer', undefined, { key: null, headers: { authorization: `bearer ${L.server.key}` } })).id).toBe(A);
    expect(ok(await request(L.server, 'GET', `/customer?accesskey=${encodeURIComponent(L.server.key)}`, undefined, { key: null })).id).toBe(A);
    expect(ok(await request(L.server, 'GET', `/customer?accesskey=${encodeURIComponent(B.key)}`, undefined, { key: null })).id).toBe(B.customerId);
  });

  it('never writes a key into a log line (query string keys are redacted)', async () => {
    ok(await request(L.server, 'GET', `/ais?page_size=5&accesskey=${encodeURIComponent(B.key)}`, undefined, { key: null }));
    const httpLines = capturedLogs.filter((l) => l.includes('"msg":"http"'));
    expect(httpLines.length).toBeGreaterThan(0);
    expect(httpLines.some((l) => l.includes('accesskey=[redacted]'))).toBe(true);
    expect(capturedLogs.filter((l) => l.includes(B.key) || l.includes(L.server.key))).toEqual([]);
  });

  it('every response has a unique request id, echoed in errors', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const good = await L.c.get('/customer');
      const bad = await L.c.get(`/ais/${randomUUID()}`);
      expect(good.headers.get('x-request-id')).toMatch(REQUEST_ID_RE);
      ids.add(good.headers.get('x-request-id')!);
      ids.add(bad.body.error.request_id);
    }
    expect(ids.size).toBe(10);
  });
});

describe('customer scoping', () => {
  /** Replaces uuids so two 404 messages can be compared. */
  const shape = (res: Res) => ({
    http: res.status,
    status: res.body?.error?.status,
    reason: res.body?.error?.reason,
    message: String(res.body?.error?.message ?? '').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>'),
  });

  /** [label, method, path template ({id} = the resource), body, owned resource key, reason]. */
  const ROUTES: [string, string, string, unknown, string, string][] = [
    ['get ai', 'GET', '/ais/{id}', undefined, 'ai', 'AI_NOT_FOUND'],
    ['update ai', 'PUT', '/ais/{id}', { name: 'stolen', engine_key: 'sk-b-key-123456' }, 'ai', 'AI_NOT_FOUND'],
    ['delete ai', 'DELETE', '/ais/{id}', undefined, 'ai', 'AI_NOT_FOUND'],
    ['get accesskey', 'GET', '/accesskeys/{id}', undefined, 'accesskey', 'ACCESSKEY_NOT_FOUND'],
    ['update accesskey', 'PUT', '/accesskeys/{id}', { name: 'x' }, 'accesskey', 'ACCESSKEY_NOT_FOUND'],
    ['delete accesskey', 'DELETE', '/accesskeys/{id}', undefined, 'accesskey', 'ACCESSKEY_NOT_FOUND'],
    ['get billing account', 'GET', '/billing_accounts/{id}', undefined, 'billing', 'BILLING_ACCOUNT_NOT_FOUND'],
    ['get flow', 'GET', '/flows/{id}', undefined, 'flow', 'FLOW_NOT_FOUND'],
    ['update flow', 'PUT', '/flows/{id}', { actions: [{ type: 'hangup' }] }, 'flow', 'FLOW_NOT_FOUND'],
    ['delete flow', 'DELETE', '/flows/{id}', undefined, 'flow', 'FLOW_NOT_FOUND'],
    ['get call', 'GET', '/calls/{id}', undefined, 'call', 'CALL_NOT_FOUND'],
    ['hang up call', 'POST', '/calls/{id}/hangup', undefined, 'call', 'CALL_NOT_FOUND'],
    ['delete call', 'DELETE', '/calls/{id}', undefined, 'call', 'CALL_NOT_FOUND'],
    ['get number', 'GET', '/numbers/{id}', undefined, 'number', 'NUMBER_NOT_FOUND'],
    ['update number', 'PUT', '/numbers/{id}', { name: 'x' }, 'number', 'NUMBER_NOT_FOUND'],
    ['delete number', 'DELETE', '/numbers/{id}', undefined, 'number', 'NUMBER_NOT_FOUND'],
    ['get message', 'GET', '/messages/{id}', undefined, 'message', 'MESSAGE_NOT_FOUND'],
    ['get email', 'GET', '/emails/{id}', undefined, 'email', 'EMAIL_NOT_FOUND'],
    ['get aisummary', 'GET', '/aisummaries/{id}', undefined, 'aisummary', 'SUMMARY_NOT_FOUND'],
    ['delete aisummary', 'DELETE', '/aisummaries/{id}', undefined, 'aisummary', 'SUMMARY_NOT_FOUND'],
    ['get aicall', 'GET', '/aicalls/{id}', undefined, 'aicall', 'AICALL_NOT_FOUND'],
    ['terminate aicall', 'POST', '/aicalls/{id}/terminate', undefined, 'aicall', 'AICALL_NOT_FOUND'],
    ['delete aicall', 'DELETE', '/aicalls/{id}', undefined, 'aicall', 'AICALL_NOT_FOUND'],
    ['list aimessages of aicall', 'GET', '/aimessages?aicall_id={id}', undefined, 'aicall', 'AICALL_NOT_FOUND'],
    ['add aimessage to aicall', 'POST', '/aimessages', { aicall_id: '{id}', role: 'user', content: 'x' }, 'aicall', 'AICALL_NOT_FOUND'],
    ['get aimessage', 'GET', '/aimessages/{id}', undefined, 'aimessage', 'AIMESSAGE_NOT_FOUND'],
    ['delete aimessage', 'DELETE', '/aimessages/{id}', undefined, 'aimessage', 'AIMESSAGE_NOT_FOUND'],
    ['get activeflow', 'GET', '/activeflows/{id}', undefined, 'activeflow', 'ACTIVEFLOW_NOT_FOUND'],
    ['stop activeflow', 'POST', '/activeflows/{id}/stop', undefined, 'activeflow', 'ACTIVEFLOW_NOT_FOUND'],
    ['call with another customer’s flow', 'POST', '/calls', { source: { type: 'extension', target: 'b-desk' }, destinations: [{ type: 'extension', target: 'e' }], flow_id: '{id}' }, 'flow', 'FLOW_NOT_FOUND'],
  ];

  const fill = (s: string, id: string) => s.split('{id}').join(id);
  const fillBody = (b: unknown, id: string) => (b === undefined ? undefined : JSON.parse(fill(JSON.stringify(b), id)));

  it.each(ROUTES)('%s: 404 exactly like a missing one', async (_label, method, path, body, key, reason) => {
    const id: string = owned[key].id;
    const foreign = await request(L.server, method, fill(path, id), fillBody(body, id), { key: B.key });
    const missingId = randomUUID();
    const missing = await request(L.server, method, fill(path, missingId), fillBody(body, missingId), { key: B.key });
    expectError(foreign, 404, 'NOT_FOUND', reason);
    expectError(missing, 404, 'NOT_FOUND', reason);
    expect(shape(foreign)).toEqual(shape(missing));
  });

  it('the owner sees its resources unchanged after the other customer’s attempts', async () => {
    for (const key of ['ai', 'flow', 'number', 'message', 'email', 'aisummary', 'aicall', 'aimessage', 'activeflow', 'billing']) {
      const path = {
        ai: '/ais', flow: '/flows', number: '/numbers', message: '/messages', email: '/emails', aisummary: '/aisummaries',
        aicall: '/aicalls', aimessage: '/aimessages', activeflow: '/activeflows', billing: '/billing_accounts',
      }[key]!;
      const now = ok(await L.c.get(`${path}/${owned[key].id}`));
      expect(now, key).toEqual(owned[key]);
    }
    expect(ok(await L.c.get(`/accesskeys/${owned.accesskey.id}`))).toEqual({ ...owned.accesskey, token: '' });
    expect(ok(await request(L.server, 'GET', '/customer', undefined, { key: owned.accesskey.token })).id).toBe(A);
    expect(await L.server.store.ais.getSecret(A, owned.ai.id)).toBe(CANARY_ENGINE_KEY);
    const call = ok(await L.c.get(`/calls/${owned.call.id}`));
    expect(call.tm_delete).toBe(owned.call.tm_delete);
  });

  it('lists are scoped to the caller', async () => {
    for (const path of ['/ais', '/flows', '/calls', '/numbers', '/messages', '/emails', '/aisummaries', '/aicalls', '/activeflows']) {
      expect(expectList(await B.c.get(`${path}?page_size=100`)), path).toEqual([]);
      expect(expectList(await L.c.get(`${path}?page_size=100`)).length, path).toBeGreaterThan(0);
    }
    const bKeys = expectList(await B.c.get('/accesskeys'));
    expect(bKeys.map((k) => k.customer_id)).toEqual([B.customerId]);
    const bBilling = expectList(await B.c.get('/billing_accounts'));
    expect(bBilling).toHaveLength(1);
    expect(bBilling[0].customer_id).toBe(B.customerId);
    expect(bBilling[0].id).not.toBe(owned.billing.id);
    expect(ok(await B.c.get('/customer'))).toMatchObject({ id: B.customerId, name: 'customer b' });
    expect(ok(await B.c.get('/billing_account')).id).toBe(bBilling[0].id);
  });

  it('references to another customer’s resources in a body are refused like missing ones', async () => {
    // Sending from A's number.
    expectInvalid(
      await B.c.post('/messages', { source: { type: 'tel', target: '+15550300001' }, destinations: [{ type: 'tel', target: '+15550300002' }], text: 'hi' }),
      'is not a number of this account',
    );
    // Routing B's number to A's flow.
    expectInvalid(await B.c.post('/numbers', { number: '+15550300003', call_flow_id: owned.flow.id }), `call_flow_id: flow ${owned.flow.id} not found`);
    // Summarising A's call.
    expectInvalid(await B.c.post('/aisummaries', { reference_type: 'call', reference_id: owned.call.id }), `call ${owned.call.id} not found`);
    expect(expectList(await B.c.get('/numbers'))).toEqual([]);
    expect(expectList(await B.c.get('/messages'))).toEqual([]);
  });

  it('a phone number is unique across customers (409), and B’s own resources work for B only', async () => {
    expectError(await B.c.post('/numbers', { number: '+15550300001' }), 409, 'ALREADY_EXISTS', 'NUMBER_ALREADY_EXISTS');
    const bAi = ok(await B.c.post('/ais', aiBody({ name: 'B’s agent', engine_key: `${CANARY_ENGINE_KEY}-b` })));
    expect(bAi.customer_id).toBe(B.customerId);
    expect(ok(await B.c.get(`/ais/${bAi.id}`))).toEqual(bAi);
    expectError(await L.c.get(`/ais/${bAi.id}`), 404, 'NOT_FOUND', 'AI_NOT_FOUND');
    expect(await L.server.store.ais.getSecret(A, bAi.id)).toBeUndefined();
    expect(await L.server.store.ais.getSecret(B.customerId, bAi.id)).toBe(`${CANARY_ENGINE_KEY}-b`);
  });
});

describe('secrets', () => {
  it('no engine_key or access key appeared in any response or log line of this file', () => {
    expectNoLeak([CANARY_ENGINE_KEY, 'sk-b-key-123456']);
    // Access keys: only the creation response of a key may carry it.
    expect(capturedLogs.filter((l) => l.includes(L.server.key) || l.includes(B.key) || l.includes(owned.accesskey.token))).toEqual([]);
  });
});
