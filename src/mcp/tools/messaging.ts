/** Messaging tools: send_message (SMS), send_email. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { EmailSendParams } from '../../client/index.js';
import { E164_EXAMPLE, normalizeE164 } from '../../../tools/e164.js';
import type { McpDeps } from '../deps.js';
import { ToolInputError } from '../errors.js';
import { EmailOutput, SmsOutput } from '../schemas.js';
import { defineTool } from '../tool.js';

function e164(value: string, field: string, nextStep: string): string {
  const n = normalizeE164(value);
  if (!n) throw new ToolInputError(field, `${JSON.stringify(value)} is not an E.164 phone number (like ${E164_EXAMPLE})`, { nextStep });
  return n;
}

export function registerMessagingTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'send_message', {
    title: 'Send SMS',
    description:
      'Send an SMS text message (chargeable per destination) from a number of this account. Use it when the user asks to text someone. ' +
      'The source must be one of the account\'s numbers: call list_numbers first if you do not know it.',
    input: {
      source: z.string().min(1).describe(`Sender: a phone number of this account (from list_numbers) in E.164, like ${E164_EXAMPLE}.`),
      destinations: z
        .array(z.string().min(1))
        .min(1)
        .max(100)
        .describe(`Recipients' phone numbers in E.164, like ${E164_EXAMPLE}.`),
      text: z.string().min(1).max(1600).describe('The message text (long texts are sent in several SMS parts).'),
    },
    output: { message: SmsOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(args) {
      const source = e164(args.source, 'source', 'Use a number of this account as source: call list_numbers and pick one.');
      const destinations = args.destinations.map((d, i) =>
        e164(d, `destinations[${i}]`, `Give destinations[${i}] as + country code and number, e.g. ${E164_EXAMPLE}; ask the user if the country is unclear.`),
      );
      const message = await client.messages.send(
        {
          source: { type: 'tel', target: source },
          destinations: destinations.map((target) => ({ type: 'tel', target })),
          text: args.text,
        },
        { maxRetries: 0 },
      );
      return { message };
    },
  });

  defineTool(server, deps, 'send_email', {
    title: 'Send email',
    description:
      'Send an email (chargeable per destination) from the account. Use it when the user asks to email someone, e.g. a call summary or follow-up.',
    input: {
      destinations: z.array(z.email()).min(1).max(100).describe('Recipient email addresses, e.g. ["ann@example.com"].'),
      subject: z.string().min(1).max(998).describe('Subject line.'),
      content: z.string().min(1).describe('Body of the email (plain text).'),
      attachment_recording_ids: z
        .array(z.string())
        .optional()
        .describe('Optional ids (UUID) of call recordings to attach.'),
    },
    output: { email: EmailOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(args) {
      const body: EmailSendParams = {
        destinations: args.destinations.map((target) => ({ type: 'email', target })),
        subject: args.subject,
        content: args.content,
      };
      if (args.attachment_recording_ids?.length) {
        body.attachments = args.attachment_recording_ids.map((reference_id) => ({ reference_type: 'recording', reference_id }));
      }
      return { email: await client.emails.send(body, { maxRetries: 0 }) };
    },
  });
}
