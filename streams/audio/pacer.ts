/**
 * Outbound pacer: sends queued frames to the carrier in real time, one per frame period, keeping a
 * small lead in the carrier's jitter buffer.
 *
 * Why pace at all: an agent produces audio faster than real time. Dumping it on the carrier at once
 * means a barge-in cannot take it back (it is already queued far away). Pacing keeps the unsent
 * audio here, where `clear()` can drop it at once and report exactly how much the caller heard.
 *
 * Timing model: the pacer tracks `playoutEndMs`, the monotonic time at which the carrier will have
 * played everything sent so far (frames play back to back; if the carrier ran dry, playout restarts
 * at "now"). A frame is sent whenever the carrier holds at most `leadFrames - 1` frames, so it holds
 * about `leadFrames` after each send. Each timer is aimed at an absolute time derived from that
 * model, never "20 ms after the last timer", so timer lateness does not accumulate as drift; a timer
 * that fires late only causes the frames that became due to be sent together.
 */
import { EventEmitter } from 'node:events';

/** Frames the pacer carries: Int16 PCM or encoded bytes (e.g. G.711). */
export type PacedFrame = Int16Array | Uint8Array;

/** Timer functions; injectable so tests can run on a virtual clock. */
export interface PacerScheduler {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link Pacer}. */
export interface PacerOptions<F extends PacedFrame> {
  /** Hands one frame to the carrier. The array is reused afterwards: copy it if you keep it. */
  send: (frame: F) => void;
  /** Duration of one full frame (default 20). */
  frameMs?: number;
  /** Frames kept buffered at the carrier (default 3): sent at once when playback starts. */
  leadFrames?: number;
  /** Elements in a full frame; shorter frames count pro rata. Default: the first frame's length. */
  frameLength?: number;
  /** Monotonic clock in ms (default `performance.now`). */
  clock?: () => number;
  /** Timer functions (default the global setTimeout/clearTimeout). */
  scheduler?: PacerScheduler;
  /** Initial queue capacity in frames (default 50 = 1 s); grows by doubling if exceeded. */
  initialQueueFrames?: number;
}

/** Audio accounting returned by {@link Pacer.clear}, covering the time since the previous clear(). */
export interface PacerClearResult {
  /** Queued audio dropped without being sent. */
  droppedMs: number;
  /** Audio handed to the carrier. */
  sentMs: number;
  /**
   * Of the sent audio, what the carrier still had buffered (not yet played) at clear time. The
   * caller should also tell the carrier to clear its buffer (e.g. a Twilio `clear` message).
   */
  carrierBufferedMs: number;
  /** Estimate of what the caller actually heard: `sentMs - carrierBufferedMs`. */
  heardMs: number;
}

/** Events of {@link Pacer}. */
export interface PacerEvents {
  /**
   * The queue ran empty: a frame was due (one frame period after the last send, when the carrier
   * is down to `leadFrames - 1` frames) and none was queued. Emitted once per run-out.
   */
  drained: [];
  /** `send` threw inside a timer callback. */
  error: [Error];
}

const defaultScheduler: PacerScheduler = {
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Real-time sender of fixed-duration frames. `enqueue()` copies frames into a preallocated ring of
 * slots, so steady-state pacing allocates nothing but the timer handles.
 */
export class Pacer<F extends PacedFrame = Int16Array> extends EventEmitter<PacerEvents> {
  readonly frameMs: number;
  readonly leadFrames: number;
  private readonly sendFrame: (frame: F) => void;
  private readonly clock: () => number;
  private readonly scheduler: PacerScheduler;
  private frameLength: number | undefined;
  private slots: (F | undefined)[];
  private head = 0;
  private size = 0;
  private queuedMsTotal = 0;
  private sentMsTotal = 0;
  private playoutEndMs = -Infinity;
  private timerHandle: unknown = undefined;
  private timerPending = false;
  private pumping = false;
  /** Set by sendDue() before each send, so pump() knows even if send() threw. */
  private sentInPump = false;
  /** Bumped by clear(), so a pump interrupted by clear() from inside send() does not re-arm. */
  private generation = 0;
  private stopped = false;
  private readonly tick = (): void => {
    this.timerPending = false;
    this.timerHandle = undefined;
    if (this.size === 0) {
      // A frame was due and there was none: the pacer ran out.
      this.emit('drained');
      return;
    }
    try {
      this.pump();
    } catch (err) {
      // Nobody up the stack of a timer callback can catch this; surface it as an event.
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  };

  constructor(options: PacerOptions<F>) {
    super();
    this.sendFrame = options.send;
    this.frameMs = options.frameMs ?? 20;
    this.leadFrames = options.leadFrames ?? 3;
    if (!(this.frameMs > 0)) throw new RangeError(`pacer: frameMs must be > 0, got ${this.frameMs}`);
    if (!Number.isInteger(this.leadFrames) || this.leadFrames < 1) {
      throw new RangeError(`pacer: leadFrames must be an integer >= 1, got ${this.leadFrames}`);
    }
    this.frameLength = options.frameLength;
    this.clock = options.clock ?? (() => performance.now());
    this.scheduler = options.scheduler ?? defaultScheduler;
    this.slots = new Array<F | undefined>(Math.max(1, options.initialQueueFrames ?? 50)).fill(undefined);
  }

  /** Frames waiting to be sent. */
  get queuedFrames(): number {
    return this.size;
  }

  /** Audio waiting to be sent, in ms. */
  get queuedMs(): number {
    return this.queuedMsTotal;
  }

  /** Audio sent since the last clear(), in ms. */
  get sentMs(): number {
    return this.sentMsTotal;
  }

  /** Sent audio the carrier has not played yet (by the pacer's playout model), in ms. */
  get carrierBufferedMs(): number {
    return Math.max(0, this.playoutEndMs - this.clock());
  }

  /**
   * Queues a copy of `frame`. If the carrier is below its lead (e.g. at the start of a response),
   * frames are sent synchronously from within this call.
   */
  enqueue(frame: F): void {
    if (this.stopped) throw new Error('pacer: enqueue() after stop()');
    if (frame.length === 0) return;
    this.frameLength ??= frame.length;
    if (this.size === this.slots.length) this.growQueue();
    const index = (this.head + this.size) % this.slots.length;
    let slot = this.slots[index];
    if (slot === undefined || slot.length !== frame.length || slot.constructor !== frame.constructor) {
      slot = frame.slice() as F; // allocation only when a slot is first used or the frame shape changes
      this.slots[index] = slot;
    } else {
      slot.set(frame);
    }
    this.size++;
    this.queuedMsTotal += this.durationMs(slot);
    // Send now if the carrier is below its lead (start of a response, or a producer that keeps up).
    this.pump();
  }

  /**
   * Barge-in: drops every queued frame at once and reports what was dropped, sent and (by estimate)
   * heard since the previous clear(); then starts a fresh accounting period.
   */
  clear(): PacerClearResult {
    const now = this.clock();
    const carrierBufferedMs = Math.max(0, this.playoutEndMs - now);
    const result: PacerClearResult = {
      droppedMs: this.queuedMsTotal,
      sentMs: this.sentMsTotal,
      carrierBufferedMs,
      heardMs: Math.max(0, this.sentMsTotal - carrierBufferedMs),
    };
    this.cancelTimer();
    this.generation++;
    this.head = 0;
    this.size = 0;
    this.queuedMsTotal = 0;
    this.sentMsTotal = 0;
    // The caller is expected to clear the carrier's buffer too, so the next response starts with a
    // fresh lead instead of waiting for audio that will never play.
    this.playoutEndMs = -Infinity;
    return result;
  }

  /** Releases the timer and drops the queue; the pacer cannot be used afterwards. */
  stop(): void {
    this.clear();
    this.stopped = true;
  }

  private durationMs(frame: F): number {
    const full = this.frameLength ?? frame.length;
    return frame.length === full ? this.frameMs : (this.frameMs * frame.length) / full;
  }

  /**
   * Sends every frame that is due now, then aims one timer at the next due time. Errors thrown by
   * `send` propagate to the caller (enqueue(), or the timer, which emits 'error'); the timer is
   * re-armed first so one failed send does not stall the queue.
   */
  private pump(): void {
    // enqueue() from inside send(): the loop below already picks the new frame up.
    if (this.pumping) return;
    this.pumping = true;
    this.sentInPump = false;
    const generation = this.generation;
    try {
      this.sendDue();
    } finally {
      this.pumping = false;
      const sentAny = this.sentInPump && generation === this.generation;
      // After the last frame the timer still runs once more, to the time the next frame would be
      // due, and reports 'drained' then if nothing arrived; so a producer that streams frames
      // just in time does not see 'drained' after every one.
      if (!this.stopped) {
        if (sentAny) {
          // The due time moved: re-aim the timer.
          this.cancelTimer();
          this.armTimer();
        } else if (!this.timerPending && this.size > 0) {
          this.armTimer();
        }
      }
    }
  }

  /** Sends the frames the playout model says are due. */
  private sendDue(): void {
    const thresholdMs = (this.leadFrames - 1) * this.frameMs;
    let now = this.clock();
    while (this.size > 0 && !this.stopped) {
      // If the carrier ran dry, its playout restarts now.
      if (this.playoutEndMs < now) this.playoutEndMs = now;
      // Small epsilon so float rounding of the clock does not postpone a frame by a whole timer.
      if (this.playoutEndMs - now > thresholdMs + 1e-6) break;
      const slot = this.slots[this.head] as F;
      const durationMs = this.durationMs(slot);
      this.head = (this.head + 1) % this.slots.length;
      this.size--;
      this.queuedMsTotal = this.size === 0 ? 0 : this.queuedMsTotal - durationMs;
      this.sentMsTotal += durationMs;
      this.playoutEndMs += durationMs;
      this.sentInPump = true;
      this.sendFrame(slot);
      now = this.clock();
    }
  }

  private armTimer(): void {
    const delayMs = this.playoutEndMs - (this.leadFrames - 1) * this.frameMs - this.clock();
    this.timerPending = true;
    this.timerHandle = this.scheduler.setTimeout(this.tick, Math.max(0, delayMs));
  }

  private cancelTimer(): void {
    if (this.timerPending) {
      this.scheduler.clearTimeout(this.timerHandle);
      this.timerPending = false;
      this.timerHandle = undefined;
    }
  }

  private growQueue(): void {
    const bigger = new Array<F | undefined>(this.slots.length * 2).fill(undefined);
    for (let i = 0; i < this.size; i++) bigger[i] = this.slots[(this.head + i) % this.slots.length];
    this.head = 0;
    this.slots = bigger;
  }
}
