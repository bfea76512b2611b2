import { z } from 'zod';
import { E164_EXAMPLE, normalizeE164 } from './e164.js';
import { describeTool, expecting, nonEmptyList, optionalString, runLlmField, text } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

export const CONNECT_SOURCE_TYPES = ['agent', 'conference', 'extension', 'sip', 'tel'] as const;
export const CONNECT_DESTINATION_TYPES = ['agent', 'conference', 'extension', 'line', 'sip', 'tel'] as const;

/**
 * An endpoint of connect_call. `type` is a plain string in the documented schema (its allowed values
 * are only in the description), so the list is checked by a refinement; a `tel` target must be an
 * E.164 number and is normalized (spaces, dashes, '00' prefix).
 */
function endpoint(types: readonly string[], typeDescription: string, targetDescription: string) {
  const typeList = types.join(', ');
  return z
    .object(
      {
        type: z.string({ error: expecting(`one of ${typeList}`) }).describe(typeDescription),
        target: text('the address of the endpoint (a string)', targetDescription),
        target_name: optionalString('a display name (a string)', 'Display name (optional)'),
      },
      { error: expecting('an object like {"type":"extension","target":"sales"}') },
    )
    .superRefine((ep, ctx) => {
      if (!types.includes(ep.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['type'],
          message: `expected one of ${typeList}, got ${JSON.stringify(ep.type)}`,
        });
      } else if (ep.type === 'tel' && normalizeE164(ep.target) === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['target'],
          message: `type "tel" needs an E.164 phone number like ${E164_EXAMPLE}, got ${JSON.stringify(ep.target)}`,
        });
      }
    })
    .transform((ep) => (ep.type === 'tel' ? { ...ep, target: normalizeE164(ep.target) ?? ep.target } : ep));
}

export const connectCallSchema = z.object({
  run_llm: runLlmField('Set true to speak after connecting. Set false for silent transfer.'),
  source: endpoint(CONNECT_SOURCE_TYPES, 'agent, conference, extension, sip, or tel', 'Source address/identifier').optional(),
  destinations: nonEmptyList(
    endpoint(CONNECT_DESTINATION_TYPES, 'agent, conference, extension, line, sip, tel', 'Destination address'),
    'a list of destinations like [{"type":"extension","target":"sales"}]',
  ),
});

export type ConnectCallArgs = z.output<typeof connectCallSchema>;

export const connectCall: ToolDefinition<ConnectCallArgs> = {
  name: 'connect_call',
  description: describeTool({
    summary: 'Connects or transfers the caller to another endpoint (person, department, or phone number).',
    hint:
      'Creates a new outgoing call and bridges it with the current call. source.type determines the caller ID shown to the destination. ' +
      `For PSTN transfers use type "tel" with an E.164 phone number (e.g. ${E164_EXAMPLE}); for internal transfers use type "extension" with the extension name.`,
    use: [
      'the caller requests a transfer ("transfer me to...", "connect me to...")',
      'the caller wants to speak to a person ("let me talk to a human", "I need an agent")',
      'the caller requests a specific department ("sales", "support", "billing")',
      'the caller provides a phone number ("call +1234567890")',
    ],
    examples: [
      '"Transfer me to sales" -> type="extension", target="sales"',
      '"Call my wife at 555-1234" -> type="tel", target="+15551234"',
      '"I need a human agent" -> type="agent", target=appropriate agent',
    ],
  }),
  schema: connectCallSchema,
  parameters: toParameters(connectCallSchema),
  defaultRunLlm: false,
};
