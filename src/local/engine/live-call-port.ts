import type { AudioPort } from '../../../streams/session/audio-port.js';
import type { Playout, PlayoutOptions } from '../../../streams/session/playout.js';
import type { LiveCall } from './live-call.js';
import { PlayoutSource } from './playout-source.js';

/** An {@link AudioPort} on a live call of the local engine, with its own playout in the call's mix. */
export interface LiveCallPort extends AudioPort {
  /** The call's source the port plays into (stop_media spares it by its name). */
  readonly source: PlayoutSource;
  /** The agent's playout: what is queued, and what of each response was heard. */
  readonly playout: Playout;
  /** Takes the source out of the call's mix (what it still holds is dropped). */
  close(): void;
}

/**
 * The local engine's audio port: the call's continuous 8 kHz tap in; out, a {@link PlayoutSource}
 * named `name` in the call's mix, pulled one frame per media-clock tick (so clear() stops it at
 * once and played is what the party got).
 */
export function liveCallPort(call: LiveCall, name: string, options: PlayoutOptions = {}): LiveCallPort {
  const source = call.addMixSource(new PlayoutSource(name, options));
  const playout = source.playout;
  return {
    source,
    playout,
    onAudio: (listener) => call.tap(listener),
    play(samples8k, responseId) {
      playout.play(samples8k, responseId);
    },
    clear() {
      const report = playout.clear();
      // A carrier leg buffers what the mix sent; drop that too (a local phone plays at once).
      call.party?.clearAudio?.();
      return report;
    },
    playedMs: (responseId) => playout.playedMs(responseId),
    drain: () => playout.drain(),
    onDtmf: (listener) => call.onDtmf(listener),
    onEnd(listener) {
      return call.onEnd(() => listener());
    },
    get ended() {
      return call.ended;
    },
    close() {
      call.removeSource(source);
      playout.stop();
    },
  };
}
