import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { AddressSchema, idParam, mustGet, normalizeAddress, parseBody, queryOf, uuidString } from './common.js';
import { conflict, notFound } from '../../api/errors.js';
import { charge } from '../billing.js';
import { idOrNil, newId } from '../../util/ids.js';
import { newCallRow } from '../rows.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
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

export const ActionSchema = z.object({
  id: uuidString('action id').optional(),
  next_id: z.string().optional(),
  type: z.enum(ACTION_TYPES, { message: `type must be a flow action type (e.g. answer, talk, ai_talk, hangup)` }),
  option: z
    .record(z.string(), z.unknown(), { message: 'option must be an object' })
    // Flows and calls are returned as stored: a key inside an action would be readable by anyone
    // who can read the flow, so keys are refused here and kept write-only on the AI resource.
    .refine((o) => !('engine_key' in o), {
      message:
        'engine_key is not accepted in an action: create an AI with POST /ais (its engine_key is write-only) and use its ai_id, or set the provider key (e.g. OPENAI_API_KEY) for the server',
    })
    .optional(),
});
export type ActionInput = z.infer<typeof ActionSchema>;

/** Actions as stored: each with an id and an option object. */
export function normalizeActions(actions: ActionInput[]): Row['actions'] {
  return actions.map((a) => ({ id: a.id?.toLowerCase() ?? newId(), next_id: idOrNil(a.next_id), type: a.type, option: a.option ?? {} }));
}

const FlowBody = z.object({
  name: z.string({ message: 'name must be a string' }).optional(),
  detail: z.string().optional(),
  actions: z.array(ActionSchema, { message: 'actions must be an array of flow actions' }),
  on_complete_flow_id: z.string().optional(),
});

const CallCreate = z
  .object({
    source: AddressSchema,
    destinations: z.array(AddressSchema, { message: 'destinations must be an array of addresses' }).min(1, 'at least one destination is required'),
    flow_id: uuidString('flow_id').optional(),
    actions: z.array(ActionSchema, { message: 'actions must be an array of flow actions' }).optional(),
    anonymous: z.string().optional(),
    variables: z.record(z.string(), z.string()).optional(),
  })
  .refine((b) => Boolean(b.flow_id) !== Boolean(b.actions && b.actions.length > 0), {
    message: 'give either actions (a non-empty list) or a flow_id',
  });

/** Creates a stored flow (VoIPBIN keeps inline call actions as a flow too). */
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

/** `/calls`, `/flows` and `/activeflows`. */
export function registerCallRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  // ---- flows
  api.post('/flows', async (req) => createFlow(ctx, req.customerId, parseBody(FlowBody, req.body)));
  api.get('/flows', async (req) => listEnvelope(await store.flows.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/flows/:id', async (req) => mustGet(store.flows, req.customerId, idParam(req), 'FLOW_NOT_FOUND', 'flow'));
  api.put('/flows/:id', async (req) => {
    const body = parseBody(FlowBody, req.body);
    const flow = await mustGet(store.flows, req.customerId, idParam(req), 'FLOW_NOT_FOUND', 'flow');
    return store.flows.update({
      ...flow,
      name: body.name ?? flow.name,
      detail: body.detail ?? flow.detail,
      actions: normalizeActions(body.actions),
      on_complete_flow_id: body.on_complete_flow_id === undefined ? flow.on_complete_flow_id : idOrNil(body.on_complete_flow_id),
      tm_update: nowTimestamp(),
    });
  });
  api.delete('/flows/:id', async (req) => {
    const row = await store.flows.softDelete(req.customerId, idParam(req));
    if (!row) throw notFound('FLOW_NOT_FOUND', 'flow not found');
    return row;
  });

  // ---- calls
  api.post('/calls', async (req) => {
    const body = parseBody(CallCreate, req.body);
    let flowId = body.flow_id?.toLowerCase();
    if (flowId) {
      await mustGet(store.flows, req.customerId, flowId, 'FLOW_NOT_FOUND', 'flow');
    }
    const cost = ctx.prices.callPerDestination * body.destinations.length;
    await charge(ctx, req.customerId, cost, `${body.destinations.length} outgoing call(s)`);
    if (!flowId) {
      flowId = (await createFlow(ctx, req.customerId, { name: 'call flow', detail: 'inline actions of a call', actions: body.actions! })).id as string;
    }
    const calls: Row[] = [];
    for (const destination of body.destinations) {
      const call: Row = {
        ...newCallRow(req.customerId, normalizeAddress(body.source), normalizeAddress(destination)),
        flow_id: flowId,
        metadata: body.variables ? { variables: body.variables } : {},
      };
      calls.push(await store.calls.insert(call));
    }
    for (const call of calls) ctx.engine?.callCreated(call, body.variables ?? {});
    return { calls, groupcalls: [] };
  });

  api.get('/calls', async (req) => listEnvelope(await store.calls.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/calls/:id', async (req) => mustGet(store.calls, req.customerId, idParam(req), 'CALL_NOT_FOUND', 'call'));

  api.post('/calls/:id/hangup', async (req) => {
    const call = await mustGet(store.calls, req.customerId, idParam(req), 'CALL_NOT_FOUND', 'call');
    if (call.status === 'hangup') throw conflict('CALL_ALREADY_HANGUP', `call ${call.id} has already ended`);
    if (ctx.engine) return ctx.engine.hangupCall(call);
    const now = nowTimestamp();
    return store.calls.update({ ...call, status: 'hangup', hangup_by: 'local', hangup_reason: 'normal', tm_hangup: now, tm_update: now });
  });

  api.delete('/calls/:id', async (req) => {
    const id = idParam(req);
    const call = await mustGet(store.calls, req.customerId, id, 'CALL_NOT_FOUND', 'call');
    if (call.status !== 'hangup') {
      throw conflict('CALL_STATE_INVALID', `call ${id} is still ${call.status as string}; hang it up before deleting it`);
    }
    return (await store.calls.softDelete(req.customerId, id))!;
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
