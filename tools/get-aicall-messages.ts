import { z } from 'zod';
import { describeTool, runLlmField, uuid } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

export const getAicallMessagesSchema = z.object({
  run_llm: runLlmField('Set true to respond based on retrieved messages.'),
  aicall_id: uuid('the id of the AI call', 'UUID of the AI call to retrieve messages from'),
});

export type GetAicallMessagesArgs = z.output<typeof getAicallMessagesSchema>;

export const getAicallMessages: ToolDefinition<GetAicallMessagesArgs> = {
  name: 'get_aicall_messages',
  description: describeTool({
    summary: 'Retrieves the message history of a specific AI call session.',
    hint:
      'aicall_id must reference a completed or active AI call: the ${voipbin.aicall.id} flow variable of a call, or a previous call\'s webhook event data. ' +
      'Most useful in multi-call workflows where you need context from a prior conversation.',
    use: [
      'you need the message history of a different AI call (not the current conversation)',
      'building summaries of past conversations',
      'the caller asks about previous interactions ("what did we discuss last time?")',
      'referencing a specific past call by id',
    ],
    avoid: [
      'the current conversation history is sufficient (it is already in your context)',
      'you need saved variables, not messages (use get_variables instead)',
      'there is no specific aicall_id to query',
    ],
  }),
  schema: getAicallMessagesSchema,
  parameters: toParameters(getAicallMessagesSchema),
  defaultRunLlm: false,
};
