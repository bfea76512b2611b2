/**
 * Gateway sessions on remote VoIPBIN calls, end to end: a real `serve` (startTestServer) configured
 * with VOIPBIN_API_URL pointing at a fake VoIPBIN cloud on loopback (REST + the media_stream
 * WebSocket with a continuous 50 frames/s caller stream), a scripted agent in the engine's
 * registry, the control API under /v1.0/gateway/sessions and the MCP tools.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/client.js';
import type { AgentStartOptions } from '../../streams/agents/agent.js';
import { FakeVoipbin } from '../client/fake-voipbin.js';
import type { FakeMediaStream } from '../client/fake-voipbin.js';
import { goertzel, startFlowServer, tone, until } from '../flows/helpers.js';
import type { FlowServer } from '../flows/helpers.js';
import { scriptedAgent } from '../flows/scripted-agent.js';
import { capturedLogs } from '../helpers/server.js';
import { connectInProcess, errorInfo, errorText, ok as okTool } from '../mcp/helpers.js';

const REMOTE_KEY = 'vb-remote-accesskey-SECRET-7c1d9e';
const PROVIDER_KEY = 'sk-gateway-canary-PROVIDER-0a1b2c';

/** Everything any response said, to prove no key ever appears. */
const seen: string[] = [];

describe('gateway sessions on a remote VoIPBIN (fake cloud on loopback)', () => {
  let fake: FakeVoipbin;
  let fs: FlowServer;
  let savedKey: string | undefined;

  const api = async (method: string, path: string, body?: unknown, key?: string) => {
    const res = await fs.s.call(method, path, body, key);
    seen.push(JSON.stringify(res.body));
    return res;
  };

  /** A live call at the fake, its activeflow, and an AI. */
  function seedCall(): { callId: string; activeflowId: string; aiId: string } {
    const [af] = fake.seed('activeflows', [{ status: 'running' }]);
    const [call] = fake.seed('calls', [
      {
        status: 'progressing',
        direction: 'incoming',
        activeflow_id: af!.id,
        source: { type: 'tel', target: '+15550001111' },
        destination: { type: 'tel', target: '+15559998888' },
      },
    ]);
    const [ai] = fake.seed('ais', [{ name: 'remote agent', engine_model: 'openai.gpt-realtime', init_prompt: 'Be brief.', tool_names: ['all'] }]);
    return { callId: call!.id, activeflowId: af!.id, aiId: ai!.id };
  }

  beforeAll(async () => {
    savedKey = process.env.OPENAI_API_KEY;
    // The AI at the remote carries no key in its GET: the gateway falls back to the provider's env var.
    process.env.OPENAI_API_KEY = PROVIDER_KEY;
    fake = await FakeVoipbin.start({ accessKey: REMOTE_KEY });
    fs = await startFlowServer({ VOIPBIN_API_URL: fake.baseUrl, VOIPBIN_ACCESSKEY: REMOTE_KEY });
  });
  afterEach(() => fs.useAgent(undefined));
  afterAll(async () => {
    await fs?.close();
    await fake?.close();
    if (savedKey === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = savedKey;
    // The keys never reached a log line or a response.
    for (const text of [...capturedLogs, ...seen]) {
      expect(text).not.toContain(REMOTE_KEY);
      expect(text).not.toContain(PROVIDER_KEY);
    }
  });

  it('runs the agent on the call: paced audio out, caller audio in (resampled), tools through the public API, transcripts stored, the stream closed at the end', async () => {
    const { callId, activeflowId, aiId } = seedCall();
    const [aicall] = fake.seed('aicalls', [{ status: 'progressing', reference_id: callId }]);
    let stream: FakeMediaStream | undefined;
    const agent = scriptedAgent(
      [
        // 1 s of 1 kHz at 24 kHz: resampled to 8 kHz by the runner, paced out by the port.
        { say: tone(24_000, 1000, 9000, 24_000), text: 'Hello from the gateway.' },
        { run: () => until(() => stream && stream.received.length >= 50, '50 agent frames at the fake', 5000) },
        { tool: 'set_variables', args: { variables: { 'customer.mood': 'happy' } } },
        { tool: 'get_variables' },
        { tool: 'stop_flow' },
      ],
      { inputSampleRateHz: 16_000, outputSampleRateHz: 24_000, recordAudioIn: true },
    );
    fs.useAgent(agent);
    const started = await api('POST', '/gateway/sessions', { call_id: callId, ai_id: aiId, aicall_id: aicall!.id });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ call_id: callId, ai_id: aiId, aicall_id: aicall!.id, activeflow_id: activeflowId, encapsulation: 'sln', end_reason: '' });
    expect(started.body.tm_create).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    stream = await fake.nextMediaStream();
    expect(stream.callId).toBe(callId);
    // The key went in the Authorization header only, never in the URL.
    expect(stream.url).not.toContain(REMOTE_KEY);

    const id = started.body.id as string;
    const ended = await until(async () => {
      const r = await api('GET', `/gateway/sessions/${id}`);
      return r.body.status === 'ended' ? r.body : undefined;
    }, 'the session to end');
    expect(ended.end_reason).toBe('stop_flow');
    // stop_flow went through RemoteFlowControl to the public API.
    expect(fake.requestsFor('POST', `/activeflows/${activeflowId}/stop`)).toHaveLength(1);
    await stream.closed;

    // Paced at ~50 frames/s: 50 frames span ~980 ms (a dump would take a few ms).
    const at = stream.receivedAtMs;
    const span = at[49]! - at[0]!;
    expect(span).toBeGreaterThan(800);
    expect(span).toBeLessThan(1400);
    // No frame is far ahead of real time at any point: frame n arrives no earlier than n x 20 ms - 3 frames.
    for (let n = 0; n < 50; n++) expect(at[n]! - at[0]!).toBeGreaterThanOrEqual(n * 20 - 60);
    // What the fake got is the agent's 1 kHz tone at 8 kHz.
    const joined = new Int16Array(160 * 40);
    for (let n = 0; n < 40; n++) joined.set(stream.received[n + 5]!, n * 160);
    expect(goertzel(joined, 1000, 8000)).toBeGreaterThan(7000);

    // The agent heard the fake's 440 Hz caller stream, resampled to 16 kHz (320-sample frames).
    const session = agent.sessions[0]!;
    expect(session.framesIn).toBeGreaterThan(20);
    const frames = session.audioIn.slice(5, 25) as Int16Array[];
    expect(frames.every((f) => f.length === 320)).toBe(true);
    const heard = new Int16Array(frames.length * 320);
    frames.forEach((f, i) => heard.set(f, i * 320));
    expect(goertzel(heard, 440, 16_000)).toBeGreaterThan(6000);
    // The agent got the configuration with the provider key from the env (the remote returns none).
    const options: AgentStartOptions = session.options;
    expect(options.config.engine_key).toBe(PROVIDER_KEY);
    expect(options.variables['voipbin.call.id']).toBe(callId);

    // Tool results: set_variables kept in the session, get_variables reads it back.
    expect(session.results.map((r) => r.result.result)).toEqual(['success', 'success', 'success']);
    expect(JSON.parse(session.results[1]!.result.message)).toMatchObject({ 'customer.mood': 'happy', 'voipbin.call.id': callId });

    // The transcript: kept with the session, and teed to the remote AI call through POST /aimessages.
    const messages = await api('GET', `/gateway/sessions/${id}/messages`);
    const roles = (messages.body.result as Array<{ role: string }>).map((m) => m.role);
    expect(roles[0]).toBe('system');
    expect(roles).toContain('assistant');
    expect(roles.filter((r) => r === 'tool')).toHaveLength(3);
    const remote = fake.requestsFor('POST', '/aimessages').map((r) => r.body as Record<string, unknown>);
    expect(remote.length).toBe(roles.length);
    expect(remote.every((b) => b.aicall_id === aicall!.id)).toBe(true);
    expect(remote.find((b) => b.role === 'assistant')).toMatchObject({ content: 'Hello from the gateway.' });
    expect(ended.metrics).toMatchObject({ tool_calls: 3, messages: roles.length });
    expect(ended.metrics.frames_out).toBeGreaterThanOrEqual(50);

    const list = await api('GET', '/gateway/sessions');
    expect(list.body.result.map((s: { id: string }) => s.id)).toContain(id);
  });

  it('a barge-in clear stops the outgoing frames at once; stop ends the media stream', async () => {
    const { callId, aiId } = seedCall();
    let stream: FakeMediaStream | undefined;
    let atClear = -1;
    let clearedAtMs = 0;
    const agent = scriptedAgent([
      { say: tone(8000 * 4, 800, 9000, 8000), text: 'A long answer the caller will interrupt.' },
      { run: () => until(() => stream && stream.received.length >= 25, '25 agent frames at the fake', 5000) },
      {
        run: ({ host }) => {
          atClear = stream!.received.length;
          clearedAtMs = performance.now();
          host.clearAudio();
        },
      },
    ]);
    fs.useAgent(agent);
    const started = await api('POST', '/gateway/sessions', { call_id: callId, ai_id: aiId });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    stream = await fake.nextMediaStream();
    await until(() => atClear >= 0, 'the clear');
    await new Promise((r) => setTimeout(r, 400));
    // What was on the wire at the clear may still land (a frame or two); nothing after that.
    const after = stream.receivedAtMs.filter((t) => t > clearedAtMs).length;
    expect(after).toBeLessThanOrEqual(3);
    expect(stream.received.length - atClear).toBeLessThanOrEqual(3);
    expect(stream.received.length).toBeLessThan(4 * 50);

    const stopped = await api('POST', `/gateway/sessions/${started.body.id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ id: started.body.id, status: 'ended', end_reason: 'stopped' });
    expect(stopped.body.tm_end).not.toBe('');
    await stream.closed;
    expect(stream.isClosed).toBe(true);
    expect(agent.sessions[0]!.stopReason).toBe('stopped');
    // Stopping again changes nothing.
    const again = await api('POST', `/gateway/sessions/${started.body.id}/stop`);
    expect(again.body).toMatchObject({ status: 'ended', end_reason: 'stopped' });
  });

  it('answers bad input with VoIPBIN error envelopes that name the field', async () => {
    const { aiId, callId } = seedCall();
    fs.useAgent(scriptedAgent([]));
    const unknownCall = '0b6a3c2e-1111-4c1d-9e2f-000000000001';
    const r404 = await api('POST', '/gateway/sessions', { call_id: unknownCall, ai_id: aiId });
    expect(r404.status).toBe(404);
    expect(r404.body.error).toMatchObject({ status: 'NOT_FOUND', reason: 'CALL_NOT_FOUND' });
    expect(r404.body.error.message).toContain(`call_id ${unknownCall}`);
    expect(r404.body.error.request_id).toMatch(/^req_/);

    const unknownAi = '0b6a3c2e-2222-4c1d-9e2f-000000000002';
    const ai404 = await api('POST', '/gateway/sessions', { call_id: callId, ai_id: unknownAi });
    expect(ai404.status).toBe(404);
    expect(ai404.body.error).toMatchObject({ reason: 'AI_NOT_FOUND' });
    expect(ai404.body.error.message).toContain(`ai_id ${unknownAi}`);

    const noAi = await api('POST', '/gateway/sessions', { call_id: callId });
    expect(noAi.status).toBe(400);
    expect(noAi.body.error.message).toMatch(/^ai_id: required/);
    const badId = await api('POST', '/gateway/sessions', { call_id: 'nope', ai_id: aiId });
    expect(badId.status).toBe(400);
    expect(badId.body.error.message).toMatch(/^call_id: must be a UUID/);
    const extra = await api('POST', '/gateway/sessions', { call_id: callId, ai_id: aiId, engine_key: 'x' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/^engine_key: unknown field/);

    // A call that hung up.
    const [gone] = fake.seed('calls', [{ status: 'hangup' }]);
    const r409 = await api('POST', '/gateway/sessions', { call_id: gone!.id, ai_id: aiId });
    expect(r409.status).toBe(409);
    expect(r409.body.error.reason).toBe('CALL_STATE_INVALID');

    // No agent for the AI's engine_model.
    fs.useAgent(undefined);
    const noAgent = await api('POST', '/gateway/sessions', { call_id: callId, ai_id: aiId });
    expect(noAgent.status).toBe(400);
    expect(noAgent.body.error.reason).toBe('AGENT_NOT_AVAILABLE');

    const missing = await api('GET', '/gateway/sessions/0b6a3c2e-3333-4c1d-9e2f-000000000003');
    expect(missing.status).toBe(404);
    expect(missing.body.error.reason).toBe('GATEWAY_SESSION_NOT_FOUND');

    // Authenticated like the rest of /v1.0.
    const anon = await api('GET', '/gateway/sessions', undefined, 'not-a-key');
    expect(anon.status).toBe(401);
    expect(fake.mediaStreams.filter((m) => m.callId === unknownCall)).toHaveLength(0);
  });

  it('the MCP tools start, list and stop a session through the in-process gateway', async () => {
    const { callId, aiId } = seedCall();
    fs.useAgent(scriptedAgent([{ say: tone(8000, 500, 8000, 8000), text: 'Hi.' }]));
    const client = await connectInProcess(new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: REMOTE_KEY, maxRetries: 0 }), {}, { gateway: fs.s.gateway });
    try {
      const started = okTool((await client.callTool({ name: 'start_gateway_session', arguments: { call_id: callId, ai_id: aiId } })) as any);
      seen.push(JSON.stringify(started));
      expect(started.session).toMatchObject({ call_id: callId, ai_id: aiId });
      const stream = await fake.nextMediaStream();
      const listed = okTool((await client.callTool({ name: 'list_gateway_sessions', arguments: {} })) as any);
      expect(listed.sessions.map((s: { id: string }) => s.id)).toContain(started.session.id);
      const stopped = okTool((await client.callTool({ name: 'stop_gateway_session', arguments: { id: started.session.id } })) as any);
      seen.push(JSON.stringify(stopped));
      expect(stopped.session).toMatchObject({ status: 'ended', end_reason: 'stopped' });
      await stream.closed;

      const bad = (await client.callTool({ name: 'start_gateway_session', arguments: { call_id: '0b6a3c2e-4444-4c1d-9e2f-000000000004', ai_id: aiId } })) as any;
      seen.push(JSON.stringify(bad));
      expect(errorInfo(bad)).toMatchObject({ reason: 'CALL_NOT_FOUND' });
    } finally {
      await client.close();
    }
    // A process without a gateway says so.
    const plain = await connectInProcess(new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: REMOTE_KEY, maxRetries: 0 }));
    try {
      const r = (await plain.callTool({ name: 'list_gateway_sessions', arguments: {} })) as any;
      expect(errorText(r)).toContain('the gateway is not available in this process');
    } finally {
      await plain.close();
    }
  });
});

describe('gateway without a remote VoIPBIN', () => {
  it('answers 409 saying to set VOIPBIN_API_URL and VOIPBIN_ACCESSKEY', async () => {
    const fs = await startFlowServer();
    try {
      const r = await fs.s.call('POST', '/gateway/sessions', { call_id: '0b6a3c2e-5555-4c1d-9e2f-000000000005', ai_id: '0b6a3c2e-6666-4c1d-9e2f-000000000006' });
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ status: 'FAILED_PRECONDITION', reason: 'GATEWAY_NOT_CONFIGURED' });
      expect(r.body.error.message).toContain('VOIPBIN_API_URL');
      expect(r.body.error.message).toContain('VOIPBIN_ACCESSKEY');
      const list = await fs.s.call('GET', '/gateway/sessions');
      expect(list.status).toBe(409);
      const client = await connectInProcess(fs.s.engine.clientFor(fs.s.localCustomerId!), {}, { gateway: fs.s.gateway });
      try {
        const t = (await client.callTool({ name: 'list_gateway_sessions', arguments: {} })) as any;
        expect(errorInfo(t)).toMatchObject({ reason: 'GATEWAY_NOT_CONFIGURED' });
      } finally {
        await client.close();
      }
    } finally {
      await fs.close();
    }
  });
});
