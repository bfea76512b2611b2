/**
 * The media_stream audio port on its own (streams/session/media-stream-port.ts), over a real
 * media stream client and the fake media_stream server, with a virtual clock for the outbound
 * pacing: one frame per 20 ms tick, a bounded catch-up after a late timer, clear() stops at once,
 * caller frames and DTMF in, onEnd at the close.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMediaStream } from '../../streams/media-stream-client.js';
import { MAX_CATCH_UP_FRAMES, mediaStreamPort } from '../../streams/session/media-stream-port.js';
import type { MediaStreamPortClock } from '../../streams/session/media-stream-port.js';
import { startFakeMediaStreamServer, TONE, TONE_FRAMES } from '../protocols/fake-media-stream-server.js';
import type { FakeMediaStreamServer } from '../protocols/fake-media-stream-server.js';
import { until } from '../flows/helpers.js';

const KEY = 'port-test-key-123456';

/** A manual clock: timers fire only in advance(). */
class ManualClock implements MediaStreamPortClock {
  t = 0;
  private timers: Array<{ at: number; cb: () => void; id: number }> = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimeout(cb: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, cb, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  /** Moves time on by `ms` in one jump (a late event loop fires only what is due at the end). */
  jump(ms: number): void {
    this.t += ms;
    this.fireDue();
  }
  /** Moves time on in 1 ms steps (an on-time event loop). */
  advance(ms: number): void {
    for (let i = 0; i < ms; i++) {
      this.t += 1;
      this.fireDue();
    }
  }
  private fireDue(): void {
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((x) => x !== due);
      due.cb();
    }
  }
}

describe('media stream port', () => {
  let server: FakeMediaStreamServer;
  beforeAll(async () => {
    server = await startFakeMediaStreamServer(KEY);
  });
  afterAll(() => server?.close());

  it('paces the agent audio one frame per 20 ms, catches up at most a couple of frames, and clear() stops it at once', async () => {
    const stream = await connectMediaStream({ url: server.api, callId: 'c1', encapsulation: 'sln', accessKey: KEY });
    const conn = await server.nextConnection();
    const clock = new ManualClock();
    const port = mediaStreamPort(stream, { clock });
    port.play(new Int16Array(160 * 20).fill(1000), 'r1');
    expect(port.framesSent).toBe(0);
    clock.advance(20);
    expect(port.framesSent).toBe(1);
    clock.advance(80);
    expect(port.framesSent).toBe(5);
    // A timer 100 ms late sends what is due, bounded, then re-aims at now.
    clock.jump(100);
    expect(port.framesSent).toBe(5 + 1 + MAX_CATCH_UP_FRAMES);
    clock.advance(20);
    expect(port.framesSent).toBe(5 + 1 + MAX_CATCH_UP_FRAMES + 1);
    const before = port.framesSent;
    const report = port.clear();
    expect(report.responses).toEqual([{ responseId: 'r1', playedMs: before * 20, queuedMs: 400 }]);
    clock.advance(200);
    expect(port.framesSent).toBe(before);
    // Late audio of the cut response is dropped; a new response plays.
    port.play(new Int16Array(160).fill(5), 'r1');
    clock.advance(100);
    expect(port.framesSent).toBe(before);
    port.play(new Int16Array(160 * 3).fill(7), 'r2');
    clock.advance(100);
    expect(port.framesSent).toBe(before + 3);
    expect(port.playedMs('r2')).toBe(60);
    await until(() => conn.received.length >= before + 3 + 0, 'the frames at the server');
    expect(conn.received.every((b) => b.length === 320)).toBe(true);
    // drain resolves once everything played.
    port.play(new Int16Array(100).fill(9), 'r3');
    const drained = port.drain();
    clock.advance(100);
    await drained;
    expect(port.framesSent).toBe(before + 4);
    port.close();
    expect(port.ended).toBe(true);
    await conn.closed;
  });

  it('passes caller frames and DTMF on and ends when the stream closes', async () => {
    const stream = await connectMediaStream({ url: server.api, callId: 'c2', encapsulation: 'audiosocket', accessKey: KEY });
    const port = mediaStreamPort(stream);
    const frames: Int16Array[] = [];
    const digits: string[] = [];
    let ended = 0;
    port.onAudio((f) => frames.push(f.slice()));
    port.onDtmf!((d) => digits.push(d));
    port.onEnd(() => ended++);
    const conn = await server.nextConnection();
    await until(() => frames.length >= TONE_FRAMES && digits.length >= 1, 'the tone and the digit');
    expect(frames.slice(0, TONE_FRAMES).every((f) => f.length === 160)).toBe(true);
    expect(Array.from(frames[1]!)).toEqual(Array.from(TONE.subarray(160, 320)));
    expect(digits).toEqual(['7']);
    expect(port.framesReceived).toBe(frames.length);
    conn.socket.close(1000, 'flow moved on');
    await until(() => ended === 1, 'onEnd');
    expect(port.ended).toBe(true);
    // After the end nothing is queued or sent.
    port.play(new Int16Array(320), 'x');
    expect(port.playout.bufferedFrames).toBe(0);
  });
});
