/**
 * An {@link AudioPort} over a VoIPBIN media_stream client (streams/media-stream-client.ts): the
 * gateway's side of a call on api.voipbin.net (or any VoIPBIN-compatible API).
 *
 * - Caller audio: the stream's frames (the remote serves a continuous 50 frames/s stream), passed
 *   on as 20 ms / 160-sample frames; a remote that sends other sizes is re-framed through one
 *   preallocated frame buffer.
 * - Agent audio: a {@link Playout} pulled by a 20 ms clock whose timers are aimed at absolute
 *   times (`start + n x 20 ms`, so lateness never accumulates as drift). Each tick sends at most one
 *   frame, so the remote holds no more than a frame or two ahead of what the caller hears, and
 *   {@link AudioPort.clear} (a barge-in) stops the outgoing audio at once. A timer that fires late
 *   catches up by at most {@link MAX_CATCH_UP_FRAMES} frames; beyond that the clock re-aims at now.
 *   The clock runs only while the playout holds audio (no silence is sent when the agent is quiet).
 * - DTMF: the stream's `dtmf` events (audiosocket carries them; sln / rtp do not).
 * - End: the socket's close (hangup, the flow moved on, the gateway stopped the session).
 *
 * Nothing on the per-frame path allocates here: the playout's ring views go straight to the
 * client's framer (a frame of exactly 160 samples is sent at once).
 */
import type { ClearReport } from '../agents/agent.js';
import type { MediaStreamClient } from '../media-stream-client.js';
import type { AudioPort } from './audio-port.js';
import { PLAYOUT_FRAME_SAMPLES, Playout } from './playout.js';
import type { PlayoutOptions } from './playout.js';

/** Frame period of a VoIPBIN media stream. */
export const MEDIA_STREAM_FRAME_MS = 20;
/** Most frames one late timer sends to catch up (then the clock re-aims at now). */
export const MAX_CATCH_UP_FRAMES = 2;

/** Timer functions and clock; injectable for tests. */
export interface MediaStreamPortClock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MediaStreamPortOptions {
  /** Options of the agent's playout (cushion, bounds). */
  playout?: PlayoutOptions;
  /** Default: performance.now and the global timers. */
  clock?: MediaStreamPortClock;
}

/** The port, with what the gateway reads off it (frames sent, the playout) and its own close. */
export interface MediaStreamPort extends AudioPort {
  readonly playout: Playout;
  /** Frames of agent audio sent to the remote so far. */
  readonly framesSent: number;
  /** Frames of caller audio received so far. */
  readonly framesReceived: number;
  /** Stops the clock and the playout and closes the media stream (idempotent). */
  close(code?: number, reason?: string): void;
}

const defaultClock: MediaStreamPortClock = {
  now: () => performance.now(),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The audio port of a media stream (see the module comment). */
export function mediaStreamPort(stream: MediaStreamClient, options: MediaStreamPortOptions = {}): MediaStreamPort {
  const clock = options.clock ?? defaultClock;
  const playout = new Playout(options.playout);
  const audioListeners = new Set<(frame: Int16Array) => void>();
  const dtmfListeners = new Set<(digit: string) => void>();
  const endListeners = new Set<() => void>();
  let ended = !stream.isOpen;
  let framesSent = 0;
  let framesReceived = 0;

  // Caller audio: frames of 160 go through as they are; other sizes are re-framed here.
  const carry = new Int16Array(PLAYOUT_FRAME_SAMPLES);
  let carried = 0;
  const deliver = (frame: Int16Array): void => {
    framesReceived++;
    for (const l of audioListeners) l(frame);
  };
  const onAudio = (samples: Int16Array): void => {
    if (ended) return;
    if (carried === 0 && samples.length === PLAYOUT_FRAME_SAMPLES) {
      deliver(samples);
      return;
    }
    let off = 0;
    while (off < samples.length) {
      const k = Math.min(PLAYOUT_FRAME_SAMPLES - carried, samples.length - off);
      carry.set(samples.subarray(off, off + k), carried);
      carried += k;
      off += k;
      if (carried === PLAYOUT_FRAME_SAMPLES) {
        carried = 0;
        deliver(carry);
      }
    }
  };
  const onDtmf = (digit: string): void => {
    for (const l of dtmfListeners) l(digit);
  };

  // The outbound clock: one pull per 20 ms, timers aimed at absolute due times.
  let timer: unknown;
  let running = false;
  let nextDueMs = 0;
  const sendOne = (): void => {
    const frame = playout.pull();
    if (frame && stream.sendAudio(frame)) framesSent++;
  };
  const tick = (): void => {
    timer = undefined;
    if (!running) return;
    const now = clock.now();
    let sent = 0;
    while (nextDueMs <= now && sent <= MAX_CATCH_UP_FRAMES) {
      sendOne();
      sent++;
      nextDueMs += MEDIA_STREAM_FRAME_MS;
    }
    // Far behind (a stalled event loop): re-aim at now rather than burst the backlog.
    if (nextDueMs <= now) nextDueMs = now + MEDIA_STREAM_FRAME_MS;
    if (playout.bufferedFrames === 0 || ended) {
      running = false;
      return;
    }
    timer = clock.setTimeout(tick, Math.max(0, nextDueMs - clock.now()));
  };
  const startClock = (): void => {
    if (running || ended) return;
    running = true;
    nextDueMs = clock.now() + MEDIA_STREAM_FRAME_MS;
    timer = clock.setTimeout(tick, MEDIA_STREAM_FRAME_MS);
  };
  const stopClock = (): void => {
    running = false;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };

  const onClose = (): void => {
    if (ended) return;
    ended = true;
    stopClock();
    playout.stop();
    for (const l of [...endListeners]) l();
  };
  stream.on('audio', onAudio);
  stream.on('dtmf', onDtmf);
  stream.on('close', onClose);
  // A socket error is followed by its close; listening keeps the client from treating it as unhandled.
  const onError = (): void => undefined;
  stream.on('error', onError);

  return {
    playout,
    get framesSent() {
      return framesSent;
    },
    get framesReceived() {
      return framesReceived;
    },
    get ended() {
      return ended;
    },
    onAudio(listener) {
      audioListeners.add(listener);
      return () => void audioListeners.delete(listener);
    },
    play(samples8k, responseId) {
      if (ended) return;
      if (playout.play(samples8k, responseId) > 0) startClock();
    },
    clear(): ClearReport {
      const report = playout.clear();
      // A partial frame held by the client's framer goes with it.
      stream.clearAudio();
      return report;
    },
    playedMs: (responseId) => playout.playedMs(responseId),
    drain() {
      const done = playout.drain();
      // A partial last frame waits for ticks to be played out padded.
      if (playout.bufferedFrames > 0) startClock();
      return done;
    },
    onDtmf(listener) {
      dtmfListeners.add(listener);
      return () => void dtmfListeners.delete(listener);
    },
    onEnd(listener) {
      endListeners.add(listener);
      return () => void endListeners.delete(listener);
    },
    close(code = 1000, reason = '') {
      stopClock();
      playout.stop();
      stream.off('audio', onAudio);
      stream.off('dtmf', onDtmf);
      stream.close(code, reason);
      // The close event ends the port; a stream that never opened ends it now.
      if (!stream.isOpen) onClose();
    },
  };
}
