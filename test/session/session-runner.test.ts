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
import type { AgentConfig, AgentFactory, ClearReport } from '../../streams/agents/agent.js';
import { PCMU, pcm16 } from '../../streams/agents/agent.js';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE, decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from '../../streams/audio/g711.js';
import type { AudioPort } from '../../streams/session/audio-port.js';
import type { SessionEventRecord } from '../../streams/session/events.js';
import { Playout } from '../../streams/session/playout.js';
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

/**
 * An audio port in memory over a real {@link Playout}: the test feeds caller frames and DTMF, and
 * plays the clock itself (`tick(n)` pulls n frames, as the local mix would); drain() plays out
 * what is left at once.
 */
class MemoryPort implements AudioPort {
  readonly playout = new Playout();
  /** Every chunk given to play(), in order (copies, 8 kHz), with its response id. */
  readonly received: Int16Array[] = [];
  readonly receivedIds: string[] = [];
  /** Frames pulled out of the playout (by tick() or drain()), copies. */
  readonly played: Int16Array[] = [];
  readonly clears: ClearReport[] = [];
  drains = 0;
  ended = false;
  private readonly audioListeners = new Set<(f: Int16Array) => void>();
  private readonly endListeners = new Set<() => void>();
  private readonly dtmfListeners = new Set<(d: string) => void>();

  onAudio(listener: (frame8k: Int16Array) => void): () => void {
    this.audioListeners.add(listener);
    return () => this.audioListeners.delete(listener);
  }
  play(samples8k: Int16Array, responseId: string): void {
    this.received.push(samples8k.slice());
    this.receivedIds.push(responseId);
    this.playout.play(samples8k, responseId);
  }
  clear(): ClearReport {
    const report = this.playout.clear();
    this.clears.push(report);
    return report;
  }
  playedMs(responseId: string): number {
    return this.playout.playedMs(responseId);
  }
  async drain(): Promise<void> {
    this.drains++;
    const done = this.playout.drain();
    for (let f = this.playout.pull(); f; f = this.playout.pull()) this.played.push(f.slice());
    await done;
  }
  onDtmf(listener: (digit: string) => void): () => void {
    this.dtmfListeners.add(listener);
    return () => this.dtmfListeners.delete(listener);
  }
  onEnd(listener: () => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  get listeners(): number {
    return this.audioListeners.size + this.endListeners.size + this.dtmfListeners.size;
  }
  /** The clock: pulls `n` frames (a tick without a frame is silence, not recorded). */
  tick(n: number): number {
    let got = 0;
    for (let i = 0; i < n; i++) {
      const f = this.playout.pull();
      if (f) {
        this.played.push(f.slice());
        got++;
      }
    }
    return got;
  }
  /** The caller speaks: `samples` (8 kHz) as 20 ms frames, through one reused array like a live call. */
  speak(samples: Int16Array): void {
    const frame = new Int16Array(FRAME);
    for (let i = 0; i + FRAME <= samples.length; i += FRAME) {
      frame.set(samples.subarray(i, i + FRAME));
      for (const l of this.audioListeners) l(frame);
    }
  }
  pressDtmf(digits: string): void {
    for (const d of digits) for (const l of this.dtmfListeners) l(d);
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
    await until(() => port.listeners === 3, 'the runner to tap the port');
    port.speak(tone(8000, 1000, 8000)); // 1 s of a 1 kHz tone, 50 frames at 8 kHz
    const rec = agent.sessions[0]!;
    expect(rec.framesIn).toBe(50);
    expect(rec.audioIn.every((f) => f.length === 320)).toBe(true);
    // Past the filter's start-up, a clean 1 kHz at 16 kHz: one stateful resampler, no chunk edges.
    const heard = join16(rec.audioIn.slice(5) as Int16Array[]);
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
    // 200 ms at 24 kHz is 1600 samples at 8 kHz (the filter's tail flushed at the end), all of
    // them tagged with the response, and played out by the drain (in whole frames).
    expect(samplesOf(port.received)).toBeGreaterThanOrEqual(1598);
    expect(samplesOf(port.received)).toBeLessThan(1650);
    expect(new Set(port.receivedIds)).toEqual(new Set(['resp_1']));
    const out = join16(port.played);
    expect(out.length).toBe(Math.ceil(samplesOf(port.received) / FRAME) * FRAME);
    expect(port.playout.playedMs('resp_1')).toBeCloseTo((samplesOf(port.received) / 8000) * 1000, 6);
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
    let report: ClearReport | undefined;
    const agent = scriptedAgent([
      { say: tone(8000, 1000, 8000) }, // 1 s queued
      { run: ({ host }) => void (report = host.clearAudio()) },
      { say: tone(800, 2000, 8000) }, // 100 ms after the clear
      { end: 'done' },
    ]);
    const { port, runner } = await session(agent);
    expect(await runner.run()).toEqual({ reason: 'agent: done' });
    expect(report).toEqual({ responses: [{ responseId: 'resp_1', playedMs: 0, queuedMs: 1000 }], droppedMs: 1000 });
    expect(port.clears).toEqual([report]);
    const out = join16(port.played);
    expect(out.length).toBe(800);
    expect(goertzel(out, 2000)).toBeGreaterThan(7000);
    expect(goertzel(out, 1000)).toBeLessThan(100);
  });

  it('stop ends the session with its reason: the agent is stopped, the port released, the last words drained', async () => {
    const agent = scriptedAgent([{ say: tone(1600, 1000, 8000) }]);
    const { port, runner } = await session(agent);
    const run = runner.run();
    await until(() => agent.sessions[0]?.stepsRun.length === 1 && port.received.length === 1, 'the agent to speak');
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
    await until(() => a.port.received.length === 1, 'the agent to speak');
    a.port.hangup();
    expect(await run).toEqual({ reason: 'hangup' });
    expect(a.port.drains).toBe(0);

    let started = 0;
    const stops: string[] = [];
    const b = await session((_options, _host) => ({
      input: pcm16(8000),
      output: pcm16(8000),
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

  it('pcmu / pcma agents: caller audio reaches them G.711-encoded and their audio comes back decoded, exactly as the tables say', async () => {
    for (const [law, encode, decode, table] of [
      ['pcmu', encodeMulaw, decodeMulaw, MULAW_DECODE_TABLE],
      ['pcma', encodeAlaw, decodeAlaw, ALAW_DECODE_TABLE],
    ] as const) {
      // The agent answers with every one of the 256 codes, 5 times over (1280 bytes, 160 ms).
      const codes = new Uint8Array(1280).map((_, i) => (i * 7) % 256);
      const format = law === 'pcmu' ? PCMU : ({ encoding: 'pcma', sampleRateHz: 8000 } as const);
      const agent = scriptedAgent([{ say: codes }], { input: format, output: format, recordAudioIn: true });
      const { port, runner } = await session(agent);
      const run = runner.run();
      await until(() => port.listeners === 3 && port.received.length === 1, `the ${law} agent to speak`);
      // Caller audio: any linear samples are encoded by the table...
      const speech = tone(1600, 700, 12_000);
      port.speak(speech);
      const rec = agent.sessions[0]!;
      expect(rec.audioIn.every((f) => f instanceof Uint8Array && f.length === FRAME)).toBe(true);
      const got = new Uint8Array(1600);
      rec.audioIn.forEach((f, i) => got.set(f as Uint8Array, i * FRAME));
      const want = new Uint8Array(1600);
      encode(speech, want);
      expect(Array.from(got)).toEqual(Array.from(want));
      // ...and the agent's codes come out as the table's linear values, bit for bit.
      const out = port.received[0]!;
      const expected = new Int16Array(codes.length);
      decode(codes, expected);
      expect(Array.from(out)).toEqual(Array.from(expected));
      expect(Array.from(out.subarray(0, 256))).toEqual(Array.from(codes.subarray(0, 256), (c) => table[c]!));
      // Round trip: caller audio that is exactly G.711 values (what a G.711 leg carries) reaches
      // the agent as the very codes it came from: all 256 A-law codes; mu-law's all but its
      // "negative zero" 0x7f, which decodes to 0 like 0xff and so comes back as 0xff.
      const legCodes = new Uint8Array(320).map((_, i) => (i * 13 + 5) % 256).map((c) => (law === 'pcmu' && c === 0x7f ? 0xff : c));
      const leg = new Int16Array(320);
      decode(legCodes, leg);
      const before = rec.audioIn.length;
      port.speak(leg);
      const back = new Uint8Array(320);
      rec.audioIn.slice(before).forEach((f, i) => back.set(f as Uint8Array, i * FRAME));
      expect(Array.from(back)).toEqual(Array.from(legCodes));
      runner.stop('test over');
      await run;
    }
  });

  it('a barge-in: the agent clears, learns what was heard, stores its text cut to it; the observer sees it all in order', async () => {
    const records: SessionEventRecord[] = [];
    const text = 'one two three four five six seven eight nine ten';
    const agent = scriptedAgent([
      { events: [{ type: 'speech_stopped' }, { type: 'metric', name: 'engine_latency_ms', value: 42 }] },
      { say: tone(8000, 1000, 8000), text }, // 1 s
      { run: () => void port.tick(20) }, // the clock plays 400 ms of it
      { interrupt: true },
      { say: tone(800, 2000, 8000), text: 'Yes?' }, // the next response plays
      { tool: 'get_variables', id: 'call_vars' },
      { end: 'done' },
    ]);
    const { aicallId, port, runner } = await session(agent, { observer: (r) => records.push(r) });
    expect(await runner.run()).toEqual({ reason: 'agent: done' });
    const [barge] = agent.sessions[0]!.bargeIns;
    expect(barge).toMatchObject({ responseId: 'resp_1', playedMs: 400, queuedMs: 1000, by: 'script', storedText: 'one two three four' });
    expect(barge!.report).toEqual({ responses: [{ responseId: 'resp_1', playedMs: 400, queuedMs: 1000 }], droppedMs: 600 });
    // What the port played: 20 frames of the first response, then all of the second.
    expect(port.played).toHaveLength(25);
    expect(port.playout.playedMs('resp_2')).toBe(100);
    const messages = await messagesOf(aicallId);
    expect(messages.map((m) => [m.role, m.tool_call_id || m.tool_calls?.[0]?.id || m.content])).toEqual([
      ['assistant', 'one two three four'],
      ['assistant', 'Yes?'],
      ['assistant', 'call_vars'],
      ['tool', 'call_vars'],
    ]);

    const types = records.map((r) => r.event.type);
    expect(types).toEqual([
      'session_started',
      'speech_stopped',
      'metric',
      'response_started',
      'first_audio',
      'playout_cleared',
      'transcript',
      'response_done',
      'barge_in',
      'response_started',
      'first_audio',
      'transcript',
      'response_done',
      'tool_call',
      'session_ended',
    ]);
    const ev = (i: number) => records[i]!.event as any;
    expect(ev(4)).toEqual({ type: 'first_audio', responseId: 'resp_1' });
    expect(ev(5)).toEqual({ type: 'playout_cleared', droppedMs: 600 });
    expect(ev(6)).toEqual({ type: 'transcript', role: 'assistant', text: 'one two three four', final: true, responseId: 'resp_1' });
    expect(ev(7)).toEqual({ type: 'response_done', responseId: 'resp_1', status: 'cancelled' });
    expect(ev(8)).toEqual({ type: 'barge_in', responseId: 'resp_1', heardMs: 400 });
    expect(ev(10)).toEqual({ type: 'first_audio', responseId: 'resp_2' });
    expect(ev(13)).toMatchObject({ type: 'tool_call', name: 'get_variables', result: 'success' });
    expect(ev(13).ms).toBeGreaterThanOrEqual(0);
    expect(ev(13).ms).toBeLessThan(10_000);
    expect(ev(14)).toEqual({ type: 'session_ended', reason: 'agent: done' });
    for (let i = 1; i < records.length; i++) expect(records[i]!.atMs).toBeGreaterThanOrEqual(records[i - 1]!.atMs);
  });

  it('the host barges in through runner.interrupt(); interim transcripts reach only the observer; DTMF reaches the agent', async () => {
    const records: SessionEventRecord[] = [];
    const agent = scriptedAgent([
      { transcript: 'I wa', role: 'user', final: false },
      { transcript: 'I want to pay', role: 'user' },
      { say: tone(4000, 1000, 8000), text: 'Sure, your balance is ten dollars and it is due on Monday.' }, // 500 ms
    ]);
    const { aicallId, port, runner } = await session(agent, { observer: (r) => records.push(r) });
    const run = runner.run();
    await until(() => port.received.length === 1, 'the agent to speak');
    port.pressDtmf('12#');
    expect(agent.sessions[0]!.dtmf).toEqual(['1', '2', '#']);
    port.tick(15); // 300 ms of 500 heard
    runner.interrupt();
    const [barge] = agent.sessions[0]!.bargeIns;
    expect(barge).toMatchObject({ by: 'host', playedMs: 300, queuedMs: 500, storedText: 'Sure, your balance is ten dollars' });
    expect(port.tick(5)).toBe(0); // nothing more plays
    runner.stop('test over');
    expect(await run).toEqual({ reason: 'test over' });
    expect((await messagesOf(aicallId)).map((m) => [m.role, m.content])).toEqual([
      ['user', 'I want to pay'],
      ['assistant', 'Sure, your balance is ten dollars'],
    ]);
    const transcripts = records.filter((r) => r.event.type === 'transcript').map((r) => r.event);
    expect(transcripts).toEqual([
      { type: 'transcript', role: 'user', text: 'I wa', final: false },
      { type: 'transcript', role: 'user', text: 'I want to pay', final: true },
      { type: 'transcript', role: 'assistant', text: 'Sure, your balance is ten dollars', final: true, responseId: 'resp_1' },
    ]);
    expect(port.listeners).toBe(0); // audio, end and DTMF listeners all released
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
