import type { Row } from '../../db/store.js';
import type { LlmProvider } from '../providers/llm/types.js';
import { llmProviderFromEnv } from '../providers/llm/index.js';
import { providerKeyFromEnv } from '../catalog/ai.js';
import { redact } from '../util/logger.js';
import { nowTimestamp } from '../util/time.js';
import type { LocalContext } from './context.js';

/** The LLM that writes summaries when `VOIPBIN_AI_SUMMARY_MODEL` names none. */
export const DEFAULT_SUMMARY_MODEL = 'openai.gpt-4o-mini';

/**
 * The summary LLM configured by `env` (`VOIPBIN_AI_SUMMARY_MODEL`, the provider's key variable
 * and `<PROVIDER>_BASE_URL`), or undefined when its key is not set.
 */
export function summaryLlmFromEnv(env: Record<string, string | undefined> = process.env): LlmProvider | undefined {
  const model = env.VOIPBIN_AI_SUMMARY_MODEL?.trim() || DEFAULT_SUMMARY_MODEL;
  if (!providerKeyFromEnv(model, env) && !model.startsWith('ollama.')) return undefined;
  return llmProviderFromEnv(model, env);
}

/** The `failure_reason` of a summary that cannot be written because no LLM is configured. */
export const NO_SUMMARY_LLM_REASON =
  'AI summary not generated: no LLM is configured for summaries (set OPENAI_API_KEY, or VOIPBIN_AI_SUMMARY_MODEL and its provider key, for the server)';

/** The `failure_reason` of a summary whose sources the local VoIPBIN does not have. */
export function sourcesUnavailableReason(referenceType: string): string {
  return `AI summary not generated: ${referenceType} sources are not available on the local VoIPBIN (summaries of calls and transcribes are)`;
}

/** The `failure_reason` of a summary whose LLM call failed. */
export function providerFailedReason(err: unknown): string {
  return redact(`AI summary not generated: the summary LLM failed: ${err instanceof Error ? err.message : String(err)}`);
}

const SYSTEM_PROMPT =
  'You summarize phone calls for the business that took them. Write a concise summary of the conversation: ' +
  'the caller\'s purpose, key points, decisions and action items. Use plain sentences, no preamble.';

/**
 * The conversation a summary is about, as `speaker: text` lines in time order, or the
 * `failure_reason` when there is none to read.
 */
async function sourceText(ctx: LocalContext, summary: Row): Promise<{ text: string } | { unavailable: string }> {
  const { store } = ctx;
  const lines: { at: string; text: string }[] = [];
  const addTranscripts = async (transcribeId: string) => {
    for (const t of await store.transcripts.findBy('transcribe_id', transcribeId)) {
      lines.push({ at: t.tm_transcript as string, text: `${t.direction === 'out' ? 'agent' : 'caller'}: ${t.message as string}` });
    }
  };
  const ref = summary.reference_id as string;
  if (summary.reference_type === 'transcribe') {
    if (!(await store.transcribes.get(summary.customer_id, ref))) {
      return { unavailable: `AI summary not generated: transcribe ${ref} not found; take the id from GET /transcribes` };
    }
    await addTranscripts(ref);
  } else if (summary.reference_type === 'call') {
    for (const t of await store.transcribes.findBy('reference_id', ref)) if (t.customer_id === summary.customer_id) await addTranscripts(t.id);
    // What an AI agent heard and said on the call counts too.
    for (const a of await store.aicalls.findBy('reference_id', ref)) {
      if (a.customer_id !== summary.customer_id) continue;
      for (const m of await store.aimessages.findBy('aicall_id', a.id)) {
        if ((m.role === 'user' || m.role === 'assistant') && m.content) {
          lines.push({ at: m.tm_create, text: `${m.role === 'user' ? 'caller' : 'agent'}: ${m.content as string}` });
        }
      }
    }
  } else {
    return { unavailable: sourcesUnavailableReason(summary.reference_type as string) };
  }
  lines.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
  return { text: lines.map((l) => l.text).join('\n') };
}

/**
 * Writes an AI summary's content with `llm` from the conversation it references (a call's
 * transcripts and AI call messages, or one transcribe's transcripts) and marks it `done`. Never
 * rejects and never leaves the summary `progressing`: without an LLM, without sources, or when
 * the provider fails, the summary ends `failed` with a readable `failure_reason` (also logged).
 */
export async function generateSummary(ctx: LocalContext, llm: LlmProvider | undefined, summary: Row): Promise<Row> {
  if (!llm) return fail(ctx, summary, NO_SUMMARY_LLM_REASON);
  let source: Awaited<ReturnType<typeof sourceText>>;
  try {
    source = await sourceText(ctx, summary);
  } catch (err) {
    return fail(ctx, summary, redact(`AI summary not generated: reading its sources failed: ${err instanceof Error ? err.message : String(err)}`));
  }
  if ('unavailable' in source) return fail(ctx, summary, source.unavailable);
  const { text } = source;
  let content = '';
  if (text.trim()) {
    try {
      const res = await llm.complete({
        messages: [
          { role: 'system', content: `${SYSTEM_PROMPT} Answer in the language ${summary.language as string}.` },
          { role: 'user', content: text },
        ],
      });
      content = res.text.trim();
    } catch (err) {
      return fail(ctx, summary, providerFailedReason(err));
    }
  }
  return finish(ctx, summary, { content, status: 'done' });
}

/** Ends `summary` as `failed` with `reason` (logged too). */
async function fail(ctx: LocalContext, summary: Row, reason: string): Promise<Row> {
  ctx.logger.warn(reason, { aisummary_id: summary.id });
  return finish(ctx, summary, { status: 'failed', failure_reason: reason });
}

/** Stores the end state on the latest row; a summary deleted meanwhile stays deleted. Never rejects. */
async function finish(ctx: LocalContext, summary: Row, fields: Partial<Row>): Promise<Row> {
  try {
    const latest = await ctx.store.aisummaries.getById(summary.id);
    if (!latest) return { ...summary, ...fields };
    return await ctx.store.aisummaries.update({ ...latest, ...fields, tm_update: nowTimestamp() });
  } catch (err) {
    ctx.logger.error('storing the end of an AI summary failed', { aisummary_id: summary.id, error: err instanceof Error ? err.message : String(err) });
    return { ...summary, ...fields };
  }
}
