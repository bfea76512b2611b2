import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { ApiError, invalidArgument, notFound } from '../../api/errors.js';
import type { ResourceRepository, StoredResource } from '../../../db/store.js';
import { isUuid } from '../../util/ids.js';

/**
 * Parses a request body with a zod schema; the first problem becomes a 400 whose message
 * names the field (`destinations[0].target: ...`) so a person or a model can fix it.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('the request body must be a JSON object');
  }
  const r = schema.safeParse(body);
  if (!r.success) throw invalidArgument(formatZodIssue(r.error.issues[0]!));
  return r.data;
}

/** `a.b[0].c: message` for one zod issue. */
export function formatZodIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** The `{id}` path parameter, which must be a UUID (400 INVALID_ID otherwise). */
export function idParam(req: FastifyRequest, name = 'id'): string {
  const id = (req.params as Record<string, string>)[name];
  if (!isUuid(id)) throw new ApiError(400, 'INVALID_ID', `${name} must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890`);
  return id.toLowerCase();
}

/** The caller's row or a 404 with the resource's reason (another customer's row is "missing" too). */
export async function mustGet<T extends StoredResource>(
  repo: ResourceRepository<T>,
  customerId: string,
  id: string,
  reason: string,
  label: string,
): Promise<T> {
  const row = await repo.get(customerId, id);
  if (!row) throw notFound(reason, `${label} ${id} not found`);
  return row;
}

/** The query string as a plain record. */
export function queryOf(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

export const ADDRESS_TYPES = ['', 'agent', 'conference', 'email', 'extension', 'line', 'sip', 'tel', 'web_session'] as const;

/** VoIPBIN's CommonAddress. */
export const AddressSchema = z.object({
  type: z.enum(ADDRESS_TYPES, { message: `type must be one of ${ADDRESS_TYPES.filter(Boolean).join(', ')}` }),
  target: z.string({ message: 'target is required' }).min(1, 'target is required'),
  target_name: z.string().optional(),
  name: z.string().optional(),
  detail: z.string().optional(),
});
export type Address = z.infer<typeof AddressSchema>;

/** An address as stored: every CommonAddress field present. */
export function normalizeAddress(a: Address): Required<Address> {
  return { type: a.type, target: a.target, target_name: a.target_name ?? '', name: a.name ?? '', detail: a.detail ?? '' };
}

export const uuidString = (label: string) =>
  z.string().refine((s) => isUuid(s), { message: `${label} must be a UUID` });
