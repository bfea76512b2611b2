/**
 * A `media_stream` carries a continuous real-time stream, as VoIPBIN serves it: 50 frames a
 * second from the moment the socket opens, silence while the party says nothing, paced at 20 ms
 * even when the phone sends in bursts. The clock is the live call's (its inbound jitter buffer is
 * drained one frame per tick), so these tests use the real server, a real local phone and a raw
 * WebSocket client on 127.0.0.1, and time every binary message on arrival.
 *
 * Timing bounds are generous (a busy 2-core machine): they assert order, counts and spreads that
 * only a paced stream meets, never exact instants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { ENCAPSULATIONS } from '../../streams/protocols/encapsulation.js';
import type { Encapsulation } from '../../streams/protocols/encapsulation.js';
import { INBOUND_BUFFER_FRAMES } from '../../src/local/engine/live-call.js';
import { FRAME, TestPhone, addNumbers, concat, delay, isSilent, keptUpCall, until, wsBase } from './helpers.js';

const SILENT = '+15550700001';
const BURST = '+15550700002';
const OVERFLOW = '+15550700003';
const REALTIME = '+15550700004';
const CATCH_UP = '+15550700005';
const ENC_NUMBER: Record<Encapsulation, string> = { rtp: '+15550700011', sln: '+15550700012', audiosocket: '+15550700013' };

/** One binary message as it arrived: its arrival time (performance.now()) and its bytes. */
interface Arrival {
  t: number;
  data: Buffer;
}

/** A raw media_stream socket that timestamps every binary message on arrival. */
class TimedStream {
  readonly arrivals: Arrival[] = [];
  openedAt = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.arrivals.push({ t: performance.now(), data: Buffer.from(data) });
    });
    ws.on('error', () => {
      /* a close follows */
    });
  }

  static open(s: TestServer, callId: string, enc: Encapsulation): Promise<TimedStream> {
    const ws = new WebSocket(`${wsBase(s)}/v1.0/calls/${callId}/media_stream?encapsulation=${enc}`, {
      headers: { authorization: `Bearer ${s.key}` },
      perMessageDeflate: false,
    });
    const stream = new TimedStream(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        stream.openedAt = performance.now();
        resolve(stream);
      });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Arrivals in [from, to). */
  between(from: number, to: number): Arrival[] {
    return this.arrivals.filter((a) => a.t >= from && a.t < to);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'bye');
  }
}

/** The slin payload of one message of `enc` (a copy, little-endian decoded). */
function payloadOf(enc: Encapsulation, data: Buffer): Int16Array {
  const bytes = enc === 'rtp' ? data.subarray(12) : enc === 'audiosocket' ? data.subarray(3) : data;
  const out = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(2 * i);
  return out;
}

/** Frame `k` of a burst: every sample `base + k`, so each frame is recognisable on arrival. */
function marked(k: number, base: number): Int16Array {
  return new Int16Array(FRAME).fill(base + k);
}

/** The mark of a received frame (its constant value), or undefined for silence / anything else. */
function markOf(frame: Int16Array): number | undefined {
  if (frame.length !== FRAME || frame[0] === 0) return undefined;
  for (let i = 1; i < frame.length; i++) if (frame[i] !== frame[0]) return undefined;
  return frame[0];
}

/** The marked frames among `arrivals`, in arrival order, with their arrival times. */
function marks(enc: Encapsulation, arrivals: Arrival[]): { mark: number; t: number }[] {
  const out: { mark: number; t: number }[] = [];
  for (const a of arrivals) {
    const m = markOf(payloadOf(enc, a.data));
    if (m !== undefined) out.push({ mark: m, t: a.t });
  }
  return out;
}

const range = (n: number, base: number): number[] => Array.from({ length: n }, (_, k) => base + k);

/**
 * Sends marked frames `first`..`first + n - 1` one every 20 ms, aimed at absolute times (as a
 * real phone sends, catching up after a late timer); resolves with each frame's send time.
 */
function sendRealTime(phone: TestPhone, first: number, n: number, base: number): Promise<number[]> {
  const sentAt: number[] = [];
  const t0 = performance.now();
  return new Promise((resolve) => {
    let k = 0;
    const next = (): void => {
      sentAt.push(performance.now());
      phone.client.sendAudio(marked(first + k, base));
      if (++k === n) return resolve(sentAt);
      setTimeout(next, Math.max(0, t0 + k * 20 - performance.now()));
    };
    next();
  });
}

describe('media_stream: a continuous real-time stream on the call clock', () => {
  let s: TestServer;
  const t = tempDir();
  const phones: TestPhone[] = [];
  const streams: TimedStream[] = [];
  const reg = async (n: string): Promise<TestPhone> => {
    const p = (await TestPhone.register(s, n)).autoAnswer();
    phones.push(p);
    return p;
  };
  const open = async (callId: string, enc: Encapsulation): Promise<TimedStream> => {
    const st = await TimedStream.open(s, callId, enc);
    streams.push(st);
    return st;
  };

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    // keptUpCall places its calls from +15550009999: a number of this account too.
    await addNumbers(s, [SILENT, BURST, OVERFLOW, REALTIME, CATCH_UP, ...Object.values(ENC_NUMBER), '+15550009999']);
  });
  afterAll(async () => {
    for (const st of streams) st.close();
    for (const p of phones) p.close();
    await s.close();
    t.cleanup();
  });

  it('a phone that says nothing: the client still gets ~50 frames a second, all silence', async () => {
    const phone = await reg(SILENT);
    const id = await keptUpCall(s, phone, SILENT);
    const st = await open(id, 'sln');
    // Frames start on the next tick after the socket opens, not when the party first speaks.
    await until(() => st.arrivals.length > 0, 'the first frame');
    expect(st.arrivals[0]!.t - st.openedAt).toBeLessThan(1000);
    await delay(300); // warm-up
    const from = performance.now();
    await delay(1000);
    const to = performance.now();
    const window = st.between(from, to);
    // 1 s of a 20 ms clock is 50 frames; the bounds allow for a busy machine's timer jitter (a
    // stall longer than the clock's catch-up skips ticks).
    expect(window.length).toBeGreaterThanOrEqual(30);
    expect(window.length).toBeLessThanOrEqual(60);
    for (const a of st.arrivals) {
      expect(a.data.length).toBe(320);
      expect(isSilent(payloadOf('sln', a.data))).toBe(true);
    }
  });

  it('a burst of 50 frames from the phone reaches the client paced over ~1 s, in order, none lost', async () => {
    const phone = await reg(BURST);
    const id = await keptUpCall(s, phone, BURST);
    const st = await open(id, 'sln');
    await until(() => st.arrivals.length >= 3, 'the stream running');
    const sentAt = performance.now();
    for (let k = 0; k < 50; k++) phone.client.sendAudio(marked(k, 1000));
    await until(() => marks('sln', st.arrivals).length >= 50, 'the 50 burst frames', 15_000);
    await delay(100);
    const got = marks('sln', st.arrivals);
    expect(got.map((g) => g.mark)).toEqual(range(50, 1000));
    // Paced at 20 ms: 50 frames span ~980 ms between the first and the last arrival.
    const spread = got.at(-1)!.t - got[0]!.t;
    expect(spread).toBeGreaterThanOrEqual(700);
    expect(spread).toBeLessThan(5000);
    // And playout starts at once (no deep buffer is built before playing).
    expect(got[0]!.t - sentAt).toBeLessThan(500);
    expect(s.engine.getLive(id)!.droppedInboundFrames).toBe(0);
  });

  for (const enc of ENCAPSULATIONS) {
    it(`${enc}: the stream is continuous from the open, the party's audio in it exactly, framing intact`, async () => {
      const phone = await reg(ENC_NUMBER[enc]);
      const id = await keptUpCall(s, phone, ENC_NUMBER[enc]);
      const st = await open(id, enc);
      await delay(400);
      // 10 marked frames, sent in odd chunk sizes: the call re-frames them into exact 20 ms frames.
      const speech = concat(range(10, 0).map((k) => marked(k, 2000)));
      const chunks = [70, 250, 13, 387, 160, 1, 319, 400];
      let at = 0;
      for (const n of chunks) {
        phone.client.sendAudio(speech.subarray(at, at + n));
        at += n;
      }
      expect(at).toBe(speech.length);
      const measuredFrom = performance.now();
      await delay(1000);
      const window = st.between(measuredFrom, performance.now());
      expect(window.length).toBeGreaterThanOrEqual(30);
      expect(window.length).toBeLessThanOrEqual(60);
      await until(() => marks(enc, st.arrivals).length >= 10, 'the marked frames');

      const all = st.arrivals.map((a) => a.data);
      // Silence came first: the stream ran before the party said anything.
      expect(isSilent(payloadOf(enc, all[0]!))).toBe(true);
      expect(marks(enc, st.arrivals).map((m) => m.mark)).toEqual(range(10, 2000));
      // Every frame is either silence or one of the marked frames: nothing split or merged.
      for (const d of all) {
        const p = payloadOf(enc, d);
        expect(p.length).toBe(FRAME);
        expect(isSilent(p) || markOf(p) !== undefined).toBe(true);
      }
      if (enc === 'sln') {
        for (const d of all) expect(d.length).toBe(320);
      } else if (enc === 'audiosocket') {
        for (const d of all) {
          expect(d.length).toBe(323);
          expect([...d.subarray(0, 3)]).toEqual([0x10, 0x01, 0x40]);
        }
      } else {
        // RTP continuity across silence and speech: sequence +1, timestamp +160 per frame,
        // one SSRC, payload type 96, the marker on the first packet only.
        const seq0 = all[0]!.readUInt16BE(2);
        const ts0 = all[0]!.readUInt32BE(4);
        const ssrc = all[0]!.readUInt32BE(8);
        all.forEach((d, i) => {
          expect(d.length).toBe(332);
          expect(d[0]! >> 6).toBe(2);
          expect(d[1]! & 0x7f).toBe(96);
          expect((d[1]! & 0x80) !== 0).toBe(i === 0);
          expect(d.readUInt16BE(2)).toBe((seq0 + i) & 0xffff);
          expect(d.readUInt32BE(4)).toBe((ts0 + 160 * i) >>> 0);
          expect(d.readUInt32BE(8)).toBe(ssrc);
        });
      }
    });
  }

  it('a burst beyond the buffer bound (1 s) drops the oldest, and the call goes on', async () => {
    const phone = await reg(OVERFLOW);
    const id = await keptUpCall(s, phone, OVERFLOW);
    const live = s.engine.getLive(id)!;
    const st = await open(id, 'sln');
    await until(() => st.arrivals.length >= 3, 'the stream running');
    expect(INBOUND_BUFFER_FRAMES).toBe(50);
    const sent = 90; // 1.8 s at once
    for (let k = 0; k < sent; k++) phone.client.sendAudio(marked(k, 3000));
    await until(() => marks('sln', st.arrivals).some((m) => m.mark === 3000 + sent - 1), 'the newest burst frame', 15_000);
    await delay(100);
    const got = marks('sln', st.arrivals).map((m) => m.mark);
    // Some of the oldest were dropped (the burst lands within a few ticks), and counted.
    expect(live.droppedInboundFrames).toBeGreaterThan(0);
    expect(got.length + live.droppedInboundFrames + live.trimmedInboundFrames).toBe(sent);
    expect(got.length).toBeGreaterThanOrEqual(INBOUND_BUFFER_FRAMES - live.trimmedInboundFrames);
    // What was kept is in order and ends with the newest frame: only the oldest were dropped,
    // apart from those the clock had already played when the buffer filled up.
    for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    if (live.trimmedInboundFrames === 0) {
      expect(got.slice(-INBOUND_BUFFER_FRAMES)).toEqual(range(INBOUND_BUFFER_FRAMES, 3000 + sent - INBOUND_BUFFER_FRAMES));
    }

    // The call goes on: still live, the stream still at 50 frames/s, new audio still arrives.
    expect(live.ended).toBe(false);
    const dropped = live.droppedInboundFrames;
    const before = st.arrivals.length;
    for (let k = 0; k < 5; k++) phone.client.sendAudio(marked(k, 5000));
    await until(() => marks('sln', st.arrivals).filter((m) => m.mark >= 5000).length >= 5, 'audio after the overflow');
    expect(marks('sln', st.arrivals).filter((m) => m.mark >= 5000).map((m) => m.mark)).toEqual(range(5, 5000));
    expect(live.droppedInboundFrames).toBe(dropped);
    await delay(500);
    expect(st.arrivals.length - before).toBeGreaterThanOrEqual(15);
    expect((await s.call('GET', `/calls/${id}`)).body.status).toBe('progressing');
  });

  it('a phone sending in real time is heard after silence with at most a frame or two of added latency', async () => {
    const phone = await reg(REALTIME);
    const id = await keptUpCall(s, phone, REALTIME);
    const live = s.engine.getLive(id)!;
    const st = await open(id, 'sln');
    await delay(500);
    // 100 marked frames (2 s) in real time.
    const n = 100;
    const sentAt = await sendRealTime(phone, 0, n, 7000);
    await until(() => marks('sln', st.arrivals).some((m) => m.mark === 7000 + n - 1), 'the last real-time frame');
    await delay(100);
    const got = marks('sln', st.arrivals);
    // Silence ran before the phone spoke: ~25 frames in those 500 ms.
    const firstMarked = st.arrivals.findIndex((a) => markOf(payloadOf('sln', a.data)) !== undefined);
    expect(firstMarked).toBeGreaterThanOrEqual(12);
    // In order; anything missing was cut by the latency trim (a stall of this busy machine left
    // a standing backlog) or the bound, never lost unaccounted. On a quiet machine nothing is cut.
    for (let i = 1; i < got.length; i++) expect(got[i]!.mark).toBeGreaterThan(got[i - 1]!.mark);
    expect(got.length + live.trimmedInboundFrames + live.droppedInboundFrames).toBe(n);
    // Latency of each frame, send to arrival. The clock adds 0-20 ms (the wait for the next tick)
    // plus a frame per late arrival; a buffer filled before playing (say 3+ frames) would show
    // here as 60+ ms on every frame. Load only ever adds latency, so the lower quartile is what
    // the design itself costs (sender, server and client share one event loop).
    const latency = got.map((g) => g.t - sentAt[g.mark - 7000]!).sort((a, b) => a - b);
    expect(latency.length).toBeGreaterThan(n / 2);
    expect(latency[Math.floor(latency.length / 4)]!).toBeLessThan(60);
  });

  it('a burst followed by real-time speech: the standing backlog is trimmed back to a frame or two', async () => {
    const phone = await reg(CATCH_UP);
    const id = await keptUpCall(s, phone, CATCH_UP);
    const live = s.engine.getLive(id)!;
    const st = await open(id, 'sln');
    await until(() => st.arrivals.length >= 3, 'the stream running');
    // 30 frames at once (a phone flushing what a network stall held back), then the phone goes
    // on in real time for 3 s: without a trim every later frame would be heard 600 ms late.
    const burst = 30;
    const n = 150;
    for (let k = 0; k < burst; k++) phone.client.sendAudio(marked(k, 9000));
    const sentAt = await sendRealTime(phone, burst, n, 9000);
    await until(() => marks('sln', st.arrivals).some((m) => m.mark === 9000 + burst + n - 1), 'the last frame');
    await delay(100);
    const got = marks('sln', st.arrivals);
    for (let i = 1; i < got.length; i++) expect(got[i]!.mark).toBeGreaterThan(got[i - 1]!.mark);
    // The backlog was cut (the oldest frames, checked every 500 ms), and everything missing is
    // accounted for (a stall of a busy machine may also overflow the bound).
    expect(live.trimmedInboundFrames).toBeGreaterThanOrEqual(burst / 2);
    expect(got.length + live.trimmedInboundFrames + live.droppedInboundFrames).toBe(burst + n);
    // The last second of speech is heard with a small latency again (it would be 600 ms without
    // the trim). Lower quartile: a stall of a busy machine only ever adds latency.
    const latency = got
      .filter((g) => g.mark - 9000 >= burst + n - 50)
      .map((g) => g.t - sentAt[g.mark - 9000 - burst]!)
      .sort((a, b) => a - b);
    expect(latency.length).toBeGreaterThan(25);
    expect(latency[Math.floor(latency.length / 4)]!).toBeLessThan(150);
  });
});
