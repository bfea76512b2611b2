/**
 * The playout on its own (streams/session/playout.ts): 20 ms frames tagged by response, pulled
 * one per tick by a clock the test plays; what was played per response, clears and their
 * reports, late audio after a clear, the bound, the carrier acknowledgment hook, drain.
 */
import { describe, expect, it } from 'vitest';
import { Playout } from '../../streams/session/playout.js';

const FRAME = 160;

/** `n` samples counting up from `from` (so every sample says where it came from). */
function ramp(n: number, from = 1): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = from + i;
  return out;
}

/** Pulls up to `n` frames (copies), stopping at the first tick without one. */
function pullAll(p: Playout, n = 1_000_000): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i < n; i++) {
    const f = p.pull();
    if (!f) break;
    out.push(f.slice());
  }
  return out;
}

describe('Playout', () => {
  it('re-frames any chunk sizes into 20 ms frames, in order, and counts per response what was pulled', () => {
    const p = new Playout({ cushionFrames: 0 });
    const audio = ramp(1000); // 125 ms
    for (let at = 0; at < audio.length; at += 77) p.play(audio.subarray(at, at + 77), 'r1');
    expect(p.queuedMs).toBe(125);
    expect(p.sentMs('r1')).toBe(125);
    // 6 complete frames; the 40 samples left wait for more until the producer was quiet for 3
    // ticks that had nothing else to play (a bursty producer gets no gap padded in mid-response).
    const frames = pullAll(p); // stops at the 7th tick: nothing to play
    expect(frames).toHaveLength(6);
    expect(p.playedMs('r1')).toBe(120);
    expect(p.pull()).toBeUndefined(); // 8th
    const last = p.pull()!; // 9th: the 3rd tick with only the partial frame
    expect(last).toBeDefined();
    expect(Array.from(last.subarray(0, 40))).toEqual(Array.from(audio.subarray(960)));
    expect(last.subarray(40).every((v) => v === 0)).toBe(true); // padded with silence
    expect(p.playedMs('r1')).toBe(125);
    const joined = new Int16Array(frames.length * FRAME);
    frames.forEach((f, i) => joined.set(f, i * FRAME));
    expect(Array.from(joined)).toEqual(Array.from(audio.subarray(0, 960)));
    expect(p.playedMs('unknown')).toBe(0);
  });

  it('holds a cushion of 2 frames while the producer streams, and plays at once what is all there', () => {
    const p = new Playout(); // cushion 2
    p.play(ramp(FRAME), 'a');
    expect(p.pull()).toBeUndefined(); // 1 frame, producer active: wait
    p.play(ramp(FRAME, 200), 'a');
    expect(p.pull()).toBeDefined(); // cushion reached
    expect(p.pull()).toBeDefined(); // then one per tick
    expect(p.pull()).toBeUndefined(); // dry: cushion again
    p.play(ramp(FRAME), 'a');
    expect(p.pull()).toBeUndefined();
    expect(p.pull()).toBeDefined(); // the producer went quiet: play what is there
    expect(p.playedMs('a')).toBe(60);
  });

  it('starts each response on a frame of its own and keeps the counts apart', () => {
    const p = new Playout({ cushionFrames: 0 });
    p.play(ramp(240, 1), 'a'); // 30 ms
    p.play(ramp(240, 1000), 'b'); // 30 ms
    expect(p.bufferedFrames).toBe(4);
    const frames = pullAll(p, 3);
    expect(frames[1]!.subarray(80).every((v) => v === 0)).toBe(true); // a's last frame, padded
    expect(frames[2]![0]).toBe(1000); // b starts a new frame
    expect(p.playedMs('a')).toBe(30);
    expect(p.playedMs('b')).toBe(20);
    expect(p.lastPulledResponseId).toBe('b');
  });

  it('clear() drops what is queued at once and reports per response (oldest first) what was played and sent', () => {
    const p = new Playout({ cushionFrames: 0 });
    p.play(ramp(8000), 'a'); // 1 s
    pullAll(p, 20); // 400 ms played
    p.play(ramp(1600), 'b'); // 200 ms, nothing of it played
    const report = p.clear();
    expect(report).toEqual({
      responses: [
        { responseId: 'a', playedMs: 400, queuedMs: 1000 },
        { responseId: 'b', playedMs: 0, queuedMs: 200 },
      ],
      droppedMs: 800,
    });
    expect(p.pull()).toBeUndefined();
    expect(p.queuedMs).toBe(0);
    expect(p.playedMs('a')).toBe(400); // what was heard stays known
    // Late audio of a cut response is dropped; a new response plays.
    expect(p.play(ramp(800), 'a')).toBe(0);
    expect(p.lateSamples).toBe(800);
    expect(p.play(ramp(FRAME), 'c')).toBe(FRAME);
    expect(p.pull()).toBeDefined();
    expect(p.playedMs('c')).toBe(20);
    // A second clear reports only what was not reported yet (c, played in full).
    expect(p.clear()).toEqual({ responses: [{ responseId: 'c', playedMs: 20, queuedMs: 20 }], droppedMs: 0 });
  });

  it('a clear with nothing queued still cuts (and reports) the newest response, so its late audio is dropped', () => {
    const p = new Playout({ cushionFrames: 0 });
    p.play(ramp(FRAME), 'a');
    p.pull();
    expect(p.clear()).toEqual({ responses: [{ responseId: 'a', playedMs: 20, queuedMs: 20 }], droppedMs: 0 });
    expect(p.play(ramp(FRAME), 'a')).toBe(0);
  });

  it('is bounded: it grows from its initial ring up to maxFrames, keeps the order, and drops (and counts) the rest', () => {
    const p = new Playout({ cushionFrames: 0, initialFrames: 2, maxFrames: 10 });
    expect(p.capacityFrames).toBe(2);
    expect(p.play(ramp(15 * FRAME), 'a')).toBe(10 * FRAME);
    expect(p.capacityFrames).toBe(10);
    expect(p.overflowSamples).toBe(5 * FRAME);
    const frames = pullAll(p);
    expect(frames.map((f) => f[0])).toEqual(Array.from({ length: 10 }, (_, i) => 1 + i * FRAME));
    expect(p.playedMs('a')).toBe(200);
    expect(p.sentMs('a')).toBe(200);
  });

  it('pulls without allocating: the frames handed out are the ring slots, reused round and round', () => {
    const p = new Playout({ cushionFrames: 0, initialFrames: 8, maxFrames: 8 });
    const chunk = ramp(FRAME);
    const seen = new Set<Int16Array>();
    for (let i = 0; i < 500; i++) {
      p.play(chunk, 'a');
      seen.add(p.pull()!);
    }
    expect(seen.size).toBeLessThanOrEqual(8);
    expect(p.capacityFrames).toBe(8);
    expect(p.playedMs('a')).toBe(500 * 20);
  });

  it('acknowledged mode: played is what the carrier confirmed (mark echoes), and a clear drops what it still buffered', async () => {
    const p = new Playout({ cushionFrames: 0, played: 'acknowledged' });
    p.play(ramp(8000), 'a'); // 1 s
    pullAll(p, 25); // 500 ms sent to the carrier
    expect(p.pulledMs('a')).toBe(500);
    expect(p.playedMs('a')).toBe(0);
    p.acknowledge('a', 300);
    expect(p.playedMs('a')).toBe(300);
    p.acknowledge('a', 200); // never backwards
    expect(p.playedMs('a')).toBe(300);
    p.acknowledge('a', 360);
    p.acknowledge('nobody', 100); // unknown: ignored
    expect(p.playedMs('a')).toBe(360);
    // The carrier is cleared with the playout: what it had buffered (140 ms) is dropped too.
    expect(p.clear()).toEqual({ responses: [{ responseId: 'a', playedMs: 360, queuedMs: 1000 }], droppedMs: 640 });

    // Drain waits for the carrier to confirm what it was sent.
    const d = new Playout({ cushionFrames: 0, played: 'acknowledged' });
    d.play(ramp(800), 'x');
    let drained = false;
    const done = d.drain().then(() => (drained = true));
    pullAll(d);
    await Promise.resolve();
    expect(drained).toBe(false); // all sent, not all confirmed
    d.acknowledge('x', 60);
    await Promise.resolve();
    expect(drained).toBe(false);
    d.acknowledge('x', 900); // never past what was sent (100 ms)
    expect(d.playedMs('x')).toBe(100);
    await done;
    expect(drained).toBe(true);
  });

  it('drain() plays partial frames at once and resolves when all is played, or at once when empty or cleared', async () => {
    const p = new Playout();
    await p.drain(); // nothing queued
    p.play(ramp(200), 'a'); // 1 frame + 40 samples, under the cushion
    let drained = false;
    const done = p.drain().then(() => (drained = true));
    expect(pullAll(p)).toHaveLength(2); // no cushion, no wait for the partial frame
    await done;
    expect(drained).toBe(true);
    expect(p.playedMs('a')).toBe(25);

    p.play(ramp(1600), 'b');
    const cleared = p.drain();
    p.clear();
    await cleared;
  });

  it('stop() drops everything and refuses more audio', async () => {
    const p = new Playout({ cushionFrames: 0 });
    p.play(ramp(1600), 'a');
    const done = p.drain();
    p.stop();
    await done;
    expect(p.play(ramp(FRAME), 'b')).toBe(0);
    expect(p.pull()).toBeUndefined();
    expect(p.isStopped).toBe(true);
  });

  it('remembers the counts of the last responses (a bounded history)', () => {
    const p = new Playout({ cushionFrames: 0, historyResponses: 4 });
    for (let i = 0; i < 10; i++) {
      p.play(ramp(FRAME), `r${i}`);
      p.pull();
    }
    expect(p.playedMs('r9')).toBe(20);
    expect(p.playedMs('r6')).toBe(20);
    expect(p.playedMs('r0')).toBe(0); // forgotten
  });
});
