import type { ClearReport } from '../agents/agent.js';

/**
 * The call side of one AI conversation, as the session runner sees it: 8 kHz 16-bit PCM both ways.
 * The local flow engine implements it on its live call; the gateway implements it on a VoIPBIN
 * media_stream client or a carrier stream. Everything about the agent (its formats, resampling,
 * G.711, tools, transcripts) stays in the session runner.
 *
 * Outbound audio carries the id of the agent's response it belongs to, so the port (through a
 * {@link Playout}, streams/session/playout.ts) knows what of each response the caller actually
 * heard. Response ids are unique per response: after a clear, later audio of a cleared response
 * is dropped (late audio after a barge-in).
 */
export interface AudioPort {
  /**
   * The caller's audio: 20 ms frames at 8 kHz (160 samples), continuous (silence included), from
   * now until the call ends. The array may be reused: copy to keep. Returns the unsubscribe.
   */
  onAudio(listener: (frame8k: Int16Array) => void): () => void;
  /**
   * Queues audio of response `responseId` for the caller, 8 kHz, any chunk size; the port frames
   * and paces it. The array may be a view the caller reuses: consume or copy it before returning.
   */
  play(samples8k: Int16Array, responseId: string): void;
  /**
   * Drops the queued audio not yet played (barge-in) at once, and reports per response what the
   * caller heard and what was dropped (the v2 {@link ClearReport}).
   */
  clear(): ClearReport;
  /** Milliseconds of `responseId` played to the caller so far (0 when unknown). */
  playedMs(responseId: string): number;
  /**
   * Marks the end of the audio to play and resolves once everything queued was played (or
   * cleared). The runner bounds the wait.
   */
  drain(): Promise<void>;
  /** DTMF digits from the caller, if the transport carries them. Returns the unsubscribe. */
  onDtmf?(listener: (digit: string) => void): () => void;
  /** The call's audio ended for good (hangup, stream closed). Returns the unsubscribe. */
  onEnd(listener: () => void): () => void;
  /** True once the call's audio ended. */
  readonly ended: boolean;
}
