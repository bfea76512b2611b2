/**
 * transcribe_start → transcripts → ai_summary, with Deepgram live and an OpenAI-compatible chat
 * LLM as loopback fakes speaking their real wire protocols: the caller's speech is streamed to the
 * STT, each final result stored as a transcript, and the summary LLM writes the call's summary,
 * which the flow then uses as `${voipbin.ai_summary.content}`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSttProvider } from '../../src/providers/stt/index.js';
import { createLlmProvider } from '../../src/providers/llm/index.js';
import { startFakeDeepgramLive, tone as dgTone } from '../providers/fake-deepgram-live.js';
import type { FakeDeepgramLive } from '../providers/fake-deepgram-live.js';
import { startFakeOpenAiChat } from '../providers/fake-openai-chat.js';
import type { FakeOpenAiChat } from '../providers/fake-openai-chat.js';
import { dialFlow, executed, ok, startFlowServer, until, waitActiveflow, waitCall } from './helpers.js';
import type { FlowServer } from './helpers.js';

const SUMMARY = 'The caller said two words and hung up.';

describe('transcribe_start and ai_summary', () => {
  let fs: FlowServer;
  let dg: FakeDeepgramLive;
  let llm: FakeOpenAiChat;

  beforeAll(async () => {
    dg = await startFakeDeepgramLive();
    llm = await startFakeOpenAiChat();
    llm.script = { text: SUMMARY };
    // The engine takes its STT at construction: this server transcribes with the Deepgram fake.
    fs = await startFlowServer({}, { stt: createSttProvider('deepgram', { apiKey: dg.apiKey, baseUrl: dg.baseUrl }) });
  });
  afterAll(async () => {
    await fs.close();
    await dg.close();
    await llm.close();
  });

  it('transcribes the caller, stores transcripts, and the flow uses the generated summary', async () => {
    fs.s.engine.summaryLlm = createLlmProvider('openai.gpt-4o-mini', { apiKey: llm.apiKey, baseUrl: llm.baseUrl });
    const call = await dialFlow(fs.s, [
      { type: 'answer' },
      { type: 'transcribe_start', option: { language: 'en-US', direction: 'in' } },
      { type: 'sleep', option: { duration: 5000 } },
      { type: 'transcribe_stop' },
      { type: 'ai_summary', option: { source_type: 'call', source_id: '${voipbin.call.id}' } },
      { type: 'variable_set', option: { key: 'summary', value: '${voipbin.ai_summary.content}' } },
      { type: 'hangup' },
    ]);
    const transcribe = await until(async () => (await ok(fs.s, 'GET', `/transcribes?reference_id=${call.callId}`)).result[0], 'the transcribe');
    expect(transcribe).toMatchObject({ reference_type: 'call', reference_id: call.callId, status: 'progressing', direction: 'in', language: 'en-US' });
    // 1.1 s of loud audio: the fake recognises one word per 0.5 s of speech.
    call.phone.sendAll(dgTone(8000, 1.1, 8000));

    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup', 'the flow to finish');
    const done = await ok(fs.s, 'GET', `/transcribes/${transcribe.id}`);
    expect(done.status).toBe('done');
    const transcripts = (await ok(fs.s, 'GET', `/transcripts?transcribe_id=${transcribe.id}`)).result;
    const words = transcripts.map((t: any) => t.message).reverse();
    expect(words.slice(0, 2)).toEqual(['word1', 'word2']);
    expect(transcripts.every((t: any) => t.direction === 'in' && t.transcribe_id === transcribe.id)).toBe(true);
    expect(dg.connections[0]!.query).toMatchObject({ encoding: 'linear16', sample_rate: '8000' });

    const summaries = (await ok(fs.s, 'GET', '/aisummaries')).result.filter((x: any) => x.reference_id === call.callId);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ status: 'done', content: SUMMARY, reference_type: 'call' });
    const prompt = JSON.stringify(llm.requests.at(-1)!.body);
    expect(prompt).toContain('caller: word1');
    const af = await waitActiveflow(fs.s, call.callId, (a) => a.status === 'ended', 'the activeflow to end');
    expect(executed(af).find((a) => a.type === 'variable_set')!.option.value).toBe(SUMMARY);
    call.phone.close();
  });

  it('POST /aisummaries writes the summary in the background', async () => {
    fs.s.engine.summaryLlm = createLlmProvider('openai.gpt-4o-mini', { apiKey: llm.apiKey, baseUrl: llm.baseUrl });
    const call = (await ok(fs.s, 'GET', '/calls')).result[0];
    const created = await ok(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: call.id, language: 'en-US' });
    expect(created.status).toBe('progressing');
    const done = await until(async () => {
      const s = await ok(fs.s, 'GET', `/aisummaries/${created.id}`);
      return s.status === 'done' ? s : undefined;
    }, 'the summary to be written');
    expect(done.content).toBe(SUMMARY);
  });

  it('ai_summary without a summary LLM: the summary ends failed with its reason, and the flow goes on', async () => {
    fs.s.engine.summaryLlm = undefined;
    const call = await dialFlow(fs.s, [
      { type: 'answer' },
      { type: 'ai_summary', option: { source_type: 'call', source_id: '${voipbin.call.id}' } },
      { type: 'variable_set', option: { key: 'summary', value: 'was[${voipbin.ai_summary.content}]' } },
      { type: 'hangup' },
    ]);
    const af = await waitActiveflow(fs.s, call.callId, (a) => a.status === 'ended', 'the activeflow to end');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'ai_summary', 'variable_set', 'hangup']);
    expect(executed(af).find((a) => a.type === 'variable_set')!.option.value).toBe('was[]');
    const summaries = (await ok(fs.s, 'GET', '/aisummaries')).result.filter((x: any) => x.reference_id === call.callId);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ status: 'failed', content: '', activeflow_id: af.id });
    expect(summaries[0].failure_reason).toContain('OPENAI_API_KEY');
    call.phone.close();
  });

  it('without an STT provider: POST /transcribes answers 503 and transcribe_start is skipped', async () => {
    // A server of its own, built without STT (VOIPBIN_AI_STT=none keeps a developer's key out).
    vi.stubEnv('VOIPBIN_AI_STT', 'none');
    let bare: FlowServer;
    try {
      bare = await startFlowServer();
    } finally {
      vi.unstubAllEnvs();
    }
    try {
      const call = await dialFlow(bare.s, [{ type: 'answer' }, { type: 'transcribe_start' }, { type: 'sleep', option: { duration: 10000 } }]);
      await waitCall(bare.s, call.callId, (c) => c.status === 'progressing', 'the call to be answered');
      const res = await bare.s.call('POST', '/transcribes', { reference_type: 'call', reference_id: call.callId });
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/no speech-to-text provider/);
      expect((await ok(bare.s, 'GET', `/transcribes?reference_id=${call.callId}`)).result).toEqual([]);
      const missing = await bare.s.call('GET', '/transcripts');
      expect(missing.status).toBe(400);
      expect(missing.body.error.reason).toBe('MISSING_REQUEST_PARAMETER');
      call.phone.client.send({ type: 'hangup' });
      call.phone.close();
    } finally {
      await bare.close();
    }
  });
});
