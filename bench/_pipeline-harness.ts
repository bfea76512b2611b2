/**
 * Helper of bench/pipeline.ts: the call side of the measured pipeline sessions.
 *
 * - {@link BenchHost}: an AgentHost that models a real playout (audio plays in real time at 8 kHz
 *   from when it is queued, one response after the other; `clearAudio` drops what is not played
 *   yet and reports what was heard) and timestamps everything the session does.
 * - {@link Caller}: the phone's microphone: line noise, the caller's speech, and optionally the
 *   line echo of what the host played (delayed, attenuated), one 20 ms frame per tick.
 * - {@link Ticker}: one drift-free 20 ms timer for all callers; it records how late each tick
 *   ran (a tick more than 20 ms behind schedule = frames a call would have dropped).
 *
 * Clock: `now()` = performance.timeOrigin + performance.now() (ms), the same base as the fakes'
 * process uses (offset measured over IPC).
 */
import { readFileSync } from 'node:fs';
import type { AgentEvent, AgentHost, AgentSession, AgentToolCall, AgentToolResult, ClearReport, HeardResponse } from '../streams/agents/agent.js';

export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const FRAME = 160;
const FRAME_MS = 20;
const RATE_PER_MS = 8;
/** dBFS of a 20 ms frame whose sum of squares is `sum`. */
const frameDbfs = (sum: number): number => (sum === 0 ? -Infinity : 10 * Math.log10(sum / FRAME / (32768 * 32768)));
const clip = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

interface Seg {
  id: string;
  audio: Int16Array;
  start: number;
  end: number;
  /** When a clear cut it (Infinity: not cut). */
  cut: number;
}

export interface ResponseRecord {
  id: string;
  startedAt: number;
  status?: 'completed' | 'cancelled' | 'failed';
  doneAt?: number;
}

export class BenchHost implements AgentHost {
  private segs: Seg[] = [];
  private queueEnd = 0;
  private readonly queuedMs = new Map<string, number>();
  private readonly prunedPlayed = new Map<string, number>();
  private prunedTotal = 0;
  private waiters: { pred: () => boolean; resolve: (ok: boolean) => void }[] = [];
  readonly events: { t: number; ev: AgentEvent }[] = [];
  readonly clears: { t: number; droppedMs: number; responses: HeardResponse[] }[] = [];
  /** Time of the first audioOut per play id. */
  readonly firstOut = new Map<string, number>();
  readonly responses: ResponseRecord[] = [];
  readonly transcripts: { t: number; role: string; text: string; final: boolean }[] = [];
  endReason: string | undefined;
  errors: string[] = [];

  audioOut(audio: Int16Array | Uint8Array, responseId: string): void {
    const t = now();
    if (!(audio instanceof Int16Array) || audio.length === 0) return;
    const a = audio.slice();
    const start = Math.max(t, this.queueEnd);
    const seg: Seg = { id: responseId, audio: a, start, end: start + a.length / RATE_PER_MS, cut: Infinity };
    this.queueEnd = seg.end;
    this.segs.push(seg);
    this.queuedMs.set(responseId, (this.queuedMs.get(responseId) ?? 0) + a.length / RATE_PER_MS);
    if (!this.firstOut.has(responseId)) {
      this.firstOut.set(responseId, t);
      this.check();
    }
    this.prune(t);
  }

  clearAudio(): ClearReport {
    const t = now();
    const ids: string[] = [];
    let dropped = 0;
    for (const s of this.segs) {
      const end = Math.min(s.end, s.cut);
      if (end > t) {
        if (!ids.includes(s.id)) ids.push(s.id);
        dropped += end - Math.max(t, s.start);
      }
    }
    const responses = ids.map((id) => ({ responseId: id, playedMs: this.playedAt(id, t), queuedMs: this.queuedMs.get(id) ?? 0 }));
    for (const s of this.segs) if (Math.min(s.end, s.cut) > t) s.cut = Math.max(t, s.start);
    this.queueEnd = t;
    this.clears.push({ t, droppedMs: dropped, responses });
    this.check();
    return { responses, droppedMs: dropped };
  }

  playedMs(responseId: string): number {
    return this.playedAt(responseId, now());
  }

  private playedAt(id: string, t: number): number {
    let ms = this.prunedPlayed.get(id) ?? 0;
    for (const s of this.segs) {
      if (s.id !== id) continue;
      const end = Math.min(s.end, s.cut, t);
      if (end > s.start) ms += end - s.start;
    }
    return ms;
  }

  /** Milliseconds of audio played to the caller so far, all responses. */
  totalPlayedMs(t = now()): number {
    let ms = this.prunedTotal;
    for (const s of this.segs) {
      const end = Math.min(s.end, s.cut, t);
      if (end > s.start) ms += end - s.start;
    }
    return ms;
  }

  /** Whether audio is playing at `t`. */
  playingAt(t: number): boolean {
    for (const s of this.segs) if (s.start <= t && t < Math.min(s.end, s.cut)) return true;
    return false;
  }

  /** Adds into `out` (160 samples) × `gain` the audio that played during [tEnd − 20 ms, tEnd). */
  addPlayed(out: Int16Array, tEnd: number, gain: number): void {
    const t0 = tEnd - FRAME_MS;
    for (const s of this.segs) {
      const e = Math.min(s.end, s.cut);
      if (e <= t0 || s.start >= tEnd) continue;
      for (let i = 0; i < FRAME; i++) {
        const tau = t0 + i / RATE_PER_MS;
        if (tau < s.start || tau >= e) continue;
        const k = Math.floor((tau - s.start) * RATE_PER_MS);
        if (k < s.audio.length) out[i] = clip(out[i]! + s.audio[k]! * gain);
      }
    }
  }

  /** Segments that ended more than 1 s ago are only counted (the echo looks back at most 320 ms). */
  private prune(t: number): void {
    if (this.segs.length < 64) return;
    const keep: Seg[] = [];
    for (const s of this.segs) {
      const e = Math.min(s.end, s.cut);
      if (e < t - 1000) {
        const ms = Math.max(0, e - s.start);
        this.prunedPlayed.set(s.id, (this.prunedPlayed.get(s.id) ?? 0) + ms);
        this.prunedTotal += ms;
      } else keep.push(s);
    }
    this.segs = keep;
  }

  async toolCall(call: AgentToolCall): Promise<AgentToolResult> {
    return { result: { tool_call_id: call.id, result: 'failed', message: 'no tools in the bench', resource_type: '', resource_id: '' }, runLlm: false };
  }

  transcript(role: 'user' | 'assistant', text: string, opts?: { final?: boolean }): void {
    this.transcripts.push({ t: now(), role, text, final: opts?.final !== false });
  }

  event(ev: AgentEvent): void {
    const t = now();
    this.events.push({ t, ev });
    if (ev.type === 'response_started') this.responses.push({ id: ev.responseId, startedAt: t });
    else if (ev.type === 'response_done') {
      const r = this.responses.find((x) => x.id === ev.responseId);
      if (r) {
        r.status = ev.status;
        r.doneAt = t;
      }
    } else if (ev.type === 'error') this.errors.push(ev.message);
    this.check();
  }

  end(reason: string): void {
    this.endReason = reason;
    this.check();
  }

  /** Time of the first audio of response `id` under any of its play ids (`id`, or `id.N` after a resume); undefined before. */
  firstAudio(id: string): number | undefined {
    let t: number | undefined;
    for (const [k, v] of this.firstOut) if ((k === id || k.startsWith(`${id}.`)) && (t === undefined || v < t)) t = v;
    return t;
  }

  /** What happened since `from`, compactly (events and final transcripts, ms relative to `from`). */
  trace(from: number): string {
    const items: { t: number; s: string }[] = [];
    for (const e of this.events) {
      if (e.t < from) continue;
      const ev = e.ev;
      const s = ev.type === 'response_done' ? `response_done ${ev.status}` : ev.type === 'metric' ? `metric ${ev.name}` : ev.type === 'barge_in' ? `barge_in (heard ${Math.round(ev.heardMs)} ms)` : ev.type;
      items.push({ t: e.t, s });
    }
    for (const c of this.clears) if (c.t >= from) items.push({ t: c.t, s: `clearAudio (dropped ${Math.round(c.droppedMs)} ms)` });
    for (const x of this.transcripts) if (x.t >= from && x.final) items.push({ t: x.t, s: `${x.role} "${x.text.slice(0, 40)}"` });
    for (const [k, v] of this.firstOut) if (v >= from) items.push({ t: v, s: `first audio of ${k.replace(/^resp_[^_]+_/, 'response ')}` });
    items.sort((a, b) => a.t - b.t);
    return items.map((i) => `+${Math.round(i.t - from)} ${i.s}`).join(', ');
  }

  /** The last response started. */
  get last(): ResponseRecord | undefined {
    return this.responses[this.responses.length - 1];
  }

  /** Resolves true once `pred` holds (checked on every event, first audio and clear), false after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  private check(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.pred()) w.resolve(true);
      else still.push(w);
    }
    this.waiters = still;
  }
}

export interface Said {
  /** Push time of the first frame. */
  start: number;
  /** Push time of the first frame whose speech part is above -40 dBFS (NaN: none). */
  onset: number;
  /** Push time of the last such frame. */
  end: number;
}

/** The phone's microphone of one call. */
export class Caller {
  private readonly jobs: { s: Int16Array; at: number; said: Said; resolve: (s: Said) => void }[] = [];
  private noiseAt: number;
  private readonly out = new Int16Array(FRAME);
  echo: { gain: number; delayMs: number } | undefined;
  frames = 0;
  voicedFrames = 0;

  constructor(
    readonly session: AgentSession,
    readonly host: BenchHost,
    private readonly noise: Int16Array,
    noiseOffsetFrames: number,
  ) {
    this.noiseAt = (noiseOffsetFrames * FRAME) % (noise.length - FRAME);
    this.noiseAt -= this.noiseAt % FRAME;
  }

  /** Queues `samples` (8 kHz) to say; resolves once its last frame was pushed. */
  say(samples: Int16Array): Promise<Said> {
    return new Promise((resolve) => this.jobs.push({ s: samples, at: 0, said: { start: NaN, onset: NaN, end: NaN }, resolve }));
  }

  get speaking(): boolean {
    return this.jobs.length > 0;
  }

  /** Builds the frame of tick time `t` and pushes it into the session. */
  push(t: number): void {
    const out = this.out;
    out.set(this.noise.subarray(this.noiseAt, this.noiseAt + FRAME));
    this.noiseAt += FRAME;
    if (this.noiseAt + FRAME > this.noise.length) this.noiseAt = 0;
    const j = this.jobs[0];
    if (j) {
      if (j.at === 0) j.said.start = t;
      let sum = 0;
      const n = Math.min(FRAME, j.s.length - j.at);
      for (let i = 0; i < n; i++) {
        const v = j.s[j.at + i]!;
        sum += v * v;
        out[i] = clip(out[i]! + v);
      }
      if (frameDbfs(sum) > -40) {
        if (Number.isNaN(j.said.onset)) j.said.onset = t;
        j.said.end = t;
        this.voicedFrames++;
      }
      j.at += FRAME;
      if (j.at >= j.s.length) {
        this.jobs.shift();
        j.resolve(j.said);
      }
    }
    if (this.echo) this.host.addPlayed(out, t - this.echo.delayMs, this.echo.gain);
    this.frames++;
    this.session.audioIn(out);
  }
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
/** Run-queue wait of this process's JS thread so far, ms (the thread was runnable, another task had the CPU); NaN without /proc. */
export function runqWaitMs(): number {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * One 20 ms timer for every caller, drift-free, with the lateness of each tick. A late tick (more
 * than 20 ms behind) is also classed by the JS thread's run-queue wait since the previous tick:
 * "preempted" when, without that wait, it would not have been late (another process had the CPU),
 * else "own" (this process was busy).
 */
export class Ticker {
  readonly callers = new Set<Caller>();
  private t0 = 0;
  private k = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastWait = NaN;
  ticks = 0;
  lateTicks = 0;
  /** Late ticks the run-queue wait does not explain. */
  lateOwn = 0;
  lateFrames = 0;
  maxLateMs = 0;
  /** The largest lateness minus the run-queue wait before it. */
  maxOwnLateMs = 0;
  private lateness: number[] = [];

  start(): void {
    this.t0 = now();
    this.k = 0;
    this.loop();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  resetStats(): void {
    this.ticks = 0;
    this.lateTicks = 0;
    this.lateOwn = 0;
    this.maxOwnLateMs = 0;
    this.lateFrames = 0;
    this.maxLateMs = 0;
    this.lateness = [];
  }

  /** p-quantile of the tick lateness since the last reset, ms. */
  latenessQuantile(p: number): number {
    const a = this.lateness.slice().sort((x, y) => x - y);
    return a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))]! : 0;
  }

  private readonly loop = (): void => {
    const t = now();
    const due = Math.floor((t - this.t0) / FRAME_MS);
    if (due > this.k) {
      const late = t - (this.t0 + (this.k + 1) * FRAME_MS);
      const wait = runqWaitMs();
      const waited = Number.isFinite(this.lastWait) ? wait - this.lastWait : 0;
      this.lastWait = wait;
      const own = late - (Number.isFinite(waited) ? waited : 0);
      this.ticks++;
      this.lateness.push(late);
      if (late > this.maxLateMs) this.maxLateMs = late;
      if (own > this.maxOwnLateMs) this.maxOwnLateMs = own;
      if (late > FRAME_MS) {
        this.lateTicks++;
        if (own > FRAME_MS) this.lateOwn++;
      }
      while (this.k < due) {
        this.k++;
        if (t - (this.t0 + this.k * FRAME_MS) > FRAME_MS) this.lateFrames++;
        for (const c of this.callers) {
          try {
            c.push(t);
          } catch (err) {
            c.host.errors.push(`audioIn threw: ${String(err)}`);
          }
        }
      }
    }
    this.timer = setTimeout(this.loop, Math.max(0, this.t0 + (this.k + 1) * FRAME_MS - now()));
  };
}

/** mulberry32: a seeded PRNG. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** p50 / p95 / max (nearest rank). */
export function summary(values: number[]): { n: number; p50: number; p95: number; max: number; min: number } {
  const a = values.filter((v) => Number.isFinite(v)).sort((x, y) => x - y);
  const q = (p: number): number => (a.length ? a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)]! : NaN);
  return { n: a.length, p50: q(0.5), p95: q(0.95), max: a.length ? a[a.length - 1]! : NaN, min: a.length ? a[0]! : NaN };
}
