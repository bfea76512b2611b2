import { z } from 'zod';
import { E164_EXAMPLE } from './e164.js';
import { describeTool, e164, expecting, nonEmptyList, oneOf, optionalString, runLlmField, text } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

function telEndpoint(targetDescription: string, nameDescription: string, nameWhat: string) {
  return z.object(
    {
      type: oneOf(['tel']),
      target: e164(targetDescription),
      target_name: optionalString(nameWhat, nameDescription),
    },
    { error: expecting(`an object like {"type":"tel","target":"${E164_EXAMPLE}"}`) },
  );
}

export const sendMessageSchema = z.object({
  run_llm: runLlmField('Set true to confirm verbally after sending.'),
  source: telEndpoint('Source phone number (+E.164)', 'Display name (optional)', 'a display name (a string)').optional(),
  destinations: nonEmptyList(
    telEndpoint('Destination phone number (+E.164)', 'Recipient name (optional)', 'a recipient name (a string)'),
    `a list of recipients like [{"type":"tel","target":"${E164_EXAMPLE}"}]`,
  ),
  text: text('the SMS message content (a string)', 'SMS message content'),
});

export type SendMessageArgs = z.output<typeof sendMessageSchema>;

export const sendMessage: ToolDefinition<SendMessageArgs> = {
  name: 'send_message',
  description: describeTool({
    summary: 'Sends an SMS text message to a phone number.',
    hint:
      `Phone numbers in source.target and destinations[].target must be in E.164 format (e.g. ${E164_EXAMPLE}); ` +
      'normalize a local number like 555-1234 to E.164 (ask the caller for the country or area code when unknown). ' +
      'The source number must be a number owned by the VoIPBIN account.',
    use: [
      'the caller explicitly requests a text ("text me", "send me a text", "SMS me")',
      'the caller asks for information sent to their phone',
      'the caller provides a phone number for messaging',
    ],
    avoid: [
      'the caller did not say how to send the information: ask "Would you like that by email or text message?" first',
    ],
  }),
  schema: sendMessageSchema,
  parameters: toParameters(sendMessageSchema),
  defaultRunLlm: false,
};
