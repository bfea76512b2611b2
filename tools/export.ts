import type { JsonSchema, JsonSchemaObject, ToolDescriptor, ToolName } from './types.js';

/**
 * The selected tools in the shapes LLM APIs take. Every call returns fresh objects (deep copies of the
 * frozen definitions), so a caller may adapt them further without touching the registry.
 */

export interface OpenAIChatTool {
  type: 'function';
  function: { name: ToolName; description: string; parameters: JsonSchemaObject };
}

/** An entry of `session.tools` in the OpenAI Realtime API. */
export interface OpenAIRealtimeTool {
  type: 'function';
  name: ToolName;
  description: string;
  parameters: JsonSchemaObject;
}

export interface AnthropicTool {
  name: ToolName;
  description: string;
  input_schema: JsonSchemaObject;
}

/** Gemini's Schema: a subset of OpenAPI 3.0 with upper-case type names. */
export interface GeminiSchema {
  type: 'OBJECT' | 'STRING' | 'BOOLEAN' | 'ARRAY' | 'NUMBER' | 'INTEGER';
  description?: string;
  format?: string;
  enum?: string[];
  properties?: Record<string, GeminiSchema>;
  items?: GeminiSchema;
  required?: string[];
}

export interface GeminiFunctionDeclaration {
  name: ToolName;
  description: string;
  /** Absent for a tool without arguments (Gemini rejects an OBJECT with empty properties). */
  parameters?: GeminiSchema & { type: 'OBJECT' };
}

export type ToolExportFormat = 'json-schema' | 'openai' | 'realtime' | 'anthropic' | 'gemini';
export const TOOL_EXPORT_FORMATS: readonly ToolExportFormat[] = ['json-schema', 'openai', 'realtime', 'anthropic', 'gemini'];

export function isToolExportFormat(s: unknown): s is ToolExportFormat {
  return typeof s === 'string' && (TOOL_EXPORT_FORMATS as readonly string[]).includes(s);
}

function copy(p: JsonSchemaObject): JsonSchemaObject {
  return structuredClone(p) as JsonSchemaObject;
}

export function toOpenAIChatTools(defs: readonly ToolDescriptor[]): OpenAIChatTool[] {
  return defs.map((d) => ({
    type: 'function',
    function: { name: d.name, description: d.description, parameters: copy(d.parameters) },
  }));
}

export function toOpenAIRealtimeTools(defs: readonly ToolDescriptor[]): OpenAIRealtimeTool[] {
  return defs.map((d) => ({ type: 'function', name: d.name, description: d.description, parameters: copy(d.parameters) }));
}

export function toAnthropicTools(defs: readonly ToolDescriptor[]): AnthropicTool[] {
  return defs.map((d) => ({ name: d.name, description: d.description, input_schema: copy(d.parameters) }));
}

export function toJsonSchemaMap(defs: readonly ToolDescriptor[]): Partial<Record<ToolName, JsonSchemaObject>> {
  const out: Partial<Record<ToolName, JsonSchemaObject>> = {};
  for (const d of defs) out[d.name] = copy(d.parameters);
  return out;
}

const GEMINI_TYPES: Record<string, GeminiSchema['type']> = {
  object: 'OBJECT',
  string: 'STRING',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  number: 'NUMBER',
  integer: 'INTEGER',
};

/**
 * JSON Schema -> Gemini Schema. Drops `default` (mentioned in the description instead) and
 * `additionalProperties` (a map such as set_variables' `variables` becomes an OBJECT whose
 * description says what its values are); marks string enums with `format: "enum"`.
 */
export function toGeminiSchema(schema: JsonSchema): GeminiSchema {
  const type = GEMINI_TYPES[schema.type ?? 'string'];
  if (!type) throw new Error(`JSON Schema type ${JSON.stringify(schema.type)} has no Gemini equivalent`);
  const out: GeminiSchema = { type };
  const notes: string[] = [];
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    const valueType = schema.additionalProperties.type ?? 'any';
    notes.push(`an object of key-value pairs; every value is a ${valueType}`);
  }
  if (schema.default !== undefined) notes.push(`default: ${JSON.stringify(schema.default)}`);
  const description = [schema.description, ...notes.map((n) => `(${n})`)].filter(Boolean).join(' ');
  if (description) out.description = description;
  if (schema.enum) {
    out.enum = schema.enum.map((v) => String(v));
    if (type === 'STRING') out.format = 'enum';
  }
  if (schema.properties && Object.keys(schema.properties).length > 0) {
    out.properties = {};
    for (const [k, v] of Object.entries(schema.properties)) out.properties[k] = toGeminiSchema(v);
    const required = (schema.required ?? []).filter((r) => r in schema.properties!);
    if (required.length > 0) out.required = required;
  }
  if (schema.items) out.items = toGeminiSchema(schema.items);
  return out;
}

export function toGeminiFunctionDeclarations(defs: readonly ToolDescriptor[]): GeminiFunctionDeclaration[] {
  return defs.map((d) => {
    const decl: GeminiFunctionDeclaration = { name: d.name, description: d.description };
    if (Object.keys(d.parameters.properties).length > 0) {
      decl.parameters = toGeminiSchema(d.parameters) as GeminiSchema & { type: 'OBJECT' };
    }
    return decl;
  });
}

export function exportTools(defs: readonly ToolDescriptor[], format: 'json-schema'): Partial<Record<ToolName, JsonSchemaObject>>;
export function exportTools(defs: readonly ToolDescriptor[], format: 'openai'): OpenAIChatTool[];
export function exportTools(defs: readonly ToolDescriptor[], format: 'realtime'): OpenAIRealtimeTool[];
export function exportTools(defs: readonly ToolDescriptor[], format: 'anthropic'): AnthropicTool[];
export function exportTools(defs: readonly ToolDescriptor[], format: 'gemini'): GeminiFunctionDeclaration[];
export function exportTools(defs: readonly ToolDescriptor[], format: ToolExportFormat): unknown;
export function exportTools(defs: readonly ToolDescriptor[], format: ToolExportFormat): unknown {
  switch (format) {
    case 'json-schema':
      return toJsonSchemaMap(defs);
    case 'openai':
      return toOpenAIChatTools(defs);
    case 'realtime':
      return toOpenAIRealtimeTools(defs);
    case 'anthropic':
      return toAnthropicTools(defs);
    case 'gemini':
      return toGeminiFunctionDeclarations(defs);
    default:
      throw new Error(`unknown tool export format ${JSON.stringify(format)}; use one of ${TOOL_EXPORT_FORMATS.join(', ')}`);
  }
}
