import type { Row } from '../../../db/store.js';
import { Framer } from '../../../streams/audio/framer.js';
import { AudioSource } from './audio-source.js';
import type { MixSource } from './audio-source.js';
import { FRAME_SAMPLES } from './media-clock.js';

/** The far end of a call leg: a local phone, a carrier stream. Frames are 8 kHz, 160 samples. */
export interface Party {
  /** One 20 ms frame of what the party hears (the array is reused: copy to keep). */
  sendAudio(frame: Int16Array): void;
  /**
   * Drop audio the party has queued but not played yet (barge-in; e.g. Twilio `clear`). A party
   * with marks echoes the marks still pending at once (Twilio does): those echo a clear, not playback.
   */
  clearAudio?(): void;
  /**
   * A party that buffers what it is sent and plays it later (a carrier stream) and can say when it
   * played it: queues a mark after the audio sent so far; the party reports it back through
   * {@link LiveCall.markFromParty} once everything sent before it has played (Twilio `mark`).
   * A party with marks gets an acknowledged playout (src/local/engine/live-call-port.ts).
   */
  sendMark?(name: string): void;
  /** The call was answered (by the far side or by the flow). */
  answered?(callId: string): void;
  /** The call ended; the party should stop sending. */
  ended(callId: string, reason: string): void;
}

/** Who/what ended the call, stored on the call row. */
export interface HangupInfo {
  by: 'local' | 'remote' | '';
  reason: 'normal' | 'failed' | 'busy' | 'cancel' | 'timeout' | 'noanswer' | 'dialout' | 'amd' | '';
}

export type FrameListener = (frame: Int16Array) => void;

/**
 * Bound of a call's inbound jitter buffer, in 20 ms frames (1 s). A phone that sends faster than
 * real time (a burst after a network stall, a test sending a whole second at once) is played out
 * at 50 frames/s; beyond this bound the oldest frames are dropped (and counted), so a runaway
 * sender cannot grow memory or latency without limit.
 */
export const INBOUND_BUFFER_FRAMES = 50;

/**
 * Latency trim of the inbound jitter buffer. Both ends run at 50 frames/s, so nothing ever
 * shrinks a standing backlog on its own: every stall (a late sender flushing what it held back, a
 * busy event loop, ticks the clock had to skip) would add its length to the call's latency for
 * good. So every {@link TRIM_WINDOW_TICKS} ticks (500 ms), if the party kept sending in real time
 * (frames arrived in at least half of the window's ticks) and the buffer never held fewer than
 * {@link TRIM_TARGET_FRAMES} + 1 frames after a tick, the oldest frames above that are dropped
 * (counted apart from overflow drops). A burst followed by a pause is never trimmed: it arrives
 * within a tick or two, so it is played out whole, at 50 frames/s.
 */
export const TRIM_WINDOW_TICKS = 25;
/**
 * Frames of standing backlog a trim keeps. One: a sender that paces itself a frame ahead (our
 * own pacer does) would otherwise lose 20 ms of audio at every trim.
 */
export const TRIM_TARGET_FRAMES = 1;
/**
 * How far the taps may run behind the clock waiting for a late frame: a frame may still arrive
 * this many periods after its own and be delivered on arrival, before silence takes its place.
 * One period absorbs a sender whose frames land around the tick (jitter of a few ms either way)
 * without a gap or a frame of added latency; a real gap reaches the taps as silence 20-40 ms late.
 */
export const INBOUND_GRACE_FRAMES = 1;

/**
 * The media and live state of one call: the party's audio fans out to taps (media streams,
 * agents, a bridged peer); sources (talk, injections, the peer) are mixed into what the party
 * hears, one frame per clock tick.
 *
 * Both directions run on the media clock. Inbound, every tick opens one frame of delivery credit:
 * a frame from the party is handed to the taps (media_stream, bridge, transcription, agent) the
 * moment it arrives if there is credit, else it waits in a bounded jitter buffer for the next
 * tick; a period that passed with no frame (plus {@link INBOUND_GRACE_FRAMES} of grace) is filled
 * with silence. So every tap sees one continuous real-time stream, 50 frames/s from answer to
 * hangup, whatever the party's send pattern, and a sender in real time is forwarded with no wait
 * for the clock. Outbound, each tick mixes the sources into one frame for the party.
 */
export class LiveCall {
  row: Row;
  party: Party | undefined;
  /** Set once the call is answered; before that no audio flows. */
  answered = false;
  ended = false;
  /** The bridged call (connect), if any. */
  peer: LiveCall | undefined;
  /** Running activeflow id, if a flow runs this call. */
  activeflowId = '';
  /** Called once when the far side answers an outgoing call. */
  onAnswered: (() => void) | undefined;

  private readonly sources = new Set<MixSource>();
  private readonly taps = new Set<FrameListener>();
  /** Listeners of what the party hears (the mix), e.g. an `out` transcription. */
  private readonly outTaps = new Set<FrameListener>();
  private readonly dtmfListeners = new Set<(digit: string) => void>();
  private readonly markListeners = new Set<(name: string) => void>();
  private readonly endListeners = new Set<(info: HangupInfo) => void>();
  private readonly mix = new Int32Array(FRAME_SAMPLES);
  private readonly out = new Int16Array(FRAME_SAMPLES);
  /** Re-frames whatever chunk sizes the party sends into 20 ms frames for the jitter buffer. */
  private readonly inbound = new Framer<Int16Array>({ sampleRateHz: 8000, frameMs: 20 }, (f) => this.buffer(f));
  /**
   * The inbound jitter buffer: a ring of {@link INBOUND_BUFFER_FRAMES} frames, allocated once with
   * the call. `inSlots[i]` are views of the ring made up front, so writing or reading a frame on
   * the hot path creates no view objects.
   */
  private readonly inRing = new Int16Array(INBOUND_BUFFER_FRAMES * FRAME_SAMPLES);
  private readonly inSlots: Int16Array[] = Array.from({ length: INBOUND_BUFFER_FRAMES }, (_, i) =>
    this.inRing.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES),
  );
  /** Slot of the oldest buffered frame. */
  private inHead = 0;
  /** Frames buffered. */
  private inCount = 0;
  /** The frame handed to the taps (a copy of the arriving frame or of a slot, or zeros). */
  private readonly tapFrame = new Int16Array(FRAME_SAMPLES);
  /** Inbound frames dropped because the jitter buffer was full (oldest first). */
  droppedInboundFrames = 0;
  /** Inbound frames dropped by the latency trim (see {@link TRIM_WINDOW_TICKS}). */
  trimmedInboundFrames = 0;
  /** Exceptions thrown by taps (each one skipped; the stream goes on). */
  tapErrors = 0;
  /** The trim's window: ticks so far, fewest frames left after a tick, ticks with arrivals. */
  private windowTicks = 0;
  private windowMin = INBOUND_BUFFER_FRAMES;
  private windowTicksWithArrivals = 0;
  /** A frame arrived since the last tick. */
  private arrived = false;
  /**
   * Inbound delivery credit: periods the clock has opened minus frames handed to the taps. An
   * arriving frame is delivered at once while it is positive; the tick fills with silence what
   * goes beyond the grace.
   */
  private inCredit = 0;
  /** This period's outbound frame is still open (see {@link tick}). */
  private outOwed = false;

  constructor(row: Row, party?: Party) {
    this.row = row;
    this.party = party;
  }

  get id(): string {
    return this.row.id;
  }

  /** A new source of audio heard by the party; remove it with {@link removeSource}. */
  addSource(name: string): AudioSource {
    const s = new AudioSource(name);
    this.sources.add(s);
    return s;
  }

  /** Adds a source of another kind (e.g. an agent's playout); remove it with {@link removeSource}. */
  addMixSource<S extends MixSource>(source: S): S {
    this.sources.add(source);
    return source;
  }

  removeSource(source: MixSource): void {
    source.clear();
    this.sources.delete(source);
  }

  /** Stops the matching sources for good (`stop_media`): what they would still play is dropped. */
  stopSources(filter: (s: MixSource) => boolean): void {
    for (const s of this.sources) if (filter(s)) s.stop();
    this.party?.clearAudio?.();
  }

  /** Clears what the sources have queued (barge-in); returns the ms dropped. */
  clearSources(filter: (s: MixSource) => boolean = () => true): number {
    let ms = 0;
    for (const s of this.sources) if (filter(s)) ms += s.clear();
    this.party?.clearAudio?.();
    return ms;
  }

  /**
   * Listens to the party's audio: 20 ms frames, 50 a second, silence included, each as it
   * arrives from the party or at a clock tick (a reused array: copy to keep). Returns the
   * unsubscribe.
   */
  tap(listener: FrameListener): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /**
   * Listens to what the party hears (20 ms mixed frames, reused array); returns the unsubscribe.
   * Listeners run in the tick right after the party was sent the frame, so one may follow that
   * frame with a {@link Party.sendMark}.
   */
  tapOut(listener: FrameListener): () => void {
    this.outTaps.add(listener);
    return () => this.outTaps.delete(listener);
  }

  onDtmf(listener: (digit: string) => void): () => void {
    this.dtmfListeners.add(listener);
    return () => this.dtmfListeners.delete(listener);
  }

  /** Listens to the party's mark echoes (see {@link Party.sendMark}); returns the unsubscribe. */
  onMark(listener: (name: string) => void): () => void {
    this.markListeners.add(listener);
    return () => this.markListeners.delete(listener);
  }

  onEnd(listener: (info: HangupInfo) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Audio from the party, any chunk size. */
  fromParty(samples: Int16Array): void {
    if (!this.answered || this.ended) return;
    this.inbound.push(samples);
  }

  dtmfFromParty(digit: string): void {
    for (const l of this.dtmfListeners) l(digit);
  }

  /** The party echoed a mark: the audio sent before it has played (or was cleared). */
  markFromParty(name: string): void {
    for (const l of this.markListeners) l(name);
  }

  /** Frames of the party's audio waiting for their tick. */
  get bufferedInboundFrames(): number {
    return this.inCount;
  }

  /**
   * A complete inbound frame from the framer: to the taps at once while there is credit (see
   * {@link inCredit}), else into the ring, dropping the oldest when full.
   */
  private buffer(frame: Int16Array): void {
    this.arrived = true;
    if (this.inCredit > 0 && this.inCount === 0) {
      this.inCredit--;
      this.tapFrame.set(frame);
      this.runTaps();
      return;
    }
    const cap = INBOUND_BUFFER_FRAMES;
    if (this.inCount === cap) {
      // Full: the oldest frame is the most out of date; drop it so latency stays bounded.
      this.dropOldest(1);
      this.droppedInboundFrames++;
    }
    let tail = this.inHead + this.inCount;
    if (tail >= cap) tail -= cap;
    this.inSlots[tail]!.set(frame);
    this.inCount++;
  }

  /** Drops the `n` oldest buffered frames. */
  private dropOldest(n: number): void {
    this.inHead = (this.inHead + n) % INBOUND_BUFFER_FRAMES;
    this.inCount -= n;
  }

  /**
   * The tick's inbound side: one more frame of credit; buffered frames go out while there is
   * credit; a period left empty beyond the grace becomes silence.
   */
  private deliver(): void {
    this.inCredit++;
    while (this.inCredit > 0 && this.inCount > 0) {
      this.inCredit--;
      this.tapFrame.set(this.inSlots[this.inHead]!);
      this.inHead = this.inHead + 1 === INBOUND_BUFFER_FRAMES ? 0 : this.inHead + 1;
      this.inCount--;
      this.runTaps();
      if (this.ended) return;
    }
    while (this.inCredit > INBOUND_GRACE_FRAMES + 1) {
      this.inCredit--;
      this.tapFrame.fill(0);
      this.runTaps();
      if (this.ended) return;
    }
    this.trimLatency();
  }

  /**
   * Hands the taps {@link tapFrame} (a copy, not a ring slot: a tap that scribbles on its frame
   * cannot corrupt buffered audio).
   */
  private runTaps(): void {
    const frame = this.tapFrame;
    for (const t of this.taps) {
      // Taps run inside the clock's tick (or a party's message), which carries every call of the
      // process: a failing tap (an agent's audioIn, say) must not stop the other taps, this
      // call's outbound frame or the other calls' ticks. (try/catch in a loop costs nothing
      // measurable in V8.)
      try {
        t(frame);
      } catch {
        this.tapErrors++;
      }
    }
  }

  /** Once per window: cuts a standing backlog down to the cushion (see {@link TRIM_WINDOW_TICKS}). */
  private trimLatency(): void {
    if (this.inCount < this.windowMin) this.windowMin = this.inCount;
    if (this.arrived) this.windowTicksWithArrivals++;
    this.arrived = false;
    if (++this.windowTicks < TRIM_WINDOW_TICKS) return;
    const excess = this.windowMin - TRIM_TARGET_FRAMES;
    if (excess > 0 && 2 * this.windowTicksWithArrivals >= TRIM_WINDOW_TICKS) {
      this.dropOldest(excess);
      this.trimmedInboundFrames += excess;
    }
    this.windowTicks = 0;
    this.windowMin = this.inCount;
    this.windowTicksWithArrivals = 0;
  }

  /**
   * One clock tick, both directions: the party's audio to the taps (see {@link deliver}), then
   * the sources mixed into this period's frame for the party. A period whose sources are all
   * silent at the tick keeps its frame open until the next tick: audio that a source gets in the
   * meantime ({@link wake}) goes out at once instead of waiting up to 20 ms for the clock, and
   * otherwise the next tick sends the silence. So the party still gets exactly one frame per
   * period, and never more than one frame ahead of the clock.
   */
  tick(): void {
    if (!this.answered || this.ended) return;
    this.deliver();
    // A tap may have ended the call: nothing more to send then.
    if (this.ended) return;
    if (this.outOwed) {
      // The previous period stayed silent: its frame, then this one's.
      this.out.fill(0);
      this.sendOut();
    }
    this.outOwed = !this.mixAndSend();
  }

  /**
   * A source got audio between two ticks (an agent's playout): if this period's frame is still
   * open, mix and send it now.
   */
  wake(): void {
    if (!this.outOwed || !this.answered || this.ended) return;
    if (this.mixAndSend()) this.outOwed = false;
  }

  /** Mixes the sources; sends the frame when any contributed audio. True when sent. */
  private mixAndSend(): boolean {
    this.mix.fill(0);
    let audible = false;
    for (const s of this.sources) if (s.mixInto(this.mix)) audible = true;
    if (!audible) return false;
    const out = this.out;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const v = this.mix[i]!;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    this.sendOut();
    return true;
  }

  /** {@link out} to the party (a real call carries audio continuously, silence included) and the out taps. */
  private sendOut(): void {
    const out = this.out;
    this.party?.sendAudio(out);
    for (const t of this.outTaps) t(out);
  }

  /** Marks the call ended and tells everyone listening. Idempotent. */
  markEnded(info: HangupInfo): void {
    if (this.ended) return;
    this.ended = true;
    for (const s of this.sources) s.clear();
    this.inCount = 0;
    for (const l of this.endListeners) {
      try {
        l(info);
      } catch {
        // a listener's failure must not keep the others from learning the call ended
      }
    }
    this.endListeners.clear();
    this.taps.clear();
    this.outTaps.clear();
    this.dtmfListeners.clear();
    this.markListeners.clear();
  }
}
