/**
 * Whole calls with the OpenAI Realtime agent: a local phone dials a number whose flow is
 * answer → ai_talk (an AI with engine_model openai.gpt-realtime and a canary engine_key) → talk →
 * hangup, against the TLS loopback fake of the GA Realtime API. The phone hears the greeting
 * (the fake's pcmu decoded), the caller's turn is stored, set_variables reaches the talk after
 * the AI, stop_service lets the flow go on, a barge-in cuts what was stored, and the key is
 * never in a log line or an API answer.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createLogger } from '../../src/util/logger.js';
import { DEFAULT_PRICES } from '../../src/local/context.js';
import { createCustomer } from '../../src/local/customers.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import { dtmfText, isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../../streams/agents/openai-realtime/agent.js';
import { FakeOpenAIRealtime } from '../fakes/fake-openai-realtime.js';
import type { FakeRealtimeConnection } from '../fakes/fake-openai-realtime.js';
import { startFakeOpenAi } from '../providers/fake-tts-servers.js';
import type { FakeTtsServer } from '../providers/fake-tts-servers.js';
import { providerFor } from '../providers/helpers.js';
import {
  Phone,
  aimessagesOf,
  audible,
  balance,
  createAi,
  createNumber,
  dialFlow,
  executed,
  freshNumber,
  goertzel,
  ok,
  tone,
  until,
  waitActiveflow,
  waitAicall,
  waitCall,
} from '../flows/helpers.js';
import { pcmuTone } from './helpers.js';

const KEY = `sk-canary-wholecall-${process.pid}-${Math.random().toString(36).slice(2)}`;


function refusals(conn: FakeRealtimeConnection): number {
  return conn.serverEvents.filter((e) => e.type === 'error' && e.error.code === 'conversation_already_has_active_response').length;
}

describe('ai_talk with the OpenAI Realtime agent (whole calls, local phones, TLS fake)', () => {
  let fake: FakeOpenAIRealtime;
  let s: TestServer;
  let tts: FakeTtsServer;
  let cleanup: () => void = () => {};
  const phones: Phone[] = [];

  beforeAll(async () => {
    fake = await FakeOpenAIRealtime.start({ apiKey: KEY });
    const t = tempDir('voipbin-ai-realtime-');
    cleanup = t.cleanup;
    // The test's own registry: the same factory the composition root registers, plus the fake's CA.
    const agents = new AgentRegistry().register(isOpenAIRealtimeConfig, openAIRealtimeAgent({ baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug') }));
    s = await startTestServer(join(t.dir, 'db.sqlite'), {}, { engine: { agents } });
    tts = await startFakeOpenAi();
    s.engine.tts = providerFor(tts);
  });
  afterAll(async () => {
    for (const p of phones) p.close();
    await s?.close();
    await tts?.close();
    await fake?.close();
    cleanup();
    expect(capturedLogs.join('\n')).not.toContain(KEY);
  });

  it('greets, stores the caller turn, set_variables reaches the talk, stop_service lets the flow go on', async () => {
    const aiId = await createAi(s, {
      engine_model: 'openai.gpt-realtime',
      engine_key: KEY,
      init_prompt: 'You are the plumber line for ${voipbin.call.source.target}.',
      tts_type: 'openai',
      tts_voice_id: 'marin',
      tool_names: ['set_variables', 'stop_service'],
    });
    const n = fake.connections.length;
    // The greeting: 600 ms of a 1 kHz tone, as the model's pcmu.
    fake.script({ audio: pcmuTone(600, 1000), transcript: ['Hello,', ' plumber', ' line.'] });
    const c = await dialFlow(s, [
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'Your plan is ${plan}.' } },
      { type: 'hangup' },
    ]);
    phones.push(c.phone);
    const conn = await fake.waitForConnection(n, 20_000);
    expect(conn.apiKey).toBe(KEY);
    expect(conn.model).toBe('gpt-realtime');
    await conn.waitForClientEvent('response.create', () => true, 20_000);
    expect(conn.session.instructions).toBe(`You are the plumber line for ${c.phone.number}.`);
    expect(conn.session.audio?.output?.voice).toBe('marin');
    expect(conn.session.audio?.input?.format).toEqual({ type: 'audio/pcmu' });

    // The phone hears the greeting (G.711 from the model, decoded once by the call).
    await until(() => audible(c.phone.heard).length >= 600 * 8, 'the greeting heard');
    const heard = audible(c.phone.heard);
    expect(goertzel(heard.subarray(0, 4000), 1000)).toBeGreaterThan(4000);
    // Once played out in full, the greeting is stored as said.
    const running = await waitAicall(s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => (await aimessagesOf(s, running.id)).some((m) => m.role === 'assistant' && m.content === 'Hello, plumber line.'), 'the greeting stored');

    // The caller speaks: their audio reaches the model as pcmu, untouched in size (160 bytes / 20 ms).
    c.phone.sendAll(tone(8000, 440, 6000));
    await until(() => conn.appendedBytes['audio/pcmu'] >= 160 * 20, 'caller audio at the model');
    expect(conn.appendedBytes['audio/pcm']).toBe(0);
    const userItem = conn.speechStarted();
    conn.speechStopped(userItem);
    conn.inputTranscriptionCompleted('My plan is gold.', userItem);
    // The model answers with words and a set_variables call (run_llm false: it does not speak again).
    conn.startResponse({
      audio: pcmuTone(200, 1000),
      transcript: ['Saved', ' it.'],
      functionCalls: [{ name: 'set_variables', arguments: { variables: { plan: 'gold' } }, call_id: 'call_set' }],
    });
    const out = await conn.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output', 20_000);
    const result = JSON.parse((out.item as { output: string }).output);
    expect(result).toMatchObject({ tool_call_id: 'call_set', result: 'success', resource_type: 'activeflow' });
    // Then stop_service: the AI ends and the flow goes on.
    await until(() => conn.active === null, 'the answer done');
    conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_stop' }] });

    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    expect(executed(af)[2]!.option).toMatchObject({ text: 'Your plan is gold.' });
    expect(tts.requests.map((r) => (r.body as { input?: string })?.input)).toContain('Your plan is gold.');

    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('stop_service');
    expect(aicall.ai_engine_model).toBe('openai.gpt-realtime');
    const messages = await aimessagesOf(s, aicall.id);
    const spoken = messages.filter((m) => m.role !== 'tool' && !(m.tool_calls?.length > 0)).map((m) => [m.role, m.content]);
    expect(spoken).toEqual([
      ['system', `You are the plumber line for ${c.phone.number}.`],
      ['assistant', 'Hello, plumber line.'],
      ['user', 'My plan is gold.'],
      ['assistant', 'Saved it.'],
    ]);
    const calls = messages.flatMap((m) => (m.tool_calls ?? []).map((t: { function: { name: string } }) => t.function.name));
    expect(calls).toEqual(['set_variables', 'stop_service']);
    expect(messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id)).toEqual(['call_set', 'call_stop']);
    // The agent never asked for a response while one was active; the connection was closed.
    expect(refusals(conn)).toBe(0);
    expect(conn.eventsOf('response.create')).toHaveLength(1);
    expect((await conn.closed).code).toBe(1000);

    // The canary key: never in an API answer or a log line.
    const ai = await ok(s, 'GET', `/ais/${aiId}`);
    expect(JSON.stringify(ai)).not.toContain(KEY);
    expect(JSON.stringify(messages)).not.toContain(KEY);
    expect(JSON.stringify(aicall)).not.toContain(KEY);
    expect(capturedLogs.join('\n')).not.toContain(KEY);
  });

  it('a barge-in stops the greeting, truncates at what the phone heard and stores only that', async () => {
    const aiId = await createAi(s, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'Talk a lot.', tool_names: ['stop_service'] });
    const n = fake.connections.length;
    // 3 s of greeting, streamed fast: the call plays it in real time.
    const words = Array.from({ length: 30 }, (_, i) => (i === 0 ? 'Word0' : ` word${i}`));
    fake.script({ audio: pcmuTone(3000, 1000), transcript: words, intervalMs: 1 });
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    phones.push(c.phone);
    const conn = await fake.waitForConnection(n, 20_000);
    await until(() => audible(c.phone.heard).length >= 8 * 500, '500 ms of the greeting heard');
    conn.speechStarted();
    const trunc = await conn.waitForClientEvent('conversation.item.truncate', () => true, 20_000);
    // Heard: at least what the phone had when the caller spoke, well short of the 3 s sent.
    expect(trunc.audio_end_ms).toBeGreaterThanOrEqual(400);
    expect(trunc.audio_end_ms).toBeLessThan(2500);
    expect(conn.serverEvents.some((e) => e.type === 'conversation.item.truncated')).toBe(true);
    const heardAtCut = audible(c.phone.heard).length;
    await new Promise((r) => setTimeout(r, 600));
    // The playout was cleared: the phone hears (almost) nothing more of the greeting.
    expect(audible(c.phone.heard).length - heardAtCut).toBeLessThan(8 * 200);
    conn.inputTranscriptionCompleted('Stop, please.');
    conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_stop2' }] });
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    const messages = await aimessagesOf(s, aicall.id);
    const spoken = messages.filter((m) => m.role === 'assistant' && !(m.tool_calls?.length > 0)).map((m) => m.content as string);
    expect(spoken).toHaveLength(1);
    const full = words.join('');
    expect(full.startsWith(spoken[0]!)).toBe(true);
    expect(spoken[0]!.length).toBeGreaterThan(0);
    expect(spoken[0]!.length).toBeLessThan(full.length);
    expect(messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['Stop, please.']);
    expect(refusals(conn)).toBe(0);
    expect(conn.serverEvents.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('DTMF: the digits up to # reach the model as one user message, are stored, and get a response', async () => {
    const aiId = await createAi(s, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'Take orders.', tool_names: ['stop_service'] });
    const n = fake.connections.length;
    fake.script({ audio: pcmuTone(200, 1000), transcript: ['Press', ' keys.'] });
    // The answer to the digits: it ends the AI (so the flow goes on).
    fake.script({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_dtmf_stop' }] });
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    phones.push(c.phone);
    const conn = await fake.waitForConnection(n, 20_000);
    await until(() => conn.eventsOf('response.create').length === 1 && conn.active === null, 'the greeting done');
    c.phone.client.send({ type: 'dtmf', digits: '42#' });
    const item = await conn.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'message' && (e.item as { role?: string }).role === 'user', 20_000);
    expect((item.item as { content: { type: string; text: string }[] }).content).toEqual([{ type: 'input_text', text: dtmfText('42#') }]);
    await conn.waitForClientEvent('response.create', () => conn.eventsOf('response.create').length === 2, 20_000);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('stop_service');
    const messages = await aimessagesOf(s, aicall.id);
    expect(messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([dtmfText('42#')]);
    expect(refusals(conn)).toBe(0);
  });

  it('send_message from the model: stored from the account number, billed, success back as function_call_output, run_llm false asks for no response', async () => {
    const aiId = await createAi(s, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'Text people.', tool_names: ['send_message', 'stop_service'] });
    const n = fake.connections.length;
    fake.script({ audio: pcmuTone(200, 1000), transcript: ['Hi.'] });
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'talk', option: { text: 'Texted.' } }, { type: 'hangup' }]);
    phones.push(c.phone);
    const conn = await fake.waitForConnection(n, 20_000);
    await conn.waitForClientEvent('response.create', () => true, 20_000);
    await until(() => conn.active === null && conn.eventsOf('response.create').length === 1, 'the greeting done');
    const before = await balance(s);
    const messagesBefore = ((await ok(s, 'GET', '/messages')).result as any[]).length;
    const to1 = freshNumber();
    const to2 = freshNumber();
    conn.startResponse({
      noAudio: true,
      functionCalls: [
        {
          name: 'send_message',
          call_id: 'call_sms',
          arguments: { destinations: [{ type: 'tel', target: to1 }, { type: 'tel', target: to2, target_name: 'Jane' }], text: 'Your code is 1234' },
        },
      ],
    });
    const out = await conn.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output', 20_000);
    expect((out.item as { call_id: string }).call_id).toBe('call_sms');
    const result = JSON.parse((out.item as { output: string }).output);
    expect(result).toEqual({ tool_call_id: 'call_sms', result: 'success', message: `SMS sent to ${to1}, ${to2}`, resource_type: 'message', resource_id: expect.any(String) });

    // Stored (from this account's number the caller dialed) and billed per destination.
    const messages = (await ok(s, 'GET', '/messages')).result as any[];
    expect(messages).toHaveLength(messagesBefore + 1);
    expect(messages[0]).toMatchObject({
      id: result.resource_id,
      type: 'sms',
      source: { type: 'tel', target: c.flowNumber },
      text: 'Your code is 1234',
      targets: [
        { destination: { type: 'tel', target: to1 }, status: 'queued' },
        { destination: { type: 'tel', target: to2, target_name: 'Jane' }, status: 'queued' },
      ],
    });
    expect(await balance(s)).toBe(before - 2 * DEFAULT_PRICES.messagePerDestination);

    // run_llm false (send_message's default): the agent does not ask the model to speak again.
    await new Promise((r) => setTimeout(r, 500));
    expect(conn.eventsOf('response.create')).toHaveLength(1);
    conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_stop_sms' }] });
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    const stored = await aimessagesOf(s, aicall.id);
    const calls = stored.flatMap((m) => (m.tool_calls ?? []).map((t: { function: { name: string } }) => t.function.name));
    expect(calls).toEqual(['send_message', 'stop_service']);
    expect(JSON.parse(stored.find((m) => m.role === 'tool' && m.tool_call_id === 'call_sms')!.content)).toEqual(result);
    expect(conn.eventsOf('response.create')).toHaveLength(1);
    expect(refusals(conn)).toBe(0);
  });

  it('send_message for a customer with no balance: a failed INSUFFICIENT_BALANCE result, nothing stored, and the call goes on', async () => {
    const poor = await createCustomer(s.store, { name: 'poor', initialBalanceCredit: 0 });
    const token = poor.token as string;
    // The server seen as that customer (its key for every REST call and its phone).
    const ps = Object.assign(Object.create(s) as TestServer, {
      key: token,
      call: (method: string, path: string, body?: unknown, key: string = token) => s.call(method, path, body, key),
    });
    const aiId = await createAi(ps, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'Text people.', tool_names: ['send_message', 'stop_service'] });
    const n = fake.connections.length;
    fake.script({ audio: pcmuTone(200, 1000), transcript: ['Hi.'] });
    const c = await dialFlow(ps, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'talk', option: { text: 'Still here.' } }, { type: 'hangup' }]);
    phones.push(c.phone);
    const conn = await fake.waitForConnection(n, 20_000);
    await conn.waitForClientEvent('response.create', () => true, 20_000);
    await until(() => conn.active === null && conn.eventsOf('response.create').length === 1, 'the greeting done');
    // The model's next turn after the failure (run_llm is true for a failed result).
    fake.script({ audio: pcmuTone(200, 1000), transcript: ['I could not send it.'] });
    conn.startResponse({
      noAudio: true,
      functionCalls: [{ name: 'send_message', call_id: 'call_sms_poor', arguments: { destinations: [{ type: 'tel', target: freshNumber() }], text: 'hello' } }],
    });
    const out = await conn.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output', 20_000);
    const result = JSON.parse((out.item as { output: string }).output);
    expect(result).toMatchObject({ tool_call_id: 'call_sms_poor', result: 'failed', resource_type: '', resource_id: '' });
    expect(result.message).toMatch(/^INSUFFICIENT_BALANCE: /);
    // The failure goes back to the model, which speaks again; the call goes on.
    await until(() => conn.eventsOf('response.create').length === 2, 'a response after the failed result');
    await until(() => conn.active === null, 'the answer done');
    expect(c.phone.closed).toBe(false);
    expect(((await ok(ps, 'GET', '/messages')).result as any[])).toHaveLength(0);
    expect(await balance(ps)).toBe(0);
    conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_stop_poor' }] });
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const af = await waitActiveflow(ps, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    const aicall = await waitAicall(ps, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('stop_service');
    const stored = await aimessagesOf(ps, aicall.id);
    expect(stored.filter((m) => m.role === 'assistant' && !(m.tool_calls?.length > 0)).map((m) => m.content)).toEqual(['Hi.', 'I could not send it.']);
    expect(refusals(conn)).toBe(0);
    expect(JSON.stringify(stored)).not.toContain(KEY);
  });

  it('an outgoing call connects to the Realtime API while it rings, and sets the session up on that connection at the answer', async () => {
    const aiId = await createAi(s, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'Remind them.', tool_names: ['stop_service'] });
    fake.script({ audio: pcmuTone(400, 1000), transcript: ['Reminder.'] });
    const n = fake.connections.length;
    const from = freshNumber();
    await createNumber(s, from);
    const callee = await Phone.register(s);
    phones.push(callee);
    const res = await s.call('POST', '/calls', {
      source: { type: 'tel', target: from },
      destinations: [{ type: 'tel', target: callee.number }],
      actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }],
    });
    expect(res.status).toBe(200);
    const callId = res.body.calls[0].id as string;
    await callee.waitFor('incoming', (m) => m.call_id === callId);
    const conn = await fake.waitForConnection(n, 10_000);
    expect(conn.apiKey).toBe(KEY);
    // Connected while ringing; the session (which needs the flow's variables) waits for the answer.
    expect((await s.call('GET', `/calls/${callId}`)).body.status).toBe('ringing');
    expect(conn.eventsOf('session.update')).toHaveLength(0);
    callee.client.send({ type: 'answer' });
    await conn.waitForClientEvent('session.update', () => true, 20_000);
    await until(() => audible(callee.heard).length >= 8 * 300, 'the greeting heard');
    expect(conn.session.instructions).toBe('Remind them.');
    expect(fake.connections.length).toBe(n + 1);
    callee.client.send({ type: 'hangup' });
    await waitAicall(s, callId, (a) => a.status === 'terminated', 'terminated');

    // Unanswered: the connection made while ringing is closed with the call.
    const callee2 = await Phone.register(s);
    phones.push(callee2);
    const res2 = await s.call('POST', '/calls', {
      source: { type: 'tel', target: from },
      destinations: [{ type: 'tel', target: callee2.number }],
      actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }],
    });
    await callee2.waitFor('incoming', (m) => m.call_id === res2.body.calls[0].id);
    const conn2 = await fake.waitForConnection(n + 1, 10_000);
    callee2.client.send({ type: 'hangup' });
    await conn2.closed;
    expect(conn2.eventsOf('session.update')).toHaveLength(0);
  });

  it('the composition root registers the realtime agent for realtime engine models', async () => {
    const t = tempDir('voipbin-ai-realtime-root-');
    const root = await startTestServer(join(t.dir, 'db.sqlite'));
    try {
      const base = { ai_id: 'x', engine_key: '', init_prompt: '', tts_type: '', tts_voice_id: '', stt_type: '', stt_language: '', language: '', tool_names: [], vad_config: {}, parameter: {} };
      expect(root.engine.agents.resolve({ ...base, engine_model: 'openai.gpt-realtime' })).toBeDefined();
      expect(root.engine.agents.resolve({ ...base, engine_model: 'openai.gpt-realtime-mini' })).toBeDefined();
      expect(root.engine.agents.resolve({ ...base, engine_model: 'openai.gpt-4o' })).not.toBe(root.engine.agents.resolve({ ...base, engine_model: 'openai.gpt-realtime' }));
    } finally {
      await root.close();
      t.cleanup();
    }
  });
});
