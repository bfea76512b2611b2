import { z } from 'zod';
import type { JsonSchema, JsonSchemaObject } from './types.js';

/**
 * Derivation of the LLM-facing JSON Schema from a tool's zod schema.
 *
 * The zod schema is the single source of truth. It is converted with `z.toJSONSchema` on its *input*
 * side (what the model sends: `run_llm` with a default is optional; transforms are invisible), then
 * zod's extras are removed ($schema, propertyNames of records, additionalProperties:false) and keys
 * are put in the order the VoIPBIN documentation writes them.
 */

/**
 * Schemas whose input side is deliberately more lenient than what the model is told, e.g. a variable
 * value accepting numbers (coerced to strings) while the documented schema says `string`.
 * The registered JSON Schema replaces what zod would emit for that node.
 */
export const jsonSchemaAs = z.registry<{ json: JsonSchema }>();

const KEY_ORDER = ['type', 'description', 'enum', 'default', 'properties', 'additionalProperties', 'items', 'required'];

function canonicalize(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(canonicalize);
  if (node === null || typeof node !== 'object') return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(src).sort((a, b) => rank(a) - rank(b));
  for (const key of keys) {
    const value = src[key];
    if (key === '$schema' || key === 'propertyNames') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      const props: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(value as Record<string, unknown>)) props[name] = canonicalize(sub);
      out[key] = props;
    } else {
      out[key] = canonicalize(value);
    }
  }
  return out;
}

function rank(key: string): number {
  const i = KEY_ORDER.indexOf(key);
  return i < 0 ? KEY_ORDER.length : i;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** The JSON Schema of a tool's arguments, frozen. Throws at module load if the schema is not an object. */
export function toParameters(schema: z.ZodType): JsonSchemaObject {
  const raw = z.toJSONSchema(schema, {
    io: 'input',
    reused: 'inline',
    target: 'draft-2020-12',
    override: (ctx) => {
      const as = jsonSchemaAs.get(ctx.zodSchema);
      if (!as) return;
      const js = ctx.jsonSchema as Record<string, unknown>;
      for (const k of Object.keys(js)) delete js[k];
      Object.assign(js, structuredClone(as.json));
    },
  });
  const out = canonicalize(raw) as JsonSchema;
  if (out.type !== 'object' || !out.properties) {
    throw new Error('tool parameters must be a JSON Schema object with properties');
  }
  return deepFreeze(out as JsonSchemaObject);
}
