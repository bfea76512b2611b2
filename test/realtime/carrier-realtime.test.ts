/**
 * A whole call with the OpenAI Realtime agent through a Twilio-format carrier stream: a client on
 * /carrier/twilio plays Twilio (it plays what it gets in real time 300 ms behind, echoes marks as
 * it plays past them, and on `clear` drops its buffer and echoes the pending marks) and calls a
 * number whose flow is answer → ai_talk (openai.gpt-realtime, a canary key) → hangup, against the
 * TLS loopback fake of the GA Realtime API. The carrier plays the greeting (the model's pcmu, as
 * mu-law media), the caller's turn is stored, and a barge-in sends Twilio `clear` while the model
 * gets response.cancel and a truncate at the position the carrier's mark echoes acknowledged.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createLogger } from '../../src/util/logger.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import { isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../../streams/agents/openai-realtime/agent.js';
import { parsePlayoutMark } from '../../streams/protocols/carrier.js';
import type { SessionEventRecord } from '../../streams/session/events.js';
import type { SessionObserverFactory } from '../../src/local/engine/engine.js';
import { MARK_INTERVAL_FRAMES } from '../../src/local/engine/live-call-port.js';
import { FakeOpenAIRealtime } from '../fakes/fake-openai-realtime.js';
import { aimessagesOf, createAi, createFlow, createNumber, freshNumber, tone, until, waitAicall } from '../flows/helpers.js';
import { openRaw, wsBase } from '../media/helpers.js';
import { BUFFER_MS, SimulatedTwilio, kind } from '../media/simulated-twilio.js';
import { pcmuTone } from './helpers.js';

const KEY = `sk-canary-carrier-${process.pid}-${Math.random().toString(36).slice(2)}`;
const MARK_INTERVAL_MS = MARK_INTERVAL_FRAMES * 20;



describe('ai_talk with the OpenAI Realtime agent over a Twilio carrier stream (TLS fake)', () => {
  let fake: FakeOpenAIRealtime;
  let s: TestServer;
  let cleanup: () => void = () => {};
  /** The running test's observer of each AI conversation: the engine takes its observer at construction. */
  let observeSession: SessionObserverFactory | undefined;

  beforeAll(async () => {
    fake = await FakeOpenAIRealtime.start({ apiKey: KEY });
    const t = tempDir('voipbin-ai-carrier-realtime-');
    cleanup = t.cleanup;
    const agents = new AgentRegistry().register(isOpenAIRealtimeConfig, openAIRealtimeAgent({ baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug') }));
    s = await startTestServer(join(t.dir, 'db.sqlite'), {}, { engine: { agents, sessionObserver: (session) => observeSession?.(session) } });
  });
  afterAll(async () => {
    await s?.close();
    await fake?.close();
    cleanup();
    expect(capturedLogs.join('\n')).not.toContain(KEY);
  });

  it('greets, stores the caller turn, and a barge-in clears Twilio and truncates at the acknowledged position', async () => {
    const aiId = await createAi(s, { engine_model: 'openai.gpt-realtime', engine_key: KEY, init_prompt: 'You are the plumber line.', tool_names: ['stop_service'] });
    const flowId = await createFlow(s, [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: aiId } }, { type: 'hangup' }]);
    const number = freshNumber();
    await createNumber(s, number, flowId);
    const n = fake.connections.length;
    // The greeting: 600 ms of a 1 kHz tone, as the model's pcmu.
    fake.script({ audio: pcmuTone(600, 1000), transcript: ['Hello,', ' plumber', ' line.'] });

    let tw: SimulatedTwilio | undefined;
    /** The carrier's position at each instant the server cleared (same process: exact snapshots). */
    const clears: { played2k: number; received2k: number }[] = [];
    observeSession = () => (record: SessionEventRecord) => {
      if (record.event.type === 'playout_cleared' && tw) {
        clears.push({ played2k: tw.playedOf('2k'), received2k: tw.received.filter((f) => kind(f) === '2k').length });
      }
    };
    tw = new SimulatedTwilio(await openRaw(`${wsBase(s)}/carrier/twilio`), 'MZrealtime00000000000000000000001');
    try {
      tw.start({ token: s.key, to: number, from: '+14155550142' });
      const conn = await fake.waitForConnection(n, 20_000);
      expect(conn.apiKey).toBe(KEY);
      await conn.waitForClientEvent('response.create', () => true, 20_000);
      expect(conn.session.audio?.input?.format).toEqual({ type: 'audio/pcmu' });

      // The carrier plays the greeting (mu-law media of the model's pcmu), and only once its marks
      // came back is it stored as said.
      await until(() => tw!.playedOf('1k') >= 30, 'the greeting played at the carrier');
      const running = await waitAicall(s, (await callOf(s, number)).id, (a) => a.status === 'progressing', 'progressing');
      await until(async () => (await aimessagesOf(s, running.id)).some((m) => m.role === 'assistant' && m.content === 'Hello, plumber line.'), 'the greeting stored');
      const greetingMarks = tw.marks.map((x) => parsePlayoutMark(x)!);
      expect(greetingMarks.at(-1)!.ms).toBe(600);
      expect(tw.echoes.some((e) => !e.cleared && parsePlayoutMark(e.name)!.ms === 600)).toBe(true);

      // The caller speaks: mu-law from the carrier reaches the model as pcmu.
      tw.say(tone(8000, 440, 6000));
      await until(() => conn.appendedBytes['audio/pcmu'] >= 160 * 20, 'caller audio at the model');
      const userItem = conn.speechStarted();
      conn.speechStopped(userItem);
      conn.inputTranscriptionCompleted('My sink is leaking.', userItem);
      // A long answer (3 s of 2 kHz, streamed fast and held open), and the caller talks over it.
      const words = Array.from({ length: 30 }, (_, i) => (i === 0 ? 'Word0' : ` word${i}`));
      conn.startResponse({ audio: pcmuTone(3000, 2000), transcript: words, intervalMs: 1, hold: true });
      await until(() => tw!.playedOf('2k') >= 43, '860 ms of the answer played at the carrier (between two marks)');
      const clearsBefore = tw.clearsAt.length;
      conn.speechStarted();
      const cancel = await conn.waitForClientEvent('response.cancel', () => true, 20_000);
      const trunc = await conn.waitForClientEvent('conversation.item.truncate', () => true, 20_000);
      await until(() => tw!.clearsAt.length > clearsBefore, 'the Twilio clear');
      expect(tw.raw.jsons.filter((m) => m.event === 'clear').at(-1)).toEqual({ event: 'clear', streamSid: tw.streamSid });
      expect(cancel.response_id).toBeTruthy();

      // The caller's first turn cleared an empty playout too; the answer's clear is the last one.
      const atClear = clears.at(-1)!;
      const carrierMs = atClear.played2k * 20;
      const sentMs = atClear.received2k * 20;
      console.info(`carrier realtime barge-in: truncate at ${trunc.audio_end_ms} ms, carrier had played ${carrierMs} ms, server had sent ${sentMs} ms`);
      // The truncate is the acknowledged position: what the carrier played, within one mark
      // interval (plus a frame in transit), never past it, and short of what was sent.
      expect(trunc.audio_end_ms).toBeLessThanOrEqual(carrierMs);
      expect(carrierMs - trunc.audio_end_ms).toBeLessThanOrEqual(MARK_INTERVAL_MS + 20);
      expect(trunc.audio_end_ms % MARK_INTERVAL_MS).toBe(0);
      expect(sentMs - trunc.audio_end_ms).toBeGreaterThanOrEqual(BUFFER_MS - MARK_INTERVAL_MS);
      // The carrier's buffer was dropped: nothing more of the answer was played after the clear.
      await new Promise((r) => setTimeout(r, 400));
      expect(tw.playedOf('2k') - atClear.played2k).toBeLessThanOrEqual(1);

      conn.inputTranscriptionCompleted('Stop, please.');
      conn.startResponse({ noAudio: true, functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_stop' }] });
      expect(await tw.raw.waitClosed(20_000)).toEqual({ code: 1000, reason: 'call ended: normal' });

      const aicall = await waitAicall(s, running.reference_id, (a) => a.status === 'terminated', 'terminated');
      expect(aicall.metadata.termination_reason).toBe('stop_service');
      const messages = await aimessagesOf(s, aicall.id);
      const spoken = messages.filter((m) => (m.role === 'assistant' || m.role === 'user') && !(m.tool_calls?.length > 0)).map((m) => [m.role, m.content]);
      const full = words.join('');
      expect(spoken.slice(0, 2)).toEqual([
        ['assistant', 'Hello, plumber line.'],
        ['user', 'My sink is leaking.'],
      ]);
      const cut = spoken[2]!;
      expect(cut[0]).toBe('assistant');
      expect(full.startsWith(cut[1] as string)).toBe(true);
      expect((cut[1] as string).length).toBeGreaterThan(0);
      expect((cut[1] as string).length).toBeLessThan(full.length);
      expect(spoken[3]).toEqual(['user', 'Stop, please.']);
      expect(conn.serverEvents.filter((e) => e.type === 'error')).toEqual([]);
      expect(JSON.stringify(messages)).not.toContain(KEY);
    } finally {
      tw.stop();
      tw.raw.close();
      observeSession = undefined;
    }
  });
});

/** The call the carrier stream became (the newest incoming call to `number`). */
async function callOf(s: TestServer, number: string): Promise<any> {
  return until(async () => {
    const list = await s.call('GET', '/calls?page_size=100');
    return (list.body.result as any[]).find((c) => c.direction === 'incoming' && c.destination?.target === number);
  }, `the call to ${number}`);
}
