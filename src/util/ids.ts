import { randomUUID } from 'node:crypto';

/** A new resource id (UUID v4), as VoIPBIN uses for every resource. */
export function newId(): string {
  return randomUUID();
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `s` is a UUID in canonical 8-4-4-4-12 form. */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

/** VoIPBIN's "no id" value: unset id fields hold the nil UUID, never ''. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** The id, or the nil UUID when it is empty or missing. */
export function idOrNil(id: unknown): string {
  return typeof id === 'string' && id !== '' ? id.toLowerCase() : NIL_UUID;
}

/** True when `id` names something (not empty, not the nil UUID). */
export function hasId(id: unknown): id is string {
  return typeof id === 'string' && id !== '' && id !== NIL_UUID;
}
