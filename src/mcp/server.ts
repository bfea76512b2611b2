/**
 * `createServer(deps)`: the one MCP server factory behind both transports (stdio in
 * `voipbin-ai mcp`, Streamable HTTP at `/mcp` in `voipbin-ai serve`).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpDeps } from './deps.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { registerActiveflowTools } from './tools/activeflows.js';
import { registerAicallTools } from './tools/aicalls.js';
import { registerAiTools } from './tools/ais.js';
import { registerCallTools } from './tools/calls.js';
import { registerFlowTools } from './tools/flows.js';
import { registerGatewayTools } from './tools/gateway.js';
import { registerMessagingTools } from './tools/messaging.js';
import { registerNumberTools } from './tools/numbers.js';
import { registerSummaryTools } from './tools/summaries.js';

export type { McpDeps } from './deps.js';

export const SERVER_NAME = 'voipbin-ai';
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = [
  'VoIPBIN voice AI: create AI voice agents (create_ai), place calls they handle (create_call with ai_id), read what was said (get_aicall_messages),',
  'send SMS and email, and summarize calls. Lists are newest first and paged (page_size, page_token → next_page_token).',
  'Before create_call or send_message, call list_numbers to pick a source number of this account (create_number adds one).',
  'create_call returns the AI call id (aicalls) once the call is answered; if it was not answered in time, its note says to check get_call / list_aicalls later.',
  'Reusable call scripts are flows (create_flow, then flow_id of create_call, or call_flow_id of create_number for incoming calls);',
  'each run of a flow is an activeflow (get_call shows its activeflow_id; stop_activeflow stops it).',
  'Clean up what you create when the user is done with it: delete_flow, delete_number, delete_ai.',
  'AI summaries end done (content) or failed (failure_reason): do not poll a failed one.',
  'LLM provider keys are never passed as arguments: create_ai reads them from the server environment (engine_key_env).',
].join(' ');

/** A new MCP server with every tool, resource and prompt, bound to `deps`. */
export function createServer(deps: McpDeps): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, title: 'VoIPBIN AI', version: SERVER_VERSION },
    { instructions: INSTRUCTIONS, capabilities: { tools: {}, resources: {}, prompts: {} } },
  );
  registerAiTools(server, deps);
  registerCallTools(server, deps);
  registerAicallTools(server, deps);
  registerMessagingTools(server, deps);
  registerSummaryTools(server, deps);
  registerNumberTools(server, deps);
  registerFlowTools(server, deps);
  registerActiveflowTools(server, deps);
  registerGatewayTools(server, deps);
  registerResources(server, deps);
  registerPrompts(server);
  return server;
}
