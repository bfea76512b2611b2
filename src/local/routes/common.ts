import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { ApiError, invalidArgument, notFound } from '../../api/errors.js';
import type { ResourceRepository, StoredResource } from '../../../db/store.js';
import { isUuid } from '../../util/ids.js';

/**
 * Parses a request body with a zod schema; the first problem becomes a 400 whose message
 * names the field once, then says what is wrong and what to send instead
 * (`destinations[0].target: must be an E.164 phone number like +15551234567`).
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined) throw emptyBody();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('the request body must be a JSON object');
  }
  const r = schema.safeParse(body, { error: describeIssue });
  if (!r.success) throw invalidArgument(formatZodIssue(r.error.issues[0]!));
  return r.data;
}

/** 400 for a route that needs a body and got none (or `Content-Type: application/json` with no bytes). */
export function emptyBody(): ApiError {
  return new ApiError(400, 'INVALID_JSON_BODY', 'the request body is empty; send a JSON object');
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  record: 'an object',
};

/** What a value is, for "received ..." parts of messages. */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * The message of a zod issue whose schema gives none, in the API's style (what is wrong and
 * what to send, without the field: {@link formatZodIssue} puts the path in front). Used as the
 * per-parse error map, so a schema's own messages still win.
 */
export function describeIssue(issue: z.core.$ZodRawIssue): string {
  const i = issue as z.core.$ZodRawIssue & Record<string, any>;
  switch (i.code) {
    case 'invalid_type': {
      const want = TYPE_NAMES[i.expected as string] ?? String(i.expected);
      return i.input === undefined ? `required; send ${want}` : `must be ${want}, not ${kindOf(i.input)}`;
    }
    case 'too_small':
      if (i.origin === 'array') return `must have at least ${i.minimum} item(s)`;
      if (i.origin === 'string') return i.minimum === 1 ? 'must not be empty' : `must be at least ${i.minimum} characters`;
      return `must be ${i.inclusive === false ? 'greater than' : 'at least'} ${i.minimum}`;
    case 'too_big':
      if (i.origin === 'array') return `must have at most ${i.maximum} item(s)`;
      if (i.origin === 'string') return `must be at most ${i.maximum} characters`;
      return `must be ${i.inclusive === false ? 'less than' : 'at most'} ${i.maximum}`;
    case 'invalid_value':
      return `must be one of ${(i.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return i.format === 'email' ? 'must be an email address like someone@example.com' : `must be a valid ${i.format}`;
    case 'unrecognized_keys':
      return 'unknown field; remove it';
    case 'not_multiple_of':
      return `must be a multiple of ${i.divisor}`;
    default:
      return 'is not valid';
  }
}

/** `a.b[0].c` for a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * `a.b[0].c: message` for one zod issue, naming the field once: a message that already starts
 * with the field (`target is required`, `vad_config.x must be ...`) is not prefixed again. An
 * unknown key is named itself (`vad_config.speed: unknown key; use ...`).
 */
export function formatZodIssue(issue: z.core.$ZodIssue): string {
  const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  const fullPath = keys.length > 0 ? [...issue.path, keys[0]!] : issue.path;
  const path = formatPath(fullPath);
  return withField(path, issue.message);
}

/** Prefixes `message` with `field: ` unless it already names the field (then it is rewritten to `field: rest`). */
export function withField(field: string, message: string): string {
  if (!field) return message;
  const last = field.replace(/^.*[.\]]/, '').replace(/\[\d+\]$/, '');
  for (const name of [field, last]) {
    if (!name) continue;
    if (message.startsWith(`${name}: `)) return `${field}: ${message.slice(name.length + 2)}`;
    if (message.startsWith(`${name} `)) return `${field}: ${message.slice(name.length + 1)}`;
  }
  return `${field}: ${message}`;
}

/**
 * A zod object that refuses unknown fields, naming the field and the ones it accepts
 * (`vad_config.speed: unknown key; use confidence, start_secs, ...`). Used for PUT bodies (so an
 * update never silently ignores a field it cannot change) and nested option objects.
 */
export function strictObject<T extends z.core.$ZodLooseShape>(
  shape: T,
  opts: { noun?: string; notObject?: string; hint?: string } = {},
) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') return `unknown ${opts.noun ?? 'field'}; ${opts.hint ?? `use ${allowed}`}`;
      if (iss.code === 'invalid_type' && iss.path?.length === 0) return opts.notObject ?? 'must be an object';
      return undefined;
    },
  });
}

/** The `{id}` path parameter, which must be a UUID (400 INVALID_ID otherwise). */
export function idParam(req: FastifyRequest, name = 'id'): string {
  const id = (req.params as Record<string, string>)[name];
  if (!isUuid(id)) throw new ApiError(400, 'INVALID_ID', `${name}: must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890`);
  return id.toLowerCase();
}

/** The row, or the one 404 every route answers for a missing row: `<label> <id> not found`. */
function foundOr404<T>(row: T | undefined, reason: string, label: string, id: string): T {
  if (!row) throw notFound(reason, `${label} ${id} not found`);
  return row;
}

/** The caller's row or a 404 with the resource's reason (another customer's row is "missing" too). */
export async function mustGet<T extends StoredResource>(
  repo: ResourceRepository<T>,
  customerId: string,
  id: string,
  reason: string,
  label: string,
): Promise<T> {
  return foundOr404(await repo.get(customerId, id), reason, label, id);
}

/** Soft-deletes the caller's row, or the same 404 as {@link mustGet} (`flow <id> not found`). */
export async function mustDelete<T extends StoredResource>(
  repo: ResourceRepository<T>,
  customerId: string,
  id: string,
  reason: string,
  label: string,
): Promise<T> {
  return foundOr404(await repo.softDelete(customerId, id), reason, label, id);
}

/** The query string as a plain record. */
export function queryOf(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

export const ADDRESS_TYPES = ['', 'agent', 'conference', 'email', 'extension', 'line', 'sip', 'tel', 'web_session'] as const;

/** VoIPBIN's CommonAddress. */
export const AddressSchema = z.object({
  type: z.enum(ADDRESS_TYPES, { message: `must be one of ${ADDRESS_TYPES.filter(Boolean).join(', ')}` }),
  target: z.string({ message: 'required; send the address as a string (a number like +15551234567, an extension name, ...)' }).min(1, 'must not be empty; send a number like +15551234567 or an extension name'),
  target_name: z.string().optional(),
  name: z.string().optional(),
  detail: z.string().optional(),
}, {
  error: (iss) =>
    iss.code === 'invalid_type' && iss.path?.length === 0
      ? `${iss.input === undefined ? 'required' : 'must be an object'}; send an address like {"type":"tel","target":"+15551234567"}`
      : undefined,
});
export type Address = z.infer<typeof AddressSchema>;

/** An address as stored: every CommonAddress field present. */
export function normalizeAddress(a: Address): Required<Address> {
  return { type: a.type, target: a.target, target_name: a.target_name ?? '', name: a.name ?? '', detail: a.detail ?? '' };
}

/** A UUID string field (the field name comes from the zod path, so `_label` is documentation only). */
export const uuidString = (_label: string) =>
  z.string({ message: 'must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890' }).refine((s) => isUuid(s), {
    message: 'must be a UUID like a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  });
