import { z } from 'zod';
import { describeTool, runLlmField } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

export const getVariablesSchema = z.object({
  run_llm: runLlmField('Set true to respond using retrieved data.'),
});

export type GetVariablesArgs = z.output<typeof getVariablesSchema>;

export const getVariables: ToolDefinition<GetVariablesArgs> = {
  name: 'get_variables',
  description: describeTool({
    summary: 'Retrieves previously saved variables from the flow context.',
    use: [
      'you need context set earlier in the flow',
      'you need information from previous actions (confirmation number, customer info)',
      'the caller asks about something in the saved context',
      'before performing an action that requires previously collected data',
    ],
    examples: [
      'need the customer name from earlier -> get_variables',
      '"What was my confirmation?" -> get_variables',
      'before sending an SMS -> get_variables (to get the phone number)',
    ],
  }),
  schema: getVariablesSchema,
  parameters: toParameters(getVariablesSchema),
  defaultRunLlm: false,
};
