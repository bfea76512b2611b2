import { z } from 'zod';
import { describeTool } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

/** No arguments: nothing executes after this, the call ends. */
export const stopFlowSchema = z.object({});

export type StopFlowArgs = z.output<typeof stopFlowSchema>;

export const stopFlow: ToolDefinition<StopFlowArgs> = {
  name: 'stop_flow',
  description: describeTool({
    summary:
      'Immediately terminates the entire flow and the call (hard stop). Nothing executes after this.',
    use: [
      'the caller explicitly wants to end everything ("hang up", "end the call", "disconnect")',
      'a critical error requires full termination',
      'an emergency stop is needed',
    ],
    avoid: [
      'the caller just wants to end the AI conversation (use stop_service instead)',
      'the caller says a casual goodbye (use stop_service instead)',
      'there are more flow actions that should execute after the AI',
    ],
    examples: ['"Hang up now" -> stop_flow', '"End this call immediately" -> stop_flow', '"Terminate the call" -> stop_flow'],
  }),
  schema: stopFlowSchema,
  parameters: toParameters(stopFlowSchema),
  defaultRunLlm: false,
};
