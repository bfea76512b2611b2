/**
 * `talk` in a flow: the text (with `${...}` filled in) goes to the TTS provider (a fake OpenAI
 * speaking the real /v1/audio/speech protocol on loopback), and its 24 kHz speech reaches the
 * caller's phone at 8 kHz through the stateful resampler. Without a provider, talk is skipped
 * with a clear warning and the flow goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeElevenLabs, startFakeOpenAi } from '../providers/fake-tts-servers.js';
import type { FakeTtsServer } from '../providers/fake-tts-servers.js';
import { providerFor } from '../providers/helpers.js';
import { capturedLogs } from '../helpers/server.js';
import { NO_TTS_REASON } from '../../src/local/engine/talk-action.js';
import { audible, dialFlow, executed, goertzel, startFlowServer, waitActiveflow, waitCall } from './helpers.js';
import type { FlowServer } from './helpers.js';

describe('talk', () => {
  let fs: FlowServer;
  let fake: FakeTtsServer;
  let eleven: FakeTtsServer;
  const named: string[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    eleven = await startFakeElevenLabs();
    // The TTS a talk names: ElevenLabs has a key here, nothing else does.
    fs = await startFlowServer({}, {
      ttsFor: (type) => {
        named.push(type);
        if (type === 'elevenlabs') return providerFor(eleven);
        throw new Error(`no key for ${type}`);
      },
    });
  });
  afterAll(async () => {
    await fs.close();
    await fake.close();
    await eleven.close();
  });

  it('speaks the substituted text into the call through the TTS provider', async () => {
    fs.s.engine.tts = providerFor(fake);
    const call = await dialFlow(fs.s, [
      { type: 'answer' },
      { type: 'variable_set', option: { key: 'name', value: 'Ann' } },
      { type: 'talk', option: { text: 'Hello ${name}, this is call ${voipbin.call.id}' } },
      { type: 'hangup' },
    ]);
    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup', 'the call to end after the talk');
    const speech = fake.requests.find((r) => r.path.endsWith('/audio/speech'));
    expect(speech?.body).toMatchObject({ input: `Hello Ann, this is call ${call.callId}`, response_format: 'pcm' });
    const af = await waitActiveflow(fs.s, call.callId, (a) => a.status === 'ended', 'the activeflow to end');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'variable_set', 'talk', 'hangup']);
    // The fake speaks 40 ms of 440 Hz after a few edge samples; at 8 kHz that is ~320 samples of tone.
    const heard = audible(call.phone.heard);
    expect(heard.length).toBeGreaterThanOrEqual(160);
    expect(goertzel(heard, 440)).toBeGreaterThan(3000);
    call.phone.close();
  });

  it('a talk that names its provider and voice speaks with them; a provider without a key (gcp) falls back to the default voice', async () => {
    fs.s.engine.tts = providerFor(fake);
    const before = { openai: fake.requests.length, eleven: eleven.requests.length };
    const call = await dialFlow(fs.s, [
      { type: 'answer' },
      { type: 'talk', option: { text: 'Named voice.', provider: 'elevenlabs', voice_id: 'voice-from-the-action' } },
      { type: 'talk', option: { text: 'Google voice.', provider: 'gcp', voice_id: 'en-US-Wavenet-D' } },
      { type: 'hangup' },
    ]);
    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup', 'the call to end after the talks');
    const elevenReq = eleven.requests.slice(before.eleven);
    expect(elevenReq).toHaveLength(1);
    expect(elevenReq[0]!.path).toContain('/v1/text-to-speech/voice-from-the-action/');
    expect(elevenReq[0]!.body).toMatchObject({ text: 'Named voice.' });
    const openaiReq = fake.requests.slice(before.openai);
    expect(openaiReq.map((r) => (r.body as { input: string }).input)).toEqual(['Google voice.']);
    // gcp's voice id means nothing to the default provider: its own default voice speaks.
    expect((openaiReq[0]!.body as { voice: string }).voice).not.toBe('en-US-Wavenet-D');
    expect(named).toEqual(['elevenlabs', 'gcp']);
    call.phone.close();
  });

  it('without a TTS provider the talk is skipped with a clear warning and the flow goes on', async () => {
    fs.s.engine.tts = undefined;
    const call = await dialFlow(fs.s, [{ type: 'answer' }, { type: 'talk', option: { text: 'nobody hears this' } }, { type: 'hangup' }]);
    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup', 'the call to end');
    const af = await waitActiveflow(fs.s, call.callId, (a) => a.status === 'ended', 'the activeflow to end');
    expect(executed(af).map((a) => a.type)).toEqual(['answer', 'talk', 'hangup']);
    expect(capturedLogs.some((l) => l.includes(NO_TTS_REASON))).toBe(true);
    call.phone.close();
  });
});
