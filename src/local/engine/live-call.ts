import type { Row } from '../../../db/store.js';
import { Framer } from '../../../streams/audio/framer.js';
import { AudioSource } from './audio-source.js';
import { FRAME_SAMPLES } from './media-clock.js';

/** The far end of a call leg: a local phone, a carrier stream. Frames are 8 kHz, 160 samples. */
export interface Party {
  /** One 20 ms frame of what the party hears (the array is reused: copy to keep). */
  sendAudio(frame: Int16Array): void;
  /** Drop audio the party has queued but not played yet (barge-in; e.g. Twilio `clear`). */
  clearAudio?(): void;
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
 * The media and live state of one call: the party's audio fans out to taps (media streams,
 * agents, a bridged peer); sources (talk, injections, the peer) are mixed into what the party
 * hears, one frame per clock tick.
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

  private readonly sources = new Set<AudioSource>();
  private readonly taps = new Set<FrameListener>();
  /** Listeners of what the party hears (the mix), e.g. an `out` transcription. */
  private readonly outTaps = new Set<FrameListener>();
  private readonly dtmfListeners = new Set<(digit: string) => void>();
  private readonly endListeners = new Set<(info: HangupInfo) => void>();
  private readonly mix = new Int32Array(FRAME_SAMPLES);
  private readonly out = new Int16Array(FRAME_SAMPLES);
  /** Re-frames whatever chunk sizes the party sends into 20 ms frames for the taps. */
  private readonly inbound = new Framer<Int16Array>({ sampleRateHz: 8000, frameMs: 20 }, (f) => this.deliver(f));

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

  removeSource(source: AudioSource): void {
    source.clear();
    this.sources.delete(source);
  }

  /** Stops the matching sources for good (`stop_media`): what they would still play is dropped. */
  stopSources(filter: (s: AudioSource) => boolean): void {
    for (const s of this.sources) if (filter(s)) s.stop();
    this.party?.clearAudio?.();
  }

  /** Clears what the sources have queued (barge-in); returns the ms dropped. */
  clearSources(filter: (s: AudioSource) => boolean = () => true): number {
    let ms = 0;
    for (const s of this.sources) if (filter(s)) ms += s.clear();
    this.party?.clearAudio?.();
    return ms;
  }

  /** Listens to the party's audio (20 ms frames, reused array); returns the unsubscribe. */
  tap(listener: FrameListener): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /** Listens to what the party hears (20 ms mixed frames, reused array); returns the unsubscribe. */
  tapOut(listener: FrameListener): () => void {
    this.outTaps.add(listener);
    return () => this.outTaps.delete(listener);
  }

  onDtmf(listener: (digit: string) => void): () => void {
    this.dtmfListeners.add(listener);
    return () => this.dtmfListeners.delete(listener);
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

  private deliver(frame: Int16Array): void {
    for (const t of this.taps) t(frame);
  }

  /** One clock tick: mixes one frame of every source and sends it to the party. */
  tick(): void {
    if (!this.answered || this.ended) return;
    this.mix.fill(0);
    for (const s of this.sources) s.mixInto(this.mix);
    const out = this.out;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const v = this.mix[i]!;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    // A real call carries audio continuously (silence included), so the party always gets a frame.
    this.party?.sendAudio(out);
    for (const t of this.outTaps) t(out);
  }

  /** Marks the call ended and tells everyone listening. Idempotent. */
  markEnded(info: HangupInfo): void {
    if (this.ended) return;
    this.ended = true;
    for (const s of this.sources) s.clear();
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
  }
}
