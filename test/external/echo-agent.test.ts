/**
 * examples/echo-agent.mjs as a real process, driven through the external agent session with a
 * fake host: the greeting's audio arrives, a caller turn is echoed back, DTMF '1' and '#' become
 * set_variables and stop_service tool calls, the bearer token is checked, and every text message
 * both ways matches the protocol's JSON Schemas.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalAgent } from '../../streams/agents/external/index.js';
import { assertValid, fakeHost, startOptions, until } from './helpers.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/echo-agent.mjs');
const KEY = 'vbx_echo_canary_4b1d';

let proc: ChildProcess;
let url = '';
let output = '';

beforeAll(async () => {
  proc = spawn(process.execPath, [EXAMPLE, '--port', '0', '--key', KEY], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  await until(() => /listening on (ws:\/\/\S+)/.test(output), 10_000, 'the echo agent to listen');
  url = /listening on (ws:\/\/\S+)/.exec(output)![1];
});

afterAll(async () => {
  if (proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
});

/** 20 ms frames of 16 kHz PCM: `ms` of a loud tone, then `silenceMs` of silence. */
function turn(ms: number, silenceMs: number): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let t = 0; t < ms; t += 20) frames.push(Int16Array.from({ length: 320 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * (t * 16 + i)) / 16000))));
  for (let t = 0; t < silenceMs; t += 20) frames.push(new Int16Array(320));
  return frames;
}

describe('examples/echo-agent.mjs', () => {
  it('greets, echoes a turn, calls set_variables on 1 and stop_service on #', async () => {
    const host = fakeHost();
    const seen: { d: 'to_agent' | 'from_agent'; t: string }[] = [];
    const s = await externalAgent({ onText: (d, t) => seen.push({ d, t }) })(startOptions(url, { engine_key: KEY }), host);
    try {
      expect(s.input).toEqual({ encoding: 'pcm16', sampleRateHz: 16000 });
      expect(s.output).toEqual({ encoding: 'pcm16', sampleRateHz: 16000 });
      await s.start();
      // The greeting: a 500 ms chime as response r1, then its transcript.
      await until(() => host.transcripts.some((t) => t.role === 'assistant'), 5000, 'the greeting');
      host.play('r1', 500); // the host played the greeting: its end mark comes back played
      await until(() => seen.some((m) => m.d === 'to_agent' && m.t.includes('"r1-end"')), 3000, 'the mark');
      const greetingMs = host.audio.filter((a) => a.responseId === 'r1').reduce((n, a) => n + a.samples, 0) / 16;
      expect(greetingMs).toBeGreaterThanOrEqual(480);
      expect(host.events).toContainEqual({ type: 'response_started', responseId: 'r1' });
      expect(host.events).toContainEqual({ type: 'response_done', responseId: 'r1', status: 'completed' });

      // A caller turn (400 ms of speech, then a pause) comes back as the echo, response r2.
      for (const f of turn(400, 800)) s.audioIn(f);
      await until(() => host.events.some((e) => e.type === 'response_done' && e.responseId === 'r2'), 5000, 'the echo');
      const echoMs = host.audio.filter((a) => a.responseId === 'r2').reduce((n, a) => n + a.samples, 0) / 16;
      expect(echoMs).toBeGreaterThanOrEqual(380);
      expect(echoMs).toBeLessThanOrEqual(460);
      expect(host.events).toContainEqual({ type: 'speech_started' });
      expect(host.events).toContainEqual({ type: 'speech_stopped' });
      expect(host.transcripts).toContainEqual(expect.objectContaining({ role: 'user', text: expect.stringMatching(/ms of caller audio/) }));

      s.dtmf!('1');
      await until(() => host.toolCalls.length === 1, 5000, 'set_variables');
      expect(host.toolCalls[0]).toEqual({ id: 'call_1', name: 'set_variables', arguments: { variables: { echo_agent_pressed: '1' } } });
      s.dtmf!('#');
      await until(() => host.toolCalls.length === 2, 5000, 'stop_service');
      expect(host.toolCalls[1]).toMatchObject({ name: 'stop_service', arguments: {} });
      await until(() => /tool_result call_2: success/.test(output), 5000, 'the agent to print the result');
    } finally {
      await s.stop('stop_service');
    }
    await until(() => /<- stop: stop_service/.test(output) && /connection closed \(1000/.test(output), 5000, 'the agent to see stop');
    expect(host.ends).toEqual([]);
    // Every message both ways is valid, and the token never printed.
    for (const m of seen) assertValid(m.d, m.t);
    const types = new Set(seen.map((m) => `${m.d}:${JSON.parse(m.t).type}`));
    for (const t of ['to_agent:start', 'to_agent:begin', 'to_agent:dtmf', 'to_agent:tool_result', 'to_agent:mark', 'to_agent:stop',
      'from_agent:accept', 'from_agent:response_start', 'from_agent:response_end', 'from_agent:mark', 'from_agent:transcript', 'from_agent:tool_call', 'from_agent:event']) {
      expect(types).toContain(t);
    }
    expect(output).not.toContain(KEY);
    expect(output).toMatch(/authorization: bearer token/);
  });

  it('a caller speaking over the echo barges in: clear, then cleared with what was heard', async () => {
    const host = fakeHost();
    const seen: { d: 'to_agent' | 'from_agent'; t: string }[] = [];
    const s = await externalAgent({ onText: (d, t) => seen.push({ d, t }) })(startOptions(url, { engine_key: KEY }), host);
    try {
      await s.start();
      await until(() => host.audio.some((a) => a.responseId === 'r1'), 5000, 'the greeting');
      host.play('r1', 40); // of the 100 ms lead the agent sent at once
      for (const f of turn(100, 0)) s.audioIn(f); // speech over the greeting
      await until(() => host.clears.length === 1, 5000, 'a clear');
      await until(() => /<- cleared \(clear\): r1 heard 40\//.test(output), 5000, `the agent to get cleared; it printed:\n${output.slice(-1500)}`);
      expect(host.events).toContainEqual(expect.objectContaining({ type: 'barge_in', responseId: 'r1', heardMs: 40 }));
    } finally {
      await s.stop('hangup');
    }
    await until(() => /<- hangup/.test(output), 5000, 'hangup');
    for (const m of seen) assertValid(m.d, m.t);
  });

  it('a wrong bearer token is refused by the agent (HTTP 401)', async () => {
    const host = fakeHost();
    await expect(externalAgent()(startOptions(url, { engine_key: 'not-the-key' }), host)).rejects.toThrow(/refused the connection: HTTP 401/);
    expect(host.ends[0]).toMatch(/HTTP 401/);
  });
});
