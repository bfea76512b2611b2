/**
 * Every typed namespace sends the right method, path and body, the requests it sends conform to
 * VoIPBIN's OpenAPI spec, and the fake's answers (which the client returns unchanged) do too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/index.js';
import type { AICreateParams, CallCreateParams, FlowCreateParams } from '../../src/client/index.js';
import { expectConformsRequest, expectConformsResponse, validateRequest } from '../helpers/openapi.js';
import { captureLogger } from './capture-logger.js';
import { FAKE_CUSTOMER_ID, FakeVoipbin } from './fake-voipbin.js';
import type { RecordedRequest } from './fake-voipbin.js';

const KEY = 'sk-resources-test-key-0001';
let fake: FakeVoipbin;
let client: VoipbinClient;

beforeAll(async () => {
  fake = await FakeVoipbin.start({ accessKey: KEY });
  client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: KEY, maxRetries: 0, logger: captureLogger().logger });
});
afterAll(() => fake.close());

function last(): RecordedRequest {
  return fake.requests.at(-1)!;
}

/** The last request conforms to the spec, and the value the client returned conforms as its response. */
function expectRoundTripConforms(method: string, pathTemplate: string, returned: unknown): RecordedRequest {
  const r = last();
  expect(r.method).toBe(method);
  expectConformsRequest(r.method, r.url, { body: r.body });
  expectConformsResponse(method, pathTemplate, 200, returned);
  return r;
}

const FULL_AI: AICreateParams = {
  name: 'Support bot',
  detail: 'answers billing questions',
  type: 'normal',
  engine_model: 'openai.gpt-5',
  parameter: { department: 'billing' },
  engine_key: 'sk-engine-key-resources-0002',
  init_prompt: 'You are a helpful support agent.',
  tts_type: 'elevenlabs',
  tts_voice_id: '21m00Tcm4TlvDq8ikWAM',
  stt_type: 'deepgram',
  stt_language: 'en-US',
  vad_config: { confidence: 0.7, start_secs: 0.2, stop_secs: 0.5, min_volume: 0.6 },
  tool_names: ['connect_call', 'send_message', 'stop_service'],
  auto_aicall_audit_enabled: false,
};

describe('ais', () => {
  it('create sends the full body as given and conforms; engine_key never comes back', async () => {
    const ai = await client.ais.create(FULL_AI);
    const r = expectRoundTripConforms('POST', '/ais', ai);
    expect(r.path).toBe('/ais');
    expect(r.body).toEqual(FULL_AI);
    expect(r.headers['content-type']).toBe('application/json');
    expect('engine_key' in ai).toBe(false);
    expect(ai.customer_id).toBe(FAKE_CUSTOMER_ID);
  });

  it('create accepts any <provider>.<model> and stt_type google (documented relaxations)', async () => {
    const body = { ...FULL_AI, engine_model: 'anthropic.claude-3-5-sonnet', stt_type: 'google' as const };
    const ai = await client.ais.create(body);
    expectRoundTripConforms('POST', '/ais', ai);
    expect(ai.engine_model).toBe('anthropic.claude-3-5-sonnet');
  });

  it('get, update, list and delete', async () => {
    const created = await client.ais.create(FULL_AI);
    const got = await client.ais.get(created.id!);
    expectRoundTripConforms('GET', '/ais/{id}', got);
    expect(last().path).toBe(`/ais/${created.id}`);

    // The spec requires the full body on PUT, engine_key included.
    const updated = await client.ais.update(created.id!, { ...FULL_AI, init_prompt: 'Be brief.' });
    expectRoundTripConforms('PUT', '/ais/{id}', updated);
    expect(updated.init_prompt).toBe('Be brief.');

    const page = await client.ais.list({ page_size: 5 });
    expectRoundTripConforms('GET', '/ais', { result: page.result, next_page_token: page.next_page_token ?? '' });
    expect(page.result.some((a) => a.id === created.id)).toBe(true);

    const deleted = await client.ais.delete(created.id!);
    expectRoundTripConforms('DELETE', '/ais/{id}', deleted);
    expect(deleted.tm_delete).not.toBe('9999-01-01T00:00:00.000000Z');
  });

  it('the spec check would catch an invalid create body', () => {
    expect(validateRequest('POST', '/ais', { body: { ...FULL_AI, engine_model: 'gpt5' } })).toEqual([
      'requestBody.engine_model must match pattern "^[a-z0-9-]+\\..+"',
    ]);
  });
});

describe('calls, activeflows, aicalls, aimessages, aisummaries', () => {
  const SOURCE = { type: 'tel' as const, target: '+15551230001' };

  it('calls.create returns {calls, groupcalls}; hangup, get and list', async () => {
    const body: CallCreateParams = {
      source: SOURCE,
      destinations: [{ type: 'tel', target: '+15551230002' }, { type: 'tel', target: '+15551230003' }],
      actions: [{ type: 'answer' }, { type: 'talk', option: { text: 'hello', language: 'en-US' } }],
      anonymous: 'auto',
      variables: { campaign: 'spring' },
    };
    const res = await client.calls.create(body);
    expectRoundTripConforms('POST', '/calls', res);
    expect(last().body).toEqual(body);
    expect(res.calls).toHaveLength(2);
    expect(res.groupcalls).toEqual([]);

    const id = res.calls[0]!.id!;
    const hung = await client.calls.hangup(id);
    expectRoundTripConforms('POST', '/calls/{id}/hangup', hung);
    expect(last().path).toBe(`/calls/${id}/hangup`);
    expect(last().rawBody).toBe('');
    expect(hung.status).toBe('hangup');

    expectRoundTripConforms('GET', '/calls/{id}', await client.calls.get(id));
    const page = await client.calls.list({ page_size: 1 });
    expect(page.result).toHaveLength(1);
    expectConformsRequest('GET', last().url);
  });

  it('activeflows.get, list and stop', async () => {
    const [af] = fake.seed('activeflows', [{ status: 'running', flow_id: '0e1d2c3b-4a59-4687-9a1b-2c3d4e5f6a7b' }]);
    expectRoundTripConforms('GET', '/activeflows/{id}', await client.activeflows.get(af!.id));
    const stopped = await client.activeflows.stop(af!.id);
    expectRoundTripConforms('POST', '/activeflows/{id}/stop', stopped);
    expect(stopped.status).toBe('ended');
    expect((await client.activeflows.list()).result.length).toBeGreaterThan(0);
  });

  it('aicalls.get, list, terminate and delete', async () => {
    const [call] = fake.seed('aicalls', [{ assistance_type: 'ai', reference_type: 'call' }]);
    expectRoundTripConforms('GET', '/aicalls/{id}', await client.aicalls.get(call!.id));
    const terminated = await client.aicalls.terminate(call!.id);
    expectRoundTripConforms('POST', '/aicalls/{id}/terminate', terminated);
    expect(terminated.status).toBe('terminated');
    expect((await client.aicalls.list({ page_size: 10 })).result.map((c) => c.id)).toContain(call!.id);
    expectRoundTripConforms('DELETE', '/aicalls/{id}', await client.aicalls.delete(call!.id));
  });

  it('aimessages.create and get', async () => {
    const aicallId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    const msg = await client.aimessages.create({ aicall_id: aicallId, role: 'user', content: 'hello' });
    expectRoundTripConforms('POST', '/aimessages', msg);
    expectRoundTripConforms('GET', '/aimessages/{id}', await client.aimessages.get(msg.id!));
  });

  it('aisummaries.create, get, list and delete', async () => {
    const summary = await client.aisummaries.create({
      on_end_flow_id: '00000000-0000-0000-0000-000000000000',
      reference_type: 'call',
      reference_id: '2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091',
      language: 'en-US',
    });
    expectRoundTripConforms('POST', '/aisummaries', summary);
    expectRoundTripConforms('GET', '/aisummaries/{id}', await client.aisummaries.get(summary.id!));
    expect((await client.aisummaries.list()).result.length).toBeGreaterThan(0);
    expectRoundTripConforms('DELETE', '/aisummaries/{id}', await client.aisummaries.delete(summary.id!));
  });
});

describe('flows, messages, emails, numbers', () => {
  it('flows CRUD with id-less actions (documented relaxation), the server assigns ids', async () => {
    const body: FlowCreateParams = {
      name: 'ai line',
      detail: 'answers and talks',
      actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: 'c0ffee00-0000-4000-8000-000000000001' } }],
    };
    const flow = await client.flows.create(body);
    expectRoundTripConforms('POST', '/flows', flow);
    expect(flow.actions!.every((a) => typeof a.id === 'string')).toBe(true);

    const updated = await client.flows.update(flow.id!, { ...body, name: 'renamed' });
    expectRoundTripConforms('PUT', '/flows/{id}', updated);
    expectRoundTripConforms('GET', '/flows/{id}', await client.flows.get(flow.id!));
    expect((await client.flows.list()).result.length).toBeGreaterThan(0);
    expectRoundTripConforms('DELETE', '/flows/{id}', await client.flows.delete(flow.id!));
  });

  it('messages.send posts to /messages and conforms', async () => {
    const body = {
      source: { type: 'tel' as const, target: '+15551230001' },
      destinations: [{ type: 'tel' as const, target: '+15551230009' }],
      text: 'Your appointment is at 3 pm.',
    };
    const msg = await client.messages.send(body);
    const r = expectRoundTripConforms('POST', '/messages', msg);
    expect(r.path).toBe('/messages');
    expect(r.body).toEqual(body);
    expectRoundTripConforms('GET', '/messages/{id}', await client.messages.get(msg.id!));
    expect((await client.messages.list({ page_size: 10 })).result).toHaveLength(1);
  });

  it('emails.send, get and list', async () => {
    const email = await client.emails.send({
      destinations: [{ type: 'email', target: 'someone@example.com' }],
      subject: 'Summary',
      content: 'Thanks for calling.',
      attachments: [],
    });
    expectRoundTripConforms('POST', '/emails', email);
    expectRoundTripConforms('GET', '/emails/{id}', await client.emails.get(email.id!));
    expect((await client.emails.list()).result.length).toBeGreaterThan(0);
  });

  it('numbers CRUD', async () => {
    const flowId = '4f5e6d7c-8b9a-4c0d-9e1f-2a3b4c5d6e7f';
    const number = await client.numbers.create({
      number: '+15551239999',
      call_flow_id: flowId,
      message_flow_id: flowId,
      name: 'main line',
      detail: '',
    });
    expectRoundTripConforms('POST', '/numbers', number);
    const updated = await client.numbers.update(number.id!, {
      call_flow_id: flowId,
      message_flow_id: flowId,
      name: 'renamed',
      detail: 'x',
    });
    expectRoundTripConforms('PUT', '/numbers/{id}', updated);
    expectRoundTripConforms('GET', '/numbers/{id}', await client.numbers.get(number.id!));
    expect((await client.numbers.list()).result.length).toBeGreaterThan(0);
    expectRoundTripConforms('DELETE', '/numbers/{id}', await client.numbers.delete(number.id!));
  });
});

describe('customer, accesskeys, billing accounts', () => {
  it('customer.get', async () => {
    const customer = await client.customer.get();
    expectRoundTripConforms('GET', '/customer', customer);
    expect(customer.id).toBe(FAKE_CUSTOMER_ID);
  });

  it('accesskeys.list and get', async () => {
    const [key] = fake.seed('accesskeys', [{ name: 'ci', detail: '', token_prefix: 'abc', tm_expire: '2027-01-01T00:00:00.000000Z' }]);
    expectRoundTripConforms('GET', '/accesskeys/{id}', await client.accesskeys.get(key!.id));
    const page = await client.accesskeys.list();
    expect(page.result.map((k) => k.id)).toContain(key!.id);
    expect(last().path).toBe('/accesskeys');
  });

  it('billingAccounts.list and get use /billing_accounts', async () => {
    const [account] = fake.seed('billing_accounts', [{ name: 'main', plan_type: 'free', balance_credit: 1000 }]);
    expectRoundTripConforms('GET', '/billing_accounts/{id}', await client.billingAccounts.get(account!.id));
    expect(last().path).toBe(`/billing_accounts/${account!.id}`);
    const page = await client.billingAccounts.list({ page_size: 10 });
    expect(page.result[0]!.balance_credit).toBe(1000);
  });

  it('ids are encoded into one path segment', async () => {
    await client.ais.get('a/b?c').catch(() => undefined);
    expect(last().url).toBe('/v1.0/ais/a%2Fb%3Fc');
    expect(() => client.ais.get('')).toThrow(TypeError);
  });
});
