/**
 * Output schemas of the tools: the fields a model needs, with everything else passed through
 * (`looseObject`), and nullable where VoIPBIN may send null. They document the results and
 * the SDK validates `structuredContent` against them.
 */
import { z } from 'zod';

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
  status: str.describe('progressing while it is being written, done when content is ready'),
  language: str,
  content: str.describe('the summary text (empty until status is done)'),
  tm_create: str,
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
