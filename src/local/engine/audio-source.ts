import { Framer } from '../../../streams/audio/framer.js';
import { FRAME_SAMPLES } from './media-clock.js';

/**
 * Frames a source holds before it starts (or resumes after running dry). Live audio (a phone,
 * a bridged leg, a media-stream client) arrives with scheduling jitter; without this cushion a
 * frame that lands a moment late becomes a 20 ms gap of silence.
 */
export const JITTER_FRAMES = 2;

/** Most audio a source may hold ahead of playback (a sender faster than real time is capped). */
export const MAX_SOURCE_BUFFER_SAMPLES = 8000 * 120;

/**
 * Anything a call mixes into what its party hears, one 20 ms frame per clock tick: an
 * {@link AudioSource}, or an agent's playout (src/local/engine/playout-source.ts).
 */
export interface MixSource {
  /** Names the source (stop_media spares the agent's by its name). */
  readonly name: string;
  /** Adds this tick's frame into `mix` (Int32 accumulator); true when it contributed audio. */
  mixInto(mix: Int32Array): boolean;
  /** Drops everything not yet played; returns the dropped duration in ms. */
  clear(): number;
  /** Stops the source for good (`stop_media`): drops what is queued and refuses more. */
  stop(): void;
}

/**
 * Audio played into a call (talk, a media-stream client's injection, a bridged peer, an agent).
 * Producers push 8 kHz samples of any chunk size; the call's mixer pulls one 20 ms frame per
 * tick, so the audio is heard in real time and `clear()` drops whatever was not played yet.
 */
export class AudioSource implements MixSource {
  readonly name: string;
  private readonly framer = new Framer<Int16Array>({ sampleRateHz: 8000, frameMs: 20 });
  private ended = false;
  private finishWaiters: (() => void)[] = [];
  /** True until the jitter cushion is filled (again). */
  private starved = true;
  /** Set by stop(): the producer is told (push returns false) and nothing more plays. */
  private stopped = false;

  constructor(name: string) {
    this.name = name;
  }

  /** Queues samples; returns false (and drops them) when the buffer is full or the source was stopped. */
  push(samples: Int16Array): boolean {
    if (this.stopped || this.framer.bufferedSamples + samples.length > MAX_SOURCE_BUFFER_SAMPLES) return false;
    this.framer.push(samples);
    return true;
  }

  /** Marks the end of the audio: the last partial frame is padded and played, then `finished` resolves. */
  end(): void {
    this.ended = true;
  }

  /**
   * Stops the source for good (`stop_media`): drops what is queued, refuses what comes later (a
   * TTS still streaming learns it from `push` returning false), and resolves `finished`.
   */
  stop(): void {
    this.stopped = true;
    this.ended = true;
    this.clear();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Drops everything not yet played; returns the dropped duration in ms. */
  clear(): number {
    const ms = (this.framer.bufferedSamples / 8000) * 1000;
    this.framer.clear();
    this.resolveIfDone();
    return ms;
  }

  /** Resolves when the source has ended and everything queued was played (or cleared). */
  finished(): Promise<void> {
    if (this.ended && this.framer.bufferedSamples === 0) return Promise.resolve();
    return new Promise((resolve) => this.finishWaiters.push(resolve));
  }

  /**
   * Adds this source's next frame into `mix` (Int32 accumulator). Called by the mixer once per
   * tick. Returns true when it contributed audio.
   */
  mixInto(mix: Int32Array): boolean {
    if (this.starved && !this.ended && this.framer.bufferedSamples < JITTER_FRAMES * FRAME_SAMPLES) return false;
    let frame = this.framer.nextFrame();
    if (!frame && this.ended && this.framer.bufferedSamples > 0) frame = this.framer.flush();
    if (!frame) {
      this.starved = true;
      this.resolveIfDone();
      return false;
    }
    this.starved = false;
    for (let i = 0; i < FRAME_SAMPLES; i++) mix[i] += frame[i]!;
    if (this.framer.bufferedSamples === 0) this.resolveIfDone();
    return true;
  }

  private resolveIfDone(): void {
    if (!this.ended || this.framer.bufferedSamples > 0 || this.finishWaiters.length === 0) return;
    const waiters = this.finishWaiters;
    this.finishWaiters = [];
    for (const w of waiters) w();
  }
}
