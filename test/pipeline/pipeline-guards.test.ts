/**
 * The built-in pipeline's guards, on whole calls (same rig as ai-talk-pipeline.test.ts): the AI's
 * own voice echoed back by the line, a cough and a click must not barge in; a "barge-in" that
 * yields no words resumes; an idle caller is re-prompted, then the AI says goodbye and ends;
 * `ai` (request-response) never lets the caller cut the AI; an uninterruptible greeting plays
 * out; `min_interruption_words` keeps a short backchannel from stopping the AI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone, aimessagesOf, audible, createAi, createNumber, executed, freshNumber, until, waitActiveflow, waitAicall } from '../flows/helpers.js';
import { concat, cough, click, hasEspeak, silence, speak } from '../helpers/speech.js';
import { Mic, logsClean, startPipelineRig } from './helpers.js';
import type { PipelineCall, PipelineRig } from './helpers.js';

const KEY = `sk-canary-guards-${process.pid}-${Math.random().toString(36).slice(2)}`;

const LONG =
  'Welcome to the city library information line. We are open from nine in the morning until six in the evening. ' +
  'On Saturdays we close at noon, and on Sundays we are closed.';

function assistantLines(messages: any[]): string[] {
  return messages.filter((m) => m.role === 'assistant' && !(m.tool_calls?.length > 0)).map((m) => m.content as string);
}

/** Indexes of the first silent run of at least `minFrames` frames between audible frames, or -1. */
function gapIn(frames: Int16Array[], minFrames: number): number {
  const loud = frames.map((f) => f.some((v) => Math.abs(v) > 300));
  const first = loud.indexOf(true);
  let run = 0;
  for (let i = first + 1; i < loud.length; i++) {
    if (!loud[i]) run += 1;
    else {
      if (run >= minFrames) return i - run;
      run = 0;
    }
  }
  return -1;
}

describe.skipIf(!hasEspeak())('the built-in pipeline: echo, noise, false interruptions, idle, ai vs ai_talk (whole calls)', () => {
  let rig: PipelineRig;

  beforeAll(async () => {
    rig = await startPipelineRig(KEY);
  });
  afterAll(async () => {
    await rig?.close();
    expect(logsClean(rig)).toBe(true);
  });

  const call = (aiId: string, type: 'ai_talk' | 'ai' = 'ai_talk', option: Record<string, unknown> = {}): Promise<PipelineCall> =>
    rig.dial([{ type: 'answer' }, { type, option: { ai_id: aiId, ...option } }, { type: 'talk', option: { text: 'After the AI.' } }, { type: 'hangup' }]);

  async function hangUp(c: PipelineCall): Promise<any> {
    c.phone.client.send({ type: 'hangup' });
    return waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
  }

  it('our own voice echoed back at -15 dB, a 150 ms cough and a click never barge in: the answer plays and is stored in full', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Inform.', tool_names: [] });
    const base = rig.chat.requests.length;
    rig.chat.replies.push({ text: LONG });
    const c = await call(aiId);
    c.mic.echoGainDb = -15;
    c.mic.echoDelayMs = 100;
    await until(() => audible(c.phone.heard).length >= 8 * 1500, '1.5 s of the answer heard', 30_000);
    void c.mic.say(concat(cough(150, -6), silence(1200), click(), silence(600), cough(150, -10)));
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => assistantLines(await aimessagesOf(rig.s, aicall.id)).length > 0, 'the answer stored', 40_000);
    expect(assistantLines(await aimessagesOf(rig.s, aicall.id))).toEqual([LONG]);
    // No turn came from the echo or the noise.
    await new Promise((r) => setTimeout(r, 1500));
    expect(rig.chat.requests.length).toBe(base + 1);
    const done = await hangUp(c);
    expect(done.metadata.metrics.barge_ins).toBe(0);
    expect(done.metadata.metrics.dropped_audio_ms).toBe(0);
  }, 90_000);

  it('a "barge-in" that yields no words resumes where it stopped, and the answer is stored in full', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'openai.gpt-4o-mini',
      engine_key: KEY,
      init_prompt: 'Inform.',
      tool_names: [],
      parameter: { false_interruption_timeout_ms: 600 },
    });
    rig.chat.replies.push({ text: LONG });
    // The STT hears the sound but finds no words in it.
    rig.stt.behavior.script!.push('');
    const c = await call(aiId);
    await until(() => audible(c.phone.heard).length >= 8 * 1500, '1.5 s of the answer heard', 30_000);
    const atSound = c.phone.heard.length;
    await c.mic.say(await speak('well um let me see'));
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => assistantLines(await aimessagesOf(rig.s, aicall.id)).length > 0, 'the answer stored', 40_000);
    // The phone heard a pause (the barge-in), then the rest.
    const gap = gapIn(c.phone.heard.slice(atSound), 15);
    expect(gap).toBeGreaterThanOrEqual(0);
    expect(audible(c.phone.heard.slice(atSound + gap + 15)).length).toBeGreaterThan(8 * 1000);
    expect(assistantLines(await aimessagesOf(rig.s, aicall.id))).toEqual([LONG]);
    const done = await hangUp(c);
    expect(done.metadata.metrics.barge_ins).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('idle: after the silence the AI re-prompts once, then says goodbye and ends; the flow goes on', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'openai.gpt-4o-mini',
      engine_key: KEY,
      init_prompt: 'Help.',
      tool_names: [],
      parameter: { idle_timeout_ms: 1200, idle_prompts: 1, goodbye_text: 'Goodbye for now.' },
    });
    const base = rig.chat.requests.length;
    rig.chat.replies.push({ text: 'Hello?' }, { text: 'Are you still there?' });
    const c = await call(aiId);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('agent: idle_timeout');
    expect(rig.chat.requests.length).toBe(base + 2);
    const reprompt = (rig.chat.requests[base + 1]!.body as { messages: { role: string; content: string }[] }).messages;
    expect(reprompt.at(-1)!.role).toBe('system');
    expect(reprompt.at(-1)!.content).toMatch(/said nothing/);
    expect(assistantLines(await aimessagesOf(rig.s, done.id))).toEqual(['Hello?', 'Are you still there?', 'Goodbye for now.']);
    const af = await waitActiveflow(rig.s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a: any) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
  }, 60_000);

  it('an STT the server has no key for (cartesia): the caller hears the fallback line, the AI call ends with why, the flow goes on', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Hi.', stt_type: 'cartesia', tool_names: [] });
    const base = rig.chat.requests.length;
    const voiceBase = rig.voice.connections.length;
    const c = await call(aiId);
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('agent: provider_error: stt cartesia missing_api_key');
    expect(rig.voice.connections.slice(voiceBase).flatMap((x) => x.generations).join(' ')).toMatch(/technical trouble/);
    // Nothing was asked of the LLM: the conversation could not listen.
    expect(rig.chat.requests.length).toBe(base);
    const af = await waitActiveflow(rig.s, c.callId, (a) => a.status === 'ended', 'ended');
    expect(executed(af).map((a: any) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
  }, 60_000);

  it('an outgoing AI call gets ready while it rings: the STT stream opened before the answer is the one the AI listens with; an unanswered call closes it', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Call out.', tool_names: ['stop_service'] });
    rig.chat.replies.push({ text: 'Hello, this is your reminder.' }, { text: 'Bye.', toolCalls: [{ id: 'call_stop_out', name: 'stop_service', arguments: '{}' }] });
    rig.stt.behavior.script!.push('Thanks.');
    const from = freshNumber();
    await createNumber(rig.s, from);
    const callee = await Phone.register(rig.s);
    const before = rig.stt.connections.length;
    const res = await rig.s.call('POST', '/calls', {
      source: { type: 'tel', target: from },
      destinations: [{ type: 'tel', target: callee.number }],
      actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }],
    });
    expect(res.status).toBe(200);
    const callId = res.body.calls[0].id as string;
    await callee.waitFor('incoming', (m) => m.call_id === callId);
    // While it rings: the STT is connected, and nothing was asked of the LLM yet.
    await until(() => rig.stt.connections.length === before + 1, 'the STT connected while ringing', 10_000);
    expect((await rig.s.call('GET', `/calls/${callId}`)).body.status).toBe('ringing');
    const chatBefore = rig.chat.requests.length;
    callee.client.send({ type: 'answer' });
    const mic = new Mic(callee);
    try {
      await until(() => audible(callee.heard).length >= 8 * 600, 'the greeting heard', 30_000);
      await mic.say(await speak('Thanks.'));
      await callee.waitFor('hangup', (m) => m.call_id === callId, 40_000);
    } finally {
      mic.stop();
      callee.close();
    }
    // The warm stream heard the callee: no second STT connection was made.
    expect(rig.stt.connections.length).toBe(before + 1);
    expect(rig.stt.connections[before]!.audio.length).toBeGreaterThan(16000);
    expect(rig.chat.requests.length).toBe(chatBefore + 2);

    // Unanswered: the callee declines; the warm stream is closed with the call.
    const callee2 = await Phone.register(rig.s);
    const res2 = await rig.s.call('POST', '/calls', {
      source: { type: 'tel', target: from },
      destinations: [{ type: 'tel', target: callee2.number }],
      actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }],
    });
    const callId2 = res2.body.calls[0].id as string;
    await callee2.waitFor('incoming', (m) => m.call_id === callId2);
    await until(() => rig.stt.connections.length === before + 2, 'the second STT connected while ringing', 10_000);
    callee2.client.send({ type: 'hangup' });
    await until(() => rig.stt.connections[before + 1]!.closed, 'the unused STT stream closed', 10_000);
    callee2.close();
    expect(rig.chat.requests.length).toBe(chatBefore + 2);
  }, 90_000);

  it('min_interruption_words 2 with an STT that gives its words in the final: a real interruption still cuts the answer', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'openai.gpt-4o-mini',
      engine_key: KEY,
      init_prompt: 'Inform.',
      tool_names: ['stop_service'],
      parameter: { min_interruption_words: 2 },
    });
    rig.chat.replies.push({ text: LONG }, { text: 'Yes?', headerDelayMs: 500, toolCalls: [{ id: 'call_stop_mw', name: 'stop_service', arguments: '{}' }] });
    rig.stt.behavior.script!.push('Hold on a moment please.');
    const c = await call(aiId);
    await until(() => audible(c.phone.heard).length >= 8 * 1500, '1.5 s of the answer heard', 30_000);
    await c.mic.say(await speak('Hold on a moment please.'));
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    const messages = await aimessagesOf(rig.s, done.id);
    const first = assistantLines(messages)[0]!;
    expect(LONG.startsWith(first)).toBe(true);
    expect(first.length).toBeLessThan(LONG.length - 20);
    expect(messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['Hold on a moment please.']);
    expect(done.metadata.metrics.barge_ins).toBe(1);
  }, 90_000);

  it('`ai` is request-response: speech over the AI does not cut it, and is no turn; after it, the caller is answered', async () => {
    const aiId = await createAi(rig.s, { engine_model: 'openai.gpt-4o-mini', engine_key: KEY, init_prompt: 'Inform.', tool_names: ['stop_service'] });
    const base = rig.chat.requests.length;
    rig.chat.replies.push({ text: LONG }, { text: 'Bye.', toolCalls: [{ id: 'call_stop_ai', name: 'stop_service', arguments: '{}' }] });
    rig.stt.behavior.script!.push('Hello, hello, can you hear me?', 'Thank you very much.');
    const c = await call(aiId, 'ai');
    await until(() => audible(c.phone.heard).length >= 8 * 1500, '1.5 s of the answer heard', 30_000);
    await c.mic.say(await speak('Hello, hello, can you hear me?'));
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => assistantLines(await aimessagesOf(rig.s, aicall.id)).length > 0, 'the answer stored', 40_000);
    expect(assistantLines(await aimessagesOf(rig.s, aicall.id))).toEqual([LONG]);
    expect(rig.chat.requests.length).toBe(base + 1);
    await c.mic.say(await speak('Thank you very much.'));
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId, 40_000);
    const done = await waitAicall(rig.s, c.callId, (a) => a.status === 'terminated', 'terminated');
    expect(done.metadata.termination_reason).toBe('stop_service');
    expect(done.metadata.metrics.barge_ins).toBe(0);
    const users = (await aimessagesOf(rig.s, done.id)).filter((m) => m.role === 'user').map((m) => m.content);
    expect(users).toEqual(['Thank you very much.']);
  }, 90_000);

  it('an uninterruptible fixed greeting plays out under speech; min_interruption_words keeps "mm-hm" from stopping the next answer', async () => {
    const aiId = await createAi(rig.s, {
      engine_model: 'openai.gpt-4o-mini',
      engine_key: KEY,
      init_prompt: 'Inform.',
      tool_names: [],
      parameter: { greeting: 'This call may be recorded for quality purposes. Please hold on.', uninterruptible_greeting: true, min_interruption_words: 2 },
    });
    const base = rig.chat.requests.length;
    rig.stt.behavior.script!.push('Hello there, hello.', 'What are your hours?', 'Mm-hm.');
    rig.chat.replies.push({ text: LONG });
    const c = await call(aiId);
    await until(() => audible(c.phone.heard).length >= 8 * 800, 'the greeting heard', 30_000);
    await c.mic.say(await speak('Hello there, hello.'));
    const aicall = await waitAicall(rig.s, c.callId, (a) => a.status === 'progressing', 'progressing');
    await until(async () => assistantLines(await aimessagesOf(rig.s, aicall.id)).length > 0, 'the greeting stored', 30_000);
    expect(assistantLines(await aimessagesOf(rig.s, aicall.id))).toEqual(['This call may be recorded for quality purposes. Please hold on.']);
    // The greeting was fixed: no LLM request for it, and the words over it were no turn.
    expect(rig.chat.requests.length).toBe(base);
    await c.mic.say(await speak('What are your hours?'));
    await until(() => rig.chat.requests.length === base + 1, 'the question answered', 30_000);
    await until(() => audible(c.phone.heard).length >= 8 * 6000, 'the answer under way', 30_000);
    await c.mic.say(await speak('mm hm'));
    await until(async () => assistantLines(await aimessagesOf(rig.s, aicall.id)).length > 1, 'the answer stored', 40_000);
    expect(assistantLines(await aimessagesOf(rig.s, aicall.id))[1]).toBe(LONG);
    const done = await hangUp(c);
    expect(done.metadata.metrics.barge_ins).toBe(0);
  }, 90_000);
});
