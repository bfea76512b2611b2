/** AI call tools: list_aicalls, get_aicall, terminate_aicall, get_aicall_messages. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpDeps } from '../deps.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { AicallOutput, AimessageOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

const aicallId = z.string().min(1).describe('The aicall id (UUID) from list_aicalls (not the call id).');

export function registerAicallTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'list_aicalls', {
    title: 'List AI calls',
    description:
      'List AI sessions (aicalls), newest first, with paging. An aicall is the part of a call handled by an AI agent; its reference_id is the call id. ' +
      'Use it to find the aicall of a call, then get_aicall_messages for the transcript.',
    input: { ...pagingInput },
    output: { aicalls: z.array(AicallOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('aicalls', await client.aicalls.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'get_aicall', {
    title: 'Get AI call',
    description: 'Get one AI session by id: its status, the AI it uses and the call it belongs to.',
    input: { id: aicallId },
    output: { aicall: AicallOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { aicall: await client.aicalls.get(args.id) };
    },
  });

  defineTool(server, deps, 'terminate_aicall', {
    title: 'Stop AI call',
    description:
      'End a running AI session: the AI stops talking; the call itself continues with the next flow action (use hangup_call to end the call). Use it when the user wants to stop an agent mid-call.',
    input: { id: aicallId },
    output: { aicall: AicallOutput.describe('The aicall after termination') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(args) {
      return { aicall: await client.aicalls.terminate(args.id) };
    },
  });

  defineTool(server, deps, 'get_aicall_messages', {
    title: 'Get AI call transcript',
    description:
      'Get the messages of an AI session: what the caller said (role user), what the AI said (assistant) and its tool calls, newest first, with paging. ' +
      'Use it to review or summarize a conversation. The whole transcript, oldest first, is also the resource voipbin://aicalls/{id}/messages.',
    input: { aicall_id: aicallId, ...pagingInput },
    output: { messages: z.array(AimessageOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('messages', await client.aimessages.list(args.aicall_id, pagingQuery(args)));
    },
  });
}
