/**
 * The one place where failures become MCP tool errors. A tool throws (a VoipbinError from the
 * client, or one of the errors below) and {@link toolError} turns it into an `isError` result
 * that carries VoIPBIN's `reason` and tells the model what to do next. No stack traces: the
 * model sees a status, a reason, the server's message and a next step; the stack goes to the
 * stderr log only.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  APIConnectionError,
  APITimeoutError,
  AuthenticationError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PaymentRequiredError,
  PermissionDeniedError,
  RateLimitError,
  VoipbinError,
} from '../client/index.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/logger.js';

/** An argument the model gave is wrong; `field` names it (e.g. `destinations[1]`). */
export class ToolInputError extends Error {
  readonly field: string;
  readonly reason: string;
  readonly nextStep: string | undefined;
  constructor(field: string, message: string, opts: { reason?: string; nextStep?: string } = {}) {
    super(message);
    this.name = 'ToolInputError';
    this.field = field;
    this.reason = opts.reason ?? 'INVALID_ARGUMENT';
    this.nextStep = opts.nextStep;
  }
}

/**
 * Something only the person running the MCP server can fix (e.g. an environment variable that
 * is not set); the model should tell the user instead of retrying.
 */
export class ToolSetupError extends Error {
  readonly reason: string;
  readonly nextStep: string;
  constructor(reason: string, message: string, nextStep: string) {
    super(message);
    this.name = 'ToolSetupError';
    this.reason = reason;
    this.nextStep = nextStep;
  }
}

/** A failure as the model sees it. */
export interface ErrorInfo {
  /** HTTP status of VoIPBIN's answer, when there was one. */
  status?: number;
  /** VoIPBIN's specific reason (e.g. `AI_NOT_FOUND`), or this server's. */
  reason: string;
  message: string;
  request_id?: string;
  /** What to do next. */
  next_step: string;
}

/** `*_NOT_FOUND` reason prefix → how to find a valid id. */
const NOT_FOUND_HINTS: Readonly<Record<string, string>> = {
  AI: 'The AI id does not exist in this account (or was deleted). Call list_ais to find the right id, or create_ai to make one.',
  CALL: 'The call id does not exist in this account. Call list_calls to find the right id.',
  AICALL: 'The aicall id does not exist in this account. Call list_aicalls to find the right id (an aicall is the AI session of a call, not the call itself).',
  AIMESSAGE: 'The message id does not exist. Call get_aicall_messages with the aicall id instead.',
  SUMMARY: 'The AI summary id does not exist in this account. Call list_ai_summaries to find the right id.',
  AISUMMARY: 'The AI summary id does not exist in this account. Call list_ai_summaries to find the right id.',
  NUMBER: 'The number id does not exist in this account. Call list_numbers to find the right id.',
  FLOW: 'The flow id does not exist in this account (or was deleted). Call list_flows to find the right id, or create_flow to make one (create_call also takes inline actions instead of flow_id).',
  MESSAGE: 'The message id does not exist in this account.',
  EMAIL: 'The email id does not exist in this account.',
  ACTIVEFLOW: 'The activeflow id does not exist in this account. Call list_activeflows to find the right id, or get_call for the activeflow_id of a call (an activeflow id is not a flow id).',
  CUSTOMER: 'The customer of this access key does not exist any more. Tell the user to check the VoIPBIN access key of the MCP server.',
  ROUTE: 'This VoIPBIN server does not offer that endpoint, so this operation is not available here. Do not retry.',
};

/** Builds the model-facing description of any failure. */
export function describeError(err: unknown): ErrorInfo {
  if (err instanceof ToolInputError) {
    return {
      reason: err.reason,
      message: redact(`${err.field}: ${err.message}`),
      next_step: err.nextStep ?? `Fix the argument ${err.field} and call the tool again.`,
    };
  }
  if (err instanceof ToolSetupError) {
    return { reason: err.reason, message: redact(err.message), next_step: err.nextStep };
  }
  if (err instanceof VoipbinError) {
    const info: ErrorInfo = {
      reason: err.reason,
      message: err.serverMessage || err.message,
      next_step: nextStepFor(err),
    };
    if (err.status !== undefined) info.status = err.status;
    if (err.requestId) info.request_id = err.requestId;
    return info;
  }
  return {
    reason: 'INTERNAL',
    message: redact(err instanceof Error ? err.message : String(err)),
    next_step: 'An unexpected error happened inside the voipbin-ai MCP server. Do not retry with the same input; tell the user (the server log on stderr has the details).',
  };
}

function nextStepFor(err: VoipbinError): string {
  const reason = err.reason;
  const msg = err.serverMessage;
  if (err instanceof APITimeoutError) {
    return 'VoIPBIN did not answer in time. Check with a get_/list_ tool whether the operation happened before retrying it (a retry could do it twice).';
  }
  if (err instanceof APIConnectionError) {
    return 'The VoIPBIN API could not be reached. Tell the user to check the network and VOIPBIN_API_URL of the MCP server; retry later.';
  }
  if (err instanceof PaymentRequiredError || reason === 'INSUFFICIENT_BALANCE') {
    return 'The VoIPBIN account balance is too low for this operation. Do not retry: tell the user to check the balance (billing account: GET /billing_accounts, or the VoIPBIN console) and top up first.';
  }
  if (err instanceof AuthenticationError) {
    return 'The VoIPBIN access key of this MCP server was rejected. Do not retry: tell the user to check VOIPBIN_ACCESSKEY (or the bearer token of the MCP connection).';
  }
  if (err instanceof PermissionDeniedError) {
    return 'This account is not allowed to do this. Do not retry with the same input; tell the user.';
  }
  if (err instanceof NotFoundError) {
    const m = /^([A-Z_]+?)_NOT_FOUND$/.exec(reason);
    const hint = m ? NOT_FOUND_HINTS[m[1]!] : undefined;
    return hint ?? 'The id does not exist in this account. List the resources with the matching list_ tool to find a valid id.';
  }
  if (err instanceof ConflictError) {
    if (reason === 'CALL_ALREADY_HANGUP') return 'The call has already ended; there is nothing more to do (get_call shows its final state).';
    if (reason === 'NUMBER_ALREADY_EXISTS') return 'That phone number is already registered: call list_numbers to find it (and its id), or choose another number.';
    return 'The resource is in a state that does not allow this. Get it (get_ tool) to see its current status before deciding whether to retry.';
  }
  if (err instanceof RateLimitError) return 'VoIPBIN is rate limiting this account. Wait a little, then retry once.';
  if (err.status === 501 || reason === 'NOT_IMPLEMENTED') {
    return 'This VoIPBIN server does not implement this operation. Do not retry; follow the hint in the message if there is one.';
  }
  if (err instanceof InternalServerError) {
    return `VoIPBIN failed internally. Retry once later; if it fails again, tell the user and quote the request_id${err.requestId ? ` ${err.requestId}` : ''}.`;
  }
  // 400 and other 4xx: the message names the field.
  if (reason === 'INVALID_ID') {
    return 'The id is not a valid id: pass a UUID exactly as a create_ or list_ tool returned it (e.g. list_flows, list_numbers, list_activeflows, list_calls); do not invent or shorten ids.';
  }
  if (/not a number of this account/i.test(msg) || (/source/i.test(msg) && /number/i.test(msg) && /(own|account)/i.test(msg))) {
    return 'The source must be a phone number that belongs to this account: call list_numbers first and use one of its numbers as source.';
  }
  if (/engine_model/.test(msg)) return 'Fix engine_model: it must be <provider>.<model>, e.g. openai.gpt-4o or anthropic.claude-sonnet-4-5.';
  if (reason === 'INVALID_TOOL_NAMES' || /tool_names/.test(msg)) {
    return 'Fix tool_names: use [] (no tools), ["all"], or names from connect_call, send_email, send_message, stop_media, stop_service, stop_flow, set_variables, get_variables, get_aicall_messages.';
  }
  if (/page_token/.test(msg)) return 'Pass page_token exactly as the next_page_token of the previous call of the same tool, or omit it.';
  const field = /^([A-Za-z_][\w.[\]]*):\s/.exec(msg)?.[1];
  return field
    ? `Fix the argument ${field} as the message says and call the tool again.`
    : 'Fix the arguments as the message says and call the tool again.';
}

/** Readable first line(s) of an error result. */
export function formatError(info: ErrorInfo): string {
  const head = `${info.status !== undefined ? `${info.status} ` : ''}${info.reason}: ${info.message}`;
  const rid = info.request_id ? ` (request_id ${info.request_id})` : '';
  return `Error ${head}${rid}\nNext step: ${info.next_step}`;
}

/** The `isError` tool result for any failure (logged without secrets; stacks only in the log). */
export function toolError(err: unknown, logger?: Logger, tool?: string): CallToolResult {
  const info = describeError(err);
  if (logger) {
    const fields: Record<string, unknown> = { tool, reason: info.reason, status: info.status, request_id: info.request_id };
    if (!(err instanceof VoipbinError) && !(err instanceof ToolInputError) && !(err instanceof ToolSetupError)) {
      fields.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      logger.error('mcp tool failed', fields);
    } else {
      logger.info('mcp tool error', fields);
    }
  }
  return {
    isError: true,
    content: [
      { type: 'text', text: formatError(info) },
      { type: 'text', text: JSON.stringify({ error: info }) },
    ],
  };
}

/** JSON-RPC code the MCP spec gives "resource not found". */
export const RESOURCE_NOT_FOUND = -32002;

/** An McpError for a failed resource read (resources have no `isError` result). */
export function resourceError(err: unknown): McpError {
  const info = describeError(err);
  const code = info.status === 404 ? RESOURCE_NOT_FOUND : info.status !== undefined && info.status < 500 ? ErrorCode.InvalidParams : ErrorCode.InternalError;
  return new McpError(code, formatError(info), { reason: info.reason, request_id: info.request_id });
}
