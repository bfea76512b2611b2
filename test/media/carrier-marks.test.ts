/**
 * Heard vs received on a carrier leg: a Twilio-format client on /carrier/twilio calls a number
 * whose flow is answer → ai_talk (the scripted agent) → hangup, and plays the role of Twilio: it
 * buffers the media it gets and "plays" it in real time 300 ms behind, echoes each mark only when
 * the media before it has played, and on `clear` drops its buffer and echoes the pending marks at
 * once (as Twilio documents). The barge-in's ClearReport must say what this carrier had played
 * (within one mark interval), not what the server had sent, and the stored text is cut to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlayoutMark } from '../../streams/protocols/carrier.js';
import type { SessionEventRecord } from '../../streams/session/events.js';
import { MARK_INTERVAL_FRAMES } from '../../src/local/engine/live-call-port.js';
import { aimessagesOf, createAi, createFlow, createNumber, freshNumber, startFlowServer, tone, until } from '../flows/helpers.js';
import type { FlowServer } from '../flows/helpers.js';
import type { SessionObserverFactory } from '../../src/local/engine/engine.js';
import { cutToHeard, scriptedAgent } from '../flows/scripted-agent.js';
import { openRaw, wsBase } from './helpers.js';
import { BUFFER_MS, SimulatedTwilio, kind } from './simulated-twilio.js';

const MARK_INTERVAL_MS = MARK_INTERVAL_FRAMES * 20;
const ANSWER =
  'Thank you for calling. Your current balance is forty two dollars and ten cents, it is due on the fifth of next month, ' +
  'and you can pay it by card, by bank transfer, or at any of our stores; would you like me to take a card payment now?';


describe('carrier mark echoes feed the heard position', () => {
  let fs: FlowServer;
  /** The running test's observer of each AI conversation: the engine takes its observer at construction. */
  let observeSession: SessionObserverFactory | undefined;
  beforeAll(async () => {
    fs = await startFlowServer({}, { sessionObserver: (session) => observeSession?.(session) });
  });
  afterAll(() => fs.close());

  it('a barge-in on a Twilio stream reports what the carrier played, not what was sent, and stores the text cut to it', async () => {
    const aiId = await createAi(fs.s);
    const flowId = await createFlow(fs.s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    const number = freshNumber();
    await createNumber(fs.s, number, flowId);

    const agent = scriptedAgent([
      { say: tone(8000 * 6, 1000, 8000), text: ANSWER }, // 6 s answer
      { interruptOn: 'audio', peak: 3000 },
      { say: tone(2400, 2000, 8000), text: 'Sorry, go ahead.' }, // 300 ms
      { end: 'done' },
    ]);
    fs.useAgent(agent);

    // The carrier's position at the instant the server cleared (same process: an exact snapshot).
    let tw: SimulatedTwilio | undefined;
    const atClear = { played1k: -1, received: -1 };
    observeSession = () => (record: SessionEventRecord) => {
      if (record.event.type === 'playout_cleared' && tw) {
        atClear.played1k = tw.playedOf('1k');
        atClear.received = tw.received.filter((f) => kind(f) === '1k').length;
      }
    };

    tw = new SimulatedTwilio(await openRaw(`${wsBase(fs.s)}/carrier/twilio`), 'MZmarks0000000000000000000000001');
    try {
      tw.start({ token: fs.s.key, to: number, from: '+14155550199' });
      // The caller talks over the answer once the carrier has played a second of it.
      // (53 frames: between two marks, so the report must lag the carrier by less than one interval.)
      await until(() => tw!.playedOf('1k') >= 53, 'the carrier to play a second of the answer');
      tw.say(tone(1600, 500, 12_000));
      await until(() => agent.sessions[0]?.bargeIns.length === 1, 'the barge-in');
      const closed = await tw.raw.waitClosed(20_000);
      expect(closed).toEqual({ code: 1000, reason: 'call ended: normal' });

      const barge = agent.sessions[0]!.bargeIns[0]!;
      const carrierMs = atClear.played1k * 20;
      const pulledMs = atClear.received * 20;
      console.info(
        `carrier barge-in: report playedMs ${barge.playedMs}, carrier had played ${carrierMs} ms, server had sent ${pulledMs} ms, ` +
          `dropped ${barge.report.droppedMs} ms; marks sent ${tw.marks.length}, echoed after the clear ${tw.echoes.filter((e) => e.cleared).length}`,
      );
      expect(barge.responseId).toBe('resp_1');
      expect(barge.queuedMs).toBe(6000);
      // What the carrier confirmed: never more than it played, and at most one mark interval
      // behind it (plus one frame: an echo can be on the loopback when the clear runs).
      expect(barge.playedMs).toBeLessThanOrEqual(carrierMs);
      expect(carrierMs - barge.playedMs).toBeLessThanOrEqual(MARK_INTERVAL_MS + 20);
      expect(barge.playedMs % MARK_INTERVAL_MS).toBe(0);
      expect(barge.playedMs).toBeGreaterThanOrEqual(1000);
      // ... and well short of what the server had sent (the carrier's 300 ms buffer).
      expect(pulledMs - barge.playedMs).toBeGreaterThanOrEqual(BUFFER_MS - MARK_INTERVAL_MS);
      expect(barge.report.droppedMs).toBe(6000 - barge.playedMs);

      // The carrier's buffer was dropped at the clear: it played at most a frame more of the answer.
      expect(tw.clearsAt.length).toBeGreaterThanOrEqual(1);
      expect(tw.playedOf('1k') - atClear.played1k).toBeGreaterThanOrEqual(0);
      expect(tw.playedOf('1k') - atClear.played1k).toBeLessThanOrEqual(1);
      // The marks: `<response>:<ms>`, every 100 ms of the answer; each echoed exactly once, and the
      // ones still pending at the clear echoed by it (they moved nothing: heard stayed as reported).
      const answerMarks = tw.marks.map((n) => parsePlayoutMark(n)!).filter((m) => m.responseId === 'resp_1');
      expect(tw.marks.every((n) => /^resp_\d+:\d+$/.test(n))).toBe(true);
      expect(answerMarks.length).toBeGreaterThanOrEqual(10);
      for (let i = 0; i < answerMarks.length; i++) expect(answerMarks[i]!.ms).toBe((i + 1) * MARK_INTERVAL_MS);
      expect(tw.echoes.map((e) => e.name).sort()).toEqual([...tw.marks].sort());
      const clearedEchoes = tw.echoes.filter((e) => e.cleared).map((e) => parsePlayoutMark(e.name)!);
      expect(clearedEchoes.length).toBeGreaterThanOrEqual(1);
      expect(clearedEchoes.every((m) => m.responseId === 'resp_1' && m.ms > barge.playedMs)).toBe(true);

      // The next response played in full *at the carrier* before the flow hung up: the drain waited
      // for its marks, not just for the server to send it.
      expect(tw.playedOf('2k')).toBe(15);
      expect(tw.marks.filter((n) => n.startsWith('resp_2:')).at(-1)).toBe('resp_2:300');

      // The stored assistant text is the answer cut to what the carrier played.
      const aicall = await until(async () => {
        const list = await fs.s.call('GET', '/aicalls?page_size=100');
        return (list.body.result as any[]).find((a) => a.status === 'terminated' && a.assistance_id === aiId);
      }, 'the AI call to end');
      const cut = cutToHeard(ANSWER, barge.playedMs / barge.queuedMs);
      expect(barge.storedText).toBe(cut);
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.length).toBeLessThanOrEqual(cutToHeard(ANSWER, pulledMs / 6000).length);
      const messages = await aimessagesOf(fs.s, aicall.id);
      expect(messages.filter((m) => m.role === 'assistant' && m.content).map((m) => m.content)).toEqual([cut, 'Sorry, go ahead.']);
      expect(aicall.metadata.termination_reason).toBe('agent: done');
    } finally {
      tw.stop();
      tw.raw.close();
      observeSession = undefined;
    }
  });
});
