import { connectCall, type ConnectCallArgs } from './connect-call.js';
import { getAicallMessages, type GetAicallMessagesArgs } from './get-aicall-messages.js';
import { getVariables, type GetVariablesArgs } from './get-variables.js';
import { sendEmail, type SendEmailArgs } from './send-email.js';
import { sendMessage, type SendMessageArgs } from './send-message.js';
import { setVariables, type SetVariablesArgs } from './set-variables.js';
import { stopFlow, type StopFlowArgs } from './stop-flow.js';
import { stopMedia, type StopMediaArgs } from './stop-media.js';
import { stopService, type StopServiceArgs } from './stop-service.js';
import { TOOL_NAMES, type ToolDefinition, type ToolName } from './types.js';

/** The parsed (validated, normalized) arguments of each tool. */
export interface ToolArgsMap {
  connect_call: ConnectCallArgs;
  send_email: SendEmailArgs;
  send_message: SendMessageArgs;
  stop_media: StopMediaArgs;
  stop_service: StopServiceArgs;
  stop_flow: StopFlowArgs;
  set_variables: SetVariablesArgs;
  get_variables: GetVariablesArgs;
  get_aicall_messages: GetAicallMessagesArgs;
}

export type AnyToolDefinition = { [N in ToolName]: ToolDefinition<ToolArgsMap[N]> }[ToolName];

const BY_NAME: { readonly [N in ToolName]: ToolDefinition<ToolArgsMap[N]> } = {
  connect_call: connectCall,
  send_email: sendEmail,
  send_message: sendMessage,
  stop_media: stopMedia,
  stop_service: stopService,
  stop_flow: stopFlow,
  set_variables: setVariables,
  get_variables: getVariables,
  get_aicall_messages: getAicallMessages,
};

/** All nine definitions, in TOOL_NAMES order. */
export const TOOL_DEFINITIONS: readonly AnyToolDefinition[] = Object.freeze(TOOL_NAMES.map((n) => BY_NAME[n]));

export function isToolName(s: unknown): s is ToolName {
  return typeof s === 'string' && (TOOL_NAMES as readonly string[]).includes(s);
}

export function getToolDefinition<N extends ToolName>(name: N): ToolDefinition<ToolArgsMap[N]>;
export function getToolDefinition(name: string): AnyToolDefinition | undefined;
export function getToolDefinition(name: string): AnyToolDefinition | undefined {
  return isToolName(name) ? (BY_NAME[name] as AnyToolDefinition) : undefined;
}
