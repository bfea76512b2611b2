/**
 * Tool results: `structuredContent` (validated against the tool's `outputSchema`) plus the same
 * JSON as text for clients that only read `content`. Everything that leaves a tool passes
 * through {@link scrub}: no `engine_key` field and no registered secret can reach the model.
 */
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Page } from '../client/index.js';
import { redact } from '../util/logger.js';

/** Field names that are write-only secrets and are dropped from anything shown to the model. */
const SECRET_FIELDS = new Set(['engine_key']);

/**
 * A deep copy of `value` without secret fields, with every string passed through `redact`
 * (registered secrets such as provider keys and access keys become `[redacted]`).
 */
export function scrub<T>(value: T): T {
  return scrubValue(value) as T;
}

function scrubValue(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(scrubValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(k)) continue;
      out[k] = scrubValue(v);
    }
    return out;
  }
  return value;
}

/** A successful tool result carrying `data` as structured content and as JSON text. */
export function okResult(data: object): CallToolResult {
  const safe = scrub(data) as Record<string, unknown>;
  return { structuredContent: safe, content: [{ type: 'text', text: JSON.stringify(safe) }] };
}

/** Paging arguments of every list tool. */
export const pagingInput = {
  page_size: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe('How many items to return, 1 to 100 (default 10). Items come newest first.'),
  page_token: z
    .string()
    .min(1)
    .optional()
    .describe('The next_page_token returned by the previous call of this same tool, to get the next (older) page. Omit for the first page.'),
};

/** `next_page_token` of every list tool's output. */
export const nextPageTokenOutput = z
  .string()
  .optional()
  .describe('Present when more items follow: pass it as page_token to get the next page. Absent on the last page.');

/** The query of a list call: only the paging fields that were given. */
export function pagingQuery(args: { page_size?: number; page_token?: string }): { page_size?: number; page_token?: string } {
  const q: { page_size?: number; page_token?: string } = {};
  if (args.page_size !== undefined) q.page_size = args.page_size;
  if (args.page_token !== undefined) q.page_token = args.page_token;
  return q;
}

/** `{[key]: items, next_page_token?}` from a client page. */
export function pageOutput<K extends string, T>(key: K, page: Page<T>): Record<K, T[]> & { next_page_token?: string } {
  const out = { [key]: page.result } as Record<K, T[]> & { next_page_token?: string };
  if (page.hasNextPage() && page.next_page_token) out.next_page_token = page.next_page_token;
  return out;
}
