/**
 * Barge-in over the real local engine: a scripted agent speaks a long answer to a real local
 * phone (through the flow engine, the session runner, the live call's playout and the media
 * clock); the phone talks over it; the agent clears. What the phone actually received is compared
 * with what the playout says was heard, and the stored assistant message with the cut text.
 * Timings are only bounded generously (a busy 2-core machine); frame counts are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEventRecord } from '../../streams/session/events.js';
import { aimessagesOf, createAi, dialFlow, goertzel, ok, startFlowServer, tone, until, waitAicall } from './helpers.js';
import type { FlowServer } from './helpers.js';
import type { SessionObserverFactory } from '../../src/local/engine/engine.js';
import { cutToHeard, scriptedAgent } from './scripted-agent.js';

const ANSWER =
  'Thank you for calling. Your current balance is forty two dollars and ten cents, it is due on the fifth of next month, ' +
  'and you can pay it by card, by bank transfer, or at any of our stores; would you like me to take a card payment now?';

/** Which of the two agent tones a frame carries (the mixer sends silence while nothing plays). */
function kind(frame: Int16Array): '1k' | '2k' | 'silence' {
  const a1 = goertzel(frame, 1000);
  const a2 = goertzel(frame, 2000);
  if (a1 < 1000 && a2 < 1000) return 'silence';
  return a1 > a2 ? '1k' : '2k';
}

describe('barge-in on a local call', () => {
  let fs: FlowServer;
  /** The running test's observer of each AI conversation: the engine takes its observer at construction. */
  let observeSession: SessionObserverFactory | undefined;
  beforeAll(async () => {
    fs = await startFlowServer({}, { sessionObserver: (session) => observeSession?.(session) });
  });
  afterAll(() => fs.close());

  it('the phone stops hearing the answer at the clear, what it got is what the playout counted as heard, and the stored text is cut to it', async () => {
    const aiId = await createAi(fs.s);
    const records: SessionEventRecord[] = [];
    /** What the call's mix sent the phone, counted on the server in the tick that sent it. */
    const mix = { frames: 0, oneK: 0, oneKAtClear: -1, framesAtClear: -1 };
    // Observed next to what the server already observes with (its metrics).
    observeSession = (session) => (record) => observe(session.callId, record);
    const observe = (callId: string, record: SessionEventRecord) => {
      records.push(record);
      if (record.event.type === 'session_started') {
        // Before the agent starts: every frame of its audio is counted.
        fs.s.engine.getLive(callId)!.tapOut((f) => {
          mix.frames++;
          if (kind(f) === '1k') mix.oneK++;
        });
      }
      if (record.event.type === 'playout_cleared') {
        mix.oneKAtClear = mix.oneK;
        mix.framesAtClear = mix.frames;
      }
    };
    const agent = scriptedAgent([
      { say: tone(8000 * 6, 1000, 8000), text: ANSWER }, // 6 s answer
      { interruptOn: 'audio', peak: 3000 }, // the caller talks over it
      { say: tone(2400, 2000, 8000), text: 'Sorry, go ahead.' }, // 300 ms
      { tool: 'set_variables', id: 'call_set', args: { variables: { interrupted: 'yes' } } },
      { end: 'done' },
    ]);
    fs.useAgent(agent);

    const c = await dialFlow(fs.s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    const heardAt: number[] = [];
    c.phone.client.on('audio', () => heardAt.push(performance.now()));
    const oneKFrames = () => c.phone.heard.filter((f) => kind(f) === '1k').length;

    // The answer plays; the caller presses keys, then speaks over it after about a second.
    await until(() => oneKFrames() >= 50, 'the phone to hear a second of the answer');
    c.phone.client.send({ type: 'dtmf', digits: '5#' });
    await until(() => agent.sessions[0]!.dtmf.length === 2, 'the DTMF to reach the agent');
    expect(agent.sessions[0]!.dtmf).toEqual(['5', '#']);
    const spokeAt = performance.now();
    c.phone.sendAll(tone(1600, 500, 12_000)); // 200 ms, loud
    await until(() => agent.sessions[0]!.bargeIns.length === 1, 'the agent to barge in');
    await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);

    const barge = agent.sessions[0]!.bargeIns[0]!;
    expect(barge.by).toBe('audio');
    expect(barge.responseId).toBe('resp_1');
    expect(barge.queuedMs).toBe(6000);
    expect(barge.report.droppedMs).toBe(6000 - barge.playedMs);
    expect(barge.playedMs).toBeGreaterThanOrEqual(1000);
    expect(barge.playedMs).toBeLessThan(6000);

    // What the phone received of the answer, frame by frame.
    const kinds = c.phone.heard.map(kind);
    const firstOneK = kinds.indexOf('1k');
    const lastOneK = kinds.lastIndexOf('1k');
    const phoneOneK = kinds.filter((k) => k === '1k').length;
    // One continuous run: no gap, nothing after the cut.
    expect(kinds.slice(firstOneK, lastOneK + 1).every((k) => k === '1k')).toBe(true);
    // Heard vs received: the playout's playedMs is the phone's 1 kHz audio, within a frame.
    expect(Math.abs(phoneOneK * 20 - barge.playedMs)).toBeLessThanOrEqual(20);
    // The cut is immediate: the mix had sent exactly playedMs when the clear ran, and the phone
    // got no more than one frame of the answer past that point.
    expect(mix.oneKAtClear * 20).toBe(barge.playedMs);
    expect(phoneOneK - mix.oneKAtClear).toBeGreaterThanOrEqual(0);
    expect(phoneOneK - mix.oneKAtClear).toBeLessThanOrEqual(1);
    // The next response played in full after it, and nothing of the answer came back.
    const firstTwoK = kinds.indexOf('2k');
    expect(firstTwoK).toBeGreaterThan(lastOneK);
    expect(kinds.filter((k) => k === '2k').length).toBe(15);

    // The stored assistant message is the answer cut to what was heard, at a word boundary.
    const aicall = await waitAicall(fs.s, c.callId, (a) => a.status === 'terminated', 'the AI call to end');
    const cut = cutToHeard(ANSWER, barge.playedMs / barge.queuedMs);
    expect(barge.storedText).toBe(cut);
    expect(cut.length).toBeGreaterThan(0);
    expect(cut.length).toBeLessThan(ANSWER.length);
    expect(ANSWER.startsWith(cut)).toBe(true);
    // The conversation's metrics are stored with the AI call (src/metrics/ from the same records).
    const stored = (await ok(fs.s, 'GET', `/aicalls/${aicall.id}`)).metadata.metrics;
    expect(stored).toMatchObject({ barge_ins: 1, tool_calls: 1, tool_calls_failed: 0 });
    expect(stored.barge_in_ms.count).toBe(1);
    expect(stored.barge_in_ms.max).toBeGreaterThanOrEqual(0);
    expect(stored.barge_in_ms.max).toBeLessThan(1000);
    expect(stored.duration_ms).toBeGreaterThan(1000);
    const messages = await aimessagesOf(fs.s, aicall.id);
    expect(messages.filter((m) => m.role === 'assistant' && m.content).map((m) => m.content)).toEqual([cut, 'Sorry, go ahead.']);

    // The observer saw the conversation in order, timestamps rising.
    const at = (type: string, pred: (e: any) => boolean = () => true) => records.findIndex((r) => r.event.type === type && pred(r.event));
    const order = [
      at('session_started'),
      at('response_started', (e) => e.responseId === 'resp_1'),
      at('first_audio', (e) => e.responseId === 'resp_1'),
      at('playout_cleared'),
      at('barge_in'),
      at('first_audio', (e) => e.responseId === 'resp_2'),
      at('tool_call'),
      at('session_ended'),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (let i = 1; i < records.length; i++) expect(records[i]!.atMs).toBeGreaterThanOrEqual(records[i - 1]!.atMs);
    expect(records[at('playout_cleared')]!.event).toEqual({ type: 'playout_cleared', droppedMs: barge.report.droppedMs });
    expect(records[at('tool_call')]!.event).toMatchObject({ type: 'tool_call', name: 'set_variables', result: 'success' });
    expect(records[at('session_ended')]!.event).toEqual({ type: 'session_ended', reason: 'agent: done' });

    // Timings, bounded generously: speech to clear, and the clear to the phone's last frame of the answer.
    const clearedAt = records[at('playout_cleared')]!.atMs;
    const lastOneKAt = heardAt[lastOneK]!;
    const bargeLatencyMs = clearedAt - spokeAt;
    const tailMs = lastOneKAt - clearedAt;
    expect(bargeLatencyMs).toBeGreaterThan(0);
    expect(bargeLatencyMs).toBeLessThan(2000);
    expect(tailMs).toBeLessThan(1000);
    console.info(
      `barge-in: heard ${barge.playedMs} ms, phone received ${phoneOneK * 20} ms (mix at clear ${mix.oneKAtClear * 20} ms); ` +
        `speech -> clear ${bargeLatencyMs.toFixed(1)} ms; clear -> last answer frame at the phone ${tailMs.toFixed(1)} ms`,
    );
    observeSession = undefined;
    c.phone.close();
  });
});
