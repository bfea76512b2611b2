import type { z } from 'zod';
import { getToolDefinition, type ToolArgsMap } from './registry.js';
import { TOOL_NAMES, type JsonSchema, type ToolName } from './types.js';

export type ParseToolArgumentsResult<A> =
  | { ok: true; args: A; runLlm: boolean }
  | { ok: false; message: string };

const MAX_ISSUES = 5;

/**
 * Validates the arguments of a tool call from an LLM. `raw` is the JSON string the model sent (or an
 * already parsed object); an empty string, null or undefined means no arguments. Never throws: a
 * failure carries a message for the model naming each wrong field and what is expected.
 * An optional property sent as null is treated as absent (models often do that).
 * `runLlm` is the model's `run_llm` when it sent one, else the tool's default.
 */
export function parseToolArguments<N extends ToolName>(name: N, raw: unknown): ParseToolArgumentsResult<ToolArgsMap[N]>;
export function parseToolArguments(name: string, raw: unknown): ParseToolArgumentsResult<ToolArgsMap[ToolName]>;
export function parseToolArguments(name: string, raw: unknown): ParseToolArgumentsResult<ToolArgsMap[ToolName]> {
  try {
    const def = getToolDefinition(name);
    if (!def) {
      return { ok: false, message: `unknown tool ${JSON.stringify(name)}; the tools are ${TOOL_NAMES.join(', ')}` };
    }
    let value: unknown = raw;
    if (typeof raw === 'string') {
      if (raw.trim() === '') {
        value = {};
      } else {
        try {
          value = JSON.parse(raw);
        } catch (e) {
          return {
            ok: false,
            message: `invalid arguments for ${name}: not valid JSON (${(e as Error).message}); send a JSON object`,
          };
        }
      }
    } else if (raw === undefined || raw === null) {
      value = {};
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return {
        ok: false,
        message: `invalid arguments for ${name}: expected a JSON object of arguments, got ${kind(value)}`,
      };
    }
    value = dropNullOptionals(value, def.parameters);
    const parsed = (def.schema as z.ZodType).safeParse(value);
    if (!parsed.success) {
      return { ok: false, message: `invalid arguments for ${name}: ${formatIssues(parsed.error.issues)}` };
    }
    const args = parsed.data as ToolArgsMap[ToolName];
    const sent = (args as { run_llm?: unknown }).run_llm;
    return { ok: true, args, runLlm: typeof sent === 'boolean' ? sent : def.defaultRunLlm };
  } catch (e) {
    return { ok: false, message: `invalid arguments for ${name}: ${(e as Error)?.message ?? String(e)}` };
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}

/** Removes `null` values of optional properties, walking the JSON Schema alongside the value (copying). */
function dropNullOptionals(value: unknown, schema: JsonSchema | undefined): unknown {
  if (!schema || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    return schema.items ? value.map((v) => dropNullOptionals(v, schema.items)) : value;
  }
  if (!schema.properties) return value;
  const required = new Set(schema.required ?? []);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const sub = schema.properties[k];
    if (v === null && sub && !required.has(k)) continue;
    out[k] = sub ? dropNullOptionals(v, sub) : v;
  }
  return out;
}

/** `["destinations", 0, "target"]` -> `destinations[0].target`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out || 'arguments';
}

type Issue = z.core.$ZodIssue;

function issueMessage(issue: Issue): string {
  if (issue.code === 'invalid_key' && issue.issues.length > 0) return issue.issues[0]!.message;
  if (issue.code === 'unrecognized_keys') return `unknown fields ${issue.keys.join(', ')}`;
  return issue.message;
}

export function formatIssues(issues: readonly Issue[]): string {
  const seen = new Set<string>();
  for (const issue of issues) seen.add(`${formatPath(issue.path)}: ${issueMessage(issue)}`);
  const all = [...seen];
  const shown = all.slice(0, MAX_ISSUES);
  const more = all.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
