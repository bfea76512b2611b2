/** Number tools: create_number, list_numbers, update_number, delete_number. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { NumberCreateParams, NumberUpdateParams } from '../../client/index.js';
import { E164_EXAMPLE, normalizeE164 } from '../../../tools/e164.js';
import type { McpDeps } from '../deps.js';
import { ToolInputError } from '../errors.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { NumberOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

export function registerNumberTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_number', {
    title: 'Add phone number',
    description:
      'Add a phone number to the account (on api.voipbin.net this buys the number: chargeable, monthly). Use it when the user wants a new number to call from, ' +
      'or a number whose incoming calls run a flow (call_flow_id from create_flow). Remove it with delete_number when it is no longer needed.',
    input: {
      number: z.string().min(1).describe(`The phone number in E.164, like ${E164_EXAMPLE}.`),
      name: z.string().max(255).optional().describe('A short label, e.g. "support line" (optional).'),
      detail: z.string().max(2000).optional().describe('A longer description (optional).'),
      call_flow_id: z
        .string()
        .optional()
        .describe('Id (UUID) of a flow (create_flow / list_flows) that incoming calls to this number run, e.g. one with an ai_talk action (optional).'),
      message_flow_id: z.string().optional().describe('Id (UUID) of a flow that incoming SMS to this number run (optional).'),
    },
    output: { number: NumberOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(args) {
      const number = normalizeE164(args.number);
      if (!number) {
        throw new ToolInputError('number', `${JSON.stringify(args.number)} is not an E.164 phone number (like ${E164_EXAMPLE})`, {
          nextStep: `Give number as + country code and number, e.g. ${E164_EXAMPLE}.`,
        });
      }
      const body: NumberCreateParams = { number };
      if (args.name !== undefined) body.name = args.name;
      if (args.detail !== undefined) body.detail = args.detail;
      if (args.call_flow_id !== undefined) body.call_flow_id = args.call_flow_id;
      if (args.message_flow_id !== undefined) body.message_flow_id = args.message_flow_id;
      // maxRetries 0: a retried purchase could buy twice.
      return { number: await client.numbers.create(body, { maxRetries: 0 }) };
    },
  });

  defineTool(server, deps, 'list_numbers', {
    title: 'List phone numbers',
    description:
      "List the phone numbers of the account, newest first, with paging. Use it before create_call or send_message to pick the source number (the account's own number).",
    input: { ...pagingInput },
    output: { numbers: z.array(NumberOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('numbers', await client.numbers.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'update_number', {
    title: 'Change phone number',
    description:
      'Change what a number of the account does: the flow its incoming calls run (call_flow_id, e.g. a new flow with an ai_talk action from create_flow), ' +
      'the flow its incoming SMS run, its name or detail; fields you omit keep their values. The phone number itself cannot change: use create_number and delete_number for that.',
    input: {
      id: z.string().min(1).describe('The number id (UUID) from list_numbers or create_number (not the phone number itself).'),
      call_flow_id: z.string().optional().describe('Id (UUID) of the flow incoming calls run; "" to clear it.'),
      message_flow_id: z.string().optional().describe('Id (UUID) of the flow incoming SMS run; "" to clear it.'),
      name: z.string().max(255).optional().describe('A new short label.'),
      detail: z.string().max(2000).optional().describe('A new description.'),
    },
    output: { number: NumberOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run(args) {
      rejectPhoneNumberAsId(args.id, 'update_number');
      const body: NumberUpdateParams = {};
      for (const k of ['call_flow_id', 'message_flow_id', 'name', 'detail'] as const) if (args[k] !== undefined) body[k] = args[k];
      if (Object.keys(body).length === 0) {
        throw new ToolInputError('call_flow_id', 'nothing to change', {
          nextStep: 'Pass at least one of call_flow_id, message_flow_id, name or detail.',
        });
      }
      return { number: await client.numbers.update(args.id, body) };
    },
  });

  defineTool(server, deps, 'delete_number', {
    title: 'Remove phone number',
    description:
      'Remove a phone number from the account (on api.voipbin.net it is released and cannot be used as a source any more). ' +
      'Use it only when the user wants the number gone, e.g. to clean up a number made with create_number.',
    input: { id: z.string().min(1).describe('The number id (UUID) from list_numbers or create_number (not the phone number itself).') },
    output: { number: NumberOutput.describe('The removed number (status deleted)') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(args) {
      rejectPhoneNumberAsId(args.id, 'delete_number');
      return { number: await client.numbers.delete(args.id) };
    },
  });
}

/** A phone number given where a number's id belongs: refused before the API, pointing at list_numbers. */
function rejectPhoneNumberAsId(id: string, tool: string): void {
  if (/^\+?[\d\s().-]{7,}$/.test(id)) {
    throw new ToolInputError('id', `${JSON.stringify(id)} is a phone number, not a number id`, {
      nextStep: `Call list_numbers, find the entry whose number is this one, and pass its id (a UUID) to ${tool}.`,
    });
  }
}
