import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf, uuidString } from './common.js';
import { ApiError, invalidArgument } from '../../api/errors.js';
import { idOrNil, isUuid, newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { Row, Store } from '../../../db/store.js';

const ROLES = ['system', 'user', 'assistant', 'function', 'tool', 'notification'] as const;

const ToolCall = z.object(
  {
    id: z.string({ message: 'must be the tool call id (a string)' }),
    type: z.string({ message: 'must be a string, e.g. "function"' }).optional(),
    function: z.object(
      {
        name: z.string({ message: 'must be the tool name (a string)' }),
        arguments: z.string({ message: 'must be the arguments as a JSON string, e.g. "{}"' }),
      },
      { message: 'must be an object like {"name": "connect_call", "arguments": "{}"}' },
    ),
  },
  { message: 'must be an object like {"id": "call_1", "function": {"name": "...", "arguments": "{}"}}' },
);

const MessageCreate = z.object({
  aicall_id: uuidString('aicall_id'),
  role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }),
  content: z.string({ message: 'required; send the message text as a string' }),
  tool_calls: z.array(ToolCall, { message: 'must be an array of tool calls' }).optional(),
  tool_call_id: z.string({ message: 'must be a string' }).optional(),
});

/** Statuses from which an AI call can still be terminated. */
const ENDED = new Set(['terminating', 'terminated']);

/**
 * Terminates an AI call (idempotent). Shared by `POST /aicalls/{id}/terminate` and the flow
 * engine, so both leave the row in the same shape.
 */
export async function terminateAicall(ctx: LocalContext, aicall: Row): Promise<Row> {
  if (ENDED.has(aicall.status as string)) return aicall;
  const now = nowTimestamp();
  return ctx.store.aicalls.update({ ...aicall, status: 'terminated', tm_end: now, tm_update: now });
}

/** Builds and stores one AI call message. */
export async function storeAimessage(
  store: Store,
  aicall: Row,
  m: { role: string; content: string; tool_calls?: unknown[]; tool_call_id?: string },
): Promise<Row> {
  const row: Row = {
    id: newId(),
    customer_id: aicall.customer_id,
    aicall_id: aicall.id,
    activeflow_id: idOrNil(aicall.activeflow_id),
    active_ai_id: idOrNil(aicall.assistance_id),
    role: m.role,
    content: m.content,
    direction: m.role === 'assistant' ? 'outgoing' : 'incoming',
    tool_calls: m.tool_calls ?? [],
    tool_call_id: m.tool_call_id ?? '',
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  return store.aimessages.insert(row);
}

/** `/aicalls` and `/aimessages`. */
export function registerAicallRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  api.get('/aicalls', async (req) => {
    const q = queryOf(req);
    const filters: Record<string, string> = {};
    // `?reference_id=<call id>`: the AI calls of one call (e.g. the MCP create_call waiting for its AI call).
    if (q.reference_id !== undefined && q.reference_id !== '') {
      if (!isUuid(q.reference_id)) throw invalidArgument('reference_id: must be a UUID (a call id from GET /calls)', 'INVALID_REQUEST_PARAMETER');
      filters.reference_id = q.reference_id.toLowerCase();
    }
    return listEnvelope(await store.aicalls.list(req.customerId, { ...parsePaging(q), filters }));
  });

  api.post('/aicalls', async () => {
    throw new ApiError(
      501,
      'NOT_IMPLEMENTED',
      'POST /aicalls (an AI call outside a call flow) is not implemented by the local VoIPBIN; start an AI call with an ai_talk or ai action in a call flow (POST /calls with actions)',
    );
  });

  api.get('/aicalls/:id', async (req) => mustGet(store.aicalls, req.customerId, idParam(req), 'AICALL_NOT_FOUND', 'aicall'));

  api.delete('/aicalls/:id', async (req) => mustDelete(store.aicalls, req.customerId, idParam(req), 'AICALL_NOT_FOUND', 'aicall'));

  api.post('/aicalls/:id/terminate', async (req) => {
    const aicall = await mustGet(store.aicalls, req.customerId, idParam(req), 'AICALL_NOT_FOUND', 'aicall');
    // A live AI action is told to end too, so its agent stops talking (the flow goes on).
    ctx.engine?.aicalls.terminate(aicall.id);
    return terminateAicall(ctx, aicall);
  });

  api.get('/aimessages', async (req) => {
    const q = queryOf(req);
    if (q.aicall_id === undefined || q.aicall_id === '') {
      throw invalidArgument('aicall_id: required; send GET /aimessages?aicall_id=<uuid of an aicall>', 'MISSING_REQUEST_PARAMETER');
    }
    if (!isUuid(q.aicall_id)) {
      throw invalidArgument('aicall_id: must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890', 'INVALID_REQUEST_PARAMETER');
    }
    const aicallId = q.aicall_id.toLowerCase();
    await mustGet(store.aicalls, req.customerId, aicallId, 'AICALL_NOT_FOUND', 'aicall');
    return listEnvelope(await store.aimessages.list(req.customerId, { ...parsePaging(q), filters: { aicall_id: aicallId } }));
  });

  api.post('/aimessages', async (req) => {
    const body = parseBody(MessageCreate, req.body);
    const aicall = await mustGet(store.aicalls, req.customerId, body.aicall_id.toLowerCase(), 'AICALL_NOT_FOUND', 'aicall');
    return storeAimessage(store, aicall, body);
  });

  api.get('/aimessages/:id', async (req) => mustGet(store.aimessages, req.customerId, idParam(req), 'AIMESSAGE_NOT_FOUND', 'aimessage'));

  api.delete('/aimessages/:id', async (req) =>
    mustDelete(store.aimessages, req.customerId, idParam(req), 'AIMESSAGE_NOT_FOUND', 'aimessage'),
  );
}
