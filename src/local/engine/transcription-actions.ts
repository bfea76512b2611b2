import type { Row } from '../../../db/store.js';
import { idOrNil, isUuid, newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { FlowAction, FlowRunner } from './flow-runner.js';
import type { TranscribeDirection } from './transcribe.js';

const DIRECTIONS = new Set(['in', 'out', 'both']);

/**
 * `transcribe_start`: transcribes the call in the background until it ends (or
 * `transcribe_stop`); the flow goes on at once. Sets `voipbin.transcribe.id`.
 */
export async function runTranscribeStart(r: FlowRunner, a: FlowAction): Promise<void> {
  const direction = DIRECTIONS.has(a.option.direction as string) ? (a.option.direction as TranscribeDirection) : 'both';
  const row = await r.engine.transcriptions.start(r.call, {
    language: typeof a.option.language === 'string' ? a.option.language : undefined,
    direction,
    activeflowId: r.activeflow.id,
    onEndFlowId: typeof a.option.on_end_flow_id === 'string' ? a.option.on_end_flow_id : undefined,
  });
  if (row) r.variables.set('voipbin.transcribe.id', row.id);
}

/** `transcribe_stop`: stops the call's transcriptions (their last results are stored). */
export async function runTranscribeStop(r: FlowRunner): Promise<void> {
  await r.engine.transcriptions.stopCall(r.call.id);
}

/**
 * `ai_summary`: summarizes a call (default: this one) or a transcribe with the summary LLM and
 * waits for it, so later actions can use `${voipbin.ai_summary.content}`. Takes VoIPBIN's
 * `reference_type`/`reference_id` options and the docs' `source_type`/`source_id` alike.
 */
export async function runAiSummary(r: FlowRunner, a: FlowAction): Promise<void> {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const referenceType = str(a.option.reference_type) || str(a.option.source_type) || 'call';
  const referenceId = (str(a.option.reference_id) || str(a.option.source_id) || r.call.id).toLowerCase();
  if (!isUuid(referenceId)) {
    r.ctx.logger.warn(`ai_summary skipped: reference ${JSON.stringify(referenceId)} is not an id`, { activeflow_id: r.activeflow.id });
    return;
  }
  const summary: Row = {
    id: newId(),
    customer_id: r.call.row.customer_id,
    activeflow_id: r.activeflow.id,
    on_end_flow_id: idOrNil(str(a.option.on_end_flow_id)),
    reference_type: referenceType,
    reference_id: referenceId,
    status: 'progressing',
    language: str(a.option.language) || 'en-US',
    content: '',
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  await r.ctx.store.aisummaries.insert(summary);
  r.variables.set('voipbin.ai_summary.id', summary.id);
  const done = await r.engine.summarize(summary);
  r.variables.set('voipbin.ai_summary.content', (done.content as string) ?? '');
}
