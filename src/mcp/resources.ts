/**
 * Resources: AI call transcripts (`voipbin://aicalls/{id}/messages`) and AI configurations
 * (`voipbin://ais/{id}`), read through the one REST client and scrubbed like tool results.
 */
import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ListResourcesResult, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import type { AIManagerMessage } from '../client/index.js';
import type { McpDeps } from './deps.js';
import { ToolInputError, resourceError } from './errors.js';
import { scrub } from './result.js';

/** Upper bound of messages read for one transcript (a very long call is cut, newest kept). */
export const MAX_TRANSCRIPT_MESSAGES = 5000;
/** How many recent aicalls the transcript template lists. */
const LISTED_AICALLS = 20;
/** How many AIs the AI template lists. */
const LISTED_AIS = 100;

const ROLE_LABEL: Readonly<Record<string, string>> = {
  user: 'Caller',
  assistant: 'AI',
  system: 'System',
  tool: 'Tool result',
  function: 'Function result',
  notification: 'Notification',
};

/** A transcript as readable text, one line per message, oldest first. */
export function formatTranscript(aicallId: string, messages: AIManagerMessage[], truncated: boolean): string {
  const lines = [
    `Transcript of AI call ${aicallId}: ${messages.length} message(s), oldest first${truncated ? ` (only the last ${MAX_TRANSCRIPT_MESSAGES})` : ''}.`,
    '',
  ];
  for (const m of messages) {
    const who = ROLE_LABEL[m.role ?? ''] ?? (m.role || 'Unknown');
    const at = m.tm_create ? `[${m.tm_create}] ` : '';
    const text = (m.content ?? '').trim();
    if (text) lines.push(`${at}${who}${m.tool_call_id ? ` (${m.tool_call_id})` : ''}: ${text}`);
    for (const tc of m.tool_calls ?? []) {
      lines.push(`${at}${who} calls tool ${tc.function?.name ?? '?'}(${tc.function?.arguments ?? ''})${tc.id ? ` [${tc.id}]` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** All messages of an aicall, oldest first. */
export async function readTranscript(deps: McpDeps, aicallId: string): Promise<{ messages: AIManagerMessage[]; truncated: boolean }> {
  const newestFirst: AIManagerMessage[] = [];
  let truncated = false;
  for await (const m of await deps.client.aimessages.list(aicallId, { page_size: 100 })) {
    if (newestFirst.length >= MAX_TRANSCRIPT_MESSAGES) {
      truncated = true;
      break;
    }
    newestFirst.push(m);
  }
  const messages = newestFirst.reverse();
  // The API pages newest first; make the order explicit in case of equal-page shuffles.
  messages.sort((a, b) => (a.tm_create ?? '').localeCompare(b.tm_create ?? ''));
  return { messages, truncated };
}

function idVariable(value: string | string[] | undefined, name: string): string {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) throw new ToolInputError(name, 'is missing from the resource URI');
  return decodeURIComponent(v);
}

export function registerResources(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  server.registerResource(
    'aicall_transcript',
    new ResourceTemplate('voipbin://aicalls/{id}/messages', {
      list: async (): Promise<ListResourcesResult> => {
        try {
          const page = await client.aicalls.list({ page_size: LISTED_AICALLS });
          return {
            resources: page.result
              .filter((a) => a.id)
              .map((a) => ({
                uri: `voipbin://aicalls/${a.id}/messages`,
                name: `aicall ${a.id} transcript`,
                title: `Transcript of AI call ${a.id}${a.tm_create ? ` (${a.tm_create})` : ''}`,
                description: `status ${a.status ?? '?'}, ${a.reference_type ?? ''} ${a.reference_id ?? ''}`.trim(),
                mimeType: 'text/plain',
              })),
          };
        } catch (err) {
          throw resourceError(err);
        }
      },
    }),
    {
      title: 'AI call transcript',
      description:
        'All messages of an AI call (caller, AI, tool calls and results), oldest first: first as readable text, then as JSON.',
      mimeType: 'text/plain',
    },
    async (uri, variables): Promise<ReadResourceResult> => {
      try {
        const id = idVariable(variables.id, 'id');
        const { messages, truncated } = await readTranscript(deps, id);
        const safe = scrub(messages);
        return {
          contents: [
            { uri: uri.href, mimeType: 'text/plain', text: formatTranscript(id, safe, truncated) },
            { uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ aicall_id: id, truncated, messages: safe }) },
          ],
        };
      } catch (err) {
        throw resourceError(err);
      }
    },
  );

  server.registerResource(
    'ai',
    new ResourceTemplate('voipbin://ais/{id}', {
      list: async (): Promise<ListResourcesResult> => {
        try {
          const page = await client.ais.list({ page_size: LISTED_AIS });
          return {
            resources: page.result
              .filter((a) => a.id)
              .map((a) => ({
                uri: `voipbin://ais/${a.id}`,
                name: a.name || `ai ${a.id}`,
                title: `AI ${a.name || a.id}`,
                description: [a.engine_model, a.tts_type && `TTS ${a.tts_type}`, a.stt_type && `STT ${a.stt_type}`].filter(Boolean).join(', '),
                mimeType: 'application/json',
              })),
          };
        } catch (err) {
          throw resourceError(err);
        }
      },
    }),
    {
      title: 'AI configuration',
      description: 'An AI voice agent configuration (model, prompt, voice, speech recognition, tools) as JSON. engine_key is never included.',
      mimeType: 'application/json',
    },
    async (uri, variables): Promise<ReadResourceResult> => {
      try {
        const ai = await client.ais.get(idVariable(variables.id, 'id'));
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(scrub(ai)) }] };
      } catch (err) {
        throw resourceError(err);
      }
    },
  );
}
