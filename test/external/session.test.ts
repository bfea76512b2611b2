/**
 * The external agent session (streams/agents/external/) against a scripted agent server on
 * loopback and a fake host: negotiation, timeouts, tools, clear / barge-in, marks, bad messages,
 * the end of the session, the engine_key's path. Every text message seen is checked against the
 * protocol's JSON Schemas (docs/external-agent-protocol/).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { externalAgent } from '../../streams/agents/external/index.js';
import type { ExternalAgentOptions } from '../../streams/agents/external/index.js';
import type { AgentSession } from '../../streams/agents/agent.js';
import { createLogger, setLogSink } from '../../src/util/logger.js';
import { agentServer, assertValid, fakeHost, startOptions, until } from './helpers.js';
import type { AgentConn, FakeHost } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Every text message both ways, schema-checked at the end of each test. */
function traced(opts: ExternalAgentOptions = {}, checkAgent = true): ExternalAgentOptions & { seen: { d: string; t: string }[] } {
  const seen: { d: string; t: string }[] = [];
  cleanups.push(() => {
    // The bad-message tests send invalid agent messages on purpose: only the gateway's are checked there.
    for (const s of seen) if (checkAgent || s.d === 'to_agent') assertValid(s.d as 'to_agent', s.t);
  });
  return { ...opts, seen, onText: (d, t) => seen.push({ d, t }) };
}

/** An agent server that accepts with the given formats and then runs `script`. */
async function acceptingServer(input = 'pcm16/16000', output = 'pcm16/16000', script: (c: AgentConn) => void | Promise<void> = () => {}) {
  const srv = await agentServer(async (c) => {
    await c.next('start');
    c.send({ type: 'accept', protocol: 1, audio: { input, output } });
    await script(c);
  });
  cleanups.push(() => srv.close());
  return srv;
}

async function connect(url: string, host: FakeHost, opts: ExternalAgentOptions = traced(), over: Parameters<typeof startOptions>[1] = {}): Promise<AgentSession> {
  const s = await externalAgent(opts)(startOptions(url, over), host);
  cleanups.push(() => s.stop('test over'));
  return s;
}

describe('negotiation', () => {
  const cases = [
    ['pcmu/8000', { encoding: 'pcmu', sampleRateHz: 8000 }, 160],
    ['pcma/8000', { encoding: 'pcma', sampleRateHz: 8000 }, 160],
    ['pcm16/8000', { encoding: 'pcm16', sampleRateHz: 8000 }, 320],
    ['pcm16/16000', { encoding: 'pcm16', sampleRateHz: 16000 }, 640],
    ['pcm16/24000', { encoding: 'pcm16', sampleRateHz: 24000 }, 960],
  ] as const;
  it.each(cases)('accepting %s sets the session format and carries 20 ms frames of it', async (name, format, bytes) => {
    const srv = await acceptingServer(name, name);
    const host = fakeHost();
    const s = await connect(srv.url, host);
    expect(s.input).toEqual(format);
    expect(s.output).toEqual(format);
    const c = srv.conns[0];
    const start = c.texts[0];
    expect(start).toMatchObject({ type: 'start', protocol: 1, aicall_id: 'aicall-1', call_id: 'call-1', customer_id: 'cust-1', activeflow_id: 'af-1', ai_id: 'ai-1' });
    expect((start.audio as { offered: string[] }).offered).toEqual(expect.arrayContaining(cases.map((x) => x[0])));
    expect((start.tools as { name: string }[]).map((t) => t.name)).toEqual(['stop_service', 'set_variables']);
    expect(start.variables).toEqual({ 'voipbin.call.id': 'call-1' });
    // No caller audio before begin; after it, frames of the accepted format.
    const frame = s.input.encoding === 'pcm16' ? new Int16Array(bytes / 2).fill(1000) : new Uint8Array(bytes).fill(0xd5);
    s.audioIn(frame);
    await s.start();
    await c.next('begin');
    s.audioIn(frame);
    await until(() => c.binaries.length === 1, 2000, 'a caller frame');
    expect(c.binaries[0].length).toBe(bytes);
    // Agent audio in the output format reaches the host, tagged with its response.
    c.send({ type: 'response_start', response_id: 'r1' });
    c.ws.send(Buffer.alloc(bytes));
    await until(() => host.audio.length === 1, 2000, 'agent audio');
    expect(host.audio[0]).toEqual({ responseId: 'r1', bytes, samples: s.output.encoding === 'pcm16' ? bytes / 2 : bytes });
    expect(host.events).toContainEqual({ type: 'response_started', responseId: 'r1' });
  });

  it('different input and output formats', async () => {
    const srv = await acceptingServer('pcmu/8000', 'pcm16/24000');
    const s = await connect(srv.url, fakeHost());
    expect(s.input).toEqual({ encoding: 'pcmu', sampleRateHz: 8000 });
    expect(s.output).toEqual({ encoding: 'pcm16', sampleRateHz: 24000 });
  });

  it('a format that was not offered closes 1007 naming accept.audio.input', async () => {
    const srv = await acceptingServer('pcm16/24000', 'pcm16/16000');
    const host = fakeHost();
    await expect(connect(srv.url, host, traced({ offered: ['pcm16/16000'] }))).rejects.toThrow(/accept\.audio\.input: pcm16\/24000 was not offered/);
    expect(await srv.conns[0].closed).toEqual({ code: 1007, reason: expect.stringMatching(/^accept\.audio\.input/) });
    expect(host.ends[0]).toMatch(/^external agent: .*accept\.audio\.input/);
  });

  it('no accept within the timeout: a clear reason, the agent sees 1008', async () => {
    const srv = await agentServer(); // never answers
    cleanups.push(() => srv.close());
    const host = fakeHost();
    const t0 = Date.now();
    await expect(connect(srv.url, host, traced({ acceptTimeoutMs: 300 }))).rejects.toThrow(/no accept within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(host.ends).toEqual([expect.stringMatching(/^external agent: ws:\/\/127\.0\.0\.1:\d+\/agent: no accept within 300 ms/)]);
    expect(await srv.conns[0].closed).toEqual({ code: 1008, reason: 'no accept within 300 ms' });
  });

  it('the agent may decline with end', async () => {
    const srv = await agentServer(async (c) => {
      await c.next('start');
      c.send({ type: 'end', reason: 'busy' });
    });
    cleanups.push(() => srv.close());
    const host = fakeHost();
    await expect(connect(srv.url, host)).rejects.toThrow(/declined the call: busy/);
    expect(host.ends[0]).toMatch(/declined the call: busy/);
  });

  it('an unreachable agent, a refused handshake, a bad URL', async () => {
    const host = fakeHost();
    await expect(connect('ws://127.0.0.1:1/x', host)).rejects.toThrow(/cannot reach ws:\/\/127\.0\.0\.1:1\/x: ECONNREFUSED/);
    await expect(connect('http://127.0.0.1:1/x', host)).rejects.toThrow(/parameter\.agent_url: must be a ws:\/\/ or wss:\/\/ URL/);
    await expect(externalAgent()({ ...startOptions(''), config: { ...startOptions('').config, parameter: {} } }, host)).rejects.toThrow(/parameter\.agent_url: required/);
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (_i, cb) => cb(false, 401, 'Unauthorized') });
    await new Promise((r) => wss.once('listening', r));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    await expect(connect(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, host)).rejects.toThrow(/refused the connection: HTTP 401/);
  });
});

describe('a running session', () => {
  async function running(script?: (c: AgentConn) => void | Promise<void>) {
    const srv = await acceptingServer('pcm16/16000', 'pcm16/16000', script);
    const host = fakeHost();
    const s = await connect(srv.url, host);
    await s.start();
    const c = srv.conns[0];
    await c.next('begin');
    return { srv, host, s, c };
  }

  it('tool_call → host tool runtime → tool_result on the socket', async () => {
    const { host, c } = await running();
    host.toolHandler = async (call) => ({
      result: { tool_call_id: call.id, result: 'success', message: 'saved 1 variable', resource_type: 'activeflow', resource_id: 'af-1' },
      runLlm: true,
    });
    c.send({ type: 'tool_call', id: 'call_1', name: 'set_variables', arguments: { variables: { a: '1' } } });
    c.send({ type: 'tool_call', id: 'call_2', name: 'set_variables', arguments: '{"variables":{"b":"2"}}' });
    const r1 = await c.next('tool_result');
    const r2 = await c.next('tool_result');
    expect(host.toolCalls).toEqual([
      { id: 'call_1', name: 'set_variables', arguments: { variables: { a: '1' } } },
      { id: 'call_2', name: 'set_variables', arguments: '{"variables":{"b":"2"}}' },
    ]);
    expect(r1).toEqual({ type: 'tool_result', tool_call_id: 'call_1', result: 'success', message: 'saved 1 variable', resource_type: 'activeflow', resource_id: 'af-1', run_llm: true });
    expect(r2.tool_call_id).toBe('call_2');
  });

  it('clear → cleared with the host ClearReport; late audio of the cleared response is dropped', async () => {
    const { host, c } = await running();
    c.send({ type: 'response_start', response_id: 'r1' });
    c.ws.send(Buffer.alloc(32000)); // 1000 ms at 16 kHz
    await until(() => host.audio.length === 1);
    host.play('r1', 400);
    c.send({ type: 'clear' });
    c.ws.send(Buffer.alloc(640)); // in flight when the clear landed: dropped
    const cleared = await c.next('cleared');
    expect(cleared).toEqual({ type: 'cleared', cause: 'clear', responses: [{ response_id: 'r1', played_ms: 400, queued_ms: 1000 }], dropped_ms: 600 });
    expect(host.clears).toEqual([{ responses: [{ responseId: 'r1', playedMs: 400, queuedMs: 1000 }], droppedMs: 600 }]);
    expect(host.events).toContainEqual({ type: 'barge_in', responseId: 'r1', heardMs: 400 });
    expect(host.events).toContainEqual({ type: 'response_done', responseId: 'r1', status: 'cancelled' });
    // A new response plays again.
    c.send({ type: 'response_start', response_id: 'r2' });
    c.ws.send(Buffer.alloc(640));
    await until(() => host.audio.length === 2);
    expect(host.audio.map((a) => a.responseId)).toEqual(['r1', 'r2']);
    expect(host.ends).toEqual([]);
  });

  it("the gateway's own barge-in (interrupt) sends cleared with cause barge_in", async () => {
    const { host, s, c } = await running();
    c.send({ type: 'response_start', response_id: 'r1' });
    c.ws.send(Buffer.alloc(16000));
    await until(() => host.audio.length === 1);
    host.play('r1', 100);
    s.interrupt();
    expect(await c.next('cleared')).toEqual({ type: 'cleared', cause: 'barge_in', responses: [{ response_id: 'r1', played_ms: 100, queued_ms: 500 }], dropped_ms: 400 });
  });

  it('marks echo played once the audio before them played, played:false when cleared first', async () => {
    const { host, c } = await running();
    c.send({ type: 'mark', name: 'nothing-queued' });
    expect(await c.next('mark')).toEqual({ type: 'mark', name: 'nothing-queued', played: true });
    c.send({ type: 'response_start', response_id: 'r1' });
    c.ws.send(Buffer.alloc(6400)); // 200 ms
    c.send({ type: 'mark', name: 'a' });
    c.ws.send(Buffer.alloc(6400));
    c.send({ type: 'mark', name: 'b' });
    await until(() => host.audio.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.texts.filter((m) => m.type === 'mark')).toHaveLength(1);
    host.play('r1', 200);
    expect(await c.next('mark')).toEqual({ type: 'mark', name: 'a', played: true });
    c.send({ type: 'clear' });
    expect(await c.next('mark')).toEqual({ type: 'mark', name: 'b', played: false });
  });

  it('transcripts, events, dtmf and response_end reach their places', async () => {
    const { host, s, c } = await running();
    c.send({ type: 'response_start', response_id: 'r1' });
    c.send({ type: 'transcript', role: 'assistant', text: 'Hello', response_id: 'r1' });
    c.send({ type: 'transcript', role: 'user', text: 'hel', final: false });
    c.send({ type: 'event', event: 'speech_started' });
    c.send({ type: 'event', event: 'metric', name: 'llm_ms', value: 321 });
    c.send({ type: 'event', event: 'error', message: 'rate limited', code: '429' });
    c.send({ type: 'response_end', response_id: 'r1' });
    s.dtmf?.('5');
    expect(await c.next('dtmf')).toEqual({ type: 'dtmf', digit: '5' });
    await until(() => host.events.length >= 5);
    expect(host.transcripts).toEqual([
      { role: 'assistant', text: 'Hello', final: true, responseId: 'r1' },
      { role: 'user', text: 'hel', final: false },
    ]);
    expect(host.events).toEqual([
      { type: 'response_started', responseId: 'r1' },
      { type: 'speech_started' },
      { type: 'metric', name: 'llm_ms', value: 321 },
      { type: 'error', message: 'rate limited', code: '429' },
      { type: 'response_done', responseId: 'r1', status: 'completed' },
    ]);
  });

  it('end from the agent ends the host session; stop then closes 1000', async () => {
    const { host, s, c } = await running();
    c.send({ type: 'end', reason: 'goodbye said' });
    await until(() => host.ends.length === 1);
    expect(host.ends).toEqual(['goodbye said']);
    await s.stop('agent: goodbye said');
    expect(await c.next('stop')).toEqual({ type: 'stop', reason: 'agent: goodbye said' });
    expect((await c.closed).code).toBe(1000);
  });

  it('hangup → hangup sent and the socket closed 1000; stop is idempotent', async () => {
    const { s, c } = await running();
    await Promise.all([s.stop('hangup'), s.stop('hangup')]);
    expect(await c.next('hangup')).toEqual({ type: 'hangup' });
    expect(await c.closed).toEqual({ code: 1000, reason: 'hangup' });
    expect(c.texts.filter((m) => m.type === 'hangup' || m.type === 'stop')).toHaveLength(1);
  });

  it("stop waits for a running tool call's result (stop_service's own result reaches the agent first)", async () => {
    const { host, s, c } = await running();
    let release: () => void = () => {};
    host.toolHandler = (call) =>
      new Promise((res) => {
        release = () => res({ result: { tool_call_id: call.id, result: 'success', message: 'stopped', resource_type: '', resource_id: '' }, runLlm: false });
      });
    c.send({ type: 'tool_call', id: 't1', name: 'stop_service', arguments: {} });
    await until(() => host.toolCalls.length === 1);
    const stopped = s.stop('stop_service');
    setTimeout(() => release(), 50);
    await stopped;
    await c.closed;
    expect(c.texts.slice(-2).map((m) => m.type)).toEqual(['tool_result', 'stop']);
    expect(c.texts.at(-1)).toEqual({ type: 'stop', reason: 'stop_service' });
  });

  it('the agent closing the socket ends the host session with the code and reason', async () => {
    const { host, c } = await running();
    c.ws.close(4000, 'engine crashed');
    await until(() => host.ends.length === 1);
    expect(host.ends[0]).toBe('the external agent closed the connection (4000: engine crashed)');
  });
});

describe('bad messages close the socket with a reason naming the field, and end the session', () => {
  const cases: [string, string | Buffer, number, RegExp][] = [
    ['invalid JSON', '{"type":', 1007, /^invalid JSON/],
    ['not an object', '[1,2]', 1007, /must be a JSON object/],
    ['no type', '{"name":"x"}', 1007, /^type: required string/],
    ['unknown type', '{"type":"dance"}', 1003, /^type "dance" is unknown; use one of accept, /],
    ['tool_call without name', '{"type":"tool_call","id":"c1"}', 1007, /^tool_call\.name: required non-empty string/],
    ['tool_call with array arguments', '{"type":"tool_call","id":"c1","name":"x","arguments":[1]}', 1007, /^tool_call\.arguments: must be an object/],
    ['transcript with a bad role', '{"type":"transcript","role":"bot","text":"x"}', 1007, /^transcript\.role: must be one of user, assistant/],
    ['transcript with final as a string', '{"type":"transcript","role":"user","text":"x","final":"yes"}', 1007, /^transcript\.final/],
    ['event metric without value', '{"type":"event","event":"metric","name":"x"}', 1007, /^event\.value: required finite number/],
    ['response_start without id', '{"type":"response_start"}', 1007, /^response_start\.response_id/],
    ['a second accept', '{"type":"accept","protocol":1,"audio":{"input":"pcm16/16000","output":"pcm16/16000"}}', 1008, /^accept: sent twice/],
    ['audio outside a response', Buffer.alloc(640), 1008, /^binary audio outside a response/],
    ['odd-sized pcm16 audio', Buffer.alloc(641), 1007, /^binary audio: 641 bytes is not whole pcm16 samples/],
  ];
  it.each(cases)('%s', async (_name, payload, code, reason) => {
    const srv = await acceptingServer();
    const host = fakeHost();
    const s = await connect(srv.url, host, traced({}, false));
    await s.start();
    const c = srv.conns[0];
    await c.next('begin');
    if (payload.toString().includes('"c1"') || _name === 'odd-sized pcm16 audio') c.send({ type: 'response_start', response_id: 'r1' });
    c.ws.send(payload, { binary: Buffer.isBuffer(payload) });
    const closed = await c.closed;
    expect(closed.code).toBe(code);
    expect(closed.reason).toMatch(reason);
    await until(() => host.ends.length === 1);
    expect(host.ends[0]).toMatch(new RegExp(`^external agent protocol error \\(${code}\\): `));
    // The JSON Schemas reject the same text messages.
    if (typeof payload === 'string' && code !== 1008) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload);
      } catch {
        return;
      }
      expect(() => assertValid('from_agent', JSON.stringify(parsed))).toThrow();
    }
  });

  it('audio before begin is refused (1008)', async () => {
    const srv = await acceptingServer('pcm16/16000', 'pcm16/16000', (c) => c.ws.send(Buffer.alloc(640)));
    const host = fakeHost();
    await connect(srv.url, host);
    const closed = await srv.conns[0].closed;
    expect(closed).toEqual({ code: 1008, reason: 'binary audio before begin: wait for begin, then send response_start' });
  });

  it('anything but accept before accept is refused (1008)', async () => {
    const srv = await agentServer(async (c) => {
      await c.next('start');
      c.send({ type: 'transcript', role: 'user', text: 'hi' });
    });
    cleanups.push(() => srv.close());
    await expect(connect(srv.url, fakeHost())).rejects.toThrow(/transcript before accept/);
    expect((await srv.conns[0].closed).code).toBe(1008);
  });
});

describe('the engine_key', () => {
  it('reaches the agent as the bearer token, and no log line or message', async () => {
    const canary = 'vbx_canary_7f3e9a1c5d';
    const lines: string[] = [];
    const prev = setLogSink((l) => lines.push(l));
    cleanups.push(() => void setLogSink(prev));
    const logger = createLogger('debug');
    const srv = await acceptingServer();
    const host = fakeHost();
    const opts = traced({ logger }, false);
    const s = await connect(srv.url, host, opts, { engine_key: canary });
    await s.start();
    const c = srv.conns[0];
    expect(c.req.headers.authorization).toBe(`Bearer ${canary}`);
    expect(c.req.headers['x-voipbin-agent-protocol']).toBe('1');
    c.ws.send('{"type":"nonsense"}'); // a protocol error: logged
    await c.closed;
    logger.info(`a careless line with the key ${canary}`);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join('\n')).not.toContain(canary);
    expect(opts.seen.map((x) => x.t).join('\n')).not.toContain(canary);
    expect(host.ends.join('\n')).not.toContain(canary);
  });

  it('with no engine_key no Authorization header is sent', async () => {
    const srv = await acceptingServer();
    await connect(srv.url, fakeHost(), traced(), { engine_key: '' });
    expect(srv.conns[0].req.headers.authorization).toBeUndefined();
  });
});
