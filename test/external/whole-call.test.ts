/**
 * A whole call through the real server (its own agent registry, src/server.ts) and the example
 * agent as a real process: a phone dials a flow answer → ai_talk (an AI with engine_model
 * external.echo) → talk-free hangup; it hears the agent's greeting chime, its DTMF '1' sets a flow
 * variable through set_variables, '#' ends the AI through stop_service, and the flow goes on to
 * hang up. The AI's engine_key reached the agent (it checks it) and no log line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { activeflowOf, audible, createAi, dialFlow, goertzel, until, waitAicall } from '../flows/helpers.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/echo-agent.mjs');
const KEY = 'vbx_whole_call_canary_91c2';

let proc: ChildProcess;
let agentUrl = '';
let output = '';
let s: TestServer;
let cleanup: () => void;

beforeAll(async () => {
  proc = spawn(process.execPath, [EXAMPLE, '--port', '0', '--key', KEY], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  await until(() => /listening on (ws:\/\/\S+)/.exec(output), 'the echo agent to listen', 10_000);
  agentUrl = /listening on (ws:\/\/\S+)/.exec(output)![1];
  const t = tempDir('voipbin-ai-external-');
  cleanup = t.cleanup;
  s = await startTestServer(join(t.dir, 'db.sqlite'));
});

afterAll(async () => {
  await s?.close();
  cleanup?.();
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
});

describe('a call served by the example external agent', () => {
  it('the caller hears the greeting; 1 sets a variable; # ends the AI and the flow goes on', async () => {
    const aiId = await createAi(s, {
      name: 'echo',
      engine_model: 'external.echo',
      engine_key: KEY,
      parameter: { agent_url: agentUrl },
      tool_names: ['set_variables', 'stop_service'],
    });
    const call = await dialFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    // The greeting chime (660 Hz, then 880 Hz) reaches the phone, resampled to 8 kHz.
    await until(() => audible(call.phone.heard).length >= 2400, 'the greeting to be heard');
    const heard = audible(call.phone.heard).subarray(0, 1600);
    expect(goertzel(heard, 660)).toBeGreaterThan(10 * goertzel(heard, 440));
    expect(output).toMatch(/<- start aicall [0-9a-f-]{36} call [0-9a-f-]{36}; tools: (stop_service, set_variables|set_variables, stop_service)/);

    call.phone.client.send({ type: 'dtmf', digits: '1' });
    await until(async () => (await activeflowOf(s, call.callId))?.variables?.echo_agent_pressed === '1' || /tool_result call_1: success/.test(output), 'set_variables to run');
    expect(output).toMatch(/tool_result call_1: success/);

    call.phone.client.send({ type: 'dtmf', digits: '#' });
    const aicall = await waitAicall(s, call.callId, (a) => a.status === 'terminated', 'the AI call to end');
    expect(aicall.metadata?.termination_reason ?? '').toMatch(/stop_service/);
    await call.phone.waitFor('hangup');
    await until(() => /<- stop: stop_service/.test(output), 'the agent to get stop');
    call.phone.close();

    expect(capturedLogs.join('\n')).not.toContain(KEY);
    expect(output).not.toContain(KEY);
  });

  it('an inline ai_talk (no stored AI) selects the external agent by engine_model and parameter.agent_url; the key comes from EXTERNAL_AGENT_KEY', async () => {
    const previous = process.env.EXTERNAL_AGENT_KEY;
    process.env.EXTERNAL_AGENT_KEY = KEY;
    try {
      const call = await dialFlow(s, [
        { type: 'answer' },
        { type: 'ai_talk', option: { engine_model: 'external.echo', parameter: { agent_url: agentUrl }, tool_names: ['stop_service'] } },
        { type: 'hangup' },
      ]);
      await until(() => audible(call.phone.heard).length >= 2400, 'the greeting to be heard');
      call.phone.client.send({ type: 'dtmf', digits: '#' });
      const aicall = await waitAicall(s, call.callId, (a) => a.status === 'terminated', 'the AI call to end');
      expect(aicall.ai_engine_model).toBe('external.echo');
      expect(aicall.metadata?.termination_reason ?? '').toMatch(/stop_service/);
      await call.phone.waitFor('hangup');
      call.phone.close();
    } finally {
      if (previous === undefined) delete process.env.EXTERNAL_AGENT_KEY;
      else process.env.EXTERNAL_AGENT_KEY = previous;
    }
    expect(capturedLogs.join('\n')).not.toContain(KEY);
  });
});
