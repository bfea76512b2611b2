import { z } from 'zod';
import { describeTool } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

/** No arguments, not even run_llm: nothing is said after the AI conversation has ended. */
export const stopServiceSchema = z.object({});

export type StopServiceArgs = z.output<typeof stopServiceSchema>;

export const stopService: ToolDefinition<StopServiceArgs> = {
  name: 'stop_service',
  description: describeTool({
    summary:
      'Ends the AI conversation (soft stop) and proceeds to the next action in the flow; the call continues.',
    use: [
      'the caller says goodbye ("bye", "goodbye", "thanks, that\'s all")',
      'the caller indicates they are done ("I\'m all set", "that\'s everything")',
      'the AI has successfully completed its purpose (appointment booked, issue resolved)',
      'a natural conversation conclusion',
    ],
    avoid: [
      'the caller is frustrated but still needs help (de-escalate instead)',
      'the conversation has unresolved issues',
      'the caller wants to end the entire call (use stop_flow instead)',
    ],
    examples: [
      '"Thanks, bye!" -> stop_service (natural end)',
      '"I\'m done here" -> stop_service (completion signal)',
      'after booking an appointment -> stop_service (task complete)',
      '"Great, that\'s all I needed" -> stop_service',
    ],
  }),
  schema: stopServiceSchema,
  parameters: toParameters(stopServiceSchema),
  defaultRunLlm: false,
};
