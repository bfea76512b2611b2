/**
 * One 20 ms clock for every live call of the process.
 *
 * A timer per call would mean hundreds of timers drifting independently; one clock aimed at
 * absolute times (start + n x 20 ms) keeps every call in step without accumulating drift. A
 * late tick is followed by catch-up ticks, capped so a stalled process does not burst.
 *
 * Each tick moves one frame each way on every live call (see LiveCall.tick): the party's audio
 * out of its jitter buffer to the taps (media streams, bridges, transcription, agents), and the
 * mix of the sources to the party. So every consumer of call audio runs on this one clock.
 */

export const FRAME_MS = 20;
/** 8 kHz x 20 ms. */
export const FRAME_SAMPLES = 160;
/** Most ticks run back to back after a stall, so a blocked event loop cannot cause a burst. */
const MAX_CATCH_UP_TICKS = 5;

export type TickListener = () => void;

export class MediaClock {
  private readonly listeners = new Set<TickListener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private startMs = 0;
  private ticks = 0;

  /** Registers a per-tick callback; the clock runs while it has listeners. */
  add(listener: TickListener): void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.startMs = performance.now();
      this.ticks = 0;
      this.schedule();
    }
  }

  remove(listener: TickListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.listeners.size;
  }

  private schedule(): void {
    const dueMs = this.startMs + (this.ticks + 1) * FRAME_MS;
    this.timer = setTimeout(() => this.fire(), Math.max(0, dueMs - performance.now()));
  }

  private fire(): void {
    const now = performance.now();
    let due = Math.floor((now - this.startMs) / FRAME_MS) - this.ticks;
    if (due > MAX_CATCH_UP_TICKS) {
      // Skip what cannot be caught up: audio is real time, late frames are worthless.
      this.ticks += due - MAX_CATCH_UP_TICKS;
      due = MAX_CATCH_UP_TICKS;
    }
    for (let i = 0; i < Math.max(1, due); i++) {
      this.ticks++;
      for (const l of this.listeners) {
        try {
          l();
        } catch {
          // One call's failure must not stop every other call's audio.
        }
      }
    }
    if (this.listeners.size > 0) this.schedule();
    else this.timer = undefined;
  }
}
