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
      'Start an AI-written summary of a call, conference, transcription or recording. Use it when the user wants a summary of a past call. ' +
      'It is written asynchronously: the result has status progressing; call get_ai_summary later. It ends either done (the text is in content) or failed ' +
      '(failure_reason says why; do not keep polling a failed summary). If failure_reason says no LLM is configured for summaries, tell the user to set ' +
      'OPENAI_API_KEY (or VOIPBIN_AI_SUMMARY_MODEL and its provider key) for the server and restart it; it cannot be fixed by retrying.',
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
    description:
      'Get one AI summary by id. Use it after create_ai_summary: status progressing means it is still being written (ask again a little later), ' +
      'done means content holds the summary, failed means it will not be written and failure_reason says why.',
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
