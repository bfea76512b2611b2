/**
 * AI actions in call flows, end to end with local phones and a scripted agent standing in for
 * the model: set_variables + stop_service (the flow goes on with the variable filled in),
 * stop_flow (nothing after it runs), connect_call (a second phone rings, answers and is bridged),
 * get_variables / stop_media, and an ai_talk without any agent configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_AGENT_REASON } from '../../src/local/engine/ai-action.js';
import { TM_NEVER } from '../../src/util/time.js';
import { TOOL_NAMES } from '../../tools/types.js';
import type { TestServer } from '../helpers/server.js';
import {
  Phone,
  audible,
  createAi,
  dialFlow,
  executed,
  goertzel,
  ok,
  startFlowServer,
  tone,
  until,
  waitActiveflow,
  waitAicall,
  waitCall,
  aimessagesOf,
} from './helpers.js';
import type { FlowServer } from './helpers.js';
import { scriptedAgent } from './scripted-agent.js';
import { startFakeOpenAi } from '../providers/fake-tts-servers.js';
import { providerFor } from '../providers/helpers.js';

describe('AI actions in call flows (scripted agent, local phones)', () => {
  let fs: FlowServer;
  let s: TestServer;
  let aiId = '';
  const phones: Phone[] = [];

  beforeAll(async () => {
    fs = await startFlowServer();
    s = fs.s;
    aiId = await createAi(s);
  });
  afterAll(async () => {
    for (const p of phones) p.close();
    await fs?.close();
  });

  it('answer → ai_talk (set_variables, stop_service) → talk → hangup: the talk gets the variable, everything is stored', async () => {
    // The agent speaks at 16 kHz: the host resamples its audio to the call's 8 kHz.
    const greeting = tone(3200, 1000, 8000, 16_000);
    const statuses: string[] = [];
    const agent = scriptedAgent(
      [
        { say: greeting, text: 'Hello, who am I speaking with?' },
        // While the agent runs, its AI call is progressing.
        { run: async ({ options }) => void statuses.push((await ok(s, 'GET', `/aicalls/${options.aicall.id}`)).status) },
        { tool: 'set_variables', id: 'call_set', args: { variables: { customer_name: 'John' } } },
        { tool: 'stop_service', id: 'call_stop', args: '{}' },
      ],
      { outputSampleRateHz: 16_000 },
    );
    fs.useAgent(agent);
    // The talk speaks through a TTS provider: a fake OpenAI speech endpoint on loopback.
    const tts = await startFakeOpenAi();
    s.engine.tts = providerFor(tts);
    const c = await dialFlow(s, [
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId, language: 'en-US' } },
      { type: 'talk', option: { text: 'Thanks ${customer_name}', language: 'en-US' } },
      { type: 'hangup' },
    ]);
    phones.push(c.phone);

    await c.phone.waitFor('answered', (m) => m.call_id === c.callId);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const call = await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
    expect(call).toMatchObject({ hangup_by: 'local', hangup_reason: 'normal', direction: 'incoming', flow_id: c.flowId });

    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af)).toEqual([
      { type: 'answer', option: {} },
      { type: 'ai_talk', option: { ai_id: aiId, language: 'en-US' } },
      { type: 'talk', option: { text: 'Thanks John', language: 'en-US' } },
      { type: 'hangup', option: {} },
    ]);
    // The talk ran: the variable the agent saved reached the TTS provider.
    expect(tts.requests.map((r) => (r.body as { input?: string })?.input)).toEqual(['Thanks John']);
    s.engine.tts = undefined;
    await tts.close();

    // The agent was started with the AI's configuration and the call's variables.
    expect(agent.sessions).toHaveLength(1);
    const session = agent.sessions[0]!;
    expect(session.error).toBeUndefined();
    expect(session.options.config).toMatchObject({ ai_id: aiId, engine_model: 'openai.gpt-4o', engine_key: 'sk-test-not-a-real-key', tool_names: ['all'] });
    expect(session.options.tools.map((t) => t.name)).toEqual([...TOOL_NAMES]);
    expect(session.options.aicall.reference_id).toBe(c.callId);
    expect(session.options.variables['voipbin.call.id']).toBe(c.callId);
    expect(session.stopReason).toBe('stop_service');

    // Tool results as the agent got them.
    expect(agent.results).toEqual([
      {
        result: { tool_call_id: 'call_set', result: 'success', message: 'saved customer_name', resource_type: 'activeflow', resource_id: af.id },
        runLlm: false,
      },
      {
        result: { tool_call_id: 'call_stop', result: 'success', message: expect.stringMatching(/ended/), resource_type: '', resource_id: '' },
        runLlm: false,
      },
    ]);

    // The AI call went initiating → progressing → terminated.
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall).toMatchObject({
      assistance_type: 'ai',
      assistance_id: aiId,
      activeflow_id: af.id,
      reference_type: 'call',
      reference_id: c.callId,
      metadata: { termination_reason: 'stop_service' },
    });
    expect(aicall.tm_end).not.toBe(TM_NEVER);
    expect(session.options.aicall.id).toBe(aicall.id);
    expect(statuses).toEqual(['progressing']);

    // Every tool call and result is an AI call message: the assistant's tool_calls, then the tool's result.
    const messages = await aimessagesOf(s, aicall.id);
    expect(messages.map((m) => m.role)).toEqual(['system', 'assistant', 'assistant', 'tool', 'assistant', 'tool']);
    expect(messages[0].content).toBe(`You are a scripted test agent for ${c.phone.number}.`);
    expect(messages[1]).toMatchObject({ content: 'Hello, who am I speaking with?', direction: 'outgoing', tool_calls: [] });
    expect(messages[2]).toMatchObject({
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'call_set', type: 'function', function: { name: 'set_variables', arguments: JSON.stringify({ variables: { customer_name: 'John' } }) } }],
    });
    expect(messages[3]).toMatchObject({ role: 'tool', tool_call_id: 'call_set' });
    expect(JSON.parse(messages[3].content)).toEqual(agent.results[0]!.result);
    expect(messages[4]).toMatchObject({ tool_calls: [{ id: 'call_stop', type: 'function', function: { name: 'stop_service', arguments: '{}' } }] });
    expect(messages[5]).toMatchObject({ role: 'tool', tool_call_id: 'call_stop' });
    expect(JSON.parse(messages[5].content)).toEqual(agent.results[1]!.result);
    for (const m of messages) expect(m).toMatchObject({ aicall_id: aicall.id, activeflow_id: af.id });

    // The caller heard the greeting (resampled to 8 kHz) before the hangup.
    const heard = audible(c.phone.heard);
    expect(heard.length).toBeGreaterThan(1200);
    expect(goertzel(heard, 1000)).toBeGreaterThan(4000);
    expect(goertzel(heard, 2000)).toBeLessThan(500);
  });

  it('stop_flow: nothing after it runs, the activeflow and the call end', async () => {
    const agent = scriptedAgent([{ tool: 'stop_flow', id: 'call_stop_flow' }]);
    fs.useAgent(agent);
    const c = await dialFlow(s, [
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'this must not run' } },
      { type: 'hangup' },
    ]);
    phones.push(c.phone);

    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const call = await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
    expect(call.hangup_by).toBe('local');
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk']);

    expect(agent.results).toEqual([
      {
        result: { tool_call_id: 'call_stop_flow', result: 'success', message: expect.any(String), resource_type: 'activeflow', resource_id: af.id },
        runLlm: false,
      },
    ]);
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('stop_flow');
    expect(agent.sessions[0]!.stopReason).toBe('stop_flow');
    const messages = await aimessagesOf(s, aicall.id);
    expect(messages.map((m) => [m.role, m.tool_call_id])).toEqual([
      ['system', ''],
      ['assistant', ''],
      ['tool', 'call_stop_flow'],
    ]);
    expect(messages[1].tool_calls[0].function.name).toBe('stop_flow');
  });

  it('connect_call: a second local phone rings, answers and is bridged; the AI action ends', async () => {
    const callee = await Phone.register(s);
    callee.autoAnswer();
    phones.push(callee);
    const agent = scriptedAgent([
      { tool: 'connect_call', id: 'call_connect', args: { run_llm: true, destinations: [{ type: 'tel', target: callee.number }] } },
    ]);
    fs.useAgent(agent);
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    phones.push(c.phone);

    // The callee rings with the caller's number, answers, and the two legs are bridged.
    const incoming = await callee.waitFor('incoming');
    expect(incoming.from).toEqual({ type: 'tel', target: c.phone.number });
    await callee.waitFor('answered', (m) => m.call_id === incoming.call_id);
    await until(() => s.engine.getLive(c.callId)?.peer?.id === incoming.call_id, 'the bridge');

    expect(agent.results).toEqual([
      {
        result: { tool_call_id: 'call_connect', result: 'success', message: `connecting to ${callee.number}`, resource_type: 'call', resource_id: '' },
        runLlm: true,
      },
    ]);
    // The AI action ended before the connect ran.
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('connect_call');
    expect(agent.sessions[0]!.stopReason).toBe('connect_call');
    const af = await waitActiveflow(s, c.callId, (a) => executed(a).some((x) => x.type === 'connect'), 'the connect action');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'connect']);
    expect(executed(af)[2]!.option).toMatchObject({
      source: { type: 'tel', target: c.phone.number },
      destinations: [{ type: 'tel', target: callee.number }],
    });
    const outLeg = await waitCall(s, incoming.call_id, (r) => r.status === 'progressing', 'progressing');
    expect(outLeg.master_call_id).toBe(c.callId);
    expect((await waitCall(s, c.callId, () => true, 'row')).chained_call_ids).toEqual([incoming.call_id]);

    // Audio from the caller reaches the callee, and back.
    const fromCallerStart = callee.heard.length;
    const fromCalleeStart = c.phone.heard.length;
    c.phone.sendAll(tone(4000, 1000, 6000));
    callee.sendAll(tone(4000, 2000, 6000));
    const heardByCallee = await until(() => {
      const a = audible(callee.heard.slice(fromCallerStart));
      return a.length >= 3200 ? a : undefined;
    }, 'the caller audio at the callee');
    expect(goertzel(heardByCallee, 1000)).toBeGreaterThan(4000);
    expect(goertzel(heardByCallee, 2000)).toBeLessThan(500);
    const heardByCaller = await until(() => {
      const a = audible(c.phone.heard.slice(fromCalleeStart));
      return a.length >= 3200 ? a : undefined;
    }, 'the callee audio at the caller');
    expect(goertzel(heardByCaller, 2000)).toBeGreaterThan(4000);

    // The callee hangs up: the connect ends, the flow's hangup ends the caller's call.
    callee.client.send({ type: 'hangup' });
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const done = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(done).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'connect', 'hangup']);
    await waitCall(s, incoming.call_id, (r) => r.status === 'hangup', 'hangup');
  });

  it('get_variables sees a variable_set from earlier in the flow; stop_media succeeds; the agent hears the caller', async () => {
    const agent = scriptedAgent([
      // The caller's audio reaches the agent (resampled to its 16 kHz input).
      {
        run: async ({ session }) => {
          await until(() => session.framesIn >= 10, 'caller audio at the agent');
        },
      },
      { tool: 'get_variables', id: 'call_get' },
      { tool: 'stop_media', id: 'call_stop_media', args: { run_llm: true } },
      { tool: 'stop_service', id: 'call_stop' },
    ], { inputSampleRateHz: 16_000 });
    fs.useAgent(agent);
    const c = await dialFlow(s, [
      { type: 'answer' },
      { type: 'variable_set', option: { key: 'order_id', value: '12345' } },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'Order ${order_id}' } },
      { type: 'hangup' },
    ]);
    phones.push(c.phone);
    await c.phone.waitFor('answered', (m) => m.call_id === c.callId);
    // The caller talks (a real line carries audio continuously) until the agent has heard some.
    await until(() => {
      c.phone.sendAll(tone(320, 500, 3000));
      return agent.sessions[0] !== undefined && agent.sessions[0].framesIn >= 10;
    }, 'the agent to hear the caller');
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);

    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'variable_set', 'ai_talk', 'talk', 'hangup']);
    expect(executed(af)[3]!.option).toEqual({ text: 'Order 12345' });
    expect(agent.sessions[0]!.error).toBeUndefined();

    const [get, stopMedia, stop] = agent.results;
    expect(get).toMatchObject({ result: { tool_call_id: 'call_get', result: 'success', resource_type: 'activeflow', resource_id: af.id }, runLlm: false });
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(JSON.parse(get!.result.message)).toMatchObject({
      order_id: '12345',
      'voipbin.call.id': c.callId,
      'voipbin.activeflow.id': af.id,
      'voipbin.aicall.id': aicall.id,
    });
    expect(stopMedia).toEqual({
      result: { tool_call_id: 'call_stop_media', result: 'success', message: 'media stopped', resource_type: '', resource_id: '' },
      runLlm: true,
    });
    expect(stop!.result.result).toBe('success');
  });

  it('the agent ends its own session: the AI call ends with its reason and the flow goes on', async () => {
    const agent = scriptedAgent([{ transcript: 'Goodbye.' }, { end: 'conversation over' }]);
    fs.useAgent(agent);
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai', option: { ai_id: aiId } }, { type: 'talk', option: { text: 'after' } }, { type: 'hangup' }]);
    phones.push(c.phone);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai', 'talk', 'hangup']);
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('agent: conversation over');
    expect(agent.sessions[0]!.stopReason).toBe('agent: conversation over');
    expect((await aimessagesOf(s, aicall.id)).map((m) => [m.role, m.content])).toEqual([
      ['system', `You are a scripted test agent for ${c.phone.number}.`],
      ['assistant', 'Goodbye.'],
    ]);
  });

  it('the caller hangs up during the AI action: the AI call ends (hangup), nothing after it runs', async () => {
    const agent = scriptedAgent([]);
    fs.useAgent(agent);
    const c = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'talk', option: { text: 'never' } }]);
    phones.push(c.phone);
    await waitAicall(s, c.callId, (a) => a.status === 'progressing', 'progressing');
    c.phone.client.send({ type: 'hangup' });
    const call = await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
    expect(call).toMatchObject({ hangup_by: 'remote', hangup_reason: 'normal' });
    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe('hangup');
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_talk']);
  });

  it('ai_talk with no agent configured: the AI call ends with the reason, a notification is stored, the flow goes on', async () => {
    fs.useAgent(undefined);
    const c = await dialFlow(s, [
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'after the AI for ${voipbin.call.source.target}' } },
      { type: 'hangup' },
    ]);
    phones.push(c.phone);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
    const call = await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
    expect(call.hangup_by).toBe('local');
    const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af)).toEqual([
      { type: 'answer', option: {} },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: `after the AI for ${c.phone.number}` } },
      { type: 'hangup', option: {} },
    ]);

    const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(aicall.metadata.termination_reason).toBe(NO_AGENT_REASON);
    expect(aicall.tm_end).not.toBe(TM_NEVER);
    const messages = await aimessagesOf(s, aicall.id);
    expect(messages.map((m) => m.role)).toEqual(['system', 'notification']);
    expect(messages[1].content).toBe(NO_AGENT_REASON);
  });
});
