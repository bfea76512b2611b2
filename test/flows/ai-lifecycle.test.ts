/**
 * The edges of an AI action's life: a hangup while the agent is still starting, termination
 * through the API, the current `assistance_id` form of ai_talk, keys refused inside actions,
 * and a stopped audio source refusing more audio.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type { AgentFactory, AgentSession } from '../../streams/agents/agent.js';
import { pcm16 } from '../../streams/agents/agent.js';
import { AudioSource } from '../../src/local/engine/audio-source.js';
import { createAi, dialFlow, ok, startFlowServer, until, waitAicall, waitCall } from './helpers.js';
import type { FlowServer } from './helpers.js';

/** An agent whose start() takes as long as the test says, recording how it was stopped. */
function slowAgent(startDelayMs: number) {
  const record = { started: 0, stops: [] as string[], configs: [] as { ai_id: string; engine_key: string }[] };
  const factory: AgentFactory = (options) => {
    record.configs.push({ ai_id: options.config.ai_id, engine_key: options.config.engine_key });
    const session: AgentSession = {
      input: pcm16(8000),
      output: pcm16(8000),
      async start() {
        record.started++;
        await new Promise((r) => setTimeout(r, startDelayMs));
      },
      audioIn() {},
      interrupt() {},
      async stop(reason) {
        record.stops.push(reason);
      },
    };
    return session;
  };
  return { factory, record };
}

describe('AI action lifecycle', () => {
  let fs: FlowServer;
  beforeAll(async () => {
    fs = await startFlowServer();
  });
  afterAll(() => fs.close());

  it('a hangup while the agent is starting stops the agent and terminates the AI call', async () => {
    const { factory, record } = slowAgent(1500);
    fs.useAgent(factory);
    const call = await dialFlow(fs.s, [{ type: 'answer' }, { type: 'ai_talk', option: { initial_prompt: 'hi' } }, { type: 'hangup' }]);
    await until(() => record.started > 0, 'the agent to start');
    call.phone.client.send({ type: 'hangup' });
    const aicall = await waitAicall(fs.s, call.callId, (a) => a.status === 'terminated', 'the AI call to end');
    expect(aicall.metadata.termination_reason).toBe('hangup');
    await until(() => record.stops.length === 1, 'the agent to be stopped');
    expect(record.stops).toEqual(['hangup']);
    call.phone.close();
  });

  it('POST /aicalls/{id}/terminate stops a running agent and the flow goes on', async () => {
    const { factory, record } = slowAgent(0);
    fs.useAgent(factory);
    const call = await dialFlow(fs.s, [{ type: 'answer' }, { type: 'ai_talk', option: { initial_prompt: 'hi' } }, { type: 'hangup' }]);
    const aicall = await waitAicall(fs.s, call.callId, (a) => a.status === 'progressing', 'the AI call to run');
    const terminated = await ok(fs.s, 'POST', `/aicalls/${aicall.id}/terminate`);
    expect(terminated.status).toBe('terminated');
    await until(() => record.stops.length === 1, 'the agent to be stopped');
    expect(record.stops).toEqual(['terminated']);
    // The flow went on to its hangup.
    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup' && c.hangup_by === 'local', 'the flow to hang up');
    call.phone.close();
  });

  it('ai_talk with assistance_type "ai" + assistance_id runs that AI with its stored key', async () => {
    const aiId = await createAi(fs.s, { engine_key: 'sk-lifecycle-key-0123456789' });
    const { factory, record } = slowAgent(0);
    fs.useAgent(factory);
    const call = await dialFlow(fs.s, [{ type: 'answer' }, { type: 'ai_talk', option: { assistance_type: 'ai', assistance_id: aiId, duration: 1 } }]);
    await until(() => record.configs.length === 1, 'the agent to be created');
    expect(record.configs[0]).toEqual({ ai_id: aiId, engine_key: 'sk-lifecycle-key-0123456789' });
    await waitCall(fs.s, call.callId, (c) => c.status === 'hangup', 'the call to end after the duration');
    call.phone.close();
  });

  it('an engine_key inside an action is refused (flows are returned as stored)', async () => {
    const res = await fs.s.call('POST', '/flows', { actions: [{ type: 'ai_talk', option: { initial_prompt: 'x', engine_key: 'sk-never-stored-0123456789' } }] });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/engine_key: not accepted in an action/);
    expect(JSON.stringify(res.body)).not.toContain('sk-never-stored');
  });

  it('a malformed WebSocket path answers 400 and the server goes on', async () => {
    const url = new URL(fs.s.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: '/v1.0/calls/%E0%A4%A/media_stream',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    expect((await fs.s.call('GET', '/customer')).status).toBe(200);
  });

  it('a stopped audio source refuses more audio and reports finished', async () => {
    const s = new AudioSource('talk');
    expect(s.push(new Int16Array(480))).toBe(true);
    s.stop();
    expect(s.push(new Int16Array(160))).toBe(false);
    await s.finished();
    expect(s.isStopped).toBe(true);
  });
});
