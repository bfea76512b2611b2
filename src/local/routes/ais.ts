import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf, strictObject, withField } from './common.js';
import { invalidArgument } from '../../api/errors.js';
import { DEFAULT_TTS_VOICE_IDS, STT_TYPES, TTS_TYPES, VAD_RANGES, engineParameterProblem, parseEngineModel, unreachableProviderProblem } from '../../catalog/ai.js';
import { TOOL_NAMES } from '../../../tools/types.js';
import { NIL_UUID, idOrNil, newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import { registerSecret } from '../../util/logger.js';
import type { Row } from '../../../db/store.js';

const VAD_KEYS = Object.keys(VAD_RANGES).join(', ');

/** `vad_config`: each key a number in its range; an unknown key is named (`vad_config.speed: unknown key; use ...`). */
const VadConfig = strictObject(
  Object.fromEntries(
    Object.entries(VAD_RANGES).map(([k, [min, max]]) => [
      k,
      z
        .number({ message: `must be a number from ${min} to ${max}` })
        .min(min, `must be a number from ${min} to ${max}`)
        .max(max, `must be a number from ${min} to ${max}`)
        .optional(),
    ]),
  ),
  { noun: 'key', hint: `use ${VAD_KEYS}`, notObject: `must be an object with any of ${VAD_KEYS}, e.g. {"confidence": 0.7}` },
);

/** Fields of POST/PUT /ais. Only types are checked here; requiredness and catalogs below. */
const AI_SHAPE = {
  name: z.string({ message: 'must be a string' }).optional(),
  detail: z.string({ message: 'must be a string' }).optional(),
  type: z.enum(['normal', 'insight', ''], { message: 'must be normal or insight' }).optional(),
  engine_model: z.string({ message: 'must be a string like openai.gpt-4o' }).optional(),
  engine_key: z.string({ message: 'must be a string (the API key of the LLM provider)' }).optional(),
  parameter: z.record(z.string(), z.unknown(), { message: 'must be an object' }).optional(),
  rag_id: z.string({ message: 'must be a UUID or empty' }).optional(),
  init_prompt: z.string({ message: 'must be a string' }).optional(),
  tts_type: z.string({ message: 'must be a string' }).optional(),
  tts_voice_id: z.string({ message: 'must be a string' }).optional(),
  stt_type: z.string({ message: 'must be a string' }).optional(),
  stt_language: z.string({ message: 'must be a language code like en-US' }).optional(),
  vad_config: VadConfig.optional(),
  smart_turn_enabled: z.boolean({ message: 'must be true or false' }).optional(),
  auto_aicall_audit_enabled: z.boolean({ message: 'must be true or false' }).optional(),
  tool_names: z.array(z.string(), { message: 'must be an array of tool names, e.g. ["all"] or ["connect_call"]' }).optional(),
};
const AiFields = z.object(AI_SHAPE);
/** PUT /ais/{id}: partial, and a field it cannot change (id, tm_create, ...) is refused by name. */
const AiUpdate = strictObject(AI_SHAPE);
type AiInput = z.infer<typeof AiFields>;

/** Checks a complete AI (after defaults and merging) against the seed's catalogs. */
function validateAi(ai: AiInput & { engine_key?: string }, creating: boolean): void {
  if (!ai.name || ai.name.trim() === '') throw invalidArgument('name: required; send a non-empty name, e.g. "support agent"');
  if (ai.engine_model === undefined || ai.engine_model.trim() === '') {
    throw invalidArgument('engine_model: required; send <provider>.<model>, e.g. openai.gpt-4o');
  }
  const em = parseEngineModel(ai.engine_model);
  if ('error' in em) throw invalidArgument(withField('engine_model', em.error));
  const unreachable = unreachableProviderProblem(em.provider);
  if (unreachable) throw invalidArgument(`engine_model: ${unreachable}`);
  const paramProblem = engineParameterProblem(ai.engine_model, ai.parameter);
  if (paramProblem) throw invalidArgument(paramProblem);
  if (creating && (!ai.engine_key || ai.engine_key.trim() === '')) {
    throw invalidArgument(`engine_key: required; send the API key of the ${em.provider} LLM provider`);
  }
  if (ai.init_prompt === undefined) throw invalidArgument('init_prompt: required; send the system prompt of the agent');
  if (!ai.tts_type || !(TTS_TYPES as readonly string[]).includes(ai.tts_type)) {
    throw invalidArgument(`tts_type: must be one of ${TTS_TYPES.join(', ')}`);
  }
  if (!ai.stt_type || !(STT_TYPES as readonly string[]).includes(ai.stt_type)) {
    throw invalidArgument(`stt_type: must be one of ${STT_TYPES.join(', ')}`);
  }
  const names = ai.tool_names ?? [];
  const unknown = names.filter((n) => n !== 'all' && !(TOOL_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw invalidArgument(
      `tool_names: unknown tool name(s) ${unknown.join(', ')}; use ["all"], [] or names from: ${TOOL_NAMES.join(', ')}`,
      'INVALID_TOOL_NAMES',
    );
  }
  if (names.includes('all') && names.length > 1) {
    throw invalidArgument('tool_names: "all" cannot be combined with other names; send ["all"] or a list of names', 'INVALID_TOOL_NAMES');
  }
}

/** The AI as stored and returned: every field of AIManagerAI except the write-only engine_key. */
function buildAi(base: Partial<Row>, input: AiInput): Row {
  const ttsType = input.tts_type ?? '';
  const { engine_key: _secret, ...fields } = input;
  void _secret;
  const defaults: Row = {
    id: base.id ?? newId(),
    customer_id: base.customer_id ?? '',
    name: '',
    detail: '',
    type: 'normal',
    is_insight_active: false,
    engine_model: '',
    parameter: {},
    rag_id: NIL_UUID,
    init_prompt: '',
    current_prompt_history_id: NIL_UUID,
    tts_type: '',
    tts_voice_id: '',
    stt_type: '',
    stt_language: '',
    vad_config: {},
    smart_turn_enabled: false,
    auto_aicall_audit_enabled: false,
    tool_names: [],
    direct_hash: '',
    tm_create: '',
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  const ai: Row = { ...defaults, ...stripEngineKey(base), ...fields };
  ai.rag_id = idOrNil(ai.rag_id);
  ai.type = fields.type || (base.type as string | undefined) || 'normal';
  // An empty or omitted voice means "the TTS type's default voice" (an update that omits it has
  // the stored voice merged in already).
  ai.tts_voice_id = fields.tts_voice_id || DEFAULT_TTS_VOICE_IDS[ttsType] || '';
  ai.tm_create = base.tm_create ?? nowTimestamp();
  ai.tm_update = base.tm_create ? nowTimestamp() : TM_NEVER;
  ai.tm_delete = TM_NEVER;
  return ai;
}

/** Defence in depth: a row handed back to a client never carries engine_key. */
export function stripEngineKey(row: Partial<Row>): Partial<Row> {
  if (!('engine_key' in row)) return row;
  const { engine_key: _k, ...rest } = row;
  void _k;
  return rest;
}

/** `/ais`: AI configurations. `engine_key` is accepted, stored apart, and never returned. */
export function registerAiRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  api.post('/ais', async (req) => {
    const input = parseBody(AiFields, req.body);
    registerSecret(input.engine_key);
    validateAi(input, true);
    const ai = buildAi({ customer_id: req.customerId }, input);
    await store.ais.insert(ai, input.engine_key!.trim());
    return ai;
  });

  api.get('/ais', async (req) => listEnvelope(await store.ais.list(req.customerId, parsePaging(queryOf(req))), stripEngineKey));

  api.get('/ais/:id', async (req) => stripEngineKey(await mustGet(store.ais, req.customerId, idParam(req), 'AI_NOT_FOUND', 'ai')));

  api.put('/ais/:id', async (req) => {
    const input = parseBody(AiUpdate, req.body);
    registerSecret(input.engine_key);
    const existing = await mustGet(store.ais, req.customerId, idParam(req), 'AI_NOT_FOUND', 'ai');
    // Omitted fields keep their stored values; an omitted or empty engine_key keeps the stored key.
    const merged = { ...(stripEngineKey(existing) as AiInput), ...input };
    // A new TTS type without a voice gets that type's default voice, not the old type's voice.
    if (input.tts_type && input.tts_type !== existing.tts_type && input.tts_voice_id === undefined) merged.tts_voice_id = '';
    validateAi(merged, false);
    const ai = buildAi(existing, merged);
    const newKey = input.engine_key?.trim() ? input.engine_key.trim() : undefined;
    await store.ais.update(ai, newKey);
    return ai;
  });

  api.delete('/ais/:id', async (req) => stripEngineKey(await mustDelete(store.ais, req.customerId, idParam(req), 'AI_NOT_FOUND', 'ai')));
}
