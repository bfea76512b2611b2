/**
 * The session runner on its own (streams/session/): one conversation over an in-memory audio port
 * that records every frame, with the scripted agent, the real tool executor and the one REST
 * client against a real local API (and, once, against a fake api.voipbin.net with the remote
 * flow hooks). No flow engine is involved: this is the seam the gateway will use.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/client.js';
import { newAicallRow } from '../../src/local/rows.js';
import type { AgentConfig, AgentFactory } from '../../streams/agents/agent.js';
import type { AudioPort } from '../../streams/session/audio-port.js';
import type { FlowHooks } from '../../streams/session/flow-hooks.js';
import { SessionRunner } from '../../streams/session/session-runner.js';
import type { SessionRunnerOptions } from '../../streams/session/session-runner.js';
import { RemoteFlowControl } from '../../tools/remote-flow.js';
import { FakeVoipbin } from '../client/fake-voipbin.js';
import { goertzel, tone, until } from '../flows/helpers.js';
import { scriptedAgent } from '../flows/scripted-agent.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const FRAME = 160;

/** An audio port in memory: the test feeds caller frames, and sees what is queued, played and cleared. */
class MemoryPort implements AudioPort {
  /** Chunks given to play() and not yet played out or cleared (copies, 8 kHz). */
  queued: Int16Array[] = [];
  /** Chunks played out (by drain()). */
  readonly played: Int16Array[] = [];
  /** Every chunk given to play(), in order (copies). */
  readonly received: Int16Array[] = [];
  clears: number[] = [];
  drains = 0;
  ended = false;
  private readonly audioListeners = new Set<(f: Int16Array) => void>();
  private readonly endListeners = new Set<() => void>();

  onAudio(listener: (frame8k: Int16Array) => void): () => void {
    this.audioListeners.add(listener);
    return () => this.audioListeners.delete(listener);
  }
  play(samples8k: Int16Array): void {
    this.received.push(samples8k.slice());
    this.queued.push(samples8k.slice());
  }
  clear(): number {
    const ms = (samplesOf(this.queued) / 8000) * 1000;
    this.clears.push(ms);
    this.queued = [];
    return ms;
  }
  async drain(): Promise<void> {
    this.drains++;
    this.played.push(...this.queued);
    this.queued = [];
  }
  onEnd(listener: () => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  get listeners(): number {
    return this.audioListeners.size + this.endListeners.size;
  }
  /** The caller speaks: `samples` (8 kHz) as 20 ms frames, through one reused array like a live call. */
  speak(samples: Int16Array): void {
    const frame = new Int16Array(FRAME);
    for (let i = 0; i + FRAME <= samples.length; i += FRAME) {
      frame.set(samples.subarray(i, i + FRAME));
      for (const l of this.audioListeners) l(frame);
    }
  }
  hangup(): void {
    this.ended = true;
    for (const l of [...this.endListeners]) l();
  }
}

function samplesOf(chunks: Int16Array[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

function join16(chunks: Int16Array[]): Int16Array {
  const out = new Int16Array(samplesOf(chunks));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Flow hooks in memory, recording what the tools did. */
function memoryHooks() {
  const variables = new Map<string, string>([['voipbin.call.id', 'call-1']]);
  const log: string[] = [];
  const hooks: FlowHooks = {
    async setVariables(vars) {
      for (const [k, v] of Object.entries(vars)) variables.set(k, v);
    },
    async getVariables() {
      return Object.fromEntries(variables);
    },
    async stopFlow() {
      log.push('stopFlow: prepared');
      return async () => void log.push('stopFlow: committed');
    },
    async connect(_source, destinations) {
      log.push(`connect: prepared ${destinations.map((d) => d.target).join(',')}`);
      return async () => void log.push('connect: committed');
    },
    async stopMedia() {
      log.push('stopMedia');
    },
    callSource: () => ({ type: 'tel', target: '+15550001111' }),
    accountNumber: () => '+15550001111',
  };
  return { hooks, variables, log };
}

function config(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    ai_id: '',
    engine_model: 'openai.gpt-4o',
    engine_key: '',
    init_prompt: '',
    tts_type: 'elevenlabs',
    tts_voice_id: '',
    stt_type: 'deepgram',
    stt_language: 'en-US',
    language: 'en-US',
    tool_names: ['all'],
    vad_config: {},
    parameter: {},
    ...overrides,
  };
}

describe('session runner (in-memory audio port, scripted agent, local API through the REST client)', () => {
  let s: TestServer;
  let client: VoipbinClient;
  let dir: { cleanup: () => void };

  beforeAll(async () => {
    const t = tempDir('voipbin-ai-session-');
    dir = t;
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    client = new VoipbinClient({ baseUrl: s.api, accessKey: s.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await s?.close();
    dir?.cleanup();
  });

  /** A new AI call row of the local customer, and a runner on it. */
  async function session(agent: AgentFactory, opts: Partial<SessionRunnerOptions> = {}) {
    const row = newAicallRow(s.localCustomerId!, { ai_engine_model: 'openai.gpt-4o', status: 'progressing' });
    await s.store.aicalls.insert(row);
    const port = new MemoryPort();
    const flow = memoryHooks();
    const runner = new SessionRunner({
      aicall: { id: row.id, customer_id: row.customer_id, activeflow_id: '', reference_id: row.reference_id as string },
      config: config(),
      agent,
      port,
      flow: flow.hooks,
      client,
      variables: { 'voipbin.call.id': 'call-1' },
      ...opts,
    });
    return { aicallId: row.id, port, flow, runner };
  }

  async function messagesOf(aicallId: string): Promise<any[]> {
    const res = await s.call('GET', `/aimessages?aicall_id=${aicallId}&page_size=100`);
    expect(res.status).toBe(200);
    return (res.body.result as any[]).reverse();
  }

  it('caller audio reaches the agent resampled to its declared rate (16 kHz), 20 ms per frame', async () => {
    const agent = scriptedAgent([], { inputSampleRateHz: 16_000, recordAudioIn: true });
    const { port, runner } = await session(agent);
    const run = runner.run();
    await until(() => port.listeners === 2, 'the runner to tap the port');
    port.speak(tone(8000, 1000, 8000)); // 1 s of a 1 kHz tone, 50 frames at 8 kHz
    const rec = agent.sessions[0]!;
    expect(rec.framesIn).toBe(50);
    expect(rec.audioIn.every((f) => f.length === 320)).toBe(true);
    // Past the filter's start-up, a clean 1 kHz at 16 kHz: one stateful resampler, no chunk edges.
    const heard = join16(rec.audioIn.slice(5));
    expect(goertzel(heard, 1000, 16_000)).toBeGreaterThan(7000);
    expect(goertzel(heard, 3000, 16_000)).toBeLessThan(50);
    expect(goertzel(heard, 7000, 16_000)).toBeLessThan(50);
    runner.stop('test over');
    expect(await run).toEqual({ reason: 'test over' });
  });

  it('agent audio at 24 kHz comes out at 8 kHz; its words are stored as AI call messages', async () => {
    const agent = scriptedAgent([{ say: tone(4800, 1000, 8000, 24_000), text: 'Hello there.' }, { end: 'said it' }], { outputSampleRateHz: 24_000 });
    const { aicallId, port, runner } = await session(agent);
    const end = await runner.run();
    expect(end).toEqual({ reason: 'agent: said it' });
    expect(agent.sessions[0]!.stopReason).toBe('agent: said it');
    // 200 ms at 24 kHz is 1600 samples at 8 kHz (within the filter's delay); drained at the end.
    const out = join16(port.played);
    expect(Math.abs(out.length - 1600)).toBeLessThan(40);
    expect(port.drains).toBe(1);
    expect(goertzel(out.subarray(100), 1000)).toBeGreaterThan(7000);
    expect(goertzel(out.subarray(100), 3000)).toBeLessThan(50);
    // Stored through POST /aimessages before run() resolved.
    expect((await messagesOf(aicallId)).map((m) => [m.role, m.content, m.direction])).toEqual([['assistant', 'Hello there.', 'outgoing']]);
  });

  it('a tool call runs through the executor and the flow hooks; the call, its result and the transcript are stored in spoken order', async () => {
    const agent = scriptedAgent([
      { transcript: 'Let me note your name.' },
      { tool: 'set_variables', id: 'call_set', args: { variables: { customer_name: 'Ann' } } },
      { tool: 'get_variables', id: 'call_get' },
      { tool: 'stop_service', id: 'call_stop' },
    ]);
    const { aicallId, flow, runner } = await session(agent);
    expect(await runner.run()).toEqual({ reason: 'stop_service' });
    expect(flow.variables.get('customer_name')).toBe('Ann');
    const [set, get, stop] = agent.results;
    expect(set).toEqual({ result: { tool_call_id: 'call_set', result: 'success', message: 'saved customer_name', resource_type: 'activeflow', resource_id: '' }, runLlm: false });
    expect(JSON.parse(get!.result.message)).toEqual({ 'voipbin.call.id': 'call-1', customer_name: 'Ann' });
    expect(stop!.result.result).toBe('success');
    expect(agent.sessions[0]!.stopReason).toBe('stop_service');

    const messages = await messagesOf(aicallId);
    expect(messages.map((m) => [m.role, m.tool_call_id || m.tool_calls[0]?.id || m.content])).toEqual([
      ['assistant', 'Let me note your name.'],
      ['assistant', 'call_set'],
      ['tool', 'call_set'],
      ['assistant', 'call_get'],
      ['tool', 'call_get'],
      ['assistant', 'call_stop'],
      ['tool', 'call_stop'],
    ]);
    expect(JSON.parse(messages[2].content)).toEqual(set!.result);
  });

  it('connect_call and stop_flow: the hooks prepare before the result and commit after it; the session ends with the tool', async () => {
    const connect = scriptedAgent([{ tool: 'connect_call', id: 'c1', args: { destinations: [{ type: 'tel', target: '+15550002222' }] } }]);
    const a = await session(connect);
    expect(await a.runner.run()).toEqual({ reason: 'connect_call' });
    expect(a.flow.log).toEqual(['connect: prepared +15550002222', 'connect: committed']);
    expect(connect.results[0]!.result).toMatchObject({ result: 'success', message: 'connecting to +15550002222', resource_type: 'call' });
    expect(a.port.drains).toBe(1);

    const stopFlow = scriptedAgent([{ say: tone(8000, 500, 4000) }, { tool: 'stop_flow', id: 'f1' }]);
    const b = await session(stopFlow);
    expect(await b.runner.run()).toEqual({ reason: 'stop_flow' });
    expect(b.flow.log).toEqual(['stopFlow: prepared', 'stopFlow: committed']);
    expect(stopFlow.sessions[0]!.stopReason).toBe('stop_flow');
    // The flow is over: what the agent still had queued is not played out.
    expect(b.port.drains).toBe(0);
    expect(b.port.played).toEqual([]);
  });

  it('a clear (barge-in) drops the queued agent audio and reports how much; later audio still plays', async () => {
    let dropped = -1;
    const agent = scriptedAgent([
      { say: tone(8000, 1000, 8000) }, // 1 s queued
      { run: ({ host }) => void (dropped = host.clearAudio()) },
      { say: tone(800, 2000, 8000) }, // 100 ms after the clear
      { end: 'done' },
    ]);
    const { port, runner } = await session(agent);
    expect(await runner.run()).toEqual({ reason: 'agent: done' });
    expect(dropped).toBe(1000);
    expect(port.clears).toEqual([1000]);
    const out = join16(port.played);
    expect(out.length).toBe(800);
    expect(goertzel(out, 2000)).toBeGreaterThan(7000);
    expect(goertzel(out, 1000)).toBeLessThan(100);
  });

  it('stop ends the session with its reason: the agent is stopped, the port released, the last words drained', async () => {
    const agent = scriptedAgent([{ say: tone(1600, 1000, 8000) }]);
    const { port, runner } = await session(agent);
    const run = runner.run();
    await until(() => agent.sessions[0]?.stepsRun.length === 1 && port.queued.length === 1, 'the agent to speak');
    runner.stop('duration');
    runner.stop('terminated'); // the first reason wins
    expect(await run).toEqual({ reason: 'duration' });
    expect(runner.endReason).toBe('duration');
    expect(agent.sessions[0]!.stopReason).toBe('duration');
    expect(port.listeners).toBe(0);
    expect(samplesOf(port.played)).toBe(1600);
    // run() runs once: asking again gives the same end.
    expect(await runner.run()).toEqual({ reason: 'duration' });
  });

  it('a hangup ends the session (nothing drained); a stop before run() stops the agent before it starts', async () => {
    const agent = scriptedAgent([{ say: tone(1600, 1000, 8000) }]);
    const a = await session(agent);
    const run = a.runner.run();
    await until(() => a.port.queued.length === 1, 'the agent to speak');
    a.port.hangup();
    expect(await run).toEqual({ reason: 'hangup' });
    expect(a.port.drains).toBe(0);

    let started = 0;
    const stops: string[] = [];
    const b = await session((_options, _host) => ({
      inputSampleRateHz: 8000,
      outputSampleRateHz: 8000,
      async start() {
        started++;
      },
      audioIn() {},
      interrupt() {},
      async stop(reason) {
        stops.push(reason);
      },
    }));
    b.runner.stop('flow stopped');
    expect(await b.runner.run()).toEqual({ reason: 'flow stopped' });
    expect(started).toBe(0);
    expect(stops).toEqual(['flow stopped']);
  });

  it('an agent that fails to start ends the session as an agent error', async () => {
    const boom = new Error('engine refused the key');
    const { runner, port } = await session(() => {
      throw boom;
    });
    expect(await runner.run()).toEqual({ reason: 'agent error', error: boom });
    expect(port.listeners).toBe(0);
  });
});

describe('session runner against api.voipbin.net (a fake VoIPBIN cloud) with the remote flow hooks', () => {
  let fake: FakeVoipbin;
  beforeAll(async () => {
    fake = await FakeVoipbin.start({ accessKey: 'remote-key-123456' });
  });
  afterAll(() => fake?.close());

  it('the same runner stores transcripts and tool messages through POST /aimessages and stops the flow through the public API', async () => {
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: 'remote-key-123456', maxRetries: 0 });
    const [{ id: activeflowId }] = fake.seed('activeflows', [{ status: 'running' }]);
    const [{ id: aicallId }] = fake.seed('aicalls', [{ status: 'progressing' }]);
    const ended: string[] = [];
    let runner: SessionRunner | undefined;
    const hooks = new RemoteFlowControl(
      client,
      activeflowId!,
      { source: { type: 'tel', target: '+15550001111' }, accountNumber: '+15550001111' },
      { endAgent: (why) => void (ended.push(why), runner?.stop(why)), stopMedia: () => undefined },
    );
    const agent = scriptedAgent([{ transcript: 'Goodbye.' }, { tool: 'stop_flow', id: 'r1' }]);
    runner = new SessionRunner({
      aicall: { id: aicallId!, customer_id: 'c', activeflow_id: activeflowId!, reference_id: 'call-1' },
      config: config(),
      agent,
      port: new MemoryPort(),
      flow: hooks,
      client,
      variables: {},
    });
    expect(await runner.run()).toEqual({ reason: 'stop_flow' });
    expect(ended).toEqual(['stop_flow']);
    expect(fake.requestsFor('POST', `/activeflows/${activeflowId}/stop`)).toHaveLength(1);
    const bodies = fake.requestsFor('POST', '/aimessages').map((r) => r.body as Record<string, unknown>);
    expect(bodies.map((b) => [b.aicall_id, b.role])).toEqual([
      [aicallId, 'assistant'],
      [aicallId, 'assistant'],
      [aicallId, 'tool'],
    ]);
    expect(bodies[0]).toMatchObject({ content: 'Goodbye.' });
    expect(bodies[1]).toMatchObject({ tool_calls: [{ id: 'r1', function: { name: 'stop_flow' } }] });
  });
});
