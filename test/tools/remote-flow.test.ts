/**
 * The tools against api.voipbin.net (a fake VoIPBIN cloud on loopback speaking its wire
 * protocol): each tool uses the public endpoint the README names, and where VoIPBIN has none
 * (activeflow variables, adding a connect action) the gateway session keeps the state or the
 * tool fails with a message the model can relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/client.js';
import { executeToolCall } from '../../tools/executor.js';
import type { ToolRuntime } from '../../tools/executor.js';
import { RemoteFlowControl } from '../../tools/remote-flow.js';
import { TOOL_NAMES } from '../../tools/types.js';
import { FakeVoipbin } from '../client/fake-voipbin.js';

describe('tools against a remote VoIPBIN', () => {
  let fake: FakeVoipbin;
  let rt: ToolRuntime;
  const ended: string[] = [];
  let mediaStops = 0;
  let activeflowId = '';
  let aicallId = '';

  beforeAll(async () => {
    fake = await FakeVoipbin.start({ accessKey: 'remote-key-123456' });
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: 'remote-key-123456', maxRetries: 0 });
    [{ id: activeflowId }] = fake.seed('activeflows', [{ status: 'running' }]);
    [{ id: aicallId }] = fake.seed('aicalls', [{ status: 'progressing' }]);
    rt = {
      client,
      aicall: { id: aicallId, customer_id: 'c', activeflow_id: activeflowId },
      flow: new RemoteFlowControl(
        client,
        activeflowId,
        { source: { type: 'tel', target: '+15550001111' }, accountNumber: '+15550001111' },
        { endAgent: (why) => void ended.push(why), stopMedia: () => void mediaStops++ },
        { 'voipbin.call.id': 'call-1' },
      ),
      allowed: [...TOOL_NAMES],
    };
  });
  afterAll(() => fake.close());

  it('send_message uses POST /messages with the account number as the default source', async () => {
    const r = await executeToolCall(rt, { id: 't1', name: 'send_message', arguments: { destinations: [{ type: 'tel', target: '+1 555 000 2222' }], text: 'hi' } });
    expect(r.result.result).toBe('success');
    const [req] = fake.requestsFor('POST', '/messages');
    expect(req!.body).toMatchObject({ source: { type: 'tel', target: '+15550001111' }, destinations: [{ type: 'tel', target: '+15550002222' }], text: 'hi' });
  });

  it('stores the tool call and its result through POST /aimessages', () => {
    const bodies = fake.requestsFor('POST', '/aimessages').map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ aicall_id: aicallId, role: 'assistant', tool_calls: [{ id: 't1', function: { name: 'send_message' } }] });
    expect(bodies[1]).toMatchObject({ aicall_id: aicallId, role: 'tool', tool_call_id: 't1' });
  });

  it('set_variables / get_variables live in the gateway session (no public endpoint)', async () => {
    const before = fake.requests.length;
    expect((await executeToolCall(rt, { id: 't2', name: 'set_variables', arguments: '{"variables":{"name":"Ann"}}' })).result.result).toBe('success');
    const got = await executeToolCall(rt, { id: 't3', name: 'get_variables', arguments: {} });
    expect(JSON.parse(got.result.message)).toEqual({ 'voipbin.call.id': 'call-1', name: 'Ann' });
    // Only the transcript went to VoIPBIN.
    expect(fake.requests.slice(before).every((r) => r.path === '/aimessages')).toBe(true);
  });

  it('connect_call fails with a message the model can relay, and the session goes on', async () => {
    const r = await executeToolCall(rt, { id: 't4', name: 'connect_call', arguments: { destinations: [{ type: 'tel', target: '+15550003333' }] } });
    expect(r.result.result).toBe('failed');
    expect(r.result.message).toMatch(/not available/);
    expect(ended).toEqual([]);
  });

  it('stop_media stops the gateway session media', async () => {
    expect((await executeToolCall(rt, { id: 't5', name: 'stop_media', arguments: {} })).result.result).toBe('success');
    expect(mediaStops).toBe(1);
  });

  it('stop_flow uses POST /activeflows/{id}/stop, then ends the agent', async () => {
    const r = await executeToolCall(rt, { id: 't6', name: 'stop_flow', arguments: {} });
    expect(r.result).toMatchObject({ result: 'success', resource_type: 'activeflow', resource_id: activeflowId });
    expect(fake.requestsFor('POST', `/activeflows/${activeflowId}/stop`)).toHaveLength(1);
    expect(ended).toEqual(['stop_flow']);
  });

  it('get_aicall_messages uses GET /aimessages?aicall_id=', async () => {
    const r = await executeToolCall(rt, { id: 't7', name: 'get_aicall_messages', arguments: { aicall_id: aicallId } });
    expect(r.result.result).toBe('success');
    const req = fake.requestsFor('GET', '/aimessages').at(-1)!;
    expect(req.query.aicall_id).toBe(aicallId);
  });
});
