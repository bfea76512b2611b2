/** AI summary tools: create_ai_summary, get_ai_summary, list_ai_summaries. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AISummaryCreateParams } from '../../client/index.js';
import type { McpDeps } from '../deps.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { SummaryOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

export function registerSummaryTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_ai_summary', {
    title: 'Summarize call',
    description:
      'Start an AI-written summary of a call, conference, transcription or recording. It is written asynchronously: the result has status progressing; ' +
      'call get_ai_summary later until status is done to read content. Use it when the user wants a summary of a past call.',
    input: {
      reference_type: z
        .enum(['call', 'conference', 'transcribe', 'recording'])
        .describe('What to summarize: call (most common), conference, transcribe or recording.'),
      reference_id: z.string().min(1).describe('Id (UUID) of that call / conference / transcription / recording, e.g. from list_calls.'),
      language: z.string().optional().describe('Language of the summary, BCP-47 like en-US (default en-US).'),
      on_end_flow_id: z.string().optional().describe('Optional flow id (UUID) to run when the summary is done (advanced).'),
    },
    output: { ai_summary: SummaryOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(args) {
      const body: AISummaryCreateParams = { reference_type: args.reference_type, reference_id: args.reference_id };
      if (args.language !== undefined) body.language = args.language;
      if (args.on_end_flow_id !== undefined) body.on_end_flow_id = args.on_end_flow_id;
      return { ai_summary: await client.aisummaries.create(body) };
    },
  });

  defineTool(server, deps, 'get_ai_summary', {
    title: 'Get call summary',
    description: 'Get one AI summary by id; content is filled in once status is done. Use it after create_ai_summary.',
    input: { id: z.string().min(1).describe('The AI summary id (UUID) from create_ai_summary or list_ai_summaries.') },
    output: { ai_summary: SummaryOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { ai_summary: await client.aisummaries.get(args.id) };
    },
  });

  defineTool(server, deps, 'list_ai_summaries', {
    title: 'List call summaries',
    description: 'List the AI summaries of the account, newest first, with paging. Use it to find an earlier summary.',
    input: { ...pagingInput },
    output: { ai_summaries: z.array(SummaryOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('ai_summaries', await client.aisummaries.list(pagingQuery(args)));
    },
  });
}
