/**
 * Output schemas of the tools: the fields a model needs, with everything else passed through
 * (`looseObject`), and nullable where VoIPBIN may send null. They document the results and
 * the SDK validates `structuredContent` against them. Also the one input schema several tool
 * groups share: a flow action (create_call, create_flow, update_flow).
 */
import { z } from 'zod';
import type { FlowManagerAction } from '../client/index.js';

/** A flow action as a tool argument (the server checks the type and its options). */
export const actionInput = z.object({
  type: z
    .string()
    .min(1)
    .describe(
      'Flow action type, e.g. answer, talk, ai_talk (real-time AI conversation, interruptible), ai (simple request-response AI), play, sleep, hangup, connect, transcribe_start, ai_summary.',
    ),
  option: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'Options of the action. ai_talk / ai: {"ai_id": "<id from create_ai or list_ais>"} to use a stored AI, or inline {"initial_prompt": "...", "language": "en-US", "voice_type": "female"}. ' +
        'talk: {"text": "...", "language": "en-US"}. sleep: {"duration": 5000} (ms).',
    ),
  id: z.string().optional().describe('Action id (UUID), only needed as a goto/branch target.'),
  next_id: z.string().optional().describe('Id of the action to run next instead of the following one (advanced).'),
});

/** Tool-argument actions as the REST client sends them. */
export function toFlowActions(actions: Array<z.infer<typeof actionInput>>): FlowManagerAction[] {
  return actions.map((a) => {
    const action = { type: a.type, option: a.option ?? {} } as FlowManagerAction;
    if (a.id !== undefined) action.id = a.id;
    if (a.next_id !== undefined) action.next_id = a.next_id;
    return action;
  });
}

/** Types of the actions that start an AI call when they run. */
export const AI_ACTION_TYPES: ReadonlySet<string> = new Set(['ai_talk', 'ai']);

const str = z.string().nullish();
const obj = z.record(z.string(), z.unknown()).nullish();

export const AddressOutput = z.looseObject({
  type: str.describe('tel, sip, email, extension, agent, conference, ...'),
  target: str.describe('E.164 number, address or id'),
  target_name: str,
});

export const AiOutput = z
  .looseObject({
    id: z.string().describe('AI id (UUID): pass it as ai_id of an ai_talk action, or to get_ai / update_ai / delete_ai'),
    name: str,
    detail: str,
    type: str,
    engine_model: str.describe('<provider>.<model>'),
    init_prompt: str,
    tts_type: str,
    tts_voice_id: str,
    stt_type: str,
    stt_language: str,
    tool_names: z.array(z.string()).nullish(),
    vad_config: obj,
    parameter: obj,
    tm_create: str,
    tm_update: str,
  })
  .describe('An AI configuration (engine_key is write-only and never shown)');

export const CallOutput = z.looseObject({
  id: z.string().describe('call id (UUID)'),
  flow_id: str,
  activeflow_id: str,
  status: str.describe('dialing, ringing, progressing, terminating, canceling, hangup'),
  direction: str,
  source: AddressOutput.nullish(),
  destination: AddressOutput.nullish(),
  hangup_by: str,
  hangup_reason: str,
  tm_create: str,
  tm_hangup: str,
});

export const GroupcallOutput = z.looseObject({ id: z.string(), status: str, call_ids: z.array(z.string()).nullish() });

export const AicallOutput = z.looseObject({
  id: z.string().describe('aicall id (UUID)'),
  assistance_type: str,
  assistance_id: str.describe('the AI id when assistance_type is ai'),
  ai_engine_model: str,
  reference_type: str.describe('call, conversation, ...'),
  reference_id: str.describe('e.g. the call id'),
  activeflow_id: str,
  status: str.describe('initiating, progressing, pausing, resuming, terminating, terminated'),
  tm_create: str,
  tm_end: str,
});

export const AimessageOutput = z.looseObject({
  id: str,
  aicall_id: str,
  role: str.describe('system, user (the caller), assistant (the AI), tool, function, notification'),
  content: str,
  direction: str,
  tool_calls: z.array(z.unknown()).nullish(),
  tool_call_id: str,
  tm_create: str,
});

export const SmsOutput = z.looseObject({
  id: z.string().describe('message id (UUID)'),
  type: str,
  source: AddressOutput.nullish(),
  targets: z.array(z.looseObject({ destination: AddressOutput.nullish(), status: str })).nullish(),
  text: str,
  direction: str,
  tm_create: str,
});

export const EmailOutput = z.looseObject({
  id: z.string().describe('email id (UUID)'),
  source: AddressOutput.nullish(),
  destinations: z.array(AddressOutput).nullish(),
  status: str,
  subject: str,
  tm_create: str,
});

export const SummaryOutput = z.looseObject({
  id: z.string().describe('AI summary id (UUID)'),
  reference_type: str,
  reference_id: str,
  status: str.describe('progressing while it is being written; done when content is ready; failed when it cannot be written (failure_reason says why)'),
  failure_reason: str.describe('why a failed summary could not be written, e.g. no LLM configured for the server'),
  language: str,
  content: str.describe('the summary text (empty until status is done)'),
  tm_create: str,
  tm_update: str,
});

export const NumberOutput = z.looseObject({
  id: z.string().describe('number id (UUID)'),
  number: str.describe('the E.164 phone number: use it as source of create_call or send_message'),
  type: str,
  status: str,
  name: str,
  call_flow_id: str,
  message_flow_id: str,
  tm_create: str,
});

export const ActionOutput = z.looseObject({
  id: str.describe('action id (UUID), assigned by the server'),
  next_id: str,
  type: str.describe('answer, talk, ai_talk, ai, sleep, hangup, connect, ...'),
  option: obj,
  tm_execute: str.describe('when it ran (executed actions of an activeflow only)'),
});

export const FlowOutput = z
  .looseObject({
    id: z.string().describe('flow id (UUID): pass it as flow_id of create_call, call_flow_id of create_number, or to get_flow / update_flow / delete_flow'),
    type: str,
    name: str,
    detail: str,
    actions: z.array(ActionOutput).nullish().describe('the actions, run in order when the flow starts'),
    on_complete_flow_id: str,
    tm_create: str,
    tm_update: str,
  })
  .describe('A stored flow (a reusable list of actions)');

export const ActiveflowOutput = z
  .looseObject({
    id: z.string().describe('activeflow id (UUID)'),
    flow_id: str.describe('the flow it runs'),
    status: str.describe('running or ended'),
    reference_type: str.describe('what runs it: call, api, ...'),
    reference_id: str.describe('e.g. the call id'),
    current_action: ActionOutput.nullish().describe('the action running now (the last one run once ended)'),
    executed_actions: z.array(ActionOutput).nullish().describe('the actions run so far, in order, with their options filled in'),
    tm_create: str,
    tm_update: str,
  })
  .describe('A running (or ended) instance of a flow, e.g. the flow of one call');
