import { getToolDefinition, isToolName, type AnyToolDefinition } from './registry.js';
import { TOOL_NAMES, type ToolName } from './types.js';

/** The `tool_names` value that enables every tool. */
export const ALL_TOOLS = 'all';

/**
 * An AI's `tool_names` -> the enabled tools, in TOOL_NAMES order, without duplicates.
 * `["all"]` (or any list containing "all") = all nine; `[]`, null or undefined = none.
 * Unknown names are ignored (validate them with validateToolNames where the list comes in).
 */
export function resolveToolNames(toolNames: readonly string[] | undefined | null): ToolName[] {
  if (!toolNames || toolNames.length === 0) return [];
  if (toolNames.includes(ALL_TOOLS)) return [...TOOL_NAMES];
  const wanted = new Set(toolNames);
  return TOOL_NAMES.filter((n) => wanted.has(n));
}

/** The definitions of the tools an AI's `tool_names` enables. */
export function selectToolDefinitions(toolNames: readonly string[] | undefined | null): AnyToolDefinition[] {
  return resolveToolNames(toolNames).map((n) => getToolDefinition(n) as AnyToolDefinition);
}

export type ValidateToolNamesResult = { ok: true } | { ok: false; unknown: string[]; message: string };

/**
 * Checks a `tool_names` value from the API. Absent (undefined or null) is fine. Every entry must be
 * "all" or one of the nine names; "all" mixed with other names is accepted and means all.
 * On failure the caller answers 400 INVALID_TOOL_NAMES with `message`.
 */
export function validateToolNames(list: unknown): ValidateToolNamesResult {
  const valid = `valid names are "all" or ${TOOL_NAMES.join(', ')}`;
  if (list === undefined || list === null) return { ok: true };
  if (!Array.isArray(list)) {
    return { ok: false, unknown: [], message: `tool_names must be an array of strings; ${valid}` };
  }
  const unknown: string[] = [];
  for (const item of list) {
    if (item === ALL_TOOLS || isToolName(item)) continue;
    const shown = typeof item === 'string' ? item : JSON.stringify(item) ?? String(item);
    if (!unknown.includes(shown)) unknown.push(shown);
  }
  if (unknown.length === 0) return { ok: true };
  const label = unknown.length === 1 ? 'unknown tool name' : 'unknown tool names';
  return {
    ok: false,
    unknown,
    message: `${label}: ${unknown.map((u) => JSON.stringify(u)).join(', ')}; ${valid}`,
  };
}
