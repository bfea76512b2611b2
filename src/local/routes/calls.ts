import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import {
  AddressSchema,
  formatZodIssue,
  idParam,
  mustDelete,
  mustGet,
  normalizeAddress,
  parseBody,
  queryOf,
  strictObject,
  uuidString,
  withField,
} from './common.js';
import { conflict, invalidArgument } from '../../api/errors.js';
import { CHARGED_CREDITS_FIELD, charge } from '../billing.js';
import { idOrNil, isUuid, newId } from '../../util/ids.js';
import { newCallRow } from '../rows.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import { normalizeE164 } from '../../../tools/e164.js';
import { STT_TYPES, TTS_TYPES, engineParameterProblem, parseEngineModel, unreachableProviderProblem } from '../../catalog/ai.js';
import { TOOL_NAMES } from '../../../tools/types.js';
import type { Row } from '../../../db/store.js';

/** Action types: the OpenAPI's FlowManagerActionType plus the seed's `ai`. */
export const ACTION_TYPES = [
  'ai', 'ai_talk', 'ai_summary', 'amd', 'answer', 'beep', 'branch', 'call', 'condition_call_digits',
  'condition_call_status', 'condition_datetime', 'condition_variable', 'confbridge_join', 'conference_join',
  'connect', 'conversation_send', 'digits_receive', 'digits_send', 'echo', 'email_send', 'external_media_start',
  'external_media_stop', 'fetch', 'fetch_flow', 'goto', 'hangup', 'message_send', 'mute', 'play', 'queue_join',
  'recording_start', 'recording_stop', 'sleep', 'stop', 'stream_echo', 'talk', 'transcribe_start',
  'transcribe_stop', 'transcribe_recording', 'variable_set', 'webhook_send',
] as const;

/** Most destinations one `POST /calls` may ring (a batch of thousands stalled every live call's audio). */
export const MAX_CALL_DESTINATIONS = 100;

/** Most actions one flow (or one call's inline actions) may hold. */
export const MAX_FLOW_ACTIONS = 1000;


const E164_HINT = 'an E.164 phone number like +15551234567';

export const ActionSchema = z.object({
  id: uuidString('action id').optional(),
  next_id: z.string({ message: 'must be an action id (a UUID) or empty' }).optional(),
  type: z.enum(ACTION_TYPES, { message: 'must be a flow action type (e.g. answer, talk, ai_talk, sleep, connect, hangup)' }),
  option: z
    .record(z.string(), z.unknown(), { message: 'must be an object of the action\'s options, e.g. {"text": "hello"}' })
    // Flows and calls are returned as stored: a key inside an action would be readable by anyone
    // who can read the flow, so keys are refused here and kept write-only on the AI resource.
    .superRefine((o, c) => {
      if ('engine_key' in o) {
        c.addIssue({
          code: 'custom',
          path: ['engine_key'],
          message:
            'not accepted in an action: create an AI with POST /ais (its engine_key is write-only) and use its ai_id, or set the provider key (e.g. OPENAI_API_KEY) for the server',
        });
      }
    })
    .optional(),
});
export type ActionInput = z.infer<typeof ActionSchema>;

const ActionList = z
  .array(ActionSchema, { message: 'must be an array of flow actions like [{"type":"answer"},{"type":"hangup"}]' })
  .max(MAX_FLOW_ACTIONS, `must hold at most ${MAX_FLOW_ACTIONS} actions; split the flow`);

/** Actions as stored: each with an id and an option object. */
export function normalizeActions(actions: ActionInput[]): Row['actions'] {
  return actions.map((a) => ({ id: a.id?.toLowerCase() ?? newId(), next_id: idOrNil(a.next_id), type: a.type, option: a.option ?? {} }));
}

// ---------------------------------------------------------------- action options

/** A value filled in from a flow variable when the action runs (`${name}`): checked then, not now. */
const isTemplate = (v: unknown): boolean => typeof v === 'string' && v.includes('${');
const isNonNegativeNumber = (v: unknown): boolean => (typeof v === 'number' && Number.isFinite(v) && v >= 0) || isTemplate(v);
const isNonEmptyString = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';

/** The first problem of an address at `at`, if any (tel targets must be E.164, others non-empty). */
function addressProblem(value: unknown, at: string): string | undefined {
  const r = AddressSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.path.length === 0) return `${at}: must be an address like {"type":"tel","target":"+15551234567"}`;
    return `${at}.${formatZodIssue(issue)}`;
  }
  if (r.data.type === 'tel' && !isTemplate(r.data.target) && !normalizeE164(r.data.target)) {
    return `${at}.target: ${JSON.stringify(r.data.target)} is not ${E164_HINT}`;
  }
  return undefined;
}

/** `tool_names` of an AI or an inline AI action: "all", or names of the nine tools, never both. */
export function toolNamesProblem(value: unknown, at: string): string | undefined {
  if (!Array.isArray(value) || value.some((n) => typeof n !== 'string')) {
    return `${at}: must be an array of tool names, e.g. ["all"] or ["connect_call", "send_email"]`;
  }
  const names = value as string[];
  if (names.includes('all') && names.length > 1) {
    return `${at}: "all" cannot be combined with other names; send ["all"] or a list of names`;
  }
  const unknown = names.filter((n) => n !== 'all' && !(TOOL_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) return `${at}: unknown tool name(s) ${unknown.join(', ')}; use ["all"], [] or names from: ${TOOL_NAMES.join(', ')}`;
  return undefined;
}

/**
 * Checks the options of one action as the flow engine will read them, so a flow is refused when
 * it is saved (POST/PUT /flows, inline call actions), not when it runs. Returns the message of the
 * first problem, naming the field (`actions[2].option.duration: ...`).
 */
async function actionProblem(ctx: LocalContext, customerId: string, a: ActionInput, at: string): Promise<string | undefined> {
  const o = a.option ?? {};
  const opt = (k: string) => `${at}.option.${k}`;
  switch (a.type) {
    case 'sleep':
      if (!isNonNegativeNumber(o.duration)) return `${opt('duration')}: must be a number of milliseconds, e.g. 5000`;
      return undefined;
    case 'talk':
      if (!isNonEmptyString(o.text)) return `${opt('text')}: must be the text to speak as a non-empty string, e.g. "Hello"`;
      if (o.language !== undefined && typeof o.language !== 'string') return `${opt('language')}: must be a language code like en-US`;
      if (o.async !== undefined && typeof o.async !== 'boolean') return `${opt('async')}: must be true or false`;
      return undefined;
    case 'variable_set':
      if (!isNonEmptyString(o.key)) return `${opt('key')}: must be the variable name as a non-empty string, e.g. "customer_name"`;
      if (o.value !== undefined && !['string', 'number', 'boolean'].includes(typeof o.value)) {
        return `${opt('value')}: must be a string (variables hold strings), e.g. "John"`;
      }
      return undefined;
    case 'connect': {
      if (!Array.isArray(o.destinations) || o.destinations.length === 0) {
        return `${opt('destinations')}: must be a non-empty array of addresses like [{"type":"tel","target":"+15551234567"}]`;
      }
      if (o.destinations.length > MAX_CALL_DESTINATIONS) return `${opt('destinations')}: must hold at most ${MAX_CALL_DESTINATIONS} addresses`;
      for (let i = 0; i < o.destinations.length; i++) {
        const p = addressProblem(o.destinations[i], `${opt('destinations')}[${i}]`);
        if (p) return p;
      }
      if (o.source !== undefined) return addressProblem(o.source, opt('source'));
      return undefined;
    }
    case 'ai':
    case 'ai_talk':
      return aiActionProblem(ctx, customerId, o, opt);
    default:
      return undefined;
  }
}

/** `ai_talk` / `ai`: a stored AI of the customer (`ai_id`, or `assistance_id`), or inline options (see ai-action.ts). */
async function aiActionProblem(
  ctx: LocalContext,
  customerId: string,
  o: Record<string, unknown>,
  opt: (k: string) => string,
): Promise<string | undefined> {
  if (o.assistance_type !== undefined && o.assistance_type !== 'ai') {
    return `${opt('assistance_type')}: must be "ai" (the local VoIPBIN runs AI assistants); give the AI's id as assistance_id`;
  }
  const idField = o.ai_id !== undefined && o.ai_id !== '' ? 'ai_id' : o.assistance_id !== undefined && o.assistance_id !== '' ? 'assistance_id' : undefined;
  if (idField) {
    const id = o[idField];
    if (isTemplate(id)) return undefined;
    if (typeof id !== 'string' || !isUuid(id)) return `${opt(idField)}: must be the id (a UUID) of an AI from GET /ais`;
    if (!(await ctx.store.ais.get(customerId, id.toLowerCase()))) {
      return `${opt(idField)}: ai ${id} not found; use an id from GET /ais (or create one with POST /ais)`;
    }
  } else {
    // An external agent brings its own prompt: inline, it needs only engine_model and parameter.agent_url.
    const external = typeof o.engine_model === 'string' && o.engine_model.startsWith('external.');
    const prompt = o.initial_prompt ?? o.init_prompt;
    if (!external && (typeof prompt !== 'string' || prompt.trim() === '')) {
      return `${opt('ai_id')}: required; send the id of an AI from GET /ais, or inline options with initial_prompt (e.g. {"initial_prompt": "You are a helpful agent"})`;
    }
    if (o.engine_model !== undefined && !isTemplate(o.engine_model)) {
      const em = parseEngineModel(o.engine_model);
      if ('error' in em) return withField(opt('engine_model'), em.error);
      const unreachable = unreachableProviderProblem(em.provider);
      if (unreachable) return `${opt('engine_model')}: ${unreachable}`;
    }
    if (o.parameter !== undefined && (typeof o.parameter !== 'object' || o.parameter === null || Array.isArray(o.parameter))) {
      return `${opt('parameter')}: must be an object (the engine's options, e.g. {"agent_url": "ws://host:port"})`;
    }
    if (external && !isTemplate((o.parameter as Record<string, unknown> | undefined)?.agent_url)) {
      const p = engineParameterProblem(o.engine_model as string, o.parameter as Record<string, unknown> | undefined);
      if (p) return `${opt(p.split(':')[0]!)}:${p.slice(p.indexOf(':') + 1)}`;
    }
    if (o.tts_type !== undefined && !(TTS_TYPES as readonly unknown[]).includes(o.tts_type)) {
      return `${opt('tts_type')}: must be one of ${TTS_TYPES.join(', ')}`;
    }
    if (o.stt_type !== undefined && !(STT_TYPES as readonly unknown[]).includes(o.stt_type)) {
      return `${opt('stt_type')}: must be one of ${STT_TYPES.join(', ')}`;
    }
    if (o.tool_names !== undefined) {
      const p = toolNamesProblem(o.tool_names, opt('tool_names'));
      if (p) return p;
    }
  }
  for (const k of ['initial_prompt', 'init_prompt', 'language', 'tts_voice_id']) {
    if (o[k] !== undefined && typeof o[k] !== 'string') return `${opt(k)}: must be a string`;
  }
  if (o.duration !== undefined && !isNonNegativeNumber(o.duration)) return `${opt('duration')}: must be a number of seconds, e.g. 300`;
  return undefined;
}

/** Validates every action's options (400 naming the first bad field); `prefix` is the actions' path. */
export async function validateActions(ctx: LocalContext, customerId: string, actions: ActionInput[], prefix = 'actions'): Promise<void> {
  for (let i = 0; i < actions.length; i++) {
    const p = await actionProblem(ctx, customerId, actions[i]!, `${prefix}[${i}]`);
    if (p) throw invalidArgument(p);
  }
}

// ---------------------------------------------------------------- bodies

const FlowBody = z.object({
  name: z.string({ message: 'must be a string' }).optional(),
  detail: z.string({ message: 'must be a string' }).optional(),
  actions: ActionList,
  on_complete_flow_id: z.string({ message: 'must be a flow UUID or empty' }).optional(),
});

/** PUT /flows/{id}: partial (omitted fields keep their values), unknown fields refused. */
const FlowUpdate = strictObject({
  name: z.string({ message: 'must be a string' }).optional(),
  detail: z.string({ message: 'must be a string' }).optional(),
  actions: ActionList.optional(),
  on_complete_flow_id: z.string({ message: 'must be a flow UUID or empty' }).optional(),
});

const CallCreate = z
  .object({
    source: AddressSchema,
    destinations: z
      .array(AddressSchema, { message: 'must be an array of addresses like [{"type":"tel","target":"+15551234567"}]' })
      .min(1, 'must hold at least one destination address')
      .max(MAX_CALL_DESTINATIONS, `must hold at most ${MAX_CALL_DESTINATIONS} addresses per request; split larger batches into several requests`),
    flow_id: uuidString('flow_id').optional(),
    actions: ActionList.optional(),
    anonymous: z.string({ message: 'must be a string' }).optional(),
    variables: z.record(z.string(), z.string({ message: 'must be a string (variables hold strings)' }), { message: 'must be an object of string values' }).optional(),
  })
  .refine((b) => Boolean(b.flow_id) !== Boolean(b.actions && b.actions.length > 0), {
    message: 'give either actions (a non-empty list) or a flow_id, not both',
  });

/** Creates a stored flow (VoIPBIN keeps inline call actions as a flow too). Actions must be validated first. */
export async function createFlow(
  ctx: LocalContext,
  customerId: string,
  f: { name?: string; detail?: string; actions: ActionInput[]; on_complete_flow_id?: string; persist?: boolean },
): Promise<Row> {
  const row: Row = {
    id: newId(),
    customer_id: customerId,
    type: 'flow',
    name: f.name ?? '',
    detail: f.detail ?? '',
    actions: normalizeActions(f.actions),
    direct_hash: '',
    on_complete_flow_id: idOrNil(f.on_complete_flow_id),
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  return ctx.store.flows.insert(row);
}

/** A call as returned: without the engine's bookkeeping. */
export function publicCall(row: Row): Row {
  if (!(CHARGED_CREDITS_FIELD in row)) return row;
  const { [CHARGED_CREDITS_FIELD]: _c, ...rest } = row;
  void _c;
  return rest as Row;
}

type AddressInput = z.infer<typeof AddressSchema>;

/** The source of a call: a number of this account (E.164) or an extension. Returns it normalized. */
async function checkSource(ctx: LocalContext, customerId: string, source: AddressInput): Promise<AddressInput> {
  if (source.type === 'extension') return source;
  if (source.type !== 'tel') {
    throw invalidArgument('source.type: must be tel (a number of this account) or extension');
  }
  const n = normalizeE164(source.target);
  if (!n) throw invalidArgument(`source.target: ${JSON.stringify(source.target)} is not ${E164_HINT}`);
  const owned = (await ctx.store.numbers.findBy('number', n)).some((r) => r.customer_id === customerId && r.tm_delete === TM_NEVER);
  if (!owned) {
    throw invalidArgument(
      `source.target: ${n} is not a number of this account; send one from GET /numbers (create one with POST /numbers) or an extension address`,
    );
  }
  return { ...source, target: n };
}

/** Destinations: tel targets in E.164 (normalized), others non-empty (the schema checks that). */
function checkDestinations(destinations: AddressInput[]): AddressInput[] {
  return destinations.map((d, i) => {
    if (d.type !== 'tel') return d;
    const n = normalizeE164(d.target);
    if (!n) throw invalidArgument(`destinations[${i}].target: ${JSON.stringify(d.target)} is not ${E164_HINT}`);
    return { ...d, target: n };
  });
}

/** `/calls`, `/flows` and `/activeflows`. */
export function registerCallRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  // ---- flows
  api.post('/flows', async (req) => {
    const body = parseBody(FlowBody, req.body);
    await validateActions(ctx, req.customerId, body.actions);
    return createFlow(ctx, req.customerId, body);
  });
  api.get('/flows', async (req) => listEnvelope(await store.flows.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/flows/:id', async (req) => mustGet(store.flows, req.customerId, idParam(req), 'FLOW_NOT_FOUND', 'flow'));
  api.put('/flows/:id', async (req) => {
    const body = parseBody(FlowUpdate, req.body);
    const flow = await mustGet(store.flows, req.customerId, idParam(req), 'FLOW_NOT_FOUND', 'flow');
    if (body.actions) await validateActions(ctx, req.customerId, body.actions);
    return store.flows.update({
      ...flow,
      name: body.name ?? flow.name,
      detail: body.detail ?? flow.detail,
      actions: body.actions ? normalizeActions(body.actions) : flow.actions,
      on_complete_flow_id: body.on_complete_flow_id === undefined ? flow.on_complete_flow_id : idOrNil(body.on_complete_flow_id),
      tm_update: nowTimestamp(),
    });
  });
  api.delete('/flows/:id', async (req) => mustDelete(store.flows, req.customerId, idParam(req), 'FLOW_NOT_FOUND', 'flow'));

  // ---- calls
  api.post('/calls', async (req) => {
    const body = parseBody(CallCreate, req.body);
    // Everything is checked before anything is charged or stored.
    const source = await checkSource(ctx, req.customerId, body.source);
    const destinations = checkDestinations(body.destinations);
    let flowId = body.flow_id?.toLowerCase();
    if (flowId) await mustGet(store.flows, req.customerId, flowId, 'FLOW_NOT_FOUND', 'flow');
    else await validateActions(ctx, req.customerId, body.actions!);
    const price = ctx.prices.callPerDestination;
    await charge(ctx, req.customerId, price * destinations.length, `${destinations.length} outgoing call(s)`);
    if (!flowId) {
      flowId = (await createFlow(ctx, req.customerId, { name: 'call flow', detail: 'inline actions of a call', actions: body.actions! })).id as string;
    }
    const calls: Row[] = [];
    for (const destination of destinations) {
      const call: Row = {
        ...newCallRow(req.customerId, normalizeAddress(source), normalizeAddress(destination)),
        flow_id: flowId,
        metadata: body.variables ? { variables: body.variables } : {},
        // A call that never connects is refunded this much when it ends (the engine's endCall).
        [CHARGED_CREDITS_FIELD]: price,
      };
      calls.push(await store.calls.insert(call));
    }
    for (const call of calls) ctx.engine?.callCreated(call, body.variables ?? {});
    return { calls: calls.map(publicCall), groupcalls: [] };
  });

  api.get('/calls', async (req) => listEnvelope(await store.calls.list(req.customerId, parsePaging(queryOf(req))), publicCall));
  api.get('/calls/:id', async (req) => publicCall(await mustGet(store.calls, req.customerId, idParam(req), 'CALL_NOT_FOUND', 'call')));

  api.post('/calls/:id/hangup', async (req) => {
    const call = await mustGet(store.calls, req.customerId, idParam(req), 'CALL_NOT_FOUND', 'call');
    if (call.status === 'hangup') throw conflict('CALL_ALREADY_HANGUP', `call ${call.id} has already ended`);
    if (ctx.engine) return publicCall(await ctx.engine.hangupCall(call));
    const now = nowTimestamp();
    return publicCall(await store.calls.update({ ...call, status: 'hangup', hangup_by: 'local', hangup_reason: 'normal', tm_hangup: now, tm_update: now }));
  });

  api.delete('/calls/:id', async (req) => {
    const id = idParam(req);
    const call = await mustGet(store.calls, req.customerId, id, 'CALL_NOT_FOUND', 'call');
    if (call.status !== 'hangup') {
      throw conflict('CALL_STATE_INVALID', `call ${id} is still ${call.status as string}; hang it up (POST /calls/${id}/hangup) before deleting it`);
    }
    return publicCall(await mustDelete(store.calls, req.customerId, id, 'CALL_NOT_FOUND', 'call'));
  });

  // ---- activeflows
  api.get('/activeflows', async (req) => listEnvelope(await store.activeflows.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/activeflows/:id', async (req) =>
    mustGet(store.activeflows, req.customerId, idParam(req), 'ACTIVEFLOW_NOT_FOUND', 'activeflow'),
  );
  api.post('/activeflows/:id/stop', async (req) => {
    const af = await mustGet(store.activeflows, req.customerId, idParam(req), 'ACTIVEFLOW_NOT_FOUND', 'activeflow');
    // Stopping an ended activeflow is a no-op, as on VoIPBIN.
    if (af.status === 'ended') return af;
    if (ctx.engine) return ctx.engine.stopActiveflow(af);
    const now = nowTimestamp();
    return store.activeflows.update({ ...af, status: 'ended', tm_update: now });
  });
}
