import type { Row } from '../../../db/store.js';
import type { LocalContext } from '../context.js';
import type { SttProvider } from '../../providers/stt/types.js';
import type { LiveCall } from './live-call.js';
import { CallTranscription, NO_STT_REASON } from './transcribe.js';
import type { TranscribeOptions } from './transcribe.js';

export interface TranscriptionsOptions {
  /** The ears of every transcription; without one none starts (a warning says why). */
  stt?: SttProvider;
}

/** The running transcriptions of live calls (`transcribe_start`, `POST /transcribes`), by transcribe id. */
export class Transcriptions {
  /** See TranscriptionsOptions.stt; fixed at construction. */
  readonly stt: SttProvider | undefined;
  private readonly ctx: LocalContext;
  private readonly running = new Map<string, CallTranscription>();

  constructor(ctx: LocalContext, opts: TranscriptionsOptions = {}) {
    this.ctx = ctx;
    this.stt = opts.stt;
  }

  /**
   * Starts transcribing a live call; undefined (with a warning) when no STT provider is set.
   * The transcription ends with the call, or with {@link stop}.
   */
  async start(live: LiveCall, opts: TranscribeOptions): Promise<Row | undefined> {
    if (!this.stt) {
      this.ctx.logger.warn(NO_STT_REASON, { call_id: live.id });
      return undefined;
    }
    const t = await CallTranscription.start(this.ctx, this.stt, live, opts);
    this.running.set(t.id, t);
    const stop = () => void this.stop(t.id);
    if (live.ended) stop();
    else live.onEnd(stop);
    return t.row;
  }

  /** Stops a running transcription (false when none runs with that id). */
  async stop(transcribeId: string): Promise<boolean> {
    const t = this.running.get(transcribeId);
    if (!t) return false;
    this.running.delete(transcribeId);
    await t.stop();
    return true;
  }

  /** Stops every transcription of a call (`transcribe_stop`). */
  async stopCall(callId: string): Promise<void> {
    for (const t of [...this.running.values()]) if (t.row.reference_id === callId) await this.stop(t.id);
  }

  /** Stops every running transcription (server shutdown). */
  async stopAll(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
  }
}
