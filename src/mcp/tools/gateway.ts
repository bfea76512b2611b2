/**
 * Gateway tools: start_gateway_session, list_gateway_sessions, stop_gateway_session. They run an
 * agent of this process on a live call of the remote VoIPBIN (through its media stream), so they
 * call the process's {@link GatewaySessions} directly (McpDeps.gateway): the MCP server's REST
 * client points at VoIPBIN itself, not at this gateway's control API.
 */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ApiError } from '../../api/errors.js';
import { GATEWAY_NOT_CONFIGURED } from '../../gateway/sessions.js';
import type { GatewaySessions } from '../../gateway/sessions.js';
import type { McpDeps } from '../deps.js';
import { ToolInputError, ToolSetupError } from '../errors.js';
import { READ_ONLY, defineTool } from '../tool.js';

export const GATEWAY_UNAVAILABLE = 'the gateway is not available in this process';

const SessionOutput = z
  .object({
    id: z.string(),
    call_id: z.string(),
    ai_id: z.string(),
    aicall_id: z.string(),
    activeflow_id: z.string(),
    engine_model: z.string(),
    encapsulation: z.string(),
    status: z.string().describe('starting, running or ended'),
    end_reason: z.string().describe('Why it ended (stopped, hangup, stop_flow, stop_service, agent: ...), empty while it runs'),
    tm_create: z.string(),
    tm_update: z.string(),
    tm_end: z.string(),
    metrics: z.record(z.string(), z.unknown()),
  })
  .passthrough();

function gatewayOrFail(deps: McpDeps): GatewaySessions {
  if (!deps.gateway) {
    throw new ToolSetupError(
      'GATEWAY_NOT_AVAILABLE',
      GATEWAY_UNAVAILABLE,
      'Tell the user to run the gateway (voipbin-ai serve with VOIPBIN_API_URL and VOIPBIN_ACCESSKEY set) and use its /mcp endpoint.',
    );
  }
  if (!deps.gateway.available) {
    throw new ToolSetupError('GATEWAY_NOT_CONFIGURED', GATEWAY_NOT_CONFIGURED, 'Tell the user to set VOIPBIN_API_URL and VOIPBIN_ACCESSKEY for the server, then restart it.');
  }
  return deps.gateway;
}

/** The gateway's API errors as tool errors the model can act on. */
async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.httpStatus === 409 && err.reason === 'GATEWAY_NOT_CONFIGURED') {
      throw new ToolSetupError(err.reason, err.message, 'Tell the user to set VOIPBIN_API_URL and VOIPBIN_ACCESSKEY for the server, then restart it.');
    }
    if (err.httpStatus >= 500) throw new ToolSetupError(err.reason, err.message, 'Tell the user the remote VoIPBIN could not be reached or refused the gateway; do not retry at once.');
    const field = /^(\w+): /.exec(err.message)?.[1] ?? (err.reason.startsWith('AI') ? 'ai_id' : err.reason.startsWith('GATEWAY_SESSION') ? 'id' : 'call_id');
    throw new ToolInputError(field, err.message, { reason: err.reason });
  }
}

export function registerGatewayTools(server: McpServer, deps: McpDeps): void {
  defineTool(server, deps, 'start_gateway_session', {
    title: 'Start gateway session',
    description:
      'Attach an AI agent running in this gateway to a live call of the remote VoIPBIN: the gateway opens the call\'s media stream and the agent talks with the caller; ' +
      'its tools (stop_flow, set_variables, ...) act on the call. Needs a call that is progressing (get_call) and an AI (ai_id) whose engine_model this gateway runs. ' +
      'Returns the session; stop it with stop_gateway_session.',
    input: {
      call_id: z.string().min(1).describe('The call id (UUID) of a live call of the remote VoIPBIN.'),
      ai_id: z.string().min(1).describe('The AI (UUID) the agent runs with (list_ais).'),
      encapsulation: z.enum(['sln', 'rtp', 'audiosocket']).optional().describe('Media stream encapsulation (default sln).'),
    },
    output: { session: SessionOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async run(args) {
      const gateway = gatewayOrFail(deps);
      return { session: await mapped(() => gateway.start({ call_id: args.call_id, ai_id: args.ai_id, encapsulation: args.encapsulation })) };
    },
  });

  defineTool(server, deps, 'list_gateway_sessions', {
    title: 'List gateway sessions',
    description: 'List the agent sessions this gateway runs on remote VoIPBIN calls (running ones and the recently ended), newest first.',
    input: {},
    output: { sessions: z.array(SessionOutput) },
    annotations: READ_ONLY,
    async run() {
      const gateway = gatewayOrFail(deps);
      return { sessions: await mapped(async () => gateway.list()) };
    },
  });

  defineTool(server, deps, 'stop_gateway_session', {
    title: 'Stop gateway session',
    description:
      'Stop an agent session of this gateway: the agent stops talking and the media stream closes; the call goes on with its next flow action (hangup_call ends the call). ' +
      'Stopping an ended session changes nothing.',
    input: { id: z.string().min(1).describe('The gateway session id from start_gateway_session or list_gateway_sessions.') },
    output: { session: SessionOutput.describe('The session after the stop (status ended)') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async run(args) {
      const gateway = gatewayOrFail(deps);
      return { session: await mapped(() => gateway.stop(args.id)) };
    },
  });
}
