import type { AudioPort } from '../../../streams/session/audio-port.js';
import type { Playout, PlayoutOptions } from '../../../streams/session/playout.js';
import { parsePlayoutMark, playoutMarkName } from '../../../streams/protocols/carrier.js';
import type { LiveCall } from './live-call.js';
import { PlayoutSource } from './playout-source.js';

/**
 * Frames of a response pulled between two marks on a carrier leg (5 x 20 ms = 100 ms): the heard
 * position a barge-in reports lags what the caller heard by less than this (plus the echo's transit).
 */
export const MARK_INTERVAL_FRAMES = 5;

/** An {@link AudioPort} on a live call of the local engine, with its own playout in the call's mix. */
export interface LiveCallPort extends AudioPort {
  /** The call's source the port plays into (stop_media spares it by its name). */
  readonly source: PlayoutSource;
  /** The agent's playout: what is queued, and what of each response was heard. */
  readonly playout: Playout;
  /** The playout counts what the party's mark echoes confirmed (a carrier leg), not what was pulled. */
  readonly acknowledged: boolean;
  /** Takes the source out of the call's mix (what it still holds is dropped). */
  close(): void;
}

/**
 * The local engine's audio port: the call's continuous 8 kHz tap in; out, a {@link PlayoutSource}
 * named `name` in the call's mix, pulled one frame per media-clock tick (so clear() stops it at
 * once).
 *
 * What counts as heard depends on the party. A local phone plays what it is sent in that tick:
 * played is what was pulled. A carrier leg (a Party with `sendMark`, e.g. Twilio) buffers and plays
 * later, so the playout runs in `acknowledged` mode: every {@link MARK_INTERVAL_FRAMES} frames of a
 * response, and when its audio stops (the response ended, or the playout waits for more), the port
 * follows the frame it was just sent with a mark `<responseId>:<pulled ms>`
 * ({@link playoutMarkName}); the carrier echoes it once it played that far, and the port
 * acknowledges that position. A clear cuts each response at what was acknowledged; the marks the
 * carrier echoes after its own clear (Twilio sends back the pending ones) then move nothing,
 * since the playout never lets a cut response's played position pass what the clear reported.
 */
export function liveCallPort(call: LiveCall, name: string, options: PlayoutOptions = {}): LiveCallPort {
  const party = call.party;
  const sendMark = party?.sendMark ? (mark: string) => party.sendMark!(mark) : undefined;
  const acknowledged = sendMark !== undefined;
  // A carrier leg has its own jitter buffer: no start cushion here, each frame goes out as it comes.
  const source = call.addMixSource(new PlayoutSource(name, acknowledged ? { cushionFrames: 0, ...options, played: 'acknowledged' } : options));
  const playout = source.playout;
  let offOut: (() => void) | undefined;
  let offMarks: (() => void) | undefined;
  /** The response of the frames pulled since the last mark, and how many. */
  let owner: string | undefined;
  let unmarked = 0;
  if (sendMark) {
    let seen = source.pulls;
    const mark = () => {
      if (owner !== undefined) sendMark(playoutMarkName(owner, playout.pulledMs(owner)));
      unmarked = 0;
    };
    // Runs in the tick right after the party was sent the mixed frame; nothing allocates here
    // except the mark itself (one short string per 100 ms of a response).
    offOut = call.tapOut(() => {
      const pulls = source.pulls;
      if (pulls === seen) {
        // Nothing of the agent in this frame: mark the end of what was sent.
        if (unmarked > 0) mark();
        return;
      }
      seen = pulls;
      const id = playout.lastPulledResponseId;
      // A new response: the previous one's tail is marked (one frame late, so its heard position
      // errs short, never long).
      if (id !== owner) {
        if (unmarked > 0) mark();
        owner = id;
      }
      if (++unmarked >= MARK_INTERVAL_FRAMES) mark();
    });
    offMarks = call.onMark((echo) => {
      const m = parsePlayoutMark(echo);
      if (m) playout.acknowledge(m.responseId, m.ms);
    });
  }
  return {
    source,
    playout,
    acknowledged,
    onAudio: (listener) => call.tap(listener),
    play(samples8k, responseId) {
      playout.play(samples8k, responseId);
      // The period's frame may still be open: the first frame of a response goes out now.
      call.wake();
    },
    clear() {
      // Acknowledged mode: played is what the carrier confirmed before this clear.
      const report = playout.clear();
      owner = undefined;
      unmarked = 0;
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
      offOut?.();
      offMarks?.();
      call.removeSource(source);
      playout.stop();
    },
  };
}
