import { z } from 'zod';
import { describeTool, expecting, isEmail, isUuid, nonEmptyList, oneOf, optionalString, runLlmField, text } from './fields.js';
import { toParameters } from './json-schema.js';
import type { ToolDefinition } from './types.js';

const emailDestination = z.object(
  {
    type: oneOf(['email']),
    target: z
      .string({ error: expecting('an email address like jane@example.com') })
      .describe('Email address')
      .transform((s) => s.trim())
      .refine(isEmail, { message: 'expected an email address like jane@example.com' }),
    target_name: optionalString('a recipient name (a string)', 'Recipient name (optional)'),
  },
  { error: expecting('an object like {"type":"email","target":"jane@example.com"}') },
);

/** The documented item has no required fields; a reference_id is checked because nothing can be attached without one. */
const attachment = z
  .object(
    {
      reference_type: oneOf(['recording']).optional(),
      reference_id: z
        .string({ error: expecting('the UUID of a recording (a string)') })
        .describe('UUID of the attachment')
        .optional(),
    },
    { error: expecting('an object like {"reference_type":"recording","reference_id":"<uuid>"}') },
  )
  .superRefine((a, ctx) => {
    if (a.reference_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['reference_id'], message: 'required, the UUID of a recording' });
    } else if (!isUuid(a.reference_id.trim())) {
      ctx.addIssue({
        code: 'custom',
        path: ['reference_id'],
        message: `expected the UUID of a recording, got ${JSON.stringify(a.reference_id)}`,
      });
    }
  })
  .transform((a) => ({
    reference_type: a.reference_type ?? ('recording' as const),
    reference_id: (a.reference_id ?? '').trim().toLowerCase(),
  }));

export const sendEmailSchema = z.object({
  run_llm: runLlmField('Set true to confirm verbally after sending.'),
  destinations: nonEmptyList(emailDestination, 'a list of recipients like [{"type":"email","target":"jane@example.com"}]'),
  subject: text('the email subject line (a string)', 'Email subject line'),
  content: text('the email body (a string)', 'Email body content'),
  attachments: z
    .array(attachment, { error: expecting('a list of attachments like [{"reference_type":"recording","reference_id":"<uuid>"}]') })
    .optional(),
});

export type SendEmailArgs = z.output<typeof sendEmailSchema>;

export const sendEmail: ToolDefinition<SendEmailArgs> = {
  name: 'send_email',
  description: describeTool({
    summary: 'Sends an email to one or more email addresses.',
    use: [
      'the caller explicitly requests email ("email me", "send me an email")',
      'the caller asks for documents to be emailed',
      'the caller provides an email address for receiving information',
    ],
    avoid: [
      'the caller did not say how to send the information: ask "Would you like that by email or text message?" first',
    ],
  }),
  schema: sendEmailSchema,
  parameters: toParameters(sendEmailSchema),
  defaultRunLlm: false,
};
