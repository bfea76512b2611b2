import type { Row } from '../../../db/store.js';
import type { SttProvider, SttStream } from '../../providers/stt/types.js';
import { idOrNil, newId } from '../../util/ids.js';
import { TM_NEVER, formatMicros, nowTimestamp } from '../../util/time.js';
import type { LocalContext } from '../context.js';
import type { LiveCall } from './live-call.js';

/** Why a transcription was not started when no speech-to-text provider is configured. */
export const NO_STT_REASON =
  'transcribe skipped: no speech-to-text provider is configured (set DEEPGRAM_API_KEY for the server)';

export type TranscribeDirection = 'in' | 'out' | 'both';

export interface TranscribeOptions {
  language?: string;
  direction?: TranscribeDirection;
  activeflowId?: string;
  onEndFlowId?: string;
}

/**
 * One running transcription of a call (VoIPBIN's transcribe resource): the caller's audio (`in`),
 * what the caller hears (`out`), or both, streamed to the STT provider at 8 kHz; every final
 * result is stored as a transcript. It ends with the call or when stopped (status `done`).
 */
export class CallTranscription {
  row: Row;
  private readonly streams: { direction: 'in' | 'out'; stream: SttStream; untap: () => void }[] = [];
  private stopping: Promise<void> | undefined;
  /** Wall-clock time the transcription started, to date each transcript. */
  private readonly startMicros = BigInt(Date.now()) * 1000n;

  private constructor(
    private readonly ctx: LocalContext,
    row: Row,
  ) {
    this.row = row;
  }

  get id(): string {
    return this.row.id;
  }

  /** Stores the transcribe resource and opens one STT stream per direction. */
  static async start(ctx: LocalContext, stt: SttProvider, live: LiveCall, opts: TranscribeOptions): Promise<CallTranscription> {
    const direction = opts.direction ?? 'both';
    const row: Row = {
      id: newId(),
      customer_id: live.row.customer_id,
      activeflow_id: idOrNil(opts.activeflowId),
      on_end_flow_id: idOrNil(opts.onEndFlowId),
      reference_type: 'call',
      reference_id: live.id,
      status: 'progressing',
      language: opts.language || 'en-US',
      direction,
      provider: '',
      tm_create: nowTimestamp(),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    };
    await ctx.store.transcribes.insert(row);
    const t = new CallTranscription(ctx, row);
    try {
      for (const d of direction === 'both' ? (['in', 'out'] as const) : [direction]) {
        const stream = await stt.open({ sampleRateHz: 8000, language: row.language as string });
        stream.onTranscript((tr) => {
          if (tr.isFinal && tr.text.trim()) void t.store(d, tr.text.trim(), tr.startMs);
        });
        stream.onError((err) => ctx.logger.warn('transcription stream failed', { transcribe_id: row.id, error: err.message }));
        const untap = d === 'in' ? live.tap((f) => stream.write(f)) : live.tapOut((f) => stream.write(f));
        t.streams.push({ direction: d, stream, untap });
      }
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private async store(direction: 'in' | 'out', message: string, startMs: number): Promise<void> {
    const transcript: Row = {
      id: newId(),
      customer_id: this.row.customer_id,
      transcribe_id: this.row.id,
      direction,
      message,
      tm_transcript: formatMicros(this.startMicros + BigInt(Math.round(startMs * 1000))),
      tm_create: nowTimestamp(),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    };
    try {
      await this.ctx.store.transcripts.insert(transcript);
    } catch (err) {
      this.ctx.logger.error('storing a transcript failed', { transcribe_id: this.row.id, error: String(err) });
    }
  }

  /** Stops listening, waits for the last final results, marks the transcribe `done`. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const s of this.streams) s.untap();
      await Promise.all(this.streams.map((s) => s.stream.close().catch(() => undefined)));
      try {
        const now = nowTimestamp();
        this.row = await this.ctx.store.transcribes.update({ ...this.row, status: 'done', tm_update: now });
      } catch (err) {
        this.ctx.logger.error('storing the end of a transcribe failed', { transcribe_id: this.row.id, error: String(err) });
      }
    })();
    return this.stopping;
  }
}
