/**
 * Registers one tool with everything every tool must have: title, description, argument
 * schemas, all four annotations and an output schema; the handler's result goes through
 * {@link okResult} (scrubbed, structured + JSON text) and every failure through
 * {@link toolError} (one mapping for all tools).
 */
import type { z } from 'zod';
import type { McpServer, ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { McpDeps } from './deps.js';
import { toolError } from './errors.js';
import { okResult } from './result.js';

/** The four MCP tool annotations, all required here so none is forgotten. */
export interface ToolHints {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolSpec<In extends z.ZodRawShape, Out extends z.ZodRawShape> {
  title: string;
  /** What it does and when to use it (the model reads this to choose). */
  description: string;
  input: In;
  output: Out;
  annotations: ToolHints;
  run(args: z.infer<z.ZodObject<In>>): Promise<object>;
}

/** Hints of a tool that only reads the account. */
export const READ_ONLY: ToolHints = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

export function defineTool<In extends z.ZodRawShape, Out extends z.ZodRawShape>(
  server: McpServer,
  deps: McpDeps,
  name: string,
  spec: ToolSpec<In, Out>,
): void {
  const handler = async (args: z.infer<z.ZodObject<In>>): Promise<CallToolResult> => {
    try {
      return okResult(await spec.run(args));
    } catch (err) {
      return toolError(err, deps.logger, name);
    }
  };
  server.registerTool(
    name,
    {
      title: spec.title,
      description: spec.description,
      inputSchema: spec.input,
      outputSchema: spec.output,
      annotations: { title: spec.title, ...spec.annotations },
    },
    // The SDK infers the same argument type from `inputSchema`; its generic form is not provable here.
    handler as unknown as ToolCallback<In>,
  );
}
