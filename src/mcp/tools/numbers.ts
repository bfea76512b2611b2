/** Number tools: list_numbers. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpDeps } from '../deps.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { NumberOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

export function registerNumberTools(server: McpServer, deps: McpDeps): void {
  defineTool(server, deps, 'list_numbers', {
    title: 'List phone numbers',
    description:
      "List the phone numbers of the account, newest first, with paging. Use it before create_call or send_message to pick the source number (the account's own number).",
    input: { ...pagingInput },
    output: { numbers: z.array(NumberOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('numbers', await deps.client.numbers.list(pagingQuery(args)));
    },
  });
}
