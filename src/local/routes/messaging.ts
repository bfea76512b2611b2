import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { LocalContext } from '../context.js';
import { listEnvelope, parsePaging } from '../paging.js';
import { idParam, mustGet, parseBody, queryOf, uuidString } from './common.js';
import { invalidArgument } from '../../api/errors.js';
import { charge } from '../billing.js';
import { normalizeE164 } from '../../../tools/e164.js';
import { newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { Row } from '../../../db/store.js';

const E164_HINT = 'an E.164 phone number like +15551234567';

/** Most destinations one SMS or email request may have. */
export const MAX_MESSAGE_DESTINATIONS = 100;

const TelAddress = z.object({
  type: z.literal('tel', { message: 'must be "tel" (SMS goes to phone numbers)' }),
  target: z.string({ message: `required; send ${E164_HINT}` }),
  target_name: z.string({ message: 'must be a string' }).optional(),
  name: z.string({ message: 'must be a string' }).optional(),
  detail: z.string({ message: 'must be a string' }).optional(),
});

const MessageSend = z.object({
  source: TelAddress,
  destinations: z
    .array(TelAddress, { message: 'must be an array of addresses like [{"type":"tel","target":"+15551234567"}]' })
    .min(1, 'must hold at least one destination address')
    .max(MAX_MESSAGE_DESTINATIONS, `must hold at most ${MAX_MESSAGE_DESTINATIONS} addresses per request; split larger batches`),
  text: z.string({ message: 'required; send the message text as a string' }).min(1, 'must not be empty; send the message text'),
});

const EmailAddress = z.object({
  type: z.literal('email', { message: 'must be "email"' }),
  target: z.email({ message: 'must be an email address like someone@example.com' }),
  target_name: z.string({ message: 'must be a string' }).optional(),
  name: z.string({ message: 'must be a string' }).optional(),
  detail: z.string({ message: 'must be a string' }).optional(),
});

const EmailSend = z.object({
  destinations: z
    .array(EmailAddress, { message: 'must be an array of addresses like [{"type":"email","target":"someone@example.com"}]' })
    .min(1, 'must hold at least one destination address')
    .max(MAX_MESSAGE_DESTINATIONS, `must hold at most ${MAX_MESSAGE_DESTINATIONS} addresses per request; split larger batches`),
  subject: z.string({ message: 'required; send the subject as a string' }),
  content: z.string({ message: 'required; send the body text as a string' }),
  attachments: z
    .array(
      z.object(
        { reference_type: z.literal('recording', { message: 'must be "recording"' }), reference_id: uuidString('reference_id') },
        { message: 'must be an object like {"reference_type":"recording","reference_id":"<uuid>"}' },
      ),
      { message: 'must be an array of attachments' },
    )
    .optional(),
});

/** The sender address of emails sent by the local VoIPBIN. */
export const LOCAL_EMAIL_SOURCE = { type: 'email', target: 'noreply@voipbin.local', target_name: 'voipbin-ai', name: '', detail: '' };

/** The E.164 form of an address target, or a 400 naming the field. */
function e164(target: string, field: string): string {
  const n = normalizeE164(target);
  if (!n) throw invalidArgument(`${field}: ${JSON.stringify(target)} is not ${E164_HINT}`);
  return n;
}

/**
 * Sends an SMS: checks the numbers, checks that the source is a number of this customer,
 * charges per destination, and stores it. Shared by `POST /messages` and the flow engine.
 * Local VoIPBIN has no carrier: each target is stored with status `queued`.
 */
export async function sendMessage(ctx: LocalContext, customerId: string, input: z.infer<typeof MessageSend>): Promise<Row> {
  const source = e164(input.source.target, 'source.target');
  const targets = input.destinations.map((d, i) => e164(d.target, `destinations[${i}].target`));
  const owned = (await ctx.store.numbers.findBy('number', source)).some((n) => n.customer_id === customerId);
  if (!owned) {
    throw invalidArgument(
      `source.target: ${source} is not a number of this account; send one from GET /numbers (or create a local number with POST /numbers)`,
    );
  }
  await charge(ctx, customerId, ctx.prices.messagePerDestination * targets.length, `${targets.length} SMS`);
  const now = nowTimestamp();
  const row: Row = {
    id: newId(),
    customer_id: customerId,
    type: 'sms',
    source: { type: 'tel', target: source, target_name: input.source.target_name ?? '', name: '', detail: '' },
    targets: input.destinations.map((d, i) => ({
      destination: { type: 'tel', target: targets[i], target_name: d.target_name ?? '', name: '', detail: '' },
      status: 'queued',
      parts: Math.max(1, Math.ceil(input.text.length / 160)),
      tm_update: now,
    })),
    text: input.text,
    direction: 'outbound',
    tm_create: now,
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  return ctx.store.messages.insert(row);
}

/** Sends an email (stored with status `initiated`; the local VoIPBIN has no mail relay). */
export async function sendEmail(ctx: LocalContext, customerId: string, input: z.infer<typeof EmailSend>): Promise<Row> {
  await charge(ctx, customerId, ctx.prices.emailPerDestination * input.destinations.length, `${input.destinations.length} email(s)`);
  const row: Row = {
    id: newId(),
    customer_id: customerId,
    source: LOCAL_EMAIL_SOURCE,
    destinations: input.destinations.map((d) => ({ type: 'email', target: d.target, target_name: d.target_name ?? '', name: '', detail: '' })),
    status: 'initiated',
    subject: input.subject,
    content: input.content,
    attachments: input.attachments ?? [],
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  return ctx.store.emails.insert(row);
}

export { MessageSend as MessageSendSchema, EmailSend as EmailSendSchema };

/** `/messages` and `/emails`. */
export function registerMessagingRoutes(api: FastifyInstance, ctx: LocalContext): void {
  const { store } = ctx;
  api.post('/messages', async (req) => sendMessage(ctx, req.customerId, parseBody(MessageSend, req.body)));
  api.get('/messages', async (req) => listEnvelope(await store.messages.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/messages/:id', async (req) => mustGet(store.messages, req.customerId, idParam(req), 'MESSAGE_NOT_FOUND', 'message'));

  api.post('/emails', async (req) => sendEmail(ctx, req.customerId, parseBody(EmailSend, req.body)));
  api.get('/emails', async (req) => listEnvelope(await store.emails.list(req.customerId, parsePaging(queryOf(req)))));
  api.get('/emails/:id', async (req) => mustGet(store.emails, req.customerId, idParam(req), 'EMAIL_NOT_FOUND', 'email'));
}
