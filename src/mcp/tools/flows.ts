/** Flow tools: create_flow, list_flows, get_flow, update_flow, delete_flow. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { FlowCreateParams, FlowManagerAction, FlowManagerFlow } from '../../client/index.js';
import type { McpDeps } from '../deps.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { FlowOutput, actionInput, toFlowActions } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

const flowId = (what: string) => z.string().min(1).describe(`The flow id (UUID) ${what}, from create_flow or list_flows.`);

const actionsInput = z
  .array(actionInput)
  .min(1)
  .max(200)
  .describe(
    'The actions, run in order when the flow starts, e.g. [{"type":"answer"},{"type":"talk","option":{"text":"Hello","language":"en-US"}},{"type":"ai_talk","option":{"ai_id":"..."}},{"type":"hangup"}].',
  );

/** Stored actions sent back unchanged (ids kept, so goto/branch targets stay valid). */
function storedActions(flow: FlowManagerFlow): FlowManagerAction[] {
  return (flow.actions ?? []).map((a) => {
    const action: FlowManagerAction = { type: a.type, option: a.option ?? {} };
    if (a.id) action.id = a.id;
    if (a.next_id) action.next_id = a.next_id;
    return action;
  });
}

export function registerFlowTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_flow', {
    title: 'Create flow',
    description:
      'Store a reusable flow: a named list of actions (answer, talk, ai_talk, sleep, hangup, ...). Use it when the same call script is needed more than once: ' +
      'pass its id as flow_id of create_call, or as call_flow_id of create_number so incoming calls to that number run it. ' +
      'For a one-off call, inline actions on create_call are simpler. Delete flows you no longer need with delete_flow.',
    input: {
      name: z.string().min(1).max(255).describe('A short name to recognise the flow in list_flows, e.g. "Dental reminder".'),
      detail: z.string().max(2000).optional().describe('A longer description (optional).'),
      actions: actionsInput,
      on_complete_flow_id: z.string().optional().describe('Id (UUID) of another flow to run when this one completes (advanced, optional).'),
    },
    output: { flow: FlowOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(args) {
      const body: FlowCreateParams = { name: args.name, actions: toFlowActions(args.actions) };
      if (args.detail !== undefined) body.detail = args.detail;
      if (args.on_complete_flow_id !== undefined) body.on_complete_flow_id = args.on_complete_flow_id;
      return { flow: await client.flows.create(body) };
    },
  });

  defineTool(server, deps, 'list_flows', {
    title: 'List flows',
    description:
      'List the stored flows of the account, newest first, with paging. Use it to find a flow id (for create_call flow_id, create_number call_flow_id, update_flow or delete_flow). ' +
      'The flows of calls placed with inline actions are listed too.',
    input: { ...pagingInput },
    output: { flows: z.array(FlowOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('flows', await client.flows.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'get_flow', {
    title: 'Get flow',
    description: 'Get one stored flow by id with all its actions. Use it to review a flow before update_flow, or to see what a call ran (the flow_id of get_call).',
    input: { id: flowId('to read') },
    output: { flow: FlowOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { flow: await client.flows.get(args.id) };
    },
  });

  defineTool(server, deps, 'update_flow', {
    title: 'Update flow',
    description:
      'Change a stored flow: its name, detail and/or its whole list of actions (actions replaces the list; omitted fields keep their values). ' +
      'Calls that start afterwards run the new version; running ones (list_activeflows) are not changed.',
    input: {
      id: flowId('to change'),
      name: z.string().min(1).max(255).optional().describe('New name (omit to keep).'),
      detail: z.string().max(2000).optional().describe('New description (omit to keep).'),
      actions: actionsInput.optional().describe('The new complete list of actions, replacing the old one (omit to keep). get_flow shows the current list.'),
      on_complete_flow_id: z.string().optional().describe('New flow (UUID) to run on completion, "" for none (omit to keep).'),
    },
    output: { flow: FlowOutput },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(args) {
      // PUT replaces the flow: the stored values fill in what was omitted.
      const current = await client.flows.get(args.id);
      const body: FlowCreateParams = {
        name: args.name ?? current.name ?? '',
        detail: args.detail ?? current.detail ?? '',
        actions: args.actions ? toFlowActions(args.actions) : storedActions(current),
      };
      const onComplete = args.on_complete_flow_id ?? current.on_complete_flow_id;
      if (onComplete !== undefined) body.on_complete_flow_id = onComplete;
      return { flow: await client.flows.update(args.id, body) };
    },
  });

  defineTool(server, deps, 'delete_flow', {
    title: 'Delete flow',
    description:
      'Delete a stored flow. Use it to clean up flows made with create_flow that are no longer needed. Calls already running it go on; ' +
      'a number whose call_flow_id is this flow (list_numbers shows it) has nothing to run afterwards, so check the numbers first.',
    input: { id: flowId('to delete') },
    output: { flow: FlowOutput.describe('The deleted flow') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(args) {
      return { flow: await client.flows.delete(args.id) };
    },
  });
}
