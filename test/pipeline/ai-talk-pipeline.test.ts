/**
 * Whole calls through the built-in voice pipeline: a local phone dials a flow whose `ai_talk` runs
 * an AI with a chat model (`openai.gpt-4o-mini`). The composition root's agents run against
 * loopback fakes of OpenAI Chat Completions (streaming, tool calls), Deepgram live STT (scripted
 * text when it hears speech) and ElevenLabs TTS (which speaks its text with espeak-ng). The
 * caller's speech is espeak-ng audio sent in real time, through the real Silero VAD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dtmfText } from '../../streams/agents/dtmf.js';
import { aimessagesOf, audible, createAi, executed, until, waitActiveflow, waitAicall, waitCall } from '../flows/helpers.js';
import { hasEspeak, speak } from '../helpers/speech.js';
import { audibleMsSince, logsClean, startPipelineRig } from './helpers.js';
import type { PipelineCall, PipelineRig } from './helpers.js';

const KEY = `sk-canary-pipeline-${process.pid}-${Math.random().toString(36).slice(2)}`;

/** The stored conversation without tool bookkeeping: [role, content]. */
function spoken(messages: any[]): [string, string][] {
  return messages.filter((m) => m.role !== 'tool' && !(m.tool_calls?.length > 0)).map((m) => [m.role, m.content]);
}

/** The messages of the LLM request `i` as [role, content]. */
function sent(rig: PipelineRig, i: number): [string, string][] {
  return ((rig.chat.requests[i]!.body as { messages: { role: string; content: string }[] }).messages ?? []).map((m) => [m.role, m.content]);
}

describe.skipIf(!hasEspeak())('ai_talk on the built-in pipeline (whole calls: Silero VAD, Deepgram, OpenAI chat, ElevenLabs fakes)', () => {
  let rig: PipelineRig;

  beforeAll(async () => {
    rig = await startPipelineRig(KEY);
  });
  afterAll(async () => {
    await rig?.close();
    expect(logsClean(rig)).toBe(true);
  });

  const call = (actions: unknown[]): Promise<PipelineCall> => rig.dial(actions);

  it('greets first, keeps the context over two turns, runs a tool with run_llm true and one that ends the AI; the flow goes on', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'openai.gpt-4o-mini',
      engine_key: KEY,
      init_prompt: 'You take bookings for ${voipbin.call.source.target}.',
      tts_type: 'elevenlabs',
      stt_type: 'deepgram',
      tool_names: ['set_variables', 'stop_service'],
    });
    rig.chat.replies.push(
      { text: 'Hello, this is the booking line. How can I help?' },
      {
        text: 'Gold plan, noted.',
        toolCalls: [{ id: 'call_set', name: 'set_variables', arguments: JSON.stringify({ variables: { plan: 'gold' }, run_llm: true }) }],
      },
      { text: 'Saved. Anything else?' },
      { text: 'Goodbye.', toolCalls: [{ id: 'call_stop', name: 'stop_service', arguments: '{}' }] },
    );
    rig.stt.behavior.script!.push('I would like the gold plan please.', 'No, that is all.');
    const base = rig.chat.requests.length;
    const voiceBase = rig.voice.connections.length;
    const httpBase = rig.tts.requests.length;
    const c = await call([
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'Your plan is ${plan}.' } },
      { type: 'hangup' },
    ]);
    // The AI speaks first: the greeting's speech reaches the phone.
    await until(() => audible(c.phone.heard).length >= 8 * 800, 'the greeting heard');
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => spoken(await aimessagesOf(rig.s, aicall.id)).some(([r, t]) => r === 'assistant' && t === 'Hello, this is the booking line. How can I help?'), 'the greeting stored');
    expect(sent(rig, base)[0]).toEqual(['system', `You take bookings for ${c.phone.number}.`]);

    await c.mic.say(await speak('I would like the gold plan please.'));
    // The answer, the tool, and the follow-up the tool's run_llm asked for.
    await until(() => rig.chat.requests.length >= base + 3, 'the follow-up after set_variables', 30_000);
    const second = sent(rig, base + 1);
    expect(second.slice(-2)).toEqual([
      ['assistant', 'Hello, this is the booking line. How can I help?'],
      ['user', 'I would like the gold plan please.'],
    ]);
    const third = (rig.chat.requests[base + 2]!.body as { messages: any[] }).messages;
    const toolMsg = third.find((m) => m.role === 'tool');
    expect(JSON.parse(toolMsg.content)).toMatchObject({ tool_call_id: 'call_set', result: 'success' });
    expect(third.find((m) => m.role === 'assistant' && m.tool_calls)?.tool_calls[0].function.name).toBe('set_variables');
    await until(async () => spoken(await aimessagesOf(rig.s, aicall.id)).some(([, t]) => t === 'Saved. Anything else?'), 'the follow-up stored', 30_000);

    await c.mic.say(await speak('No, that is all.'));
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    await waitCall(rig.s, c.callId, (r) => r.status === 'hangup', 'hangup');
    const af = await waitActiveflow(rig.s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a: any) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    expect(executed(af)[2]!.option).toMatchObject({ text: 'Your plan is gold.' });

    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('stop_service');
    const messages = await aimessagesOf(rig.s, done.id);
    expect(spoken(messages)).toEqual([
      ['system', `You take bookings for ${c.phone.number}.`],
      ['assistant', 'Hello, this is the booking line. How can I help?'],
      ['user', 'I would like the gold plan please.'],
      ['assistant', 'Gold plan, noted.'],
      ['assistant', 'Saved. Anything else?'],
      ['user', 'No, that is all.'],
      ['assistant', 'Goodbye.'],
    ]);
    const calls = messages.flatMap((m) => (m.tool_calls ?? []).map((t: { function: { name: string } }) => t.function.name));
    expect(calls).toEqual(['set_variables', 'stop_service']);
    // The fourth request carried the whole conversation.
    expect(sent(rig, base + 3).filter(([r]) => r === 'user').map(([, t]) => t)).toContain('No, that is all.');
    expect(JSON.stringify(messages)).not.toContain(KEY);
    expect(JSON.stringify(done)).not.toContain(KEY);
    // The AI spoke through ElevenLabs' stream-input WebSocket, one stream per sentence (the key in
    // the header, never the URL); only the talk action used the HTTP voice.
    const streams = rig.voice.connections.slice(voiceBase);
    expect(streams.flatMap((c) => c.generations).map((t) => t.trim())).toEqual(
      expect.arrayContaining(['Hello, this is the booking line.', 'How can I help?', 'Gold plan, noted.', 'Saved.', 'Anything else?', 'Goodbye.']),
    );
    expect(streams.every((c) => c.headers['xi-api-key'] !== undefined && !c.url.includes('xi-'))).toBe(true);
    expect(rig.tts.requests.slice(httpBase).map((r) => (r.body as { text: string }).text)).toEqual(['Your plan is gold.']);
    // Every LLM request carried the AI's own key.
    expect(rig.chat.requests.slice(base).every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
  }, 90_000);

  it('an Anthropic model over the Messages API: context kept, a tool with run_llm false gets no follow-up, stop_service ends it', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'anthropic.claude-sonnet-4-5',
      engine_key: KEY,
      init_prompt: 'You sell plans.',
      tts_type: 'elevenlabs',
      stt_type: 'deepgram',
      tool_names: ['set_variables', 'stop_service'],
    });
    const base = rig.anthropic.requests.length;
    rig.anthropic.replies.push(
      { text: 'Hi, which plan would you like?' },
      { text: 'Silver it is.', toolUses: [{ id: 'toolu_set', name: 'set_variables', input: { variables: { plan: 'silver' }, run_llm: false } }] },
      { text: 'Bye now.', toolUses: [{ id: 'toolu_stop', name: 'stop_service', input: {} }] },
    );
    rig.stt.behavior.script!.push('The silver one.', 'That is all.');
    const c = await call([
      { type: 'answer' },
      { type: 'ai_talk', option: { ai_id: aiId } },
      { type: 'talk', option: { text: 'Plan ${plan}.' } },
      { type: 'hangup' },
    ]);
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => spoken(await aimessagesOf(rig.s, aicall.id)).some(([, t]) => t === 'Hi, which plan would you like?'), 'the greeting stored', 30_000);
    await c.mic.say(await speak('The silver one.'));
    await until(async () => (await aimessagesOf(rig.s, aicall.id)).some((m) => m.role === 'tool'), 'the tool result stored', 30_000);
    // run_llm false: the model is not asked again until the caller speaks.
    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.anthropic.requests.length).toBe(base + 2);
    await c.mic.say(await speak('That is all.'));
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('stop_service');
    const af = await waitActiveflow(rig.s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af)[2]!.option).toMatchObject({ text: 'Plan silver.' });
    // The third request carried the conversation in Anthropic's shape: alternating turns, the
    // tool_use and its tool_result, the system prompt as the top-level param.
    const third = rig.anthropic.requests[base + 2]!.body as { system: string; messages: { role: string; content: unknown }[] };
    expect(third.system).toContain('You sell plans.');
    expect(third.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(JSON.stringify(third.messages)).toContain('toolu_set');
    expect(JSON.stringify(third.messages)).toContain('The silver one.');
    expect(JSON.stringify(third.messages)).toContain('That is all.');
    expect(rig.anthropic.requests.slice(base).every((r) => (r.headers['x-api-key'] ?? String(r.headers.authorization).replace(/^Bearer /, '')) === KEY)).toBe(true);
    expect(spoken(await aimessagesOf(rig.s, done.id)).filter(([r]) => r !== 'system')).toEqual([
      ['assistant', 'Hi, which plan would you like?'],
      ['user', 'The silver one.'],
      ['assistant', 'Silver it is.'],
      ['user', 'That is all.'],
      ['assistant', 'Bye now.'],
    ]);
  }, 90_000);

  it('a barge-in in the middle of a long answer: the phone stops hearing it at once and only what was heard is stored and kept', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Talk a lot.', tool_names: ['stop_service'] });
    const long =
      'Welcome to the city library information line. We are open from nine in the morning until six in the evening. ' +
      'On Saturdays we close at noon. Our reading room is on the second floor. The children\u2019s corner has story time every Wednesday.';
    // The answer to the caller comes late (1.5 s), so what the phone hears right after the cut can
    // only be the cut answer.
    rig.chat.replies.push({ text: long }, { text: 'Sure.', headerDelayMs: 1500, toolCalls: [{ id: 'call_stop_b', name: 'stop_service', arguments: '{}' }] });
    rig.stt.behavior.script!.push('Hold on a moment, I have a question.');
    const base = rig.chat.requests.length;
    const c = await call([{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    await until(() => audible(c.phone.heard).length >= 8 * 2500, '2.5 s of the answer heard', 30_000);
    const atSpeech = c.phone.heard.length;
    const speech = await speak('Hold on a moment, I have a question.');
    const spokenDone = c.mic.say(speech);
    if (process.env.DEBUG_PIPELINE) console.log('caller speaks at', new Date().toISOString());
    // start_secs (0.2 s) plus the VAD's window and two loopback hops: after 0.7 s the phone hears
    // (almost) nothing more of the answer.
    await new Promise((r) => setTimeout(r, 700));
    const afterCut = c.phone.heard.length;
    await spokenDone;
    await until(() => rig.chat.requests.length >= base + 2, 'the answer to the caller', 30_000);
    if (process.env.DEBUG_PIPELINE) {
      const flags = c.phone.heard.slice(atSpeech, atSpeech + 60).map((f) => (audibleMsSince([f], 0) > 0 ? '#' : '.')).join('');
      console.log('heard after speech', flags, 'cut frame', afterCut - atSpeech, JSON.stringify(sent(rig, base + 1)));
    }
    expect(audibleMsSince(c.phone.heard.slice(0, afterCut + 25), afterCut)).toBeLessThan(100);
    expect(atSpeech).toBeGreaterThan(0);
    const context = sent(rig, base + 1);
    const cut = context.find(([r]) => r === 'assistant')![1];
    expect(long.startsWith(cut)).toBe(true);
    expect(cut.length).toBeGreaterThan(20);
    expect(cut.length).toBeLessThan(long.length - 40);
    expect(context.at(-1)).toEqual(['user', 'Hold on a moment, I have a question.']);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 30_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    const stored = spoken(await aimessagesOf(rig.s, done.id)).filter(([r]) => r === 'assistant').map(([, t]) => t);
    expect(stored[0]).toBe(cut);
  }, 90_000);

  it('DTMF reaches the LLM as one user line and is stored', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Take orders.', tool_names: ['stop_service'] });
    rig.chat.replies.push({ text: 'Press your order number.' }, { text: 'Thanks.', toolCalls: [{ id: 'call_stop_d', name: 'stop_service', arguments: '{}' }] });
    const c = await call([{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => spoken(await aimessagesOf(rig.s, aicall.id)).some(([r]) => r === 'assistant'), 'the greeting stored', 30_000);
    const before = rig.chat.requests.length;
    c.phone.client.send({ type: 'dtmf', digits: '42#' });
    await until(() => rig.chat.requests.length > before, 'a request after the digits', 20_000);
    expect(sent(rig, before).at(-1)).toEqual(['user', dtmfText('42#')]);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 30_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('stop_service');
    expect(spoken(await aimessagesOf(rig.s, done.id)).filter(([r]) => r === 'user').map(([, t]) => t)).toEqual([dtmfText('42#')]);
  }, 60_000);

  it('a provider failure (the LLM refuses the key): the caller hears a fallback line, the AI call ends with the reason, the flow goes on', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: `${KEY}-wrong`, init_prompt: 'Hi.', tool_names: [] });
    const ttsBefore = rig.tts.requests.length;
    const voiceBefore = rig.voice.connections.length;
    const c = await call([{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId, parameter: {} } }, { type: 'talk', option: { text: 'After the AI.' } }, { type: 'hangup' }]);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('agent: provider_error: llm openai 401');
    // The AI's voice (the stream-input WebSocket) said the fallback line; the talk after it used the HTTP voice.
    const said = rig.voice.connections.slice(voiceBefore).flatMap((c) => c.generations);
    expect(said.join(' ')).toMatch(/technical trouble/);
    const texts = rig.tts.requests.slice(ttsBefore).map((r) => (r.body as { text?: string }).text);
    expect(texts).toEqual(['After the AI.']);
    const af = await waitActiveflow(rig.s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a: any) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    expect(JSON.stringify(done)).not.toContain(KEY);
  }, 60_000);
});
