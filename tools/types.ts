import type { z } from 'zod';

/** The nine VoIPBIN AI tool functions, in the order of the VoIPBIN documentation. */
export const TOOL_NAMES = [
  'connect_call',
  'send_email',
  'send_message',
  'stop_media',
  'stop_service',
  'stop_flow',
  'set_variables',
  'get_variables',
  'get_aicall_messages',
] as const;

export type ToolName = (typeof TOOL_NAMES)[number];

/** The subset of JSON Schema the tool parameters use. */
export interface JsonSchema {
  type?: string;
  description?: string;
  enum?: Array<string | number | boolean | null>;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
}

/** The top level of a tool's parameters: always an object schema with a `properties` map. */
export interface JsonSchemaObject extends JsonSchema {
  type: 'object';
  properties: Record<string, JsonSchema>;
}

export interface ToolDefinition<A> {
  /** The function name the LLM calls, e.g. `connect_call`. */
  name: ToolName;
  /** What the LLM reads to decide when (and when not) to call the tool. */
  description: string;
  /** Validates and normalizes the arguments (zod 4); the single source of `parameters`. */
  schema: z.ZodType<A>;
  /** The JSON Schema handed to LLMs, derived from `schema`; equal to the VoIPBIN documentation. Frozen. */
  parameters: JsonSchemaObject;
  /** Whether the agent speaks after the tool result when the model does not send `run_llm`. */
  defaultRunLlm: false;
}

/** What the export functions need from a definition. */
export type ToolDescriptor = Pick<ToolDefinition<unknown>, 'name' | 'description' | 'parameters'>;
