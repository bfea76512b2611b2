/**
 * The agent's outbound audio on its way to the caller, and the bookkeeping of what was heard.
 *
 * A {@link Playout} holds the agent's audio as 20 ms frames at 8 kHz, each tagged with the
 * response it belongs to, in a ring of frames allocated up front (grown by doubling, rarely, up to
 * a bound; never per frame). Whatever clocks the call pulls one frame per tick: the local engine's
 * media clock through the call's mix, or (for a remote or carrier port) a pacer's timer. So the
 * queued-but-unplayed audio is all here, and {@link Playout.clear} (barge-in) cuts it at once and
 * reports, per response, how much the caller heard and how much the agent had sent.
 *
 * "Played" is what was pulled, by default: the local mix pulls exactly one frame per tick and the
 * party hears it in that tick. A carrier with its own playout buffer plays later than we send;
 * for it, construct the playout with `played: 'acknowledged'` and call
 * {@link Playout.acknowledge} from the carrier's mark echoes (e.g. Twilio `mark`): played is then
 * what the carrier confirmed, and a clear counts what it still had buffered as dropped.
 *
 * Response ids must be unique per response: a clear *cuts* every response it reports (and the
 * newest one), and audio that arrives later for a cut response is dropped (the agent's late audio
 * after a barge-in: deltas already on the wire when it cancelled).
 */
import type { ClearReport, HeardResponse } from '../agents/agent.js';

/** 8 kHz x 20 ms. */
export const PLAYOUT_FRAME_SAMPLES = 160;
/** Frames allocated up front (5 s). */
export const PLAYOUT_INITIAL_FRAMES = 250;
/** Most frames a playout holds (120 s, as the engine's other sources); more is dropped and counted. */
export const PLAYOUT_MAX_FRAMES = 6000;
/**
 * Complete frames held before playing starts (or resumes after running dry) while the producer
 * is still sending: a producer streaming in about real time arrives with jitter, and without this
 * cushion a chunk that lands a moment late becomes a gap. A producer that went quiet for a tick
 * (the end of a response, a burst that is all here) is played at once.
 */
export const PLAYOUT_CUSHION_FRAMES = 2;
/**
 * Ticks the producer must be quiet before a partial last frame is played (padded with silence):
 * a bursty producer (a TTS streaming chunks every 100 ms) must not get a gap padded into the
 * middle of a response; at a response's end this only delays its last few ms.
 */
export const PLAYOUT_TAIL_WAIT_TICKS = 3;
/** Responses whose counters are kept after they played out, for {@link Playout.playedMs}. */
export const PLAYOUT_HISTORY_RESPONSES = 32;

export interface PlayoutOptions {
  /** Sample rate (default 8000). */
  sampleRateHz?: number;
  /** Samples per frame (default {@link PLAYOUT_FRAME_SAMPLES}). */
  frameSamples?: number;
  /** Frames allocated at construction (default {@link PLAYOUT_INITIAL_FRAMES}). */
  initialFrames?: number;
  /** The bound: most frames held (default {@link PLAYOUT_MAX_FRAMES}). */
  maxFrames?: number;
  /** See {@link PLAYOUT_CUSHION_FRAMES} (default 2; 0 plays every complete frame at once). */
  cushionFrames?: number;
  /** See {@link PLAYOUT_TAIL_WAIT_TICKS}. */
  tailWaitTicks?: number;
  /**
   * `pulled` (default): a frame counts as played when pulled (the local mix). `acknowledged`:
   * only what {@link Playout.acknowledge} confirmed counts (a carrier's mark echoes).
   */
  played?: 'pulled' | 'acknowledged';
  /** See {@link PLAYOUT_HISTORY_RESPONSES}. */
  historyResponses?: number;
}

/** The counters of one response (samples). */
interface Counters {
  readonly id: string;
  /** Accepted into the ring. */
  sent: number;
  /** Pulled out of the ring (sent to the call). */
  pulled: number;
  /** Played: `pulled`, or what was acknowledged. */
  played: number;
  /** Frames of it in the ring now. */
  frames: number;
  /** Cut by a clear: later audio of it is dropped. */
  cut: boolean;
}

export class Playout {
  readonly sampleRateHz: number;
  readonly frameSamples: number;
  readonly maxFrames: number;
  readonly cushionFrames: number;
  readonly tailWaitTicks: number;
  readonly acknowledged: boolean;
  private readonly historyResponses: number;
  private ring: Int16Array;
  /** Per slot: a view of the ring (made once, so pulling creates no view objects). */
  private views: Int16Array[];
  /** Per slot: the samples of audio in it (the rest of a padded last frame is silence). */
  private lens: Uint16Array;
  /** Per slot: the response it belongs to. */
  private owners: (Counters | undefined)[];
  private head = 0;
  /** Frames in the ring, the open (partial) tail frame included. */
  private count = 0;
  /** The tail frame is partial and still being filled. */
  private open = false;
  private starved = true;
  /** Bumped by every play(); a pull that sees no change since the previous pull knows the producer was quiet. */
  private pushSeq = 0;
  private pullSeq = -1;
  /** Pulls in a row that found only a partial frame and no play() since the previous pull. */
  private tailPulls = 0;
  /** drain() was called: play out partial frames without waiting. */
  private ending = false;
  private stopped = false;
  private queued = 0;
  private readonly responses = new Map<string, Counters>();
  /** The response the last play() was for (a one-entry cache of `responses`). */
  private latest: Counters | undefined;
  private lastPulledOwner: Counters | undefined;
  private drainWaiters: (() => void)[] = [];
  /** Samples refused because the playout was full (its bound). */
  overflowSamples = 0;
  /** Samples of cut responses that arrived after their clear, dropped. */
  lateSamples = 0;

  constructor(options: PlayoutOptions = {}) {
    this.sampleRateHz = options.sampleRateHz ?? 8000;
    this.frameSamples = options.frameSamples ?? PLAYOUT_FRAME_SAMPLES;
    this.maxFrames = Math.max(1, options.maxFrames ?? PLAYOUT_MAX_FRAMES);
    this.cushionFrames = Math.max(0, options.cushionFrames ?? PLAYOUT_CUSHION_FRAMES);
    this.tailWaitTicks = Math.max(1, options.tailWaitTicks ?? PLAYOUT_TAIL_WAIT_TICKS);
    this.acknowledged = options.played === 'acknowledged';
    this.historyResponses = Math.max(1, options.historyResponses ?? PLAYOUT_HISTORY_RESPONSES);
    const frames = Math.min(this.maxFrames, Math.max(1, options.initialFrames ?? PLAYOUT_INITIAL_FRAMES));
    this.ring = new Int16Array(frames * this.frameSamples);
    this.views = this.makeViews(this.ring, frames);
    this.lens = new Uint16Array(frames);
    this.owners = new Array<Counters | undefined>(frames).fill(undefined);
  }

  /** Frames held (the partial one included). */
  get bufferedFrames(): number {
    return this.count;
  }

  /** Milliseconds of audio held, not yet pulled. */
  get queuedMs(): number {
    return this.ms(this.queued);
  }

  /** Frames the ring has room for now (it grows up to {@link maxFrames}). */
  get capacityFrames(): number {
    return this.lens.length;
  }

  /** The response of the frame pulled last (what a carrier port names in its mark), if any. */
  get lastPulledResponseId(): string | undefined {
    return this.lastPulledOwner?.id;
  }

  /**
   * Queues `samples` of `responseId` (any chunk size; copied, so the array may be reused).
   * Returns the samples accepted: fewer when the playout is full (the rest is dropped and counted
   * in {@link overflowSamples}), 0 for a cut response or a stopped playout.
   */
  play(samples: Int16Array, responseId: string): number {
    if (this.stopped || samples.length === 0) return 0;
    let r = this.latest;
    if (r === undefined || r.id !== responseId) r = this.countersOf(responseId);
    if (r.cut) {
      this.lateSamples += samples.length;
      return 0;
    }
    // A new response starts on a frame of its own: the previous one's last frame is padded.
    if (this.open && this.owners[this.tailSlot()] !== r) this.closeOpen();
    this.pushSeq++;
    const fs = this.frameSamples;
    const n = samples.length;
    let off = 0;
    while (off < n) {
      if (!this.open) {
        if (!this.addSlot()) {
          this.overflowSamples += n - off;
          break;
        }
        const t = this.tailSlot();
        this.owners[t] = r;
        this.lens[t] = 0;
        this.open = true;
        r.frames++;
      }
      const t = this.tailSlot();
      const have = this.lens[t]!;
      const k = Math.min(fs - have, n - off);
      const view = this.views[t]!;
      for (let i = 0; i < k; i++) view[have + i] = samples[off + i]!;
      this.lens[t] = have + k;
      off += k;
      if (have + k === fs) this.open = false;
    }
    r.sent += off;
    this.queued += off;
    return off;
  }

  /**
   * The next frame to play, or `undefined` (nothing to play this tick: silence). The array is a
   * slot of the ring, valid until the next call of any method: use or copy it at once.
   */
  pull(): Int16Array | undefined {
    const quiet = this.pushSeq === this.pullSeq;
    this.pullSeq = this.pushSeq;
    if (this.count === 0) {
      this.starved = true;
      return undefined;
    }
    const complete = this.open ? this.count - 1 : this.count;
    if (this.starved) {
      if (complete < this.cushionFrames && !quiet && !this.ending) return undefined;
      this.starved = false;
    }
    if (complete === 0) {
      // Only a partial frame: play it (padded) once the producer paused, else wait for the rest.
      this.tailPulls = quiet ? this.tailPulls + 1 : 0;
      if (this.tailPulls < this.tailWaitTicks && !this.ending) {
        this.starved = true;
        return undefined;
      }
      this.closeOpen();
    }
    this.tailPulls = 0;
    const slot = this.head;
    const r = this.owners[slot]!;
    const len = this.lens[slot]!;
    this.owners[slot] = undefined;
    this.head = slot + 1 === this.lens.length ? 0 : slot + 1;
    this.count--;
    this.queued -= len;
    r.frames--;
    r.pulled += len;
    if (!this.acknowledged) r.played = r.pulled;
    this.lastPulledOwner = r;
    if (this.count === 0) this.settleDrain();
    return this.views[slot];
  }

  /** Milliseconds of `responseId` played so far (0 when unknown). */
  playedMs(responseId: string): number {
    const r = this.responses.get(responseId);
    return r ? this.ms(r.played) : 0;
  }

  /** Milliseconds of `responseId` pulled (sent to the call) so far: the position a carrier mark names. */
  pulledMs(responseId: string): number {
    const r = this.responses.get(responseId);
    return r ? this.ms(r.pulled) : 0;
  }

  /** Milliseconds of `responseId` accepted so far (0 when unknown). */
  sentMs(responseId: string): number {
    const r = this.responses.get(responseId);
    return r ? this.ms(r.sent) : 0;
  }

  /**
   * A carrier confirmed it played `responseId` up to `playedMs` from the response's first sample
   * (a mark echo). Only moves forward, never past what was pulled. In the default `pulled` mode
   * played already equals pulled, so this only matters with `played: 'acknowledged'`.
   */
  acknowledge(responseId: string, playedMs: number): void {
    const r = this.responses.get(responseId);
    if (!r) return;
    const samples = Math.min(r.pulled, Math.round((playedMs * this.sampleRateHz) / 1000));
    if (samples > r.played) r.played = samples;
    if (this.count === 0) this.settleDrain();
  }

  /**
   * Barge-in: drops everything queued and reports, oldest first, every response that still had
   * audio here (or, acknowledged mode, at the carrier) plus the newest response: how much of it was
   * played and how much the agent had sent. Those responses are cut (their later audio is dropped).
   */
  clear(): ClearReport {
    const responses: HeardResponse[] = [];
    let dropped = 0;
    const newest = this.latest;
    for (const r of this.responses.values()) {
      if (r.frames === 0 && r.played === r.pulled && r !== newest) continue;
      if (r.cut) continue;
      r.cut = true;
      dropped += r.sent - r.played;
      // The carrier is cleared too: what it had buffered is dropped, not played later.
      r.pulled = r.played;
      r.frames = 0;
      responses.push({ responseId: r.id, playedMs: this.ms(r.played), queuedMs: this.ms(r.sent) });
    }
    for (let i = 0; i < this.owners.length; i++) this.owners[i] = undefined;
    this.head = 0;
    this.count = 0;
    this.open = false;
    this.starved = true;
    this.queued = 0;
    this.settleDrain();
    this.trimHistory();
    return { responses, droppedMs: this.ms(dropped) };
  }

  /**
   * Resolves once everything queued was played (acknowledged mode: and acknowledged) or cleared.
   * Partial frames are played out at once from now on (the producer is done).
   */
  drain(): Promise<void> {
    this.ending = true;
    return new Promise<void>((resolve) => {
      this.drainWaiters.push(resolve);
      this.settleDrain();
    });
  }

  /** Drops everything and refuses more audio; pending drains resolve. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.clear();
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private ms(samples: number): number {
    return (samples * 1000) / this.sampleRateHz;
  }

  private tailSlot(): number {
    const t = this.head + this.count - 1;
    return t >= this.lens.length ? t - this.lens.length : t;
  }

  /** Pads the open partial frame with silence; it is complete from now on. */
  private closeOpen(): void {
    if (!this.open) return;
    const t = this.tailSlot();
    this.views[t]!.fill(0, this.lens[t]);
    this.open = false;
  }

  /** Claims the next slot at the tail (growing the ring up to the bound); false when full. */
  private addSlot(): boolean {
    if (this.count === this.lens.length && !this.grow()) return false;
    this.count++;
    return true;
  }

  private grow(): boolean {
    const cap = this.lens.length;
    if (cap >= this.maxFrames) return false;
    const bigger = Math.min(this.maxFrames, cap * 2);
    const fs = this.frameSamples;
    const ring = new Int16Array(bigger * fs);
    const lens = new Uint16Array(bigger);
    const owners = new Array<Counters | undefined>(bigger).fill(undefined);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % cap;
      ring.set(this.views[from]!, i * fs);
      lens[i] = this.lens[from]!;
      owners[i] = this.owners[from];
    }
    this.ring = ring;
    this.views = this.makeViews(ring, bigger);
    this.lens = lens;
    this.owners = owners;
    this.head = 0;
    return true;
  }

  private makeViews(ring: Int16Array, frames: number): Int16Array[] {
    return Array.from({ length: frames }, (_, i) => ring.subarray(i * this.frameSamples, (i + 1) * this.frameSamples));
  }

  private countersOf(id: string): Counters {
    let r = this.responses.get(id);
    if (!r) {
      r = { id, sent: 0, pulled: 0, played: 0, frames: 0, cut: false };
      this.responses.set(id, r);
    }
    this.latest = r;
    this.trimHistory();
    return r;
  }

  /** Forgets the oldest responses beyond the history bound (never one with audio still held). */
  private trimHistory(): void {
    if (this.responses.size <= this.historyResponses) return;
    let excess = this.responses.size - this.historyResponses;
    for (const [id, r] of this.responses) {
      if (excess === 0) break;
      if (r.frames > 0 || r === this.latest || r.played < r.pulled) continue;
      this.responses.delete(id);
      if (this.lastPulledOwner === r) this.lastPulledOwner = undefined;
      excess--;
    }
  }

  private settleDrain(): void {
    if (this.drainWaiters.length === 0 || this.count > 0) return;
    if (this.acknowledged && !this.stopped) {
      for (const r of this.responses.values()) if (r.played < r.pulled) return;
    }
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    this.ending = false;
    for (const w of waiters) w();
  }
}
