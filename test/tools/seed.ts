import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The VoIPBIN documentation the tools implement (shared/ sits beside the repository). */
export const OVERVIEW_PATH = path.resolve(process.cwd(), '../shared/reference/voipbin-ai-overview.txt');
export const RST_PATH = path.resolve(process.cwd(), '../shared/reference/voipbin-docs/ai_struct_tool.rst');

/** The JSON value starting at the first '{' at or after `from` (string-aware brace matching). */
export function extractJsonObject(text: string, from: number): { value: unknown; end: number } {
  const start = text.indexOf('{', from);
  if (start < 0) throw new Error(`no '{' after offset ${from}`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      return { value: JSON.parse(text.slice(start, i + 1)), end: i + 1 };
    }
  }
  throw new Error(`unbalanced JSON starting at offset ${start}`);
}

/**
 * Each tool's "Parameters:" JSON from the "Tool Functions" section of voipbin-ai-overview.txt
 * (from its heading "Tool Functions" / "Tool functions enable the AI to perform actions..." to "run_llm Parameter").
 */
export function seedParametersFromOverview(names: readonly string[]): Map<string, unknown> {
  const lines = readFileSync(OVERVIEW_PATH, 'utf8').split(/\r?\n/);
  const start = lines.findIndex(
    (l, i) => l.trim() === 'Tool Functions' && (lines[i + 1] ?? '').startsWith('Tool functions enable the AI to perform actions'),
  );
  if (start < 0) throw new Error('"Tool Functions" section not found');
  const end = lines.findIndex((l, i) => i > start && l.trim() === 'run_llm Parameter');
  if (end < 0) throw new Error('"run_llm Parameter" section not found');
  const section = lines.slice(start, end);

  const headings = names.map((name) => {
    const at = section.findIndex((l) => l.trim() === name);
    if (at < 0) throw new Error(`heading of ${name} not found in the Tool Functions section`);
    return at;
  });
  const out = new Map<string, unknown>();
  names.forEach((name, k) => {
    const from = headings[k]!;
    const until = Math.min(...headings.filter((h) => h > from), section.length);
    const p = section.findIndex((l, i) => i > from && i < until && l.trim() === 'Parameters:');
    if (p < 0) throw new Error(`"Parameters:" of ${name} not found`);
    const body = section.slice(p + 1, until).join('\n');
    out.set(name, extractJsonObject(body, 0).value);
  });
  return out;
}

/** The same blocks from the reStructuredText source (ai_struct_tool.rst). */
export function seedParametersFromRst(names: readonly string[]): Map<string, unknown> {
  const text = readFileSync(RST_PATH, 'utf8');
  const out = new Map<string, unknown>();
  for (const name of names) {
    const anchor = text.indexOf(`.. _ai-struct-tool-${name}:`);
    if (anchor < 0) throw new Error(`anchor of ${name} not found`);
    const p = text.indexOf('**Parameters:**', anchor);
    if (p < 0) throw new Error(`Parameters of ${name} not found`);
    out.set(name, extractJsonObject(text, p).value);
  }
  return out;
}

/** Every difference between two JSON values, one readable line each (empty when equal). */
export function jsonDiff(expected: unknown, actual: unknown, at = '$'): string[] {
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return [`${at}: expected ${show(expected)}, got ${show(actual)}`];
    const out: string[] = [];
    if (expected.length !== actual.length) out.push(`${at}: expected ${expected.length} items ${show(expected)}, got ${actual.length} ${show(actual)}`);
    for (let i = 0; i < Math.min(expected.length, actual.length); i++) out.push(...jsonDiff(expected[i], actual[i], `${at}[${i}]`));
    return out;
  }
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
  if (isObj(expected) || isObj(actual)) {
    if (!isObj(expected) || !isObj(actual)) return [`${at}: expected ${show(expected)}, got ${show(actual)}`];
    const out: string[] = [];
    for (const k of Object.keys(expected)) {
      if (!(k in actual)) out.push(`${at}.${k}: missing, expected ${show(expected[k])}`);
      else out.push(...jsonDiff(expected[k], actual[k], `${at}.${k}`));
    }
    for (const k of Object.keys(actual)) if (!(k in expected)) out.push(`${at}.${k}: not in the documentation, got ${show(actual[k])}`);
    return out;
  }
  return Object.is(expected, actual) ? [] : [`${at}: expected ${show(expected)}, got ${show(actual)}`];
}
