import { z } from 'zod';
import { describeTool, expecting, runLlmField, variableValue } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

const variableName = z
  .string({ error: expecting('a variable name (a string)') })
  .refine((k) => k.trim().length > 0, { message: 'variable names must not be empty' });

export const setVariablesSchema = z.object({
  run_llm: runLlmField('Set true to continue conversation after saving.'),
  variables: z
    .record(variableName, variableValue(), {
      error: expecting('an object of string values like {"customer_name":"John Smith"}'),
    })
    .describe('Key-value pairs to save'),
});

export type SetVariablesArgs = z.output<typeof setVariablesSchema>;

export const setVariables: ToolDefinition<SetVariablesArgs> = {
  name: 'set_variables',
  description: describeTool({
    summary: 'Saves key-value data to the flow context for later use by downstream actions.',
    hint:
      'Later flow actions read a variable as ${variable_name}. Names are case-sensitive; values are stored as strings. ' +
      'Variables last for the flow execution and are included in webhook events.',
    use: [
      'save information collected during the conversation (name, account number, preferences)',
      'record conclusions (appointment time, issue category, resolution)',
      'store data needed by subsequent flow actions',
    ],
    examples: [
      '"My name is John Smith" -> set_variables({"customer_name": "John Smith"})',
      '"3pm works for me" -> set_variables({"appointment_time": "15:00"})',
      'issue categorized as billing -> set_variables({"issue_category": "billing"})',
      'account number provided -> set_variables({"account_number": "12345"})',
    ],
  }),
  schema: setVariablesSchema,
  parameters: toParameters(setVariablesSchema),
  defaultRunLlm: false,
};
