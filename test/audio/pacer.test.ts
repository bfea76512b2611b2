import { describe, expect, it } from 'vitest';
import type { PacerScheduler } from '../../streams/audio/pacer.js';
import { Pacer } from '../../streams/audio/pacer.js';

/** A virtual monotonic clock with timers; `lateMs` makes every timer fire that much late. */
class FakeTime implements PacerScheduler {
  nowMs = 0;
  private nextId = 1;
  private timers = new Map<number, { atMs: number; cb: () => void }>();
  constructor(private readonly lateMs: () => number = () => 0) {}
  readonly clock = (): number => this.nowMs;
  setTimeout(cb: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.nowMs + delayMs + this.lateMs(), cb });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Advances time, firing due timers in order at their due times. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let next: [number, { atMs: number; cb: () => void }] | undefined;
      for (const t of this.timers) if (t[1].atMs <= end && (!next || t[1].atMs < next[1].atMs)) next = t;
      if (!next) break;
      this.timers.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].atMs);
      next[1].cb();
    }
    this.nowMs = end;
  }
}

function frame(index: number): Int16Array {
  return new Int16Array(160).fill(index);
}

function setup(opts: { lead?: number; lateMs?: () => number } = {}) {
  const time = new FakeTime(opts.lateMs);
  const sent: { index: number; atMs: number }[] = [];
  const pacer = new Pacer<Int16Array>({
    send: (f) => sent.push({ index: f[0], atMs: time.nowMs }),
    leadFrames: opts.lead ?? 3,
    clock: time.clock,
    scheduler: time,
  });
  let drained = 0;
  pacer.on('drained', () => drained++);
  return { time, sent, pacer, drained: () => drained };
}

describe('Pacer (virtual clock)', () => {
  it('sends the lead at once, then one frame per 20 ms, in order', () => {
    const { time, sent, pacer } = setup();
    for (let i = 0; i < 10; i++) pacer.enqueue(frame(i));
    expect(sent.map((s) => s.index)).toEqual([0, 1, 2]); // lead, synchronously
    time.advance(19);
    expect(sent.length).toBe(3);
    time.advance(1);
    expect(sent.length).toBe(4);
    time.advance(1000);
    expect(sent.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // frame k goes out when the carrier is down to lead-1 frames: at (k - 2) * 20 ms
    sent.forEach((s, k) => expect(s.atMs).toBe(Math.max(0, k - 2) * 20));
  });

  it('keeps real-time rate without drift when every timer fires late', () => {
    let seed = 7;
    const jitter = (): number => {
      seed = (seed * 48271) % 2147483647;
      return (seed % 1500) / 100; // 0..15 ms late
    };
    const { time, sent, pacer } = setup({ lateMs: jitter });
    const frames = 500;
    for (let i = 0; i < frames; i++) pacer.enqueue(frame(i % 1000));
    time.advance(frames * 20 + 100);
    expect(sent.length).toBe(frames);
    // Never early; never more than one timer's lateness behind the ideal schedule (no accumulation).
    sent.forEach((s, k) => {
      const idealMs = Math.max(0, k - 2) * 20;
      expect(s.atMs).toBeGreaterThanOrEqual(idealMs);
      expect(s.atMs).toBeLessThanOrEqual(idealMs + 15);
    });
  });

  it('clear() drops the queue at once and reports dropped / sent / heard ms', () => {
    const { time, sent, pacer, drained } = setup();
    for (let i = 0; i < 50; i++) pacer.enqueue(frame(i));
    time.advance(100); // 3 lead + 5 more = 8 sent; carrier has played 100 ms of 160
    expect(sent.length).toBe(8);
    expect(pacer.queuedMs).toBe(42 * 20);
    const r = pacer.clear();
    expect(r).toEqual({ droppedMs: 840, sentMs: 160, carrierBufferedMs: 60, heardMs: 100 });
    expect(pacer.queuedFrames).toBe(0);
    expect(time.pending).toBe(0); // timer released
    time.advance(1000);
    expect(sent.length).toBe(8);
    expect(drained()).toBe(0);
    // the next response starts fresh with its own lead and accounting
    pacer.enqueue(frame(100));
    expect(sent.at(-1)?.index).toBe(100);
    expect(pacer.clear()).toMatchObject({ droppedMs: 0, sentMs: 20 });
  });

  it("emits 'drained' once when a frame is due and the queue is empty, then holds no timer", () => {
    const { time, sent, pacer, drained } = setup();
    for (let i = 0; i < 5; i++) pacer.enqueue(frame(i));
    time.advance(40); // last frame sent at 40 ms
    expect(sent.length).toBe(5);
    time.advance(19);
    expect(drained()).toBe(0);
    time.advance(1); // at 60 ms the next frame would have been due
    expect(drained()).toBe(1);
    expect(time.pending).toBe(0);
    time.advance(1000);
    expect(drained()).toBe(1);
  });

  it("does not emit 'drained' while a producer stays ahead, frame by frame", () => {
    const { time, sent, pacer, drained } = setup();
    for (let i = 0; i < 3; i++) pacer.enqueue(frame(i)); // the lead, sent at once
    for (let i = 3; i < 20; i++) {
      time.advance(10); // one 20 ms frame every 10 ms: faster than real time, as agents produce
      pacer.enqueue(frame(i));
    }
    time.advance(339 - time.nowMs); // frame 19 is due at (19 - 2) * 20 = 340 ms
    expect(sent.length).toBe(19);
    time.advance(1);
    expect(sent.length).toBe(20);
    expect(drained()).toBe(0);
    time.advance(20); // the next frame would be due now, and there is none
    expect(drained()).toBe(1);
  });

  it('after an underrun restarts with a lead; after a short gap only tops the carrier up', () => {
    const { time, sent, pacer } = setup();
    pacer.enqueue(frame(0));
    pacer.enqueue(frame(1));
    expect(sent.length).toBe(2);
    time.advance(30); // carrier still holds 10 ms
    for (let i = 2; i < 6; i++) pacer.enqueue(frame(i));
    expect(sent.length).toBe(4); // topped up to 3 frames buffered (10 + 20 + 20 ms <= lead), not a new burst of 3
    time.advance(1000); // everything played, carrier dry
    const before = sent.length;
    for (let i = 6; i < 10; i++) pacer.enqueue(frame(i));
    expect(sent.length - before).toBe(3);
  });

  it('counts short frames pro rata, copies frames, stop() releases everything', () => {
    const { time, sent, pacer } = setup({ lead: 1 });
    const f = frame(1);
    pacer.enqueue(f);
    f.fill(9); // the pacer holds its own copy
    pacer.enqueue(new Int16Array(80).fill(2)); // half a frame = 10 ms
    pacer.enqueue(frame(3));
    expect(sent.map((s) => s.index)).toEqual([1]);
    expect(pacer.queuedMs).toBe(30);
    pacer.stop();
    expect(time.pending).toBe(0);
    expect(() => pacer.enqueue(frame(4))).toThrow(/after stop/);
  });

  it("reports send errors from the timer as 'error' and keeps pacing", () => {
    const time = new FakeTime();
    let calls = 0;
    const pacer = new Pacer<Uint8Array>({
      send: () => {
        if (++calls === 4) throw new Error('socket closed');
      },
      clock: time.clock,
      scheduler: time,
    });
    const errors: Error[] = [];
    pacer.on('error', (e) => errors.push(e));
    for (let i = 0; i < 6; i++) pacer.enqueue(new Uint8Array(160));
    time.advance(200);
    expect(errors.map((e) => e.message)).toEqual(['socket closed']);
    expect(calls).toBe(6);
  });
});

describe('Pacer (real clock)', () => {
  it('paces 25 frames in real time with a 3-frame lead', async () => {
    const sentAt: number[] = [];
    const t0 = performance.now();
    const pacer = new Pacer<Int16Array>({ send: () => sentAt.push(performance.now()) });
    const done = new Promise<void>((resolve) => pacer.once('drained', resolve));
    for (let i = 0; i < 25; i++) pacer.enqueue(frame(i));
    expect(sentAt.length).toBe(3);
    await done;
    pacer.stop();
    expect(sentAt.length).toBe(25);
    // Never early (1 ms slack for timer/clock granularity); generous upper bound for a busy 2-core box.
    sentAt.forEach((at, k) => expect(at - t0).toBeGreaterThanOrEqual(Math.max(0, k - 2) * 20 - 1));
    expect(sentAt[24] - t0).toBeLessThan(440 + 1500);
  });
});
