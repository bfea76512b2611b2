/**
 * Re-framing of arbitrary chunk sizes into exact fixed-duration frames (20 ms by default).
 *
 * Agents and TTS engines deliver audio in whatever chunk sizes they like; carriers want exact
 * 20 ms frames. The framer keeps the remainder in a ring buffer and hands out each complete frame
 * in one preallocated array, so pushing audio allocates nothing (unless a pull-mode consumer lets
 * the ring overflow, which grows it once).
 */

/** Typed arrays a framer can carry: Int16 PCM, or bytes (e.g. G.711 passed through untouched). */
export type FrameArray = Int16Array | Uint8Array;

/** Options of {@link Framer}. */
export interface FramerOptions {
  /** Sample rate of the stream (default 8000). */
  sampleRateHz?: number;
  /** Frame duration (default 20). `sampleRateHz * frameMs / 1000` must be an integer. */
  frameMs?: number;
  /**
   * Ring capacity in samples (default: 1 s, at least 2 frames). In callback mode it never needs
   * to hold more than one frame; in pull mode it grows (once, allocating) if the consumer lags.
   */
  capacitySamples?: number;
}

/**
 * Turns a stream of chunks into exact frames.
 *
 * Callback mode (`onFrame` given): every `push()` delivers all completed frames synchronously.
 * Pull mode (no `onFrame`): read frames with `nextFrame()` or `for (const f of framer.frames())`.
 * Either way the frame handed out is the same preallocated array, overwritten by the next frame:
 * copy it if you keep it.
 */
export class Framer<T extends FrameArray = Int16Array> {
  /** Samples per frame. */
  readonly frameSamples: number;
  readonly sampleRateHz: number;
  readonly frameMs: number;
  private ring: T;
  private readonly frame: T;
  private readIndex = 0;
  private count = 0;
  private readonly iterResult: IteratorResult<T> & { value: T | undefined; done: boolean };
  private readonly iterator: IterableIterator<T>;

  /**
   * @param create constructs the element type (`Int16Array` or `Uint8Array`); `Int16Array` by default.
   */
  constructor(
    options: FramerOptions = {},
    private readonly onFrame?: (frame: T) => void,
    create: (length: number) => T = (n) => new Int16Array(n) as T,
  ) {
    this.sampleRateHz = options.sampleRateHz ?? 8000;
    this.frameMs = options.frameMs ?? 20;
    const frameSamples = (this.sampleRateHz * this.frameMs) / 1000;
    if (!Number.isInteger(frameSamples) || frameSamples < 1) {
      throw new RangeError(`framer: ${this.sampleRateHz} Hz x ${this.frameMs} ms is not a whole number of samples`);
    }
    this.frameSamples = frameSamples;
    const capacity = Math.max(options.capacitySamples ?? this.sampleRateHz, 2 * frameSamples);
    this.ring = create(capacity);
    this.frame = create(frameSamples);
    // One iterator and one result object, reused, so iterating frames allocates nothing.
    this.iterResult = { value: undefined, done: true } as IteratorResult<T> & { value: T | undefined; done: boolean };
    const self = this;
    this.iterator = {
      next(): IteratorResult<T> {
        const r = self.iterResult;
        if (self.count >= self.frameSamples) {
          self.take();
          r.value = self.frame;
          r.done = false;
        } else {
          r.value = undefined;
          r.done = true;
        }
        return r;
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  }

  /** Samples buffered that do not yet make a full frame (or, in pull mode, not yet read). */
  get bufferedSamples(): number {
    return this.count;
  }

  /**
   * Appends a chunk of any length. In callback mode, emits every frame it completes.
   * @returns the number of frames now ready (callback mode: emitted during this call).
   */
  push(chunk: T): number {
    let offset = 0;
    let emitted = 0;
    while (offset < chunk.length) {
      let free = this.ring.length - this.count;
      if (free === 0) {
        if (this.onFrame) throw new Error('framer: ring full in callback mode'); // unreachable: frames drain as they fill
        this.grow(this.ring.length * 2);
        free = this.ring.length - this.count;
      }
      const n = Math.min(free, chunk.length - offset);
      this.write(chunk, offset, n);
      offset += n;
      if (this.onFrame) {
        while (this.count >= this.frameSamples) {
          this.take();
          emitted++;
          this.onFrame(this.frame);
        }
      }
    }
    return this.onFrame ? emitted : Math.floor(this.count / this.frameSamples);
  }

  /** Pull mode: the next complete frame (the preallocated array), or `undefined` if none is ready. */
  nextFrame(): T | undefined {
    if (this.count < this.frameSamples) return undefined;
    this.take();
    return this.frame;
  }

  /** Pull mode: iterates the complete frames ready now. Reuses one iterator; allocation-free. */
  frames(): IterableIterator<T> {
    return this.iterator;
  }

  /**
   * End of stream: if a partial frame is buffered, pads it with zeros (silence) to a full frame and
   * returns it (or emits it in callback mode). Returns `undefined` when nothing was buffered.
   * Complete frames still buffered in pull mode must be read first.
   */
  flush(): T | undefined {
    if (this.count >= this.frameSamples) throw new Error('framer: flush() with complete frames unread');
    if (this.count === 0) return undefined;
    const have = this.count;
    this.copyOut(have);
    this.frame.fill(0, have);
    if (this.onFrame) this.onFrame(this.frame);
    return this.frame;
  }

  /** Drops everything buffered (e.g. on barge-in). */
  clear(): void {
    this.readIndex = 0;
    this.count = 0;
  }

  private write(chunk: T, offset: number, n: number): void {
    const ring = this.ring;
    const writeIndex = (this.readIndex + this.count) % ring.length;
    const first = Math.min(n, ring.length - writeIndex);
    // Plain loops rather than set(subarray()) so no view objects are allocated per push.
    for (let i = 0; i < first; i++) ring[writeIndex + i] = chunk[offset + i];
    for (let i = first; i < n; i++) ring[i - first] = chunk[offset + i];
    this.count += n;
  }

  /** Moves `n` samples from the ring head into the frame array. */
  private copyOut(n: number): void {
    const ring = this.ring;
    const frame = this.frame;
    let r = this.readIndex;
    for (let i = 0; i < n; i++) {
      frame[i] = ring[r];
      if (++r === ring.length) r = 0;
    }
    this.readIndex = r;
    this.count -= n;
  }

  private take(): void {
    this.copyOut(this.frameSamples);
  }

  private grow(capacity: number): void {
    const bigger = new (this.ring.constructor as new (n: number) => T)(capacity); // same element type
    for (let i = 0; i < this.count; i++) bigger[i] = this.ring[(this.readIndex + i) % this.ring.length];
    this.ring = bigger;
    this.readIndex = 0;
  }
}

/** A framer over bytes (e.g. 8-bit G.711 passed through untouched): 1 byte per sample. */
export function createByteFramer(options: FramerOptions = {}, onFrame?: (frame: Uint8Array) => void): Framer<Uint8Array> {
  return new Framer<Uint8Array>(options, onFrame, (n) => new Uint8Array(n));
}
