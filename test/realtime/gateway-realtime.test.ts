/**
 * A gateway session with the OpenAI Realtime agent on a call of a remote VoIPBIN: a real `serve`
 * (startTestServer) configured with VOIPBIN_API_URL / VOIPBIN_ACCESSKEY pointing at the fake
 * VoIPBIN cloud (REST + the media_stream WebSocket with a continuous 50 frames/s caller stream),
 * and the realtime agent built with the TLS fake's CA. The AI comes from the cloud's
 * `GET /ais/{id}` with a canary engine_key (the key VoIPBIN returns to its owner).
 *
 * One conversation: the greeting (the fake's pcmu) reaches the cloud's media stream decoded to
 * slin at 8 kHz and paced at ~50 frames/s; the cloud's caller audio reaches the model as pcmu;
 * a barge-in stops the frames at once and the model gets response.cancel + truncate; the caller's
 * transcription is stored with the session; `stop_flow` stops the remote activeflow and ends the
 * session; neither the engine_key nor the access key is ever in a log line or a response.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.js';
import { decodeMulaw } from '../../streams/audio/g711.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import { isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../../streams/agents/openai-realtime/agent.js';
import { FakeVoipbin } from '../client/fake-voipbin.js';
import { FakeOpenAIRealtime } from '../fakes/fake-openai-realtime.js';
import { goertzel, until } from '../flows/helpers.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { pcmuTone } from './helpers.js';

const ENGINE_KEY = `sk-canary-gateway-rt-${process.pid}-${Math.random().toString(36).slice(2)}`;
const REMOTE_KEY = `vb-remote-accesskey-rt-${process.pid}-${Math.random().toString(36).slice(2)}`;


describe('gateway session with the OpenAI Realtime agent on a remote call (fake cloud + TLS fake)', () => {
  let realtime: FakeOpenAIRealtime;
  let cloud: FakeVoipbin;
  let s: TestServer;
  let cleanup: () => void = () => {};
  let savedKey: string | undefined;
  /** Every response body this test read. */
  const seen: string[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await s.call(method, path, body);
    seen.push(JSON.stringify(res.body));
    return res;
  };

  beforeAll(async () => {
    // The key must come from the cloud's AI, not from this process's environment.
    savedKey = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    realtime = await FakeOpenAIRealtime.start({ apiKey: ENGINE_KEY });
    cloud = await FakeVoipbin.start({ accessKey: REMOTE_KEY, returnEngineKey: true });
    const t = tempDir('voipbin-ai-gateway-rt-');
    cleanup = t.cleanup;
    const agents = new AgentRegistry().register(isOpenAIRealtimeConfig, openAIRealtimeAgent({ baseUrl: realtime.baseUrl, ca: realtime.tls.cert, logger: createLogger('debug') }));
    s = await startTestServer(join(t.dir, 'db.sqlite'), { VOIPBIN_API_URL: cloud.baseUrl, VOIPBIN_ACCESSKEY: REMOTE_KEY }, { engine: { agents } });
  });
  afterAll(async () => {
    await s?.close();
    await cloud?.close();
    await realtime?.close();
    cleanup();
    if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = savedKey;
    for (const text of [...capturedLogs, ...seen]) {
      expect(text).not.toContain(ENGINE_KEY);
      expect(text).not.toContain(REMOTE_KEY);
    }
  });

  it('greets paced on the media stream, streams the caller as pcmu, stores the transcription, barges in, and stop_flow ends it', async () => {
    const [af] = cloud.seed('activeflows', [{ status: 'running' }]);
    const [call] = cloud.seed('calls', [
      {
        status: 'progressing',
        direction: 'incoming',
        activeflow_id: af!.id,
        source: { type: 'tel', target: '+15550001111' },
        destination: { type: 'tel', target: '+15559998888' },
      },
    ]);
    const [ai] = cloud.seed('ais', [
      { name: 'realtime at the cloud', engine_model: 'openai.gpt-realtime', engine_key: ENGINE_KEY, init_prompt: 'You answer the phone.', tool_names: ['stop_flow', 'stop_service'] },
    ]);
    // The cloud's AI: served with its key (to its owner), and the key kept out of the stored item.
    expect(JSON.stringify(ai)).not.toContain(ENGINE_KEY);

    // The greeting: 3 s of 1 kHz, streamed fast, then held (the response stays active until cancelled).
    const greeting = pcmuTone(3000, 1000);
    const words = Array.from({ length: 30 }, (_, i) => (i === 0 ? 'Word0' : ` word${i}`));
    realtime.script({ audio: greeting, transcript: words, intervalMs: 1, hold: true });
    const n = realtime.connections.length;

    const started = await api('POST', '/gateway/sessions', { call_id: call!.id, ai_id: ai!.id });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ call_id: call!.id, ai_id: ai!.id, activeflow_id: af!.id, engine_model: 'openai.gpt-realtime', encapsulation: 'sln' });
    const id = started.body.id as string;
    const stream = await cloud.nextMediaStream();
    expect(stream.callId).toBe(call!.id);
    expect(stream.url).not.toContain(REMOTE_KEY);
    expect(cloud.requestsFor('GET', `/ais/${ai!.id}`)).toHaveLength(1);

    const conn = await realtime.waitForConnection(n, 20_000);
    // The key is the cloud AI's engine_key (this process's env has none).
    expect(conn.apiKey).toBe(ENGINE_KEY);
    expect(conn.model).toBe('gpt-realtime');
    await conn.waitForClientEvent('response.create', () => true, 20_000);
    expect(conn.session.instructions).toBe('You answer the phone.');
    expect(conn.session.audio?.input?.format).toEqual({ type: 'audio/pcmu' });
    expect(conn.session.audio?.output?.format).toEqual({ type: 'audio/pcmu' });

    // The greeting at the cloud: paced at ~50 frames/s, exactly the model's pcmu decoded to slin at 8 kHz.
    await until(() => stream.received.length >= 50, '50 greeting frames at the cloud');
    const at = stream.receivedAtMs;
    const span = at[49]! - at[0]!;
    expect(span).toBeGreaterThan(800);
    expect(span).toBeLessThan(1400);
    for (let k = 0; k < 50; k++) expect(at[k]! - at[0]!).toBeGreaterThanOrEqual(k * 20 - 60);
    const expected = new Int16Array(160);
    for (let k = 0; k < 40; k++) {
      decodeMulaw(greeting[k]!, expected);
      expect(Array.from(stream.received[k]!), `frame ${k}`).toEqual(Array.from(expected));
    }
    const joined = new Int16Array(160 * 40);
    for (let k = 0; k < 40; k++) joined.set(stream.received[k]!, k * 160);
    expect(goertzel(joined, 1000, 8000)).toBeGreaterThan(4000);

    // The cloud's caller audio (440 Hz slin) reaches the model as pcmu, 160 bytes per 20 ms.
    await until(() => conn.appendedBytes['audio/pcmu'] >= 160 * 25, 'caller audio at the model');
    expect(conn.appendedBytes['audio/pcm']).toBe(0);
    const mu = Buffer.concat(conn.appended).subarray(160 * 5, 160 * 25);
    const callerPcm = new Int16Array(mu.length);
    decodeMulaw(mu, callerPcm);
    expect(goertzel(callerPcm, 440, 8000)).toBeGreaterThan(5000);

    // A barge-in: the model's VAD hears the caller while the greeting plays.
    const atBarge = stream.received.length;
    const bargedAtMs = performance.now();
    const userItem = conn.speechStarted();
    const cancel = await conn.waitForClientEvent('response.cancel', () => true, 5000);
    expect(cancel.response_id).toBeTruthy();
    const trunc = await conn.waitForClientEvent('conversation.item.truncate', () => true, 5000);
    // Truncated at what the cloud was sent (≈ frames × 20 ms), well short of the 3 s.
    expect(trunc.audio_end_ms).toBeGreaterThanOrEqual((atBarge - 3) * 20);
    expect(trunc.audio_end_ms).toBeLessThanOrEqual((atBarge + 3) * 20);
    expect(trunc.audio_end_ms).toBeLessThan(2500);
    await until(() => conn.serverEvents.some((e) => e.type === 'response.done' && e.response.status === 'cancelled'), 'the response cancelled');
    await new Promise((r) => setTimeout(r, 400));
    // Frames already on their way may land (a frame or two); nothing after that.
    expect(stream.receivedAtMs.filter((t) => t > bargedAtMs).length).toBeLessThanOrEqual(3);
    expect(stream.received.length - atBarge).toBeLessThanOrEqual(3);
    expect(stream.received.length).toBeLessThan(150);

    // The caller's turn, transcribed by the model, is stored with the session.
    conn.speechStopped(userItem);
    conn.inputTranscriptionCompleted('Please end this flow.', userItem);
    await until(async () => {
      const r = await api('GET', `/gateway/sessions/${id}/messages`);
      return (r.body.result as Array<{ role: string; content: string }>).some((m) => m.role === 'user' && m.content === 'Please end this flow.');
    }, 'the transcription stored');

    // stop_flow: the cloud's activeflow is stopped, then the session ends.
    conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_flow', arguments: {}, call_id: 'call_stop_flow' }] });
    const ended = await until(async () => {
      const r = await api('GET', `/gateway/sessions/${id}`);
      return r.body.status === 'ended' ? r.body : undefined;
    }, 'the session to end');
    expect(ended.end_reason).toBe('stop_flow');
    expect(cloud.requestsFor('POST', `/activeflows/${af!.id}/stop`)).toHaveLength(1);
    expect(cloud.requestsFor('POST', `/activeflows/${af!.id}/stop`)[0]!.headers.authorization).toBe(`Bearer ${REMOTE_KEY}`);
    await stream.closed;
    expect((await conn.closed).code).toBe(1000);
    // The session ends with the tool: its result is stored, not sent to a model that is closing.
    expect(conn.eventsOf('conversation.item.create').filter((e) => e.item.type === 'function_call_output')).toEqual([]);

    // The transcript: the prompt, the greeting cut at what was heard, the caller, the tool call and its result.
    const messages = (await api('GET', `/gateway/sessions/${id}/messages`)).body.result as Array<{ role: string; content: string; tool_calls?: unknown[]; tool_call_id?: string }>;
    const spoken = messages.filter((m) => m.role !== 'tool' && !(m.tool_calls && m.tool_calls.length > 0));
    expect(spoken.map((m) => m.role)).toEqual(['system', 'assistant', 'user']);
    expect(spoken[0]!.content).toBe('You answer the phone.');
    const full = words.join('');
    expect(full.startsWith(spoken[1]!.content)).toBe(true);
    expect(spoken[1]!.content.length).toBeGreaterThan(0);
    expect(spoken[1]!.content.length).toBeLessThan(full.length);
    const tools = messages.filter((m) => m.role === 'tool');
    expect(tools.map((m) => m.tool_call_id)).toEqual(['call_stop_flow']);
    expect(JSON.parse(tools[0]!.content)).toMatchObject({ tool_call_id: 'call_stop_flow', result: 'success', resource_type: 'activeflow', resource_id: af!.id });
    expect(messages.flatMap((m) => (m.tool_calls ?? []) as Array<{ function: { name: string } }>).map((t) => t.function.name)).toEqual(['stop_flow']);
    expect(conn.serverEvents.filter((e) => e.type === 'error')).toEqual([]);
    expect(conn.eventsOf('response.create')).toHaveLength(1);

    // No key anywhere: the session's answers, the logs.
    const list = await api('GET', '/gateway/sessions');
    expect(list.body.result.map((x: { id: string }) => x.id)).toContain(id);
    for (const text of [...capturedLogs, ...seen]) {
      expect(text).not.toContain(ENGINE_KEY);
      expect(text).not.toContain(REMOTE_KEY);
    }
  });
});
