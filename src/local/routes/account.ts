import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { createAccessKey } from '../customers.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustDelete, mustGet, parseBody, queryOf, strictObject } from './common.js';
import { notFound } from '../../api/errors.js';
import { nowTimestamp } from '../../util/time.js';
import type { AccesskeyRow } from '../../../db/store.js';

/** PUT /customer: partial; a field it cannot change (id, tm_create, ...) is refused by name. */
const CustomerUpdate = strictObject({
  name: z.string().optional(),
  detail: z.string().optional(),
  email: z.string().optional(),
  phone_number: z.string().optional(),
  address: z.string().optional(),
  webhook_method: z.enum(['', 'POST', 'GET', 'PUT', 'DELETE']).optional(),
  webhook_uri: z.string().optional(),
});

const AccesskeyCreate = z.object({
  name: z.string().optional(),
  detail: z.string().optional(),
  expire: z.number().int().min(0, 'must be a number of seconds, e.g. 86400').max(3_153_600_000, 'must be at most 3153600000 seconds (100 years)').optional(),
});
/** PUT /accesskeys/{id}: name and detail only (the token and expiry cannot change); others refused by name. */
const AccesskeyUpdate = strictObject({ name: z.string().optional(), detail: z.string().optional() });

/** An access key as returned: never the token (only its prefix), except once at creation. */
function publicKey(row: AccesskeyRow, token?: string): Record<string, unknown> {
  return { ...row, token: token ?? '' };
}

/** `/customer`, `/accesskeys`, `/billing_accounts`. */
export function registerAccountRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;

  api.get('/customer', async (req) => mustGet(store.customers, req.customerId, req.customerId, 'CUSTOMER_NOT_FOUND', 'customer'));

  api.put('/customer', async (req) => {
    const patch = parseBody(CustomerUpdate, req.body);
    const row = await mustGet(store.customers, req.customerId, req.customerId, 'CUSTOMER_NOT_FOUND', 'customer');
    return store.customers.update({ ...row, ...patch, tm_update: nowTimestamp() });
  });

  api.get('/accesskeys', async (req) => {
    const page = await store.accesskeys.list(req.customerId, parsePaging(queryOf(req)));
    return listEnvelope(page, (k) => publicKey(k));
  });

  api.post('/accesskeys', async (req) => {
    const body = parseBody(AccesskeyCreate, req.body === undefined ? {} : req.body);
    const { row, token } = await createAccessKey(store, req.customerId, { name: body.name, detail: body.detail, expireSec: body.expire });
    return publicKey(row, token);
  });

  api.get('/accesskeys/:id', async (req) =>
    publicKey(await mustGet(store.accesskeys, req.customerId, idParam(req), 'ACCESSKEY_NOT_FOUND', 'access key')),
  );

  api.put('/accesskeys/:id', async (req) => {
    const patch = parseBody(AccesskeyUpdate, req.body);
    const row = await mustGet(store.accesskeys, req.customerId, idParam(req), 'ACCESSKEY_NOT_FOUND', 'access key');
    return publicKey(await store.accesskeys.update({ ...row, ...patch, tm_update: nowTimestamp() }));
  });

  api.delete('/accesskeys/:id', async (req) => {
    const row = await mustDelete(store.accesskeys, req.customerId, idParam(req), 'ACCESSKEY_NOT_FOUND', 'access key');
    // What the key opened goes with it: its phones, media streams and MCP sessions end before
    // the answer, so a client that sees 200 knows nothing runs on the key any more.
    await ctx.keySessions.revoke(row.id, 'deleted');
    return publicKey(row);
  });

  api.get('/billing_accounts', async (req) => listEnvelope(await store.billingAccounts.list(req.customerId, parsePaging(queryOf(req)))));

  api.get('/billing_accounts/:id', async (req) =>
    mustGet(store.billingAccounts, req.customerId, idParam(req), 'BILLING_ACCOUNT_NOT_FOUND', 'billing account'),
  );

  api.get('/billing_account', async (req) => {
    const account = await store.billingAccounts.getByCustomer(req.customerId);
    if (!account) throw notFound('BILLING_ACCOUNT_NOT_FOUND', 'billing account not found');
    return account;
  });
}
