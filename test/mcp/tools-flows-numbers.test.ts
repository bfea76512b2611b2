/**
 * The MCP tools that let a model finish what it starts (issue 9): numbers, flows, activeflows,
 * and create_call returning the AI call id. A real MCP client drives createServer() over the
 * SDK's in-memory transport, backed by the real local API through the one REST client; calls
 * are answered (or not) by real local phones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { VoipbinClient } from '../../src/client/index.js';
import { createServer } from '../../src/mcp/server.js';
import { Phone, createAi, freshNumber, ok as rest, startFlowServer, until, waitCall } from '../flows/helpers.js';
import type { FlowServer } from '../flows/helpers.js';
import { errorInfo, ok, toolCaller, connectInProcess } from './helpers.js';

const MISSING_ID = '0b5a3f7e-1111-4222-8333-444455556666';

let fs: FlowServer;
let mcp: Client;
let call: ReturnType<typeof toolCaller>;
/** A number of the account, the source of the calls placed here. */
let source: string;

beforeAll(async () => {
  fs = await startFlowServer();
  const client = new VoipbinClient({ baseUrl: fs.s.api, accessKey: fs.s.key, maxRetries: 0 });
  mcp = await connectInProcess(client);
  call = toolCaller(mcp, []);
  source = freshNumber();
  await rest(fs.s, 'POST', '/numbers', { number: source, name: 'source' });
});

afterAll(async () => {
  await mcp?.close();
  await fs?.close();
});

describe('flow tools', () => {
  it('create, list, get, update (partial keeps the rest, actions replace) and delete a flow', async () => {
    const created = ok(
      await call('create_flow', {
        name: 'Greeting',
        detail: 'says hello',
        actions: [{ type: 'answer' }, { type: 'talk', option: { text: 'Hello', language: 'en-US' } }, { type: 'hangup' }],
      }),
    ).flow;
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.actions.map((a: any) => a.type)).toEqual(['answer', 'talk', 'hangup']);
    expect(created.actions.every((a: any) => /^[0-9a-f-]{36}$/.test(a.id))).toBe(true); // ids assigned by the server
    // The REST API stored exactly that.
    expect(await rest(fs.s, 'GET', `/flows/${created.id}`)).toMatchObject({ name: 'Greeting', detail: 'says hello' });

    const listed = ok(await call('list_flows', { page_size: 100 }));
    expect(listed.flows.map((f: any) => f.id)).toContain(created.id);
    expect(ok(await call('get_flow', { id: created.id })).flow).toEqual(created);

    // Only the name: detail and actions (with their ids) stay as they were.
    const renamed = ok(await call('update_flow', { id: created.id, name: 'Greeting v2' })).flow;
    expect(renamed).toMatchObject({ name: 'Greeting v2', detail: 'says hello' });
    expect(renamed.actions.map((a: any) => [a.id, a.type, a.option])).toEqual(created.actions.map((a: any) => [a.id, a.type, a.option]));

    const replaced = ok(await call('update_flow', { id: created.id, actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 100 } }] })).flow;
    expect(replaced.name).toBe('Greeting v2');
    expect(replaced.actions.map((a: any) => a.type)).toEqual(['answer', 'sleep']);
    expect((await rest(fs.s, 'GET', `/flows/${created.id}`)).actions.map((a: any) => a.type)).toEqual(['answer', 'sleep']);

    expect(ok(await call('delete_flow', { id: created.id })).flow.id).toBe(created.id);
    expect((await fs.s.call('GET', `/flows/${created.id}`)).status).toBe(404);
    expect(ok(await call('list_flows', { page_size: 100 })).flows.map((f: any) => f.id)).not.toContain(created.id);
  });

  it('bad flow ids are isError results that say which tool finds a right id', async () => {
    for (const [tool, args] of [
      ['get_flow', { id: MISSING_ID }],
      ['update_flow', { id: MISSING_ID, name: 'x' }],
      ['delete_flow', { id: MISSING_ID }],
    ] as const) {
      const info = errorInfo(await call(tool, args));
      expect(info, tool).toMatchObject({ status: 404, reason: 'FLOW_NOT_FOUND' });
      expect(info.next_step, tool).toContain('list_flows');
      expect(info.next_step, tool).toContain('create_flow');
    }
    const notUuid = errorInfo(await call('get_flow', { id: 'greeting' }));
    expect(notUuid).toMatchObject({ status: 400, reason: 'INVALID_ID' });
    expect(notUuid.next_step).toMatch(/UUID/);
    expect(notUuid.next_step).toContain('list_flows');

    const badAction = errorInfo(await call('create_flow', { name: 'bad', actions: [{ type: 'dance' }] }));
    expect(badAction.status).toBe(400);
    expect(badAction.message).toContain('actions[0].type');
  });
});

describe('number tools', () => {
  it('create_number (E.164 normalized, call_flow_id routes incoming calls), list, delete; errors name the fix', async () => {
    const flow = ok(await call('create_flow', { name: 'inbound', actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 60000 } }] })).flow;
    const e164 = freshNumber();
    const spaced = `${e164.slice(0, 2)} (${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`;
    const created = ok(await call('create_number', { number: spaced, name: 'inbound line', call_flow_id: flow.id })).number;
    expect(created).toMatchObject({ number: e164, name: 'inbound line', call_flow_id: flow.id, status: 'active' });
    expect(ok(await call('list_numbers', { page_size: 100 })).numbers.map((n: any) => n.number)).toContain(e164);

    // The number is real to the platform: a phone dialing it runs the flow.
    const caller = await Phone.register(fs.s);
    try {
      caller.client.send({ type: 'dial', to: e164 });
      const callId = await caller.firstCallId();
      const answered = await waitCall(fs.s, callId, (c) => c.status === 'progressing', 'the flow to answer');
      expect(answered.flow_id).toBe(flow.id);
      ok(await call('hangup_call', { id: callId }));
    } finally {
      caller.close();
    }

    // update_number points the number at another flow; omitted fields are kept.
    const other = ok(await call('create_flow', { name: 'other', actions: [{ type: 'answer' }, { type: 'hangup' }] })).flow;
    const updated = ok(await call('update_number', { id: created.id, call_flow_id: other.id })).number;
    expect(updated).toMatchObject({ id: created.id, number: e164, name: 'inbound line', call_flow_id: other.id });
    expect(errorInfo(await call('update_number', { id: created.id })).next_step).toMatch(/call_flow_id/);
    expect(errorInfo(await call('update_number', { id: e164, name: 'x' })).next_step).toContain('list_numbers');
    expect(errorInfo(await call('update_number', { id: created.id, call_flow_id: MISSING_ID })).message).toContain('call_flow_id');
    ok(await call('delete_flow', { id: other.id }));

    const dup = errorInfo(await call('create_number', { number: e164 }));
    expect(dup).toMatchObject({ status: 409, reason: 'NUMBER_ALREADY_EXISTS' });
    expect(dup.next_step).toContain('list_numbers');

    const deleted = ok(await call('delete_number', { id: created.id })).number;
    expect(deleted).toMatchObject({ id: created.id, status: 'deleted' });
    expect(ok(await call('list_numbers', { page_size: 100 })).numbers.map((n: any) => n.id)).not.toContain(created.id);

    const again = errorInfo(await call('delete_number', { id: created.id }));
    expect(again).toMatchObject({ status: 404, reason: 'NUMBER_NOT_FOUND' });
    expect(again.next_step).toContain('list_numbers');

    // A phone number where the id belongs: refused before the API, pointing at list_numbers.
    const phoneAsId = errorInfo(await call('delete_number', { id: e164 }));
    expect(phoneAsId.reason).toBe('INVALID_ARGUMENT');
    expect(phoneAsId.status).toBeUndefined();
    expect(phoneAsId.next_step).toContain('list_numbers');

    const notE164 = errorInfo(await call('create_number', { number: '555-1234' }));
    expect(notE164.message).toContain('number');
    expect(notE164.next_step).toMatch(/country code/);

    const noFlow = errorInfo(await call('create_number', { number: freshNumber(), call_flow_id: MISSING_ID }));
    expect(noFlow.status).toBe(400);
    expect(noFlow.message).toContain('call_flow_id');
    ok(await call('delete_flow', { id: flow.id }));
  });
});

describe('activeflow tools', () => {
  it('list, get and stop the activeflow of a live call answered by a local phone', async () => {
    const callee = (await Phone.register(fs.s)).autoAnswer();
    try {
      const flow = ok(await call('create_flow', { name: 'long sleep', actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 600000 } }] })).flow;
      const placed = ok(await call('create_call', { source: { target: source }, destinations: [{ target: callee.number }], flow_id: flow.id }));
      expect(placed.aicalls).toBeUndefined(); // no AI in this flow: nothing to wait for
      const callId = placed.calls[0].id;
      const live = await waitCall(fs.s, callId, (c) => c.status === 'progressing' && c.action?.type === 'sleep', 'the call to sleep');
      const afId = live.activeflow_id as string;
      expect(ok(await call('get_call', { id: callId })).call.activeflow_id).toBe(afId);

      const listed = ok(await call('list_activeflows', { page_size: 100 })).activeflows;
      expect(listed.find((a: any) => a.id === afId)).toMatchObject({ status: 'running', flow_id: flow.id, reference_id: callId });

      const got = ok(await call('get_activeflow', { id: afId })).activeflow;
      expect(got).toMatchObject({ id: afId, status: 'running', reference_type: 'call', current_action: { type: 'sleep' } });
      expect(got.executed_actions.map((a: any) => a.type)).toEqual(['answer', 'sleep']);

      const stopped = ok(await call('stop_activeflow', { id: afId })).activeflow;
      expect(stopped).toMatchObject({ id: afId, status: 'ended' });
      // The flow was stopped, not left to sleep: its call ends with it.
      await waitCall(fs.s, callId, (c) => c.status === 'hangup', 'the call to end with its flow');
      expect((await rest(fs.s, 'GET', `/activeflows/${afId}`)).status).toBe('ended');
      expect(ok(await call('stop_activeflow', { id: afId })).activeflow.status).toBe('ended'); // idempotent
      ok(await call('delete_flow', { id: flow.id }));
    } finally {
      callee.close();
    }
  });

  it('bad activeflow ids are isError results pointing at list_activeflows / get_call', async () => {
    for (const tool of ['get_activeflow', 'stop_activeflow']) {
      const info = errorInfo(await call(tool, { id: MISSING_ID }));
      expect(info, tool).toMatchObject({ status: 404, reason: 'ACTIVEFLOW_NOT_FOUND' });
      expect(info.next_step, tool).toContain('list_activeflows');
      expect(info.next_step, tool).toContain('get_call');
    }
  });
});

describe('create_call returns the AI call id', () => {
  it('a local phone answers: the result carries the AI call that GET /aicalls/{id} returns', async () => {
    const aiId = await createAi(fs.s);
    const callee = (await Phone.register(fs.s)).autoAnswer();
    try {
      const r = ok(await call('create_call', { source: { target: source }, destinations: [{ target: callee.number }], ai_id: aiId }));
      const callId = r.calls[0].id;
      expect(r.aicalls).toHaveLength(1);
      expect(r.aicalls[0].call_id).toBe(callId);
      expect(r.note).toBeUndefined();
      const aicall = await rest(fs.s, 'GET', `/aicalls/${r.aicalls[0].aicall_id}`);
      expect(aicall).toMatchObject({ id: r.aicalls[0].aicall_id, reference_id: callId, assistance_id: aiId });
      // The call as last seen: answered (or already over), not the "dialing" of the POST.
      expect(['progressing', 'hangup']).toContain(r.calls[0].status);
      expect(r.calls[0].tm_progressing).not.toBe('9999-01-01T00:00:00.000000Z');
      // The MCP tools take it from there.
      expect(ok(await call('get_aicall', { id: r.aicalls[0].aicall_id })).aicall.reference_id).toBe(callId);

      // GET /aicalls?reference_id= filters on the call.
      const filtered = await rest(fs.s, 'GET', `/aicalls?reference_id=${callId}`);
      expect(filtered.result.map((a: any) => a.id)).toEqual([r.aicalls[0].aicall_id]);
      expect((await rest(fs.s, 'GET', `/aicalls?reference_id=${MISSING_ID}`)).result).toEqual([]);
      expect((await fs.s.call('GET', '/aicalls?reference_id=nope')).status).toBe(400);
    } finally {
      callee.close();
    }
  });

  it('no answer within wait_for_aicall_ms: no error, a note that says to look again later', async () => {
    const aiId = await createAi(fs.s);
    const callee = await Phone.register(fs.s); // rings, never answers
    try {
      const r = ok(
        await call('create_call', { source: { target: source }, destinations: [{ target: callee.number }], ai_id: aiId, wait_for_aicall_ms: 400 }),
      );
      expect(r.aicalls).toEqual([]);
      expect(['dialing', 'ringing']).toContain(r.calls[0].status); // ringing, unless the machine is very slow
      expect(r.note).toContain(r.calls[0].id);
      expect(r.note).toMatch(/still (dialing|ringing)/);
      expect(r.note).toMatch(/get_call/);
      expect(r.note).toMatch(/list_aicalls/);
      ok(await call('hangup_call', { id: r.calls[0].id }));
    } finally {
      callee.close();
    }
  });

  it('a call that ends unanswered, and wait_for_aicall_ms 0, say so without an error', async () => {
    const aiId = await createAi(fs.s);
    const nobody = freshNumber(); // no phone: the local VoIPBIN fails the call at once
    const ended = ok(
      await call('create_call', {
        source: { target: source },
        destinations: [{ target: nobody }],
        actions: [{ type: 'answer' }, { type: 'ai', option: { ai_id: aiId } }],
      }),
    );
    expect(ended.aicalls).toEqual([]);
    expect(ended.calls[0].status).toBe('hangup');
    expect(ended.note).toMatch(/ended \(hangup_reason failed\)/);

    const callee = await Phone.register(fs.s);
    try {
      const quick = ok(
        await call('create_call', { source: { target: source }, destinations: [{ target: callee.number }], ai_id: aiId, wait_for_aicall_ms: 0 }),
      );
      expect(quick.aicalls).toEqual([]);
      expect(quick.note).toMatch(/list_aicalls later/);
      await until(async () => (await rest(fs.s, 'GET', `/calls/${quick.calls[0].id}`)).status === 'ringing', 'the call to ring');
      ok(await call('hangup_call', { id: quick.calls[0].id }));
    } finally {
      callee.close();
    }
  });
});
