import { z } from 'zod';
import { E164_EXAMPLE, normalizeE164 } from './e164.js';
import { jsonSchemaAs } from './json-schema.js';

/**
 * Building blocks of the tool schemas. Every field carries the wording of what is expected, so a
 * validation error tells the model exactly what to send: "required, <what>" when the field is
 * missing, "expected <what>, got <value>" when it has the wrong type. Checks that JSON Schema does
 * not show (E.164, email, UUID, non-empty) are refinements, so they never change `parameters`.
 */

/** A short, safe description of a value the model sent. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': {
      const s = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      return `the string ${JSON.stringify(s)}`;
    }
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** A zod error callback: "required, <what>" or "expected <what>, got <value>". */
export function expecting(what: string) {
  return (iss: { input?: unknown }): string =>
    iss.input === undefined ? `required, ${what}` : `expected ${what}, got ${describeValue(iss.input)}`;
}

/** The `run_llm` flag; the default is VoIPBIN's (false for all nine tools). */
export function runLlmField(description: string) {
  return z.boolean({ error: expecting('a boolean (true or false)') }).default(false).describe(description);
}

/** A string that must not be blank; trimmed. */
export function text(what: string, description?: string) {
  const base = z
    .string({ error: expecting(what) })
    .refine((s) => s.trim().length > 0, { message: `must not be empty, ${what}` });
  return (description === undefined ? base : base.describe(description)).transform((s) => s.trim());
}

/** An optional free-form string (display names); kept as sent. */
export function optionalString(what: string, description?: string) {
  const base = z.string({ error: expecting(what) });
  return (description === undefined ? base : base.describe(description)).optional();
}

/** A phone number, normalized to E.164. */
export function e164(description: string) {
  const what = `an E.164 phone number like ${E164_EXAMPLE}`;
  return z
    .string({ error: expecting(what) })
    .describe(description)
    .transform((s, ctx) => {
      const n = normalizeE164(s);
      if (n === null) {
        ctx.issues.push({
          code: 'custom',
          input: s,
          message: `expected ${what} ('+', country code, number; 8 to 15 digits), got ${describeValue(s)}`,
        });
        return z.NEVER;
      }
      return n;
    });
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export function isEmail(s: string): boolean {
  return EMAIL.test(s);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** A UUID string, trimmed and lower-cased. */
export function uuid(what: string, description?: string) {
  const full = `${what} (a UUID like 3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c)`;
  const base = z
    .string({ error: expecting(full) })
    .refine((s) => isUuid(s.trim()), { message: `expected ${full}` });
  return (description === undefined ? base : base.describe(description)).transform((s) => s.trim().toLowerCase());
}

/** A string enum: JSON Schema `{"type":"string","enum":[...]}`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, what?: string) {
  const list = values.map((v) => JSON.stringify(v)).join(', ');
  const expected = what ?? (values.length === 1 ? list : `one of ${list}`);
  return z.enum(values, { error: expecting(expected) });
}

/** A non-empty array of `item`. */
export function nonEmptyList<T extends z.ZodType>(item: T, what: string) {
  return z
    .array(item, { error: expecting(what) })
    .refine((a) => a.length > 0, { message: `must not be empty, ${what}` });
}

/**
 * A flow-variable value: the documentation says string and VoIPBIN stores strings, so numbers and
 * booleans are accepted and converted ("12345", "true"); the model is told `{"type":"string"}`.
 */
export function variableValue() {
  const what = 'a string value (numbers and booleans are converted to strings)';
  const schema = z
    .union([z.string(), z.number(), z.boolean()], { error: expecting(what) })
    .transform((v) => String(v));
  jsonSchemaAs.add(schema, { json: { type: 'string' } });
  return schema;
}

/** Joins "When to use" / "When NOT to use" / examples into a tool description. */
export function describeTool(parts: {
  summary: string;
  hint?: string;
  use: string[];
  avoid?: string[];
  examples?: string[];
}): string {
  const lines = [parts.summary];
  if (parts.hint) lines.push(parts.hint);
  lines.push(`When to use: ${parts.use.join('; ')}.`);
  if (parts.avoid?.length) lines.push(`When NOT to use: ${parts.avoid.join('; ')}.`);
  if (parts.examples?.length) lines.push(`Examples: ${parts.examples.join('; ')}.`);
  return lines.join('\n');
}
