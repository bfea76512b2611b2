import { expect } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { VoipbinClient } from '../../src/client/index.js';
import { createServer } from '../../src/mcp/server.js';
import type { McpDeps } from '../../src/mcp/server.js';
import { createLogger } from '../../src/util/logger.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Store } from '../../db/store.js';
import { storeAimessage } from '../../src/local/routes/aicalls.js';
import { newAicallRow } from '../../src/local/rows.js';
import { NIL_UUID } from '../../src/util/ids.js';
import { newId } from '../../src/util/ids.js';

/** A provider key that must never show up in a tool result or a log line. */
export const CANARY = 'sk-canary-MCP-9f8e7d6c5b4a';

/** The 19 tools of issue 3, the 11 of issue 9 (numbers, flows, activeflows) and the 3 gateway tools of issue 10. */
export const EXPECTED_TOOLS = [
  'create_ai', 'list_ais', 'get_ai', 'update_ai', 'delete_ai',
  'create_call', 'list_calls', 'get_call', 'hangup_call',
  'list_aicalls', 'get_aicall', 'terminate_aicall', 'get_aicall_messages',
  'send_message', 'send_email',
  'create_ai_summary', 'get_ai_summary', 'list_ai_summaries',
  'create_number', 'list_numbers', 'update_number', 'delete_number',
  'create_flow', 'list_flows', 'get_flow', 'update_flow', 'delete_flow',
  'list_activeflows', 'get_activeflow', 'stop_activeflow',
  'start_gateway_session', 'list_gateway_sessions', 'stop_gateway_session',
].sort();

/** Calls tools and remembers every result (to search them all for secrets at the end). */
export function toolCaller(client: Client, seen: unknown[]) {
  return async (name: string, args: Record<string, unknown> = {}): Promise<CallToolResult & { structuredContent?: any }> => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    seen.push(r);
    return r as CallToolResult & { structuredContent?: any };
  };
}

/** The text of an `isError` result. */
export function errorText(r: CallToolResult): string {
  expect(r.isError).toBe(true);
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** The parsed `{error}` JSON of an `isError` result. */
export function errorInfo(r: CallToolResult): { status?: number; reason: string; message: string; next_step: string } {
  expect(r.isError).toBe(true);
  const json = r.content.find((c) => c.type === 'text' && c.text.startsWith('{"error"'));
  return JSON.parse((json as { text: string }).text).error;
}

/** Asserts a successful result whose JSON text equals its structured content; returns it. */
export function ok(r: CallToolResult & { structuredContent?: any }): any {
  if (r.isError) throw new Error(`tool failed: ${errorText(r)}`);
  expect(r.structuredContent).toBeDefined();
  const text = r.content.find((c) => c.type === 'text') as { text: string };
  expect(JSON.parse(text.text)).toEqual(r.structuredContent);
  return r.structuredContent;
}

/** Stores an AI call with transcript messages directly (there is no API to start one outside a flow). */
export async function seedAicall(
  store: Store,
  customerId: string,
  opts: { aiId?: string; callId?: string; messages: Array<{ role: string; content: string; tool_calls?: unknown[]; tool_call_id?: string }> },
): Promise<string> {
  const id = newId();
  await store.aicalls.insert(
    newAicallRow(customerId, {
      id,
      assistance_id: opts.aiId ?? NIL_UUID,
      ai_engine_model: 'openai.gpt-4o',
      ai_tts_type: 'openai',
      ai_tts_voice_id: 'alloy',
      ai_stt_type: 'deepgram',
      reference_id: opts.callId ?? newId(),
      status: 'progressing',
      stt_language: 'en-US',
    }),
  );
  const aicall = (await store.aicalls.getById(id))!;
  for (const m of opts.messages) await storeAimessage(store, aicall, m);
  return id;
}

/** A raw JSON-RPC POST to a Streamable HTTP endpoint (what a client sends, without the SDK). */
export function postMcp(url: string | URL, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

/** The JSON-RPC message of a response (plain JSON or the first SSE `data:` line). */
export async function rpcBody(res: Response): Promise<any> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const line = text.split('\n').find((l) => l.startsWith('data: '));
    return JSON.parse(line!.slice(6));
  }
  return JSON.parse(text);
}

/** A real MCP SDK client connected in-process to a new server over `client` (the one REST client). */
export async function connectInProcess(
  client: VoipbinClient,
  env: Record<string, string | undefined> = {},
  extra: Pick<McpDeps, 'gateway'> = {},
): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createServer({ client, env, logger: createLogger('debug', { component: 'mcp-test' }), ...extra }).connect(serverSide);
  const c = new Client({ name: 'test', version: '1.0.0' });
  await c.connect(clientSide);
  return c;
}
