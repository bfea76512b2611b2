/** Call tools: create_call, list_calls, get_call, hangup_call. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AIManagerAIcall, CallCreateParams, CallManagerCall, CommonAddress, FlowManagerAction, VoipbinClient } from '../../client/index.js';
import { E164_EXAMPLE, normalizeE164 } from '../../../tools/e164.js';
import type { McpDeps } from '../deps.js';
import { ToolInputError } from '../errors.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { AI_ACTION_TYPES, CallOutput, GroupcallOutput, actionInput, toFlowActions } from '../schemas.js';
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
    if (!AI_ACTION_TYPES.has(a.type)) return;
    for (const key of ['ai_id', 'assistance_id'] as const) {
      const v = a.option?.[key];
      if (typeof v === 'string' && v !== '') ids.push({ id: v, field: `actions[${i}].option.${key}` });
    }
  });
  return ids;
}

/** Default and upper bound of create_call's wait for the AI call (the SDK client's request timeout is 60 s). */
export const DEFAULT_AICALL_WAIT_MS = 15_000;
export const MAX_AICALL_WAIT_MS = 55_000;
/** How often the call and its AI calls are read while waiting. */
const POLL_MS = 250;

/** What create_call learned about one call while waiting for its AI call. */
interface AicallWait {
  call: CallManagerCall;
  aicalls: AIManagerAIcall[];
  note?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The AI calls of `callId`, oldest first (filtered here too: VoIPBIN's spec has no reference_id filter). */
async function aicallsOf(client: VoipbinClient, callId: string): Promise<AIManagerAIcall[]> {
  const page = await client.aicalls.list({ reference_id: callId, page_size: 100 });
  return page.result.filter((a) => a.reference_id === callId && a.id).reverse();
}

/**
 * Follows a just-placed call until its AI call exists, the call ends, or `deadline`: an AI
 * call is created by the flow when the call is answered and reaches its ai_talk / ai action,
 * so POST /calls cannot return it. Never throws: the call is placed (and charged) already, so a
 * failure to follow it becomes a note, never an error that could make the model call again.
 */
async function waitForAicall(client: VoipbinClient, placed: CallManagerCall, deadline: number, waitMs: number): Promise<AicallWait> {
  const id = placed.id;
  if (!id) return { call: placed, aicalls: [], note: 'VoIPBIN returned a call without an id; call list_calls to find it.' };
  let call = placed;
  try {
    for (;;) {
      // The call first: an AI call is stored before its call can end, so "ended and no AI call" is final.
      call = await client.calls.get(id);
      const aicalls = await aicallsOf(client, id);
      // Read the call again: it was answered after the first read, so that row is stale.
      if (aicalls.length > 0) return { call: await client.calls.get(id).catch(() => call), aicalls };
      if (call.status === 'hangup') {
        return {
          call,
          aicalls,
          note: `Call ${id} ended (hangup_reason ${call.hangup_reason || 'unknown'}) before an AI call started: there is no AI call to wait for; get_call shows how it ended.`,
        };
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(POLL_MS, left));
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { call, aicalls: [], note: `Call ${id} was placed, but following it failed (${why}): call get_call / list_aicalls later.` };
  }
  const answered = call.status === 'progressing';
  return {
    call,
    aicalls: [],
    note: answered
      ? `Call ${id} was answered but has not reached its AI action within ${waitMs} ms: call list_aicalls later (the AI call's reference_id is the call id).`
      : `Call ${id} is ${call.status ? `still ${call.status}` : 'not answered yet'} after ${waitMs} ms: its AI call starts once it is answered; call get_call / list_aicalls later (the AI call's reference_id is the call id).`,
  };
}

export function registerCallTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_call', {
    title: 'Place outbound call',
    description:
      'Place an outbound phone call (chargeable; a real call rings the destination) that runs a flow: either inline actions, a stored flow_id, or the ai_id shortcut for a call handled by an AI voice agent. ' +
      'Use it when the user wants to call someone, e.g. to have an AI agent talk to them. The source must be a number of this account (see list_numbers). ' +
      'Give exactly one of actions, flow_id or ai_id. When the call runs an AI (ai_talk / ai action), the tool waits up to wait_for_aicall_ms for the call to be answered and returns ' +
      'the AI call id in aicalls (for get_aicall, get_aicall_messages, terminate_aicall); if the call is not answered in time, note says so: call get_call / list_aicalls later.',
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
      wait_for_aicall_ms: z
        .number()
        .int()
        .min(0)
        .max(MAX_AICALL_WAIT_MS)
        .optional()
        .describe(
          `Only for calls that run an AI: how long (ms) to wait for the call to be answered and its AI call to start, to return the AI call id (default ${DEFAULT_AICALL_WAIT_MS}, max ${MAX_AICALL_WAIT_MS}). 0 = return at once.`,
        ),
    },
    output: {
      calls: z.array(CallOutput).describe('One call per destination (as last seen, when the tool waited for the AI call)'),
      groupcalls: z.array(GroupcallOutput),
      aicalls: z
        .array(
          z.object({
            call_id: z.string().describe('the call id'),
            aicall_id: z.string().describe('its AI call id: pass it to get_aicall, get_aicall_messages or terminate_aicall'),
          }),
        )
        .optional()
        .describe('The AI calls started so far, for calls that run an AI'),
      note: z.string().optional().describe('Present when a call has no AI call yet: why (not answered yet, ended) and what to do'),
    },
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
        : args.actions
          ? toFlowActions(args.actions)
          : undefined;
      const body: CallCreateParams = {
        source: normalizeAddress(args.source, 'source'),
        destinations: args.destinations.map((d, i) => normalizeAddress(d, `destinations[${i}]`)),
      };
      if (actions) body.actions = actions;
      if (args.flow_id) body.flow_id = args.flow_id;
      if (args.variables) body.variables = args.variables;
      // A wrong AI id would only show up once the call is answered: check it before paying for a call.
      for (const ref of referencedAiIds(actions ?? [])) await client.ais.get(ref.id);
      const waitMs = args.wait_for_aicall_ms ?? DEFAULT_AICALL_WAIT_MS;
      // A stored flow is read (before the call is placed) only to know whether to wait for an AI call.
      const flowActions = actions ?? (waitMs > 0 && args.flow_id ? ((await client.flows.get(args.flow_id)).actions ?? []) : []);
      const runsAi = flowActions.some((a) => AI_ACTION_TYPES.has(a.type));
      // maxRetries 0: a retried POST /calls could ring someone twice.
      const placed = await client.calls.create(body, { maxRetries: 0 });
      if (!runsAi) return placed;
      if (waitMs === 0) {
        return {
          ...placed,
          aicalls: [],
          note: "Not waited for (wait_for_aicall_ms 0): an AI call starts once the call is answered; call list_aicalls later (the AI call's reference_id is the call id).",
        };
      }
      const deadline = Date.now() + waitMs;
      const waits = await Promise.all(placed.calls.map((c) => waitForAicall(client, c, deadline, waitMs)));
      const notes = waits.flatMap((w) => (w.note ? [w.note] : []));
      return {
        calls: waits.map((w) => w.call),
        groupcalls: placed.groupcalls,
        aicalls: waits.flatMap((w) => w.aicalls.map((a) => ({ call_id: w.call.id ?? '', aicall_id: a.id! }))),
        ...(notes.length ? { note: notes.join(' ') } : {}),
      };
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
