/**
 * The OpenAI Realtime agent against the TLS loopback fake of the GA protocol, with a small fake
 * AgentHost (records audio with response ids, scripts what the caller heard at a clear).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { capturedLogs } from '../helpers/server.js';
import { createLogger } from '../../src/util/logger.js';
import type {
  AgentAudio,
  AgentEvent,
  AgentHost,
  AgentSession,
  AgentStartOptions,
  AgentToolCall,
  AgentToolResult,
  ClearReport,
  TranscriptOptions,
} from '../../streams/agents/agent.js';
import { PCMU } from '../../streams/agents/agent.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import { cutAtWordBoundary, isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../../streams/agents/openai-realtime/agent.js';
import type { OpenAIRealtimeAgentOptions } from '../../streams/agents/openai-realtime/agent.js';
import { selectToolDefinitions } from '../../tools/selection.js';
import { FakeOpenAIRealtime } from '../fakes/fake-openai-realtime.js';
import type { FakeRealtimeConnection } from '../fakes/fake-openai-realtime.js';

const KEY = `sk-canary-rt-${process.pid}-${Math.random().toString(36).slice(2)}`;
const SERVER_KEY = `sk-server-env-${Math.random().toString(36).slice(2)}`;
let fake: FakeOpenAIRealtime;
const sessions: AgentSession[] = [];

beforeAll(async () => {
  fake = await FakeOpenAIRealtime.start({ apiKey: KEY });
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.stop('test over')));
});
afterAll(async () => {
  await fake.close();
  expect(capturedLogs.join('\n')).not.toContain(KEY);
});

interface Line {
  role: 'user' | 'assistant';
  text: string;
  final: boolean;
  responseId?: string;
}

/** A host that plays instantly (all heard) unless `heard` says otherwise. */
class FakeHost implements AgentHost {
  readonly audio: Array<{ responseId: string; bytes: Buffer }> = [];
  readonly lines: Line[] = [];
  readonly events: AgentEvent[] = [];
  readonly toolCalls: AgentToolCall[] = [];
  readonly clears: ClearReport[] = [];
  readonly ended: string[] = [];
  /** Ms of a response the caller heard (default: everything received). */
  heard: (responseId: string, receivedMs: number) => number = (_id, ms) => ms;
  toolResult: (call: AgentToolCall) => Promise<AgentToolResult> | AgentToolResult = (call) => ({
    result: { tool_call_id: call.id, result: 'success', message: 'ok', resource_type: '', resource_id: '' },
    runLlm: false,
  });
  private readonly cleared = new Map<string, number>();

  receivedMs(responseId: string): number {
    return this.audio.filter((a) => a.responseId === responseId).reduce((n, a) => n + a.bytes.length / 8, 0);
  }
  audioOut(audio: AgentAudio, responseId: string): void {
    this.audio.push({ responseId, bytes: Buffer.from(audio as Uint8Array) });
  }
  clearAudio(): ClearReport {
    const ids = [...new Set(this.audio.map((a) => a.responseId))];
    const responses = ids.flatMap((id) => {
      const queued = this.receivedMs(id);
      const played = this.cleared.get(id) ?? this.heard(id, queued);
      return played < queued && !this.cleared.has(id) ? [{ responseId: id, playedMs: played, queuedMs: queued }] : [];
    });
    for (const r of responses) this.cleared.set(r.responseId, r.playedMs);
    const report = { responses, droppedMs: responses.reduce((n, r) => n + r.queuedMs - r.playedMs, 0) };
    this.clears.push(report);
    return report;
  }
  playedMs(responseId: string): number {
    return this.cleared.get(responseId) ?? this.heard(responseId, this.receivedMs(responseId));
  }
  async toolCall(call: AgentToolCall): Promise<AgentToolResult> {
    this.toolCalls.push(call);
    return this.toolResult(call);
  }
  transcript(role: 'user' | 'assistant', text: string, opts?: TranscriptOptions): void {
    this.lines.push({ role, text, final: opts?.final ?? true, ...(opts?.responseId ? { responseId: opts.responseId } : {}) });
  }
  event(ev: AgentEvent): void {
    this.events.push(ev);
  }
  end(reason: string): void {
    this.ended.push(reason);
  }
  finals(): Array<[string, string]> {
    return this.lines.filter((l) => l.final).map((l) => [l.role, l.text]);
  }
}

function startOptions(over: Partial<AgentStartOptions['config']> = {}, toolNames = ['set_variables', 'stop_service']): AgentStartOptions {
  return {
    aicall: { id: 'aicall-1', customer_id: 'cust-1', activeflow_id: 'af-1', reference_id: 'call-1' },
    config: {
      ai_id: 'ai-1',
      engine_model: 'openai.gpt-realtime',
      engine_key: KEY,
      init_prompt: 'You are the plumber line. Greet the caller.',
      tts_type: 'openai',
      tts_voice_id: 'marin',
      stt_type: '',
      stt_language: 'en-US',
      language: 'en-US',
      tool_names: toolNames,
      vad_config: { stop_secs: 0.4 },
      parameter: {},
      ...over,
    },
    tools: selectToolDefinitions(toolNames),
    variables: {},
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(
  host = new FakeHost(),
  over: Partial<AgentStartOptions['config']> = {},
  agentOpts: OpenAIRealtimeAgentOptions = {},
  onFake: FakeOpenAIRealtime = fake,
): Promise<{ host: FakeHost; session: AgentSession; server: FakeRealtimeConnection; n: number }> {
  const n = onFake.connections.length;
  const factory = openAIRealtimeAgent({ baseUrl: onFake.baseUrl, ca: onFake.tls.cert, logger: createLogger('debug'), fallbackApiKey: SERVER_KEY, ...agentOpts });
  const session = await factory(startOptions(over), host);
  sessions.push(session);
  const server = await onFake.waitForConnection(n);
  return { host, session, server, n };
}

function types(server: FakeRealtimeConnection): string[] {
  return server.clientEvents.map((e) => e.type);
}
function refusals(server: FakeRealtimeConnection): number {
  return server.serverEvents.filter((e) => e.type === 'error' && e.error.code === 'conversation_already_has_active_response').length;
}
function errorsOf(server: FakeRealtimeConnection): string[] {
  return server.serverEvents.flatMap((e) => (e.type === 'error' ? [`${e.error.code}: ${e.error.message}`] : []));
}
function responseDone(server: FakeRealtimeConnection, n: number): () => boolean {
  return () => server.serverEvents.filter((e) => e.type === 'response.done').length >= n;
}
/** `n` responses done as the agent saw them (the server's response.done reached the host). */
function hostDone(host: FakeHost, n: number): () => boolean {
  return () => host.events.filter((e) => e.type === 'response_done').length >= n;
}

describe('OpenAI Realtime agent: setup and greeting', () => {
  it('is chosen by the registry for realtime engine models only', () => {
    const factory = openAIRealtimeAgent();
    const reg = new AgentRegistry().register(isOpenAIRealtimeConfig, factory);
    expect(reg.resolve(startOptions().config)).toBe(factory);
    expect(reg.resolve(startOptions({ engine_model: 'openai.gpt-realtime-mini' }).config)).toBe(factory);
    expect(reg.resolve(startOptions({ engine_model: 'openai.gpt-4o' }).config)).toBeUndefined();
  });

  it("pre-warms with the AI's own key and session.update, then greets at start()", async () => {
    const { host, session, server } = await open();
    expect(session.input).toEqual(PCMU);
    expect(session.output).toEqual(PCMU);
    // The AI's engine_key, not the server's key (the fake only accepts KEY), the model after `openai.`.
    expect(server.apiKey).toBe(KEY);
    expect(fake.authKeys).not.toContain(SERVER_KEY);
    expect(server.model).toBe('gpt-realtime');
    // Pre-warm: session.update sent and applied before start(); no response yet.
    expect(types(server)).toEqual(['session.update']);
    expect(server.serverEvents.map((e) => e.type)).toContain('session.updated');
    const s = server.session;
    expect(s.instructions).toBe('You are the plumber line. Greet the caller.');
    expect(s.audio?.input?.format).toEqual({ type: 'audio/pcmu' });
    expect(s.audio?.output?.format).toEqual({ type: 'audio/pcmu' });
    expect(s.audio?.output?.voice).toBe('marin');
    expect(s.audio?.input?.transcription).toMatchObject({ language: 'en' });
    expect(s.audio?.input?.turn_detection).toMatchObject({ type: 'server_vad', silence_duration_ms: 400 });
    expect(s.tools?.map((t) => ('name' in t ? t.name : '')).sort()).toEqual(['set_variables', 'stop_service']);

    await session.start();
    await server.waitForClientEvent('response.create');
    await until(hostDone(host, 1), 'the greeting');
    const created = server.serverEvents.find((e) => e.type === 'response.created');
    const rid = created?.type === 'response.created' ? created.response.id! : '';
    // The fake's default response: 5 chunks of 20 ms, bytes 0x20 + i, passed through untouched.
    expect(host.audio.map((a) => a.responseId)).toEqual([rid, rid, rid, rid, rid]);
    expect(Buffer.concat(host.audio.map((a) => a.bytes)).equals(Buffer.concat([0, 1, 2, 3, 4].map((i) => Buffer.alloc(160, 0x20 + i))))).toBe(true);
    await until(() => host.finals().length === 1, 'the stored greeting');
    expect(host.finals()).toEqual([['assistant', 'Hello from the fake agent.']]);
    expect(host.lines.filter((l) => !l.final).map((l) => l.text)).toEqual(['Hello', 'Hello from', 'Hello from the', 'Hello from the fake', 'Hello from the fake agent.']);
    expect(host.events).toEqual(
      expect.arrayContaining([
        { type: 'response_started', responseId: rid },
        { type: 'response_done', responseId: rid, status: 'completed' },
      ]),
    );
    // Caller audio goes through as pcmu bytes.
    const frame = new Uint8Array(160).fill(0xff);
    for (let i = 0; i < 3; i++) session.audioIn(frame);
    await server.waitForClientEvent('input_audio_buffer.append', () => server.appended.length === 3);
    expect(server.appendedBytes['audio/pcmu']).toBe(480);
    expect(host.ended).toEqual([]);
  });

  it('uses the fallback key only when the AI has no engine_key, and fails cleanly on a refused key', async () => {
    const host = new FakeHost();
    const factory = openAIRealtimeAgent({ baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug'), fallbackApiKey: KEY });
    const s = await factory(startOptions({ engine_key: '' }), host);
    sessions.push(s);
    expect(fake.authKeys.at(-1)).toBe(KEY);

    const wrong = `sk-wrong-${Math.random().toString(36).slice(2)}-zz`;
    const err = await Promise.resolve(
      openAIRealtimeAgent({ baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug'), fallbackApiKey: KEY })(startOptions({ engine_key: wrong }), host),
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/401/);
    expect((err as Error).message).not.toContain(wrong);
    expect(fake.authKeys.at(-1)).toBe(wrong); // the AI's own key, not the fallback
    expect(capturedLogs.join('\n')).not.toContain(wrong);

    const none = await Promise.resolve(openAIRealtimeAgent({ baseUrl: fake.baseUrl })(startOptions({ engine_key: '' }), host)).catch((e: unknown) => e as Error);
    expect((none as Error).message).toMatch(/no engine_key/);
  });
});

describe('OpenAI Realtime agent: tools and the response sequencer', () => {
  it('a function call runs as a tool; its result goes back; response.create follows only with run_llm', async () => {
    fake.script({ noAudio: true, functionCalls: [{ name: 'set_variables', arguments: { variables: { plan: 'gold' } }, call_id: 'call_a' }] });
    const { host, session, server } = await open();
    host.toolResult = (call) => ({
      result: { tool_call_id: call.id, result: 'success', message: 'saved', resource_type: 'variable', resource_id: '' },
      runLlm: false,
    });
    await session.start();
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(host.toolCalls).toEqual([{ id: 'call_a', name: 'set_variables', arguments: '{"variables":{"plan":"gold"}}' }]);
    const out = server.eventsOf('conversation.item.create').find((e) => e.item.type === 'function_call_output')!;
    expect(out.item).toEqual({
      type: 'function_call_output',
      call_id: 'call_a',
      output: JSON.stringify({ tool_call_id: 'call_a', result: 'success', message: 'saved', resource_type: 'variable', resource_id: '' }),
    });
    await sleep(200);
    expect(server.eventsOf('response.create').length).toBe(1); // the greeting only

    // run_llm: the model speaks again after the result.
    fake.script({ noAudio: true, functionCalls: [{ name: 'set_variables', arguments: { run_llm: true, variables: { a: '1' } }, call_id: 'call_b' }] }, {});
    host.toolResult = (call) => ({ result: { tool_call_id: call.id, result: 'success', message: 'saved', resource_type: '', resource_id: '' }, runLlm: true });
    server.startResponse();
    await server.waitForClientEvent('response.create', () => server.eventsOf('response.create').length === 2);
    await until(hostDone(host, 3), 'the spoken answer');
    const order = server.clientEvents.filter((e) => e.type === 'response.create' || e.type === 'conversation.item.create').map((e) => (e.type === 'conversation.item.create' ? `item:${(e.item as { call_id?: string }).call_id}` : e.type));
    expect(order).toEqual(['response.create', 'item:call_a', 'item:call_b', 'response.create']);
    expect(refusals(server)).toBe(0);
  });

  it('never sends response.create while a response is active: a tool result during a server response waits; two results give one response', async () => {
    fake.script({
      noAudio: true,
      functionCalls: [
        { name: 'set_variables', arguments: { variables: { x: '1' } }, call_id: 'call_1' },
        { name: 'set_variables', arguments: { variables: { y: '2' } }, call_id: 'call_2' },
      ],
    });
    const { host, session, server } = await open();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    host.toolResult = async (call) => {
      await gate;
      return { result: { tool_call_id: call.id, result: 'success', message: 'ok', resource_type: '', resource_id: '' }, runLlm: true };
    };
    await session.start();
    await until(() => host.toolCalls.length === 1 && hostDone(host, 1)(), 'the first tool call');
    // The server starts a response of its own (server VAD) and holds it while the tools finish.
    server.script({ hold: true, audio: [Buffer.alloc(160, 1)] });
    server.startResponse();
    await until(() => server.active !== null && host.audio.length === 1, 'the held response');
    release();
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output' && e.item.call_id === 'call_2');
    await sleep(150);
    expect(server.eventsOf('response.create').length).toBe(1); // still waiting: a response is active
    server.finishResponse();
    await server.waitForClientEvent('response.create', () => server.eventsOf('response.create').length === 2);
    await until(hostDone(host, 3), 'the answer');
    await sleep(100);
    expect(server.eventsOf('response.create').length).toBe(2); // coalesced: one response for both results
    expect(refusals(server)).toBe(0);
    expect(errorsOf(server)).toEqual([]);
  });

  it('a request while a cancel is pending waits for the cancelled response.done', async () => {
    fake.script({ noAudio: true, functionCalls: [{ name: 'set_variables', arguments: {}, call_id: 'call_c' }] });
    const { host, session, server } = await open();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    host.toolResult = async (call) => {
      await gate;
      return { result: { tool_call_id: call.id, result: 'success', message: 'ok', resource_type: '', resource_id: '' }, runLlm: true };
    };
    await session.start();
    await until(() => host.toolCalls.length === 1 && hostDone(host, 1)(), 'the tool call');
    // A long response of the server's own, whose cancel takes a while (300 ms before its response.done).
    server.startResponse({ audio: Array.from({ length: 40 }, () => Buffer.alloc(160, 3)), intervalMs: 10, lateDeltasAfterCancel: 2, cancelDelayMs: 300 });
    await until(() => host.audio.length >= 5, 'audio');
    host.heard = () => 20;
    session.interrupt(); // the host's barge-in: the caller's speech is not the server's turn
    await server.waitForClientEvent('response.cancel');
    release(); // the tool result (run_llm) arrives while the cancel is pending
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(server.active?.cancelRequested).toBe(true);
    expect(server.eventsOf('response.create').length).toBe(1);
    await server.waitForClientEvent('response.create', () => server.eventsOf('response.create').length === 2, 5000);
    // Sent only after the cancelled response's response.done.
    const cancelledDone = server.serverEvents.findIndex((e) => e.type === 'response.done' && e.response.status === 'cancelled');
    expect(cancelledDone).toBeGreaterThan(0);
    await until(hostDone(host, 3), 'the answer');
    expect(refusals(server)).toBe(0);
    expect(errorsOf(server)).toEqual([]);
  });
});

describe('OpenAI Realtime agent: the caller\'s turn and queued responses', () => {
  it('a tool result while the caller speaks waits for their turn; the server\'s own answer satisfies it, else one response.create follows', async () => {
    fake.script({ noAudio: true, functionCalls: [{ name: 'set_variables', arguments: {}, call_id: 'call_t1' }] });
    const { host, session, server } = await open();
    const gates: Array<() => void> = [];
    host.toolResult = async (call) => {
      await new Promise<void>((r) => gates.push(r));
      return { result: { tool_call_id: call.id, result: 'success', message: 'ok', resource_type: '', resource_id: '' }, runLlm: true };
    };
    await session.start();
    await until(() => gates.length === 1 && hostDone(host, 1)(), 'the first tool call');
    // The caller speaks; the result (run_llm) arrives meanwhile: nothing is asked for yet.
    const item = server.speechStarted();
    await until(() => host.events.some((e) => e.type === 'speech_started'), 'speech_started');
    gates[0]!();
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output');
    await sleep(100);
    expect(server.eventsOf('response.create')).toHaveLength(1);
    // The turn ends and the server answers it itself (server VAD): that answer covers the result.
    server.speechStopped(item);
    server.startResponse({ noAudio: true, functionCalls: [{ name: 'set_variables', arguments: {}, call_id: 'call_t2' }] });
    await until(() => gates.length === 2, 'the second tool call');
    await sleep(1200);
    expect(server.eventsOf('response.create')).toHaveLength(1);
    // A turn the server does not answer: after the grace, the queued response is asked for once.
    const item2 = server.speechStarted();
    await until(() => host.events.filter((e) => e.type === 'speech_started').length === 2, 'speech_started 2');
    gates[1]!();
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output' && e.item.call_id === 'call_t2');
    server.speechStopped(item2);
    await sleep(300);
    expect(server.eventsOf('response.create')).toHaveLength(1);
    await server.waitForClientEvent('response.create', () => server.eventsOf('response.create').length === 2, 3000);
    await until(hostDone(host, 3), 'the answer');
    expect(refusals(server)).toBe(0);
  });
});

describe('OpenAI Realtime agent: barge-in', () => {
  it('clears, cancels, truncates at the heard ms, drops late deltas and stores the heard text', async () => {
    const { host, session, server } = await open();
    const words = Array.from({ length: 40 }, (_, i) => (i === 0 ? 'Word0' : ` word${i}`));
    server.script({ audio: Array.from({ length: 40 }, () => Buffer.alloc(160, 0x44)), transcript: words, intervalMs: 10, lateDeltasAfterCancel: 3 });
    await session.start();
    await until(() => host.audio.length >= 12, '240 ms of audio');
    const rid = host.audio[0]!.responseId;
    host.heard = (id) => (id === rid ? 130 : 0);
    const interimBefore = () => host.lines.filter((l) => !l.final && l.role === 'assistant').at(-1)?.text ?? '';
    server.speechStarted();
    const cancel = await server.waitForClientEvent('response.cancel');
    // What the agent had received when it barged in (before any late delta).
    const receivedAtClear = host.clears[0]!.responses[0]!.queuedMs;
    const transcriptAtClear = interimBefore();
    expect(cancel.response_id).toBe(rid);
    expect(host.clears[0]!.responses).toEqual([{ responseId: rid, playedMs: 130, queuedMs: receivedAtClear }]);
    const trunc = await server.waitForClientEvent('conversation.item.truncate');
    expect(trunc.audio_end_ms).toBe(130);
    expect(trunc.content_index).toBe(0);
    await until(hostDone(host, 1), 'the cancelled response.done');
    await sleep(50);
    // The fake sent 3 late deltas after the cancel; none reached the host.
    const late = server.serverEvents.filter((e) => e.type === 'response.output_audio.delta').length - host.audio.length;
    expect(late).toBeGreaterThanOrEqual(3);
    expect(host.receivedMs(rid)).toBe(receivedAtClear);
    expect(server.serverEvents.some((e) => e.type === 'conversation.item.truncated' && e.audio_end_ms === 130)).toBe(true);
    expect(errorsOf(server)).toEqual([]);
    const stored = host.finals();
    expect(stored).toEqual([['assistant', cutAtWordBoundary(transcriptAtClear, 130 / receivedAtClear)]]);
    expect(stored[0]![1].length).toBeGreaterThan(0);
    expect(transcriptAtClear.startsWith(stored[0]![1])).toBe(true);
    expect(host.events).toEqual(
      expect.arrayContaining([
        { type: 'speech_started' },
        { type: 'barge_in', responseId: rid, heardMs: 130 },
        { type: 'response_started', responseId: rid },
        { type: 'response_done', responseId: rid, status: 'cancelled' },
      ]),
    );
    const evTypes = host.events.map((e) => e.type);
    expect(evTypes.indexOf('speech_started')).toBeLessThan(evTypes.indexOf('barge_in'));
    // The caller's words follow the cut assistant line.
    server.inputTranscriptionCompleted('Actually, I need a plumber');
    await until(() => host.finals().length === 2, 'the user line');
    expect(host.finals()[1]).toEqual(['user', 'Actually, I need a plumber']);
  });

  it('clamps the truncate to the audio received for the item (a heard report past its end)', async () => {
    const { host, session, server } = await open();
    server.script({ audio: Array.from({ length: 40 }, () => Buffer.alloc(160, 0x45)), intervalMs: 10 });
    await session.start();
    await until(() => host.audio.length >= 6, 'audio');
    // The host claims more was heard than the agent ever received for this item (e.g. rounding).
    host.heard = () => 999_999;
    const report = host.clearAudio; // heard >= queued means "nothing queued": script one explicitly
    host.clearAudio = () => {
      const rid = host.audio[0]!.responseId;
      const r = { responses: [{ responseId: rid, playedMs: 999_999, queuedMs: 999_999 }], droppedMs: 0 };
      host.clears.push(r);
      return r;
    };
    void report;
    server.speechStarted();
    const trunc = await server.waitForClientEvent('conversation.item.truncate');
    await until(hostDone(host, 1), 'cancelled');
    const rid = host.audio[0]!.responseId;
    const received = host.receivedMs(rid);
    expect(trunc.audio_end_ms).toBe(Math.floor(received));
    expect(trunc.audio_end_ms).toBeLessThan(999_999);
    await sleep(30);
    expect(errorsOf(server)).toEqual([]); // the fake refuses a truncate past the item's audio
  });

  it('after response.done, audio still playing: no cancel, truncate at the heard ms, text cut', async () => {
    const { host, session, server } = await open();
    host.heard = () => 40; // of 100 ms
    await session.start();
    await until(hostDone(host, 1), 'the greeting');
    await sleep(30);
    expect(host.finals()).toEqual([]); // not heard yet: not stored
    server.speechStarted();
    const trunc = await server.waitForClientEvent('conversation.item.truncate');
    expect(trunc.audio_end_ms).toBe(40);
    await sleep(50);
    expect(server.eventsOf('response.cancel')).toEqual([]);
    expect(errorsOf(server)).toEqual([]);
    expect(host.finals()).toEqual([['assistant', 'Hello from']]);
  });

  it('the caller speaking after the greeting was heard in full: no barge-in', async () => {
    const { host, session, server } = await open();
    await session.start();
    await until(() => host.finals().length === 1, 'the greeting stored');
    server.speechStarted();
    await until(() => host.events.some((e) => e.type === 'speech_started'), 'speech_started');
    await sleep(50);
    expect(host.events.some((e) => e.type === 'barge_in')).toBe(false);
    expect(server.eventsOf('response.cancel')).toEqual([]);
    expect(server.eventsOf('conversation.item.truncate')).toEqual([]);
  });

  it("the host's interrupt() does the same as the engine's VAD", async () => {
    const { host, session, server } = await open();
    server.script({ audio: Array.from({ length: 40 }, () => Buffer.alloc(160, 0x46)), intervalMs: 10 });
    await session.start();
    await until(() => host.audio.length >= 6, 'audio');
    host.heard = () => 60;
    session.interrupt();
    expect((await server.waitForClientEvent('conversation.item.truncate')).audio_end_ms).toBe(60);
    await server.waitForClientEvent('response.cancel');
    await until(hostDone(host, 1), 'cancelled');
    expect(host.events.some((e) => e.type === 'barge_in' && e.heardMs === 60)).toBe(true);
  });
});

describe('OpenAI Realtime agent: rollover', () => {
  it('before the cap, opens a seeded connection and switches over between responses', async () => {
    const { host, session, server, n } = await open(new FakeHost(), {}, { maxSessionMs: 1000, oldConnectionGraceMs: 50 });
    await session.start();
    await until(() => host.finals().length === 1, 'the greeting stored');
    server.inputTranscriptionCompleted('Hello?');
    // A held answer is still in progress when the rollover is due.
    server.startResponse({ hold: true, audio: [Buffer.alloc(160, 1), Buffer.alloc(160, 2)], transcript: ['Hi,', ' there.'] });
    await until(() => host.audio.length === 7, 'answer audio');
    const next = await fake.waitForConnection(n + 1, 3000);
    await next.waitForClientEvent('session.update');
    await sleep(250);
    // Not switched mid-response: caller audio still goes to the first connection.
    session.audioIn(new Uint8Array(160));
    await server.waitForClientEvent('input_audio_buffer.append');
    expect(next.eventsOf('input_audio_buffer.append')).toEqual([]);
    expect(server.ws.readyState).toBe(server.ws.OPEN);
    server.finishResponse();
    await until(() => next.eventsOf('conversation.item.create').length >= 3, 'the seed');
    await server.closed;
    session.audioIn(new Uint8Array(160));
    await next.waitForClientEvent('input_audio_buffer.append');
    // The new connection: the same session.update, then the conversation so far, in order.
    expect(next.eventsOf('session.update')[0]!.session).toEqual(server.eventsOf('session.update')[0]!.session);
    const seeded = next.eventsOf('conversation.item.create').map((e) => e.item);
    expect(seeded).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello from the fake agent.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi, there.' }] },
    ]);
    expect(next.serverEvents.filter((e) => e.type === 'error')).toEqual([]);
    // The conversation goes on over the new connection.
    next.startResponse({ audio: [Buffer.alloc(160, 9)], transcript: ['Yes.'] });
    await until(() => host.audio.length === 8, 'audio from the new connection');
    expect(host.audio[7]!.bytes[0]).toBe(9);
    await until(() => host.finals().length === 4, 'the last line');
    expect(host.finals()).toEqual([
      ['assistant', 'Hello from the fake agent.'],
      ['user', 'Hello?'],
      ['assistant', 'Hi, there.'],
      ['assistant', 'Yes.'],
    ]);
    expect(host.ended).toEqual([]);
    expect(host.events.some((e) => e.type === 'metric' && e.name === 'realtime_rollover')).toBe(true);
  });
});

describe('OpenAI Realtime agent: rollover (forced)', () => {
  it('switches anyway when no quiet moment comes before rolloverForceMs', async () => {
    const { host, session, server, n } = await open(new FakeHost(), {}, { maxSessionMs: 600, rolloverForceMs: 200, oldConnectionGraceMs: 20 });
    server.script({ hold: true }); // a response that never ends
    await session.start();
    await until(() => host.audio.length === 5, 'audio');
    const next = await fake.waitForConnection(n + 1, 3000);
    await server.closed;
    session.audioIn(new Uint8Array(160));
    await next.waitForClientEvent('input_audio_buffer.append');
    expect(next.eventsOf('conversation.item.create').map((e) => e.item)).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello from the fake agent.' }] },
    ]);
    // The new connection works: a response there reaches the host.
    next.startResponse({ audio: [Buffer.alloc(160, 7)] });
    await until(() => host.audio.length === 6, 'audio from the new connection');
    expect(host.ended).toEqual([]);
  });
});

describe('OpenAI Realtime agent: faults', () => {
  it('a socket dropped mid-response reconnects once, seeded, and asks for the response again', async () => {
    const { host, session, server, n } = await open();
    await session.start();
    await until(() => host.finals().length === 1, 'the greeting stored');
    server.inputTranscriptionCompleted('Is anyone there?');
    server.startResponse({ hold: true, audio: [Buffer.alloc(160, 1), Buffer.alloc(160, 2)], transcript: ['Yes,', ' I am'] });
    await until(() => host.audio.length === 7 && host.lines.some((l) => l.text === 'Yes, I am'), 'answer audio and words');
    server.drop();
    const next = await fake.waitForConnection(n + 1, 5000);
    await next.waitForClientEvent('response.create', () => true, 5000);
    await until(hostDone(host, 3), 'the new response');
    const seeded = next.eventsOf('conversation.item.create').map((e) => e.item);
    expect(seeded).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello from the fake agent.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Is anyone there?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Yes, I am' }] },
    ]);
    const idx = (t: RealtimeClientEvent['type']) => next.clientEvents.findIndex((e) => e.type === t);
    expect(idx('session.update')).toBe(0);
    expect(idx('response.create')).toBeGreaterThan(idx('conversation.item.create'));
    expect(host.events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'error', code: 'reconnecting' })]));
    expect(host.events.filter((e) => e.type === 'response_done').map((e) => (e as { status: string }).status)).toEqual(['completed', 'failed', 'completed']);
    expect(host.ended).toEqual([]);
    expect(refusals(next)).toBe(0);
    // Caller audio now goes to the new connection.
    session.audioIn(new Uint8Array(160));
    await next.waitForClientEvent('input_audio_buffer.append');
  });

  it('a reconnect seeds function calls with their outputs, and a result that comes after goes to the new connection', async () => {
    fake.script({
      noAudio: true,
      functionCalls: [
        { name: 'set_variables', arguments: { variables: { a: '1' } }, call_id: 'call_done' },
        { name: 'set_variables', arguments: { variables: { b: '2' } }, call_id: 'call_late' },
      ],
    });
    const { host, session, server, n } = await open();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    host.toolResult = async (call) => {
      if (call.id === 'call_late') await gate;
      return { result: { tool_call_id: call.id, result: 'success', message: 'ok', resource_type: '', resource_id: '' }, runLlm: false };
    };
    await session.start();
    await server.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output' && e.item.call_id === 'call_done');
    await until(() => host.toolCalls.length === 2, 'the second tool call');
    server.drop();
    const next = await fake.waitForConnection(n + 1, 5000);
    await next.waitForClientEvent('session.update');
    release();
    await next.waitForClientEvent('conversation.item.create', (e) => e.item.type === 'function_call_output' && e.item.call_id === 'call_late');
    const items = next.eventsOf('conversation.item.create').map((e) => e.item);
    expect(items.map((i) => `${i.type}:${(i as { call_id?: string }).call_id}`)).toEqual([
      'function_call:call_done',
      'function_call_output:call_done',
      'function_call:call_late',
      'function_call_output:call_late',
    ]);
    expect(next.serverEvents.filter((e) => e.type === 'error')).toEqual([]);
    // Nothing was being said at the drop: no new response is asked for.
    await sleep(100);
    expect(next.eventsOf('response.create')).toEqual([]);
  });

  it('when the reconnect fails, the session ends with a reason (nothing hangs)', async () => {
    const own = await FakeOpenAIRealtime.start({ apiKey: KEY });
    const { host, session } = await open(new FakeHost(), {}, {}, own);
    await session.start();
    await own.close(); // the server goes away: the socket drops and the reconnect is refused
    await until(() => host.ended.length === 1, 'the end', 8000);
    expect(host.ended[0]).toMatch(/connection lost.*reconnect failed/);
    expect(host.ended[0]).not.toContain(KEY);
  });

  it('error events: logged without the key, fatal ones end the session, others do not; rate limits are reported', async () => {
    const { host, session, server } = await open();
    await session.start();
    await until(hostDone(host, 1), 'greeting');
    const before = capturedLogs.length;
    server.sendError({ type: 'server_error', code: 'server_error', message: `upstream hiccup for key ${KEY}`, param: null, event_id: null });
    server.rateLimits([{ name: 'tokens', limit: 1000, remaining: 0, reset_seconds: 1.5 }]);
    await until(() => host.events.some((e) => e.type === 'metric' && e.name === 'openai_rate_limit_remaining_tokens'), 'rate limit metric');
    expect(host.ended).toEqual([]);
    const err = host.events.find((e) => e.type === 'error' && e.code === 'server_error') as { message: string } | undefined;
    expect(err?.message).toContain('upstream hiccup');
    expect(err?.message).not.toContain(KEY);
    expect(host.events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'error', code: 'rate_limited' })]));
    expect(capturedLogs.slice(before).join('\n')).toContain('upstream hiccup');
    expect(capturedLogs.slice(before).join('\n')).toContain('realtime rate limits');

    server.sendError({ type: 'invalid_request_error', code: 'insufficient_quota', message: 'You exceeded your current quota', param: null, event_id: null });
    await until(() => host.ended.length === 1, 'the fatal end');
    expect(host.ended[0]).toBe('openai realtime error: insufficient_quota');
    await server.closed;
    for (const e of host.events) expect(JSON.stringify(e)).not.toContain(KEY);
    for (const l of host.lines) expect(l.text).not.toContain(KEY);
  });

  it('a failed response is reported and the session goes on', async () => {
    fake.script({ status: 'failed' });
    const { host, session, server } = await open();
    await session.start();
    await until(() => host.events.some((e) => e.type === 'response_done' && e.status === 'failed'), 'the failed greeting reported');
    expect(host.events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'error', code: 'response_failed' })]));
    server.startResponse();
    await until(() => host.events.filter((e) => e.type === 'response_done').length === 2, 'the next response');
    expect(host.events.filter((e) => e.type === 'response_done').map((e) => (e as { status: string }).status)).toEqual(['failed', 'completed']);
    expect(host.ended).toEqual([]);
  });

  it('a hangup mid-response stores only what was heard; another end stores the line as generated', async () => {
    const a = await open();
    a.server.script({ hold: true });
    a.host.heard = () => 40; // of 100 ms received
    await a.session.start();
    await until(() => a.host.audio.length === 5 && a.host.lines.length === 5, 'audio and words');
    await a.session.stop('hangup');
    expect(a.host.finals()).toEqual([['assistant', 'Hello from']]);

    const b = await open();
    b.server.script({ hold: true });
    b.host.heard = () => 40;
    await b.session.start();
    await until(() => b.host.audio.length === 5 && b.host.lines.length === 5, 'audio and words');
    await b.session.stop('stop_service'); // the host plays out what it has queued
    expect(b.host.finals()).toEqual([['assistant', 'Hello from the fake agent.']]);
  });

  it('stop() is idempotent and closes the connection', async () => {
    const { session, server } = await open();
    await Promise.all([session.stop('hangup'), session.stop('hangup')]);
    expect((await server.closed).code).toBe(1000);
    session.audioIn(new Uint8Array(160)); // a no-op after stop
  });
});

describe('cutAtWordBoundary', () => {
  it('cuts proportionally, never mid-word', () => {
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.4)).toBe('Hello from');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.5)).toBe('Hello from');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.6)).toBe('Hello from the');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.1)).toBe('');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0)).toBe('');
    expect(cutAtWordBoundary('Hello from the fake agent.', 1)).toBe('Hello from the fake agent.');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.9)).toBe('Hello from the fake');
    expect(cutAtWordBoundary('Hello from the fake agent.', 0.99)).toBe('Hello from the fake agent.');
  });
});
