/** Call tools: create_call, list_calls, get_call, hangup_call. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallCreateParams, CommonAddress, FlowManagerAction } from '../../client/index.js';
import { E164_EXAMPLE, normalizeE164 } from '../../../tools/e164.js';
import type { McpDeps } from '../deps.js';
import { ToolInputError } from '../errors.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { CallOutput, GroupcallOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

const ADDRESS_TYPES = ['tel', 'sip', 'extension', 'agent', 'conference', 'line', 'web_session'] as const;

const addressInput = z.object({
  type: z
    .enum(ADDRESS_TYPES)
    .default('tel')
    .describe('Kind of address: tel (phone number, the default), sip (SIP URI), extension, agent, conference, line, web_session.'),
  target: z.string().min(1).describe(`The address: an E.164 phone number like ${E164_EXAMPLE} for tel, a SIP URI for sip, an id otherwise.`),
  target_name: z.string().optional().describe('Display name shown with the address (optional).'),
});

const actionInput = z.object({
  type: z
    .string()
    .min(1)
    .describe(
      'Flow action type, e.g. answer, talk, ai_talk (real-time AI conversation, interruptible), ai (simple request-response AI), play, sleep, hangup, connect, transcribe_start, ai_summary.',
    ),
  option: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'Options of the action. ai_talk / ai: {"ai_id": "<id from create_ai or list_ais>"} to use a stored AI, or inline {"initial_prompt": "...", "language": "en-US", "voice_type": "female"}. ' +
        'talk: {"text": "...", "language": "en-US"}. sleep: {"duration": 5000} (ms).',
    ),
  id: z.string().optional().describe('Action id (UUID), only needed as a goto/branch target.'),
  next_id: z.string().optional().describe('Id of the action to run next instead of the following one (advanced).'),
});

/** The address with tel numbers normalized to E.164, or a ToolInputError naming the field. */
function normalizeAddress(a: z.infer<typeof addressInput>, field: string): CommonAddress {
  const out: CommonAddress = { type: a.type, target: a.target };
  if (a.target_name !== undefined) out.target_name = a.target_name;
  if (a.type === 'tel') {
    const n = normalizeE164(a.target);
    if (!n) {
      throw new ToolInputError(`${field}.target`, `${JSON.stringify(a.target)} is not an E.164 phone number (like ${E164_EXAMPLE})`, {
        nextStep: `Give ${field}.target as + country code and number, e.g. ${E164_EXAMPLE}; ask the user for the country if it is unclear.`,
      });
    }
    out.target = n;
  }
  return out;
}

/** AI ids referenced by ai / ai_talk actions (checked before a chargeable call is placed). */
function referencedAiIds(actions: FlowManagerAction[]): Array<{ id: string; field: string }> {
  const ids: Array<{ id: string; field: string }> = [];
  actions.forEach((a, i) => {
    if (a.type !== ('ai' as string) && a.type !== 'ai_talk') return;
    for (const key of ['ai_id', 'assistance_id'] as const) {
      const v = a.option?.[key];
      if (typeof v === 'string' && v !== '') ids.push({ id: v, field: `actions[${i}].option.${key}` });
    }
  });
  return ids;
}

export function registerCallTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_call', {
    title: 'Place outbound call',
    description:
      'Place an outbound phone call (chargeable; a real call rings the destination) that runs a flow: either inline actions, a stored flow_id, or the ai_id shortcut for a call handled by an AI voice agent. ' +
      'Use it when the user wants to call someone, e.g. to have an AI agent talk to them. The source must be a number of this account (see list_numbers). ' +
      'Give exactly one of actions, flow_id or ai_id.',
    input: {
      source: addressInput.describe('Caller id: for phone calls a number of this account (list_numbers) in E.164.'),
      destinations: z.array(addressInput).min(1).max(100).describe('Who to call; one call is placed per destination.'),
      actions: z
        .array(actionInput)
        .min(1)
        .optional()
        .describe('Inline flow the call runs when answered, in order, e.g. [{"type":"ai_talk","option":{"ai_id":"..."}}].'),
      flow_id: z.string().optional().describe('Id (UUID) of a stored flow to run instead of inline actions.'),
      ai_id: z
        .string()
        .optional()
        .describe('Shortcut: the call runs one ai_talk action with this AI (id from create_ai or list_ais). Same as actions [{"type":"ai_talk","option":{"ai_id":...}}].'),
      variables: z
        .record(z.string(), z.string())
        .optional()
        .describe('Flow variables (string values) the flow and the AI can read, e.g. {"customer_name": "Ann"}.'),
    },
    output: { calls: z.array(CallOutput).describe('One call per destination'), groupcalls: z.array(GroupcallOutput) },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(args) {
      const given = [args.actions ? 'actions' : '', args.flow_id ? 'flow_id' : '', args.ai_id ? 'ai_id' : ''].filter(Boolean);
      if (given.length !== 1) {
        throw new ToolInputError(
          given.length === 0 ? 'actions' : given.join(', '),
          given.length === 0 ? 'nothing for the call to do' : `give only one of actions, flow_id and ai_id (got ${given.join(' and ')})`,
          { nextStep: 'Call again with exactly one of: actions (inline flow), flow_id (stored flow) or ai_id (talk with a stored AI).' },
        );
      }
      const actions: FlowManagerAction[] | undefined = args.ai_id
        ? [{ type: 'ai_talk', option: { ai_id: args.ai_id } }]
        : args.actions?.map((a) => {
            const action = { type: a.type, option: a.option ?? {} } as FlowManagerAction;
            if (a.id !== undefined) action.id = a.id;
            if (a.next_id !== undefined) action.next_id = a.next_id;
            return action;
          });
      const body: CallCreateParams = {
        source: normalizeAddress(args.source, 'source'),
        destinations: args.destinations.map((d, i) => normalizeAddress(d, `destinations[${i}]`)),
      };
      if (actions) body.actions = actions;
      if (args.flow_id) body.flow_id = args.flow_id;
      if (args.variables) body.variables = args.variables;
      // A wrong AI id would only show up once the call is answered: check it before paying for a call.
      for (const ref of referencedAiIds(actions ?? [])) await client.ais.get(ref.id);
      // maxRetries 0: a retried POST /calls could ring someone twice.
      return client.calls.create(body, { maxRetries: 0 });
    },
  });

  defineTool(server, deps, 'list_calls', {
    title: 'List calls',
    description: 'List the calls of the account (incoming and outgoing), newest first, with paging. Use it to find a call id or to see recent call activity.',
    input: { ...pagingInput },
    output: { calls: z.array(CallOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('calls', await client.calls.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'get_call', {
    title: 'Get call',
    description: 'Get one call by id: its status (dialing, ringing, progressing, hangup), parties, flow and hangup reason. Use it to follow a call placed with create_call.',
    input: { id: z.string().min(1).describe('The call id (UUID) from create_call or list_calls.') },
    output: { call: CallOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { call: await client.calls.get(args.id) };
    },
  });

  defineTool(server, deps, 'hangup_call', {
    title: 'Hang up call',
    description: 'End a live call now (both parties are disconnected). Use it only when the user asks to end a call that is still in progress.',
    input: { id: z.string().min(1).describe('The call id (UUID) of a live call, from create_call or list_calls.') },
    output: { call: CallOutput.describe('The call after hangup') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(args) {
      return { call: await client.calls.hangup(args.id) };
    },
  });
}
