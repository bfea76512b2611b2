import { Playout } from '../../../streams/session/playout.js';
import type { PlayoutOptions } from '../../../streams/session/playout.js';
import type { MixSource } from './audio-source.js';
import { FRAME_SAMPLES } from './media-clock.js';

/**
 * An agent's {@link Playout} as a source of a call's mix: the media clock's tick pulls exactly one
 * frame, so what the playout counts as played is what the party was sent in that tick, and what
 * is queued but unplayed is all in the playout (a clear cuts it at once).
 */
export class PlayoutSource implements MixSource {
  readonly playout: Playout;
  /** Frames pulled so far (a port that marks a carrier's stream compares it tick by tick). */
  pulls = 0;

  constructor(
    readonly name: string,
    options: PlayoutOptions = {},
  ) {
    this.playout = new Playout({ ...options, sampleRateHz: 8000, frameSamples: FRAME_SAMPLES });
  }

  mixInto(mix: Int32Array): boolean {
    const frame = this.playout.pull();
    if (!frame) return false;
    this.pulls++;
    for (let i = 0; i < FRAME_SAMPLES; i++) mix[i] += frame[i]!;
    return true;
  }

  /** A clear from the call's side (e.g. `clearSources`): the playout still cuts and counts. */
  clear(): number {
    return this.playout.clear().droppedMs;
  }

  stop(): void {
    this.playout.stop();
  }
}
