import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf } from './common.js';
import { ApiError, invalidArgument } from '../../api/errors.js';
import { normalizeE164 } from '../../../tools/e164.js';
import { hasId, idOrNil, isUuid, newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { Row } from '../../../db/store.js';

const flowRef = z.string().refine((s) => s === '' || isUuid(s), { message: 'must be a flow UUID or empty' });

const NumberCreate = z.object({
  number: z.string({ message: 'must be an E.164 phone number as a string, like "+15551234567"' }),
  type: z.enum(['normal', 'virtual']).optional(),
  call_flow_id: flowRef.optional(),
  message_flow_id: flowRef.optional(),
  name: z.string().optional(),
  detail: z.string().optional(),
});

const NumberUpdate = z.object({
  call_flow_id: flowRef.optional(),
  message_flow_id: flowRef.optional(),
  name: z.string().optional(),
  detail: z.string().optional(),
});

/**
 * Fields of a number that `PUT /numbers/{id}` cannot change, with what to do instead. Sending
 * one is refused: answering 200 and changing nothing would let a client believe it had.
 */
const NUMBER_READ_ONLY: Readonly<Record<string, string>> = {
  number: 'a number cannot be changed; delete it and create the new one',
  type: 'the type of a number cannot be changed; delete it and create the number again with the type',
  status: 'the status of a number cannot be set; it follows the number (delete the number to release it)',
  customer_id: 'a number cannot move to another customer; delete it and create it with the other account',
  id: 'the id is in the URL and cannot be changed; send only the fields to change',
};
const NUMBER_UPDATABLE = 'send only call_flow_id, message_flow_id, name or detail';

/** `/numbers`: local numbers that local phones, carrier streams and flows route on. */
export function registerNumberRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  async function checkFlow(customerId: string, flowId: string | undefined, field: string): Promise<void> {
    if (hasId(flowId) && !(await store.flows.get(customerId, flowId.toLowerCase()))) {
      throw invalidArgument(`${field}: flow ${flowId} not found; create it with POST /flows first`);
    }
  }

  api.post('/numbers', async (req) => {
    const body = parseBody(NumberCreate, req.body);
    const number = normalizeE164(body.number);
    if (!number) throw invalidArgument(`number: ${JSON.stringify(body.number)} is not an E.164 phone number like +15551234567`);
    if ((await store.numbers.findBy('number', number)).length > 0) {
      throw new ApiError(409, 'NUMBER_ALREADY_EXISTS', `number ${number} is already registered`, {}, 'ALREADY_EXISTS');
    }
    await checkFlow(req.customerId, body.call_flow_id, 'call_flow_id');
    await checkFlow(req.customerId, body.message_flow_id, 'message_flow_id');
    const now = nowTimestamp();
    const row: Row = {
      id: newId(),
      customer_id: req.customerId,
      number,
      type: body.type ?? 'normal',
      call_flow_id: idOrNil(body.call_flow_id),
      message_flow_id: idOrNil(body.message_flow_id),
      name: body.name ?? '',
      detail: body.detail ?? '',
      status: 'active',
      t38_enabled: false,
      emergency_enabled: false,
      metadata: { rtp_debug: false },
      tm_purchase: now,
      tm_renew: now,
      tm_create: now,
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    };
    return store.numbers.insert(row);
  });

  api.get('/numbers', async (req) => listEnvelope(await store.numbers.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/numbers/:id', async (req) => mustGet(store.numbers, req.customerId, idParam(req), 'NUMBER_NOT_FOUND', 'number'));

  api.put('/numbers/:id', async (req) => {
    const body = parseBody(NumberUpdate, req.body);
    // After the lookup: another customer's number answers 404 whatever the body holds.
    const row = await mustGet(store.numbers, req.customerId, idParam(req), 'NUMBER_NOT_FOUND', 'number');
    for (const field of Object.keys(NUMBER_READ_ONLY)) {
      if (Object.hasOwn(req.body as object, field)) throw invalidArgument(`${field}: ${NUMBER_READ_ONLY[field]} (${NUMBER_UPDATABLE})`);
    }
    await checkFlow(req.customerId, body.call_flow_id, 'call_flow_id');
    await checkFlow(req.customerId, body.message_flow_id, 'message_flow_id');
    return store.numbers.update({
      ...row,
      call_flow_id: body.call_flow_id === undefined ? row.call_flow_id : idOrNil(body.call_flow_id),
      message_flow_id: body.message_flow_id === undefined ? row.message_flow_id : idOrNil(body.message_flow_id),
      name: body.name ?? row.name,
      detail: body.detail ?? row.detail,
      tm_update: nowTimestamp(),
    });
  });

  api.delete('/numbers/:id', async (req) => {
    const row = await mustDelete(store.numbers, req.customerId, idParam(req), 'NUMBER_NOT_FOUND', 'number');
    // Its phones go at once: a phone kept registered would still get calls for the number after
    // another customer creates it again, and would block that customer's own phone.
    await ctx.engine?.phones.numberDeleted(row);
    return { ...row, status: 'deleted' };
  });
}
