/**
 * CRUD round trips and validation of every other `/v1.0` resource of the local VoIPBIN:
 * accesskeys, customer, aicalls, aimessages, calls, flows, activeflows, messages, emails,
 * numbers, aisummaries and billing_accounts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { NIL_UUID } from '../../src/util/ids.js';
import {
  ACTIONS,
  TIMESTAMP_RE,
  TM_NEVER,
  UUID_RE,
  activeflowRow,
  aicallRow,
  client,
  expectError,
  expectInvalid,
  expectList,
  expectNotFound,
  expectResource,
  ok,
  openPhone,
  startLocal,
  waitFor,
} from './fixtures.js';
import type { Local } from './fixtures.js';

let L: Local;
let me: string;

beforeAll(async () => {
  // A long ring timeout: a ringing call stays ringing until the test hangs it up.
  L = await startLocal({}, { engine: { ringTimeoutMs: 10 * 60_000 } });
  me = L.server.localCustomerId!;
  // A call's source must be a number of the account.
  ok(await L.c.post('/numbers', { number: SOURCE.target }));
});
afterAll(async () => {
  await L?.stop();
});

const SOURCE = { type: 'tel', target: '+15550001000' };

describe('/accesskeys', () => {
  it('lists the local key without its token', async () => {
    const keys = expectList(await L.c.get('/accesskeys'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toEqual({
      id: expect.stringMatching(UUID_RE),
      customer_id: me,
      name: 'default',
      detail: 'created at first start',
      token_prefix: L.server.key.slice(0, 8),
      token: '',
      tm_expire: TM_NEVER,
      tm_create: expect.stringMatching(TIMESTAMP_RE),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    });
  });

  it('create returns the token once; get/list/update never return it; the token authenticates until deleted', async () => {
    const created = ok(await L.c.post('/accesskeys', { name: 'ci', detail: 'for CI', expire: 3600 }));
    expectResource(created, me);
    expect(created).toMatchObject({ name: 'ci', detail: 'for CI' });
    expect(created.token).toMatch(/^vbl_[A-Za-z0-9_-]{32}$/);
    expect(created.token_prefix).toBe(created.token.slice(0, 8));
    expect(created.tm_expire).toMatch(TIMESTAMP_RE);
    expect(created.tm_expire > created.tm_create).toBe(true);
    const token: string = created.token;

    const got = ok(await L.c.get(`/accesskeys/${created.id}`));
    expect(got).toEqual({ ...created, token: '' });
    const listed = expectList(await L.c.get('/accesskeys?page_size=100'));
    expect(listed.map((k) => k.id)).toContain(created.id);
    expect(listed.every((k) => k.token === '')).toBe(true);

    // The new key works, by header and by ?accesskey=.
    const viaNew = client(L.server, token);
    expect(ok(await viaNew.get('/customer')).id).toBe(me);
    expect(ok(await L.c.get(`/customer?accesskey=${encodeURIComponent(token)}`, { key: null })).id).toBe(me);

    const updated = ok(await L.c.put(`/accesskeys/${created.id}`, { name: 'ci-renamed', detail: 'renamed' }));
    expect(updated).toEqual({ ...created, token: '', name: 'ci-renamed', detail: 'renamed', tm_update: expect.stringMatching(TIMESTAMP_RE) });
    expect(updated.tm_update).not.toBe(TM_NEVER);
    expect(ok(await L.c.get(`/accesskeys/${created.id}`))).toEqual(updated);

    const deleted = ok(await L.c.del(`/accesskeys/${created.id}`));
    expect(deleted.token).toBe('');
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectError(await viaNew.get('/customer'), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
    expectNotFound(await L.c.get(`/accesskeys/${created.id}`), 'ACCESSKEY_NOT_FOUND');
    expectNotFound(await L.c.put(`/accesskeys/${created.id}`, { name: 'x' }), 'ACCESSKEY_NOT_FOUND');
    expectNotFound(await L.c.del(`/accesskeys/${created.id}`), 'ACCESSKEY_NOT_FOUND');
    // The server's own key still works.
    ok(await L.c.get('/customer'));
  });

  it('creates a key with no body at all and with an empty object', async () => {
    const a = ok(await L.c.post('/accesskeys'));
    const b = ok(await L.c.post('/accesskeys', {}));
    for (const k of [a, b]) {
      expect(k).toMatchObject({ name: '', detail: '', tm_expire: TM_NEVER });
      expect(k.token).toMatch(/^vbl_/);
    }
    expect(a.token).not.toBe(b.token);
  });

  it('an expired key is refused with 401 INVALID_CREDENTIALS', async () => {
    const created = ok(await L.c.post('/accesskeys', { name: 'short', expire: 3600 }));
    const row = (await L.server.store.accesskeys.get(me, created.id))!;
    await L.server.store.accesskeys.update({ ...row, tm_expire: '2000-01-01T00:00:00.000000Z' });
    expectError(await client(L.server, created.token).get('/ais'), 401, 'UNAUTHENTICATED', 'INVALID_CREDENTIALS');
  });

  it('validates create and update bodies', async () => {
    expectInvalid(await L.c.post('/accesskeys', { expire: -1 }), 'expire');
    expectInvalid(await L.c.post('/accesskeys', { expire: 'soon' }), 'expire');
    expectInvalid(await L.c.post('/accesskeys', { expire: 1.5 }), 'expire');
    // Too far out for a VoIPBIN timestamp: refused (it used to store "+011533-..." or answer 500).
    expectInvalid(await L.c.post('/accesskeys', { expire: 3e11 }), 'expire: must be at most');
    expectInvalid(await L.c.post('/accesskeys', { expire: 1e14 }), 'expire: must be at most');
    const longest = ok(await L.c.post('/accesskeys', { name: 'long', expire: 3_153_600_000 }));
    expect(longest.tm_expire).toMatch(TIMESTAMP_RE);
    expect(ok(await client(L.server, longest.token).get('/customer')).id).toBe(me);
    expectInvalid(await L.c.post('/accesskeys', { name: 5 }), 'name');
    const k = ok(await L.c.post('/accesskeys', { name: 'v' }));
    expectInvalid(await L.c.put(`/accesskeys/${k.id}`, { detail: false }), 'detail');
    expectInvalid(await L.c.get('/accesskeys/xyz'), undefined, 'INVALID_ID');
    expectNotFound(await L.c.get(`/accesskeys/${randomUUID()}`), 'ACCESSKEY_NOT_FOUND');
  });
});

describe('/customer', () => {
  it('gets and updates the caller’s customer; ids cannot be changed', async () => {
    const before = ok(await L.c.get('/customer'));
    expect(before).toMatchObject({ id: me, customer_id: me, name: 'local', status: 'active', tm_delete: TM_NEVER });
    expect(before.billing_account_id).toMatch(UUID_RE);
    const patch = {
      name: 'Acme',
      detail: 'the acme account',
      email: 'ops@acme.example',
      phone_number: '+15550009999',
      address: '1 Road',
      webhook_method: 'POST',
      webhook_uri: 'https://acme.example/hook',
    };
    // Fields PUT cannot change are refused by name (never silently ignored), and nothing changes.
    for (const field of ['id', 'customer_id', 'billing_account_id']) {
      expectInvalid(await L.c.put('/customer', { ...patch, [field]: randomUUID() }), `${field}: unknown field; use name, detail`);
    }
    expect(ok(await L.c.get('/customer'))).toEqual(before);
    const updated = ok(await L.c.put('/customer', patch));
    expect(updated).toEqual({ ...before, ...patch, tm_update: expect.stringMatching(TIMESTAMP_RE) });
    expect(updated.tm_update).not.toBe(TM_NEVER);
    expect(ok(await L.c.get('/customer'))).toEqual(updated);
  });

  it('validates the update', async () => {
    const before = ok(await L.c.get('/customer'));
    expectInvalid(await L.c.put('/customer', { webhook_method: 'PATCH' }), 'webhook_method');
    expectInvalid(await L.c.put('/customer', { name: 7 }), 'name');
    expect(ok(await L.c.get('/customer'))).toEqual(before);
  });
});

describe('/billing_accounts', () => {
  it('lists the one account of the customer and gets it by id', async () => {
    const accounts = expectList(await L.c.get('/billing_accounts'));
    expect(accounts).toHaveLength(1);
    const account = accounts[0];
    expectResource(account, me);
    expect(account.id).toBe(ok(await L.c.get('/customer')).billing_account_id);
    expect(typeof account.balance_credit).toBe('number');
    expect(ok(await L.c.get(`/billing_accounts/${account.id}`))).toEqual(account);
    expect(ok(await L.c.get('/billing_account'))).toEqual(account);
    expectNotFound(await L.c.get(`/billing_accounts/${randomUUID()}`), 'BILLING_ACCOUNT_NOT_FOUND');
    expectInvalid(await L.c.get('/billing_accounts/1'), undefined, 'INVALID_ID');
  });
});

describe('/flows', () => {
  it('CRUD round trip', async () => {
    const actionId = randomUUID();
    const created = ok(
      await L.c.post('/flows', { name: 'greeting', detail: 'says hello', actions: [{ id: actionId, type: 'answer' }, ...ACTIONS.slice(1)] }),
    );
    expectResource(created, me);
    expect(created).toMatchObject({ type: 'flow', name: 'greeting', detail: 'says hello', on_complete_flow_id: NIL_UUID, tm_update: TM_NEVER });
    expect(created.actions).toEqual([
      { id: actionId, next_id: NIL_UUID, type: 'answer', option: {} },
      { id: expect.stringMatching(UUID_RE), next_id: NIL_UUID, type: 'talk', option: { text: 'hello' } },
      { id: expect.stringMatching(UUID_RE), next_id: NIL_UUID, type: 'hangup', option: {} },
    ]);
    expect(ok(await L.c.get(`/flows/${created.id}`))).toEqual(created);
    expect(expectList(await L.c.get('/flows?page_size=1'))).toEqual([created]);

    const updated = ok(await L.c.put(`/flows/${created.id}`, { name: 'bye', actions: [{ type: 'hangup' }] }));
    expect(updated).toMatchObject({ id: created.id, name: 'bye', detail: 'says hello', tm_create: created.tm_create });
    expect(updated.actions).toEqual([{ id: expect.stringMatching(UUID_RE), next_id: NIL_UUID, type: 'hangup', option: {} }]);
    expect(updated.tm_update).not.toBe(TM_NEVER);
    expect(ok(await L.c.get(`/flows/${created.id}`))).toEqual(updated);

    const deleted = ok(await L.c.del(`/flows/${created.id}`));
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/flows/${created.id}`), 'FLOW_NOT_FOUND');
    expectNotFound(await L.c.put(`/flows/${created.id}`, { actions: ACTIONS }), 'FLOW_NOT_FOUND');
    expectNotFound(await L.c.del(`/flows/${created.id}`), 'FLOW_NOT_FOUND');
    expect(expectList(await L.c.get('/flows?page_size=100')).map((f) => f.id)).not.toContain(created.id);
  });

  it('validates flows', async () => {
    const flow = ok(await L.c.post('/flows', { actions: ACTIONS }));
    // POST needs actions; PUT is partial (checked below).
    expectInvalid(await L.c.post('/flows', { name: 'x' }), 'actions: must be an array');
    const bad: [unknown, string][] = [
      [{ actions: 'answer' }, 'actions: must be an array'],
      [{ actions: [{ type: 'teleport' }] }, 'actions[0].type'],
      [{ actions: [{}] }, 'actions[0].type'],
      [{ actions: [{ type: 'answer', id: 'not-a-uuid' }] }, 'actions[0].id'],
      [{ actions: [{ type: 'talk', option: 'loud' }] }, 'actions[0].option'],
      [{ name: 3, actions: ACTIONS }, 'name: must be a string'],
    ];
    for (const [body, message] of bad) {
      expectInvalid(await L.c.post('/flows', body), message);
      expectInvalid(await L.c.put(`/flows/${flow.id}`, body), message);
    }
    expect(ok(await L.c.get(`/flows/${flow.id}`))).toEqual(flow);
  });
});

describe('/calls', () => {
  it('creates a call with inline actions: stored as a new flow; an unreachable destination ends as failed', async () => {
    const res = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'nobody-home' }], actions: ACTIONS }));
    expect(Object.keys(res).sort()).toEqual(['calls', 'groupcalls']);
    expect(res.groupcalls).toEqual([]);
    expect(res.calls).toHaveLength(1);
    const call = res.calls[0];
    expectResource(call, me);
    expect(call).toMatchObject({
      status: 'dialing',
      direction: 'outgoing',
      source: { type: 'tel', target: '+15550001000', target_name: '', name: '', detail: '' },
      destination: { type: 'extension', target: 'nobody-home', target_name: '', name: '', detail: '' },
    });
    const flow = ok(await L.c.get(`/flows/${call.flow_id}`));
    expect(flow.actions.map((a: any) => a.type)).toEqual(['answer', 'talk', 'hangup']);
    // Nobody is registered at the destination: VoIPBIN reports it as a hangup with reason failed.
    const ended = await waitFor(async () => {
      const c = ok(await L.c.get(`/calls/${call.id}`));
      return c.status === 'hangup' ? c : undefined;
    }, 'the call to end');
    expect(ended).toMatchObject({ id: call.id, hangup_reason: 'failed', hangup_by: 'remote' });
    expect(ended.tm_hangup).toMatch(TIMESTAMP_RE);
    expect(ended.tm_hangup).not.toBe(TM_NEVER);
    expectError(await L.c.post(`/calls/${call.id}/hangup`), 409, 'FAILED_PRECONDITION', 'CALL_ALREADY_HANGUP');
  });

  it('creates a call with a flow_id: one call per destination, all on that flow', async () => {
    const flow = ok(await L.c.post('/flows', { actions: ACTIONS }));
    const res = ok(
      await L.c.post('/calls', {
        source: SOURCE,
        destinations: [
          { type: 'extension', target: 'x1' },
          { type: 'extension', target: 'x2' },
        ],
        flow_id: flow.id.toUpperCase(),
        variables: { 'voipbin.test': 'yes' },
      }),
    );
    expect(res.calls).toHaveLength(2);
    expect(res.calls.map((c: any) => c.flow_id)).toEqual([flow.id, flow.id]);
    expect(res.calls.map((c: any) => c.destination.target)).toEqual(['x1', 'x2']);
    expect(res.calls[0].metadata).toEqual({ variables: { 'voipbin.test': 'yes' } });
    const listed = expectList(await L.c.get('/calls?page_size=2'));
    expect(listed.map((c) => c.id)).toEqual([res.calls[1].id, res.calls[0].id]);
  });

  it('a ringing call: delete is refused (409), hangup succeeds once, the second is 409 CALL_ALREADY_HANGUP, then delete', async () => {
    const phone = await openPhone(L.server, { type: 'extension', target: 'desk' });
    try {
      const call = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'desk' }], actions: ACTIONS })).calls[0];
      const incoming = await phone.next('incoming', call.id);
      expect(incoming).toMatchObject({ from: { type: 'tel', target: '+15550001000' }, to: { type: 'extension', target: 'desk' } });
      expect(ok(await L.c.get(`/calls/${call.id}`)).status).toBe('ringing');

      expectError(await L.c.del(`/calls/${call.id}`), 409, 'FAILED_PRECONDITION', 'CALL_STATE_INVALID');
      const hung = ok(await L.c.post(`/calls/${call.id}/hangup`));
      expect(hung).toMatchObject({ id: call.id, status: 'hangup', hangup_by: 'local' });
      expect(hung.tm_hangup).not.toBe(TM_NEVER);
      await phone.next('hangup', call.id);
      expectError(await L.c.post(`/calls/${call.id}/hangup`), 409, 'FAILED_PRECONDITION', 'CALL_ALREADY_HANGUP');
      expect(ok(await L.c.get(`/calls/${call.id}`))).toMatchObject({ status: 'hangup' });

      const deleted = ok(await L.c.del(`/calls/${call.id}`));
      expect(deleted.tm_delete).not.toBe(TM_NEVER);
      expectNotFound(await L.c.get(`/calls/${call.id}`), 'CALL_NOT_FOUND');
      expectNotFound(await L.c.post(`/calls/${call.id}/hangup`), 'CALL_NOT_FOUND');
      expectNotFound(await L.c.del(`/calls/${call.id}`), 'CALL_NOT_FOUND');
    } finally {
      await phone.close();
    }
  });

  it('validates calls and stores nothing on error', async () => {
    const before = expectList(await L.c.get('/calls?page_size=100')).length;
    const dest = [{ type: 'extension', target: 'z' }];
    const bad: [unknown, string][] = [
      [{ destinations: dest, actions: ACTIONS }, 'source'],
      [{ source: SOURCE, actions: ACTIONS }, 'destinations'],
      [{ source: SOURCE, destinations: [], actions: ACTIONS }, 'at least one destination'],
      [{ source: SOURCE, destinations: dest }, 'give either actions'],
      [{ source: SOURCE, destinations: dest, actions: [] }, 'give either actions'],
      [{ source: SOURCE, destinations: dest, actions: ACTIONS, flow_id: randomUUID() }, 'give either actions'],
      [{ source: SOURCE, destinations: dest, flow_id: 'flow-1' }, 'flow_id: must be a UUID'],
      [{ source: { type: 'pigeon', target: 'x' }, destinations: dest, actions: ACTIONS }, 'source.type'],
      [{ source: { type: 'tel', target: '' }, destinations: dest, actions: ACTIONS }, 'source.target'],
      [{ source: SOURCE, destinations: [{ type: 'tel' }], actions: ACTIONS }, 'destinations[0].target'],
      [{ source: SOURCE, destinations: dest, actions: [{ type: 'dance' }] }, 'actions[0].type'],
      [{ source: SOURCE, destinations: dest, actions: ACTIONS, variables: { a: 1 } }, 'variables.a'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/calls', body), message);
    expectNotFound(await L.c.post('/calls', { source: SOURCE, destinations: dest, flow_id: randomUUID() }), 'FLOW_NOT_FOUND');
    expect(expectList(await L.c.get('/calls?page_size=100')).length).toBe(before);
    expectNotFound(await L.c.get(`/calls/${randomUUID()}`), 'CALL_NOT_FOUND');
  });
});

describe('/activeflows (seeded by the flow engine)', () => {
  it('lists, gets and stops; stopping an ended activeflow is a no-op', async () => {
    const seeded = await L.server.store.activeflows.insert(activeflowRow(me));
    const other = await L.server.store.activeflows.insert(activeflowRow(me, { status: 'ended' }));
    const listed = expectList(await L.c.get('/activeflows?page_size=2'));
    expect(listed).toEqual([other, seeded]);
    expect(ok(await L.c.get(`/activeflows/${seeded.id}`))).toEqual(seeded);

    const stopped = ok(await L.c.post(`/activeflows/${seeded.id}/stop`));
    expect(stopped).toMatchObject({ id: seeded.id, status: 'ended' });
    expect(stopped.tm_update).toMatch(TIMESTAMP_RE);
    expect(stopped.tm_update).not.toBe(TM_NEVER);
    expect(ok(await L.c.get(`/activeflows/${seeded.id}`))).toEqual(stopped);
    expect(ok(await L.c.post(`/activeflows/${seeded.id}/stop`))).toEqual(stopped);
    expect(ok(await L.c.post(`/activeflows/${other.id}/stop`))).toEqual(other);

    expectNotFound(await L.c.get(`/activeflows/${randomUUID()}`), 'ACTIVEFLOW_NOT_FOUND');
    expectNotFound(await L.c.post(`/activeflows/${randomUUID()}/stop`), 'ACTIVEFLOW_NOT_FOUND');
    expectInvalid(await L.c.post('/activeflows/nope/stop'), undefined, 'INVALID_ID');
  });
});

describe('/aicalls (seeded) and /aimessages', () => {
  it('POST /aicalls answers a clear 501', async () => {
    const res = await L.c.post('/aicalls', { ai_id: randomUUID(), reference_type: 'call', reference_id: randomUUID() });
    expectError(res, 501, 'INTERNAL', 'NOT_IMPLEMENTED', 'not implemented by the local VoIPBIN');
    expect(res.body.error.message).toContain('POST /calls');
  });

  it('lists, gets, terminates (idempotent) and deletes an AI call', async () => {
    const a = await L.server.store.aicalls.insert(aicallRow(me));
    const b = await L.server.store.aicalls.insert(aicallRow(me));
    expect(expectList(await L.c.get('/aicalls?page_size=2'))).toEqual([b, a]);
    expect(ok(await L.c.get(`/aicalls/${a.id}`))).toEqual(a);

    const terminated = ok(await L.c.post(`/aicalls/${a.id}/terminate`));
    expect(terminated).toMatchObject({ id: a.id, status: 'terminated' });
    expect(terminated.tm_end).toMatch(TIMESTAMP_RE);
    expect(terminated.tm_end).not.toBe(TM_NEVER);
    expect(ok(await L.c.post(`/aicalls/${a.id}/terminate`))).toEqual(terminated);
    expect(ok(await L.c.get(`/aicalls/${a.id}`))).toEqual(terminated);

    const deleted = ok(await L.c.del(`/aicalls/${a.id}`));
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/aicalls/${a.id}`), 'AICALL_NOT_FOUND');
    expectNotFound(await L.c.post(`/aicalls/${a.id}/terminate`), 'AICALL_NOT_FOUND');
    expectNotFound(await L.c.del(`/aicalls/${a.id}`), 'AICALL_NOT_FOUND');
    expect(expectList(await L.c.get('/aicalls?page_size=100')).map((x) => x.id)).toEqual([b.id]);
  });

  it('creates messages of an AI call, lists them by aicall_id (required), gets them', async () => {
    const aicall = await L.server.store.aicalls.insert(aicallRow(me));
    const otherCall = await L.server.store.aicalls.insert(aicallRow(me));
    const m1 = ok(await L.c.post('/aimessages', { aicall_id: aicall.id, role: 'user', content: 'hello' }));
    expectResource(m1, me);
    expect(m1).toEqual({
      id: expect.stringMatching(UUID_RE),
      customer_id: me,
      aicall_id: aicall.id,
      activeflow_id: aicall.activeflow_id,
      active_ai_id: aicall.assistance_id,
      role: 'user',
      content: 'hello',
      direction: 'incoming',
      tool_calls: [],
      tool_call_id: '',
      tm_create: expect.stringMatching(TIMESTAMP_RE),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    });
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'send_email', arguments: '{"to":"a@b.c"}' } }];
    const m2 = ok(await L.c.post('/aimessages', { aicall_id: aicall.id.toUpperCase(), role: 'assistant', content: '', tool_calls: toolCalls }));
    expect(m2).toMatchObject({ aicall_id: aicall.id, role: 'assistant', direction: 'outgoing', tool_calls: toolCalls });
    const m3 = ok(await L.c.post('/aimessages', { aicall_id: aicall.id, role: 'tool', content: 'success', tool_call_id: 'call_1' }));
    ok(await L.c.post('/aimessages', { aicall_id: otherCall.id, role: 'user', content: 'elsewhere' }));

    expect(expectList(await L.c.get(`/aimessages?aicall_id=${aicall.id}`))).toEqual([m3, m2, m1]);
    expect(ok(await L.c.get(`/aimessages/${m1.id}`))).toEqual(m1);

    const deleted = ok(await L.c.del(`/aimessages/${m2.id}`));
    expect(deleted).toMatchObject({ id: m2.id, role: 'assistant' });
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/aimessages/${m2.id}`), 'AIMESSAGE_NOT_FOUND');
    expectNotFound(await L.c.del(`/aimessages/${m2.id}`), 'AIMESSAGE_NOT_FOUND');
    expect(expectList(await L.c.get(`/aimessages?aicall_id=${aicall.id}`))).toEqual([m3, m1]);

    expectInvalid(await L.c.get('/aimessages'), 'aicall_id: required', 'MISSING_REQUEST_PARAMETER');
    expectInvalid(await L.c.get('/aimessages?aicall_id='), 'aicall_id: required', 'MISSING_REQUEST_PARAMETER');
    expectInvalid(await L.c.get('/aimessages?aicall_id=abc'), 'aicall_id: must be a UUID', 'INVALID_REQUEST_PARAMETER');
    expectNotFound(await L.c.get(`/aimessages?aicall_id=${randomUUID()}`), 'AICALL_NOT_FOUND');
    expectNotFound(await L.c.get(`/aimessages/${randomUUID()}`), 'AIMESSAGE_NOT_FOUND');
  });

  it('validates message creation and stores nothing on error', async () => {
    const aicall = await L.server.store.aicalls.insert(aicallRow(me));
    const bad: [unknown, string][] = [
      [{ role: 'user', content: 'x' }, 'aicall_id'],
      [{ aicall_id: 'abc', role: 'user', content: 'x' }, 'aicall_id: must be a UUID'],
      [{ aicall_id: aicall.id, content: 'x' }, 'role: must be one of'],
      [{ aicall_id: aicall.id, role: 'robot', content: 'x' }, 'role: must be one of'],
      [{ aicall_id: aicall.id, role: 'user' }, 'content: required'],
      [{ aicall_id: aicall.id, role: 'assistant', content: '', tool_calls: [{ id: 'c' }] }, 'tool_calls[0].function'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/aimessages', body), message);
    expectNotFound(await L.c.post('/aimessages', { aicall_id: randomUUID(), role: 'user', content: 'x' }), 'AICALL_NOT_FOUND');
    expect(expectList(await L.c.get(`/aimessages?aicall_id=${aicall.id}`))).toEqual([]);
  });
});

describe('/numbers', () => {
  it('CRUD round trip; a deleted number can be registered again', async () => {
    const flow = ok(await L.c.post('/flows', { actions: ACTIONS }));
    const created = ok(await L.c.post('/numbers', { number: '+1 (555) 010-0001', name: 'front desk', detail: 'main line' }));
    expectResource(created, me);
    expect(created).toMatchObject({
      number: '+15550100001',
      type: 'normal',
      call_flow_id: NIL_UUID,
      message_flow_id: NIL_UUID,
      name: 'front desk',
      detail: 'main line',
      status: 'active',
    });
    expect(created.tm_purchase).toMatch(TIMESTAMP_RE);
    expect(ok(await L.c.get(`/numbers/${created.id}`))).toEqual(created);
    expect(expectList(await L.c.get('/numbers?page_size=1'))).toEqual([created]);

    const updated = ok(await L.c.put(`/numbers/${created.id}`, { name: 'sales', call_flow_id: flow.id, message_flow_id: flow.id }));
    expect(updated).toEqual({ ...created, name: 'sales', call_flow_id: flow.id, message_flow_id: flow.id, tm_update: expect.stringMatching(TIMESTAMP_RE) });
    expect(updated.tm_update).not.toBe(TM_NEVER);
    const cleared = ok(await L.c.put(`/numbers/${created.id}`, { call_flow_id: '' }));
    expect(cleared).toMatchObject({ call_flow_id: NIL_UUID, message_flow_id: flow.id, name: 'sales' });
    expect(ok(await L.c.get(`/numbers/${created.id}`))).toEqual(cleared);

    const deleted = ok(await L.c.del(`/numbers/${created.id}`));
    expect(deleted).toMatchObject({ id: created.id, status: 'deleted' });
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/numbers/${created.id}`), 'NUMBER_NOT_FOUND');
    expectNotFound(await L.c.put(`/numbers/${created.id}`, { name: 'x' }), 'NUMBER_NOT_FOUND');
    expectNotFound(await L.c.del(`/numbers/${created.id}`), 'NUMBER_NOT_FOUND');
    const again = ok(await L.c.post('/numbers', { number: '+15550100001', type: 'virtual' }));
    expect(again).toMatchObject({ number: '+15550100001', type: 'virtual' });
    expect(again.id).not.toBe(created.id);
  });

  it('a duplicate number answers 409 NUMBER_ALREADY_EXISTS, in any spelling', async () => {
    ok(await L.c.post('/numbers', { number: '+15550100002' }));
    for (const number of ['+15550100002', '0015550100002', '+1 555-010-0002']) {
      expectError(await L.c.post('/numbers', { number }), 409, 'ALREADY_EXISTS', 'NUMBER_ALREADY_EXISTS', '+15550100002');
    }
    expect(expectList(await L.c.get('/numbers?page_size=100')).filter((n) => n.number === '+15550100002')).toHaveLength(1);
  });

  it('concurrent registrations of one number: exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => L.c.post('/numbers', { number: '+15550100009' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expectError(r, 409, 'ALREADY_EXISTS', 'NUMBER_ALREADY_EXISTS');
  });

  it('validates numbers', async () => {
    const n = ok(await L.c.post('/numbers', { number: '+15550100003' }));
    const before = expectList(await L.c.get('/numbers?page_size=100')).length;
    const bad: [unknown, string][] = [
      [{}, 'number: must be an E.164 phone number as a string'],
      [{ number: 15550100004 }, 'number: must be an E.164 phone number as a string'],
      [{ number: 'call me' }, 'is not an E.164 phone number'],
      [{ number: '5550100004' }, 'is not an E.164 phone number'],
      [{ number: '+0550100004' }, 'is not an E.164 phone number'],
      [{ number: '+15550100004', type: 'gold' }, 'type'],
      [{ number: '+15550100004', call_flow_id: 'flow' }, 'call_flow_id'],
      [{ number: '+15550100004', call_flow_id: randomUUID() }, 'call_flow_id: flow'],
      [{ number: '+15550100004', message_flow_id: randomUUID() }, 'message_flow_id: flow'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/numbers', body), message);
    expect(expectList(await L.c.get('/numbers?page_size=100')).length).toBe(before);
    expectInvalid(await L.c.put(`/numbers/${n.id}`, { call_flow_id: randomUUID() }), 'call_flow_id: flow');
    expectInvalid(await L.c.put(`/numbers/${n.id}`, { name: 1 }), 'name');
    expect(ok(await L.c.get(`/numbers/${n.id}`))).toEqual(n);
    expectNotFound(await L.c.get(`/numbers/${randomUUID()}`), 'NUMBER_NOT_FOUND');
  });
});

describe('/messages', () => {
  beforeAll(async () => {
    ok(await L.c.post('/numbers', { number: '+15550200001' }));
  });

  it('sends an SMS from a number of the customer; list and get', async () => {
    const sent = ok(
      await L.c.post('/messages', {
        source: { type: 'tel', target: '+1 555 020 0001' },
        destinations: [
          { type: 'tel', target: '+1 (555) 020-0002', target_name: 'Bob' },
          { type: 'tel', target: '00442071234567' },
        ],
        text: 'x'.repeat(161),
      }),
    );
    expectResource(sent, me);
    expect(sent).toMatchObject({
      type: 'sms',
      direction: 'outbound',
      text: 'x'.repeat(161),
      source: { type: 'tel', target: '+15550200001', target_name: '', name: '', detail: '' },
    });
    expect(sent.targets).toEqual([
      { destination: { type: 'tel', target: '+15550200002', target_name: 'Bob', name: '', detail: '' }, status: 'queued', parts: 2, tm_update: expect.stringMatching(TIMESTAMP_RE) },
      { destination: { type: 'tel', target: '+442071234567', target_name: '', name: '', detail: '' }, status: 'queued', parts: 2, tm_update: expect.stringMatching(TIMESTAMP_RE) },
    ]);
    expect(ok(await L.c.get(`/messages/${sent.id}`))).toEqual(sent);
    expect(expectList(await L.c.get('/messages?page_size=1'))).toEqual([sent]);
    expectNotFound(await L.c.get(`/messages/${randomUUID()}`), 'MESSAGE_NOT_FOUND');
  });

  it('validates messages: E.164 numbers, a source the customer owns; stores nothing on error', async () => {
    const before = expectList(await L.c.get('/messages?page_size=100')).length;
    const src = { type: 'tel', target: '+15550200001' };
    const to = [{ type: 'tel', target: '+15550200002' }];
    const bad: [unknown, string][] = [
      [{ destinations: to, text: 'hi' }, 'source'],
      [{ source: src, text: 'hi' }, 'destinations'],
      [{ source: src, destinations: [], text: 'hi' }, 'at least one destination'],
      [{ source: src, destinations: to }, 'text: required'],
      [{ source: src, destinations: to, text: '' }, 'text: must not be empty'],
      [{ source: { type: 'tel', target: 'abc' }, destinations: to, text: 'hi' }, 'source.target: "abc" is not an E.164'],
      [{ source: src, destinations: [...to, { type: 'tel', target: '12' }], text: 'hi' }, 'destinations[1].target: "12" is not an E.164'],
      [{ source: { type: 'email', target: 'a@b.co' }, destinations: to, text: 'hi' }, 'source.type'],
      [{ source: src, destinations: [{ type: 'sip', target: 'x@y' }], text: 'hi' }, 'destinations[0].type'],
      [{ source: { type: 'tel', target: '+15550299999' }, destinations: to, text: 'hi' }, '+15550299999 is not a number of this account'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/messages', body), message);
    expect(expectList(await L.c.get('/messages?page_size=100')).length).toBe(before);
  });
});

describe('/emails', () => {
  it('sends an email; list and get', async () => {
    const attachmentId = randomUUID();
    const sent = ok(
      await L.c.post('/emails', {
        destinations: [{ type: 'email', target: 'bob@example.com', target_name: 'Bob' }],
        subject: 'Hello',
        content: 'Body',
        attachments: [{ reference_type: 'recording', reference_id: attachmentId }],
      }),
    );
    expectResource(sent, me);
    expect(sent).toMatchObject({
      status: 'initiated',
      subject: 'Hello',
      content: 'Body',
      source: { type: 'email', target: 'noreply@voipbin.local' },
      destinations: [{ type: 'email', target: 'bob@example.com', target_name: 'Bob', name: '', detail: '' }],
      attachments: [{ reference_type: 'recording', reference_id: attachmentId }],
    });
    expect(ok(await L.c.get(`/emails/${sent.id}`))).toEqual(sent);
    expect(expectList(await L.c.get('/emails?page_size=1'))).toEqual([sent]);
    expectNotFound(await L.c.get(`/emails/${randomUUID()}`), 'EMAIL_NOT_FOUND');
  });

  it('validates emails and stores nothing on error', async () => {
    const before = expectList(await L.c.get('/emails?page_size=100')).length;
    const to = [{ type: 'email', target: 'bob@example.com' }];
    const bad: [unknown, string][] = [
      [{ subject: 's', content: 'c' }, 'destinations'],
      [{ destinations: [], subject: 's', content: 'c' }, 'at least one destination'],
      [{ destinations: [{ type: 'email', target: 'not-an-address' }], subject: 's', content: 'c' }, 'destinations[0].target'],
      [{ destinations: [{ type: 'tel', target: '+15550200002' }], subject: 's', content: 'c' }, 'destinations[0].type'],
      [{ destinations: to, content: 'c' }, 'subject: required'],
      [{ destinations: to, subject: 's' }, 'content: required'],
      [{ destinations: to, subject: 's', content: 'c', attachments: [{ reference_type: 'recording', reference_id: 'x' }] }, 'reference_id: must be a UUID'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/emails', body), message);
    expect(expectList(await L.c.get('/emails?page_size=100')).length).toBe(before);
  });
});

describe('/aisummaries', () => {
  it('creates (for an existing call), lists, gets and deletes', async () => {
    const call = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'y' }], actions: ACTIONS })).calls[0];
    const created = ok(await L.c.post('/aisummaries', { reference_type: 'call', reference_id: call.id.toUpperCase() }));
    expectResource(created, me);
    expect(created).toMatchObject({
      reference_type: 'call',
      reference_id: call.id,
      status: 'progressing',
      language: 'en-US',
      content: '',
      on_end_flow_id: NIL_UUID,
    });
    const flow = ok(await L.c.post('/flows', { actions: ACTIONS }));
    const second = ok(
      await L.c.post('/aisummaries', { reference_type: 'recording', reference_id: randomUUID(), language: 'ko-KR', on_end_flow_id: flow.id }),
    );
    expect(second).toMatchObject({ reference_type: 'recording', language: 'ko-KR', on_end_flow_id: flow.id });
    // This server has no summary LLM: both end `failed` with a reason a client can read.
    const ended = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        const now = ok(await L.c.get(`/aisummaries/${id}`));
        if (now.status !== 'progressing') return now;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`summary ${id} still progressing`);
    };
    const [createdEnd, secondEnd] = [await ended(created.id), await ended(second.id)];
    expect(createdEnd).toMatchObject({ ...created, status: 'failed', failure_reason: expect.stringMatching(/no LLM is configured/), tm_update: expect.any(String) });
    expect(secondEnd.status).toBe('failed');
    expect(expectList(await L.c.get('/aisummaries?page_size=2'))).toEqual([secondEnd, createdEnd]);

    const deleted = ok(await L.c.del(`/aisummaries/${created.id}`));
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/aisummaries/${created.id}`), 'SUMMARY_NOT_FOUND');
    expectNotFound(await L.c.del(`/aisummaries/${created.id}`), 'SUMMARY_NOT_FOUND');
  });

  it('validates summaries and stores nothing on error', async () => {
    const before = expectList(await L.c.get('/aisummaries?page_size=100')).length;
    const bad: [unknown, string][] = [
      [{ reference_id: randomUUID() }, 'reference_type: must be one of'],
      [{ reference_type: 'meeting', reference_id: randomUUID() }, 'reference_type: must be one of'],
      [{ reference_type: 'call' }, 'reference_id'],
      [{ reference_type: 'call', reference_id: 'abc' }, 'reference_id: must be a UUID'],
      [{ reference_type: 'call', reference_id: randomUUID() }, 'reference_id: call'],
      [{ reference_type: 'recording', reference_id: randomUUID(), on_end_flow_id: 'x' }, 'on_end_flow_id'],
    ];
    for (const [body, message] of bad) expectInvalid(await L.c.post('/aisummaries', body), message);
    expect(expectList(await L.c.get('/aisummaries?page_size=100')).length).toBe(before);
  });
});
