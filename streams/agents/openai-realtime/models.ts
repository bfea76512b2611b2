/**
 * Which VoIPBIN `engine_model` values are OpenAI Realtime models: `openai.gpt-realtime`,
 * `openai.gpt-realtime-*` (e.g. `-mini`, dated snapshots), `openai.gpt-4o-realtime-preview` and
 * `openai.gpt-4o-mini-realtime-preview` (each optionally with a `-YYYY-MM-DD` snapshot date).
 * The Realtime model is the part after `openai.`.
 */

const REALTIME_MODEL_RE = /^(?:gpt-realtime(?:-[a-z0-9.-]+)?|gpt-4o(?:-mini)?-realtime-preview(?:-\d{4}-\d{2}-\d{2})?)$/;

/** The Realtime model for an `engine_model`, or `null` when it is not one. */
export function openAIRealtimeModel(engineModel: string | null | undefined): string | null {
  if (typeof engineModel !== 'string' || !engineModel.startsWith('openai.')) return null;
  const model = engineModel.slice('openai.'.length);
  return REALTIME_MODEL_RE.test(model) ? model : null;
}

export function isOpenAIRealtimeEngineModel(engineModel: string | null | undefined): boolean {
  return openAIRealtimeModel(engineModel) !== null;
}
