/** Activeflow tools: list_activeflows, get_activeflow, stop_activeflow. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpDeps } from '../deps.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { ActiveflowOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

const activeflowId = (what: string) =>
  z.string().min(1).describe(`The activeflow id (UUID) ${what}: the activeflow_id of get_call, or an id from list_activeflows (not the flow id).`);

export function registerActiveflowTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'list_activeflows', {
    title: 'List activeflows',
    description:
      'List activeflows, newest first, with paging: each is one run of a flow (e.g. the flow of one call), with its status (running or ended) and the action running now. ' +
      'Use it to see what is running, e.g. to find a flow left running that should be stopped with stop_activeflow.',
    input: { ...pagingInput },
    output: { activeflows: z.array(ActiveflowOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('activeflows', await client.activeflows.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'get_activeflow', {
    title: 'Get activeflow',
    description:
      'Get one activeflow by id: its status, the action running now and the actions run so far (with their options filled in). ' +
      'Use it to follow where a call is in its flow (get_call gives the activeflow_id).',
    input: { id: activeflowId('to read') },
    output: { activeflow: ActiveflowOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { activeflow: await client.activeflows.get(args.id) };
    },
  });

  defineTool(server, deps, 'stop_activeflow', {
    title: 'Stop activeflow',
    description:
      'Stop a running flow now: no further actions run, and a call that runs it ends (like hangup_call). Stopping an ended activeflow changes nothing. ' +
      'Use it when the user wants a running flow (a call script, an AI conversation) stopped.',
    input: { id: activeflowId('to stop') },
    output: { activeflow: ActiveflowOutput.describe('The activeflow after the stop (status ended)') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(args) {
      return { activeflow: await client.activeflows.stop(args.id) };
    },
  });
}
