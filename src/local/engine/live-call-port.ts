import type { AudioPort } from '../../../streams/session/audio-port.js';
import type { AudioSource } from './audio-source.js';
import type { LiveCall } from './live-call.js';

/** An {@link AudioPort} on a live call of the local engine, with its own source in the call's mix. */
export interface LiveCallPort extends AudioPort {
  /** The call's source the port plays into (stop_media spares it). */
  readonly source: AudioSource;
  /** Takes the source out of the call's mix (what it still holds is dropped). */
  close(): void;
}

/**
 * The local engine's audio port: the call's continuous 8 kHz tap in, a source named `name` in
 * the call's mix out (paced by the media clock, so clear() stops it at once).
 */
export function liveCallPort(call: LiveCall, name: string): LiveCallPort {
  const source = call.addSource(name);
  return {
    source,
    onAudio: (listener) => call.tap(listener),
    play(samples8k) {
      source.push(samples8k);
    },
    clear: () => source.clear(),
    drain() {
      source.end();
      return source.finished();
    },
    onDtmf: (listener) => call.onDtmf(listener),
    onEnd(listener) {
      return call.onEnd(() => listener());
    },
    get ended() {
      return call.ended;
    },
    close() {
      call.removeSource(source);
    },
  };
}
