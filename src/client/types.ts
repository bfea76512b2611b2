/**
 * Wire types of the VoIPBIN `/v1.0` REST API, shaped after the components of VoIPBIN's OpenAPI
 * spec (`openapi.bundled.json`). Response fields are optional because VoIPBIN omits empty ones.
 * Timestamps are strings `YYYY-MM-DDTHH:MM:SS.ffffffZ`; ids are UUID strings.
 *
 * Where the spec is narrower than the running servers the types follow the servers:
 * `engine_model` is any `<provider>.<model>`, `stt_type` also accepts `google`.
 */

/** `CommonAddress`: a party of a call, message or email. */
export interface CommonAddress {
  type?: '' | 'agent' | 'conference' | 'email' | 'extension' | 'line' | 'sip' | 'tel' | 'web_session';
  /** E.164 number for `tel`, address for `email`, URI for `sip`, id for `agent`/`conference`... */
  target?: string;
  target_name?: string;
  name?: string;
  detail?: string;
}

/** List envelope of every `GET` collection endpoint. */
export interface ListEnvelope<T> {
  result: T[] | null;
  /** Cursor for the next page (the last item's `tm_create`); empty or missing on the last page. */
  next_page_token?: string;
}

/** Paging query of list endpoints. */
export interface ListParams {
  /** Items per page. */
  page_size?: number;
  /** `next_page_token` of the previous page. */
  page_token?: string;
}

// ---------------------------------------------------------------------------------------------
// AI manager

/** `<provider>.<model>`, e.g. `openai.gpt-5`, `gemini.gemini-2.5-flash`, `anthropic.claude-...`. */
export type AIManagerAIEngineModel = string;

/** `AIManagerAITTSType`. */
export type AIManagerAITTSType =
  | ''
  | 'async'
  | 'aws'
  | 'azure'
  | 'cartesia'
  | 'deepgram'
  | 'elevenlabs'
  | 'fish'
  | 'google'
  | 'groq'
  | 'hume'
  | 'inworld'
  | 'lmnt'
  | 'minimax'
  | 'neuphonic'
  | 'nvidia-riva'
  | 'openai'
  | 'piper'
  | 'playht'
  | 'rime'
  | 'sarvam'
  | 'xtts';

/** `AIManagerAISTTType` (the servers also accept `google`, which the spec omits). */
export type AIManagerAISTTType = '' | 'cartesia' | 'deepgram' | 'elevenlabs' | 'google';

/** `AIManagerToolName`. */
export type AIManagerToolName =
  | 'all'
  | 'connect_call'
  | 'create_call'
  | 'get_aicall_messages'
  | 'get_variables'
  | 'search_knowledge'
  | 'send_email'
  | 'send_message'
  | 'set_variables'
  | 'stop_flow'
  | 'stop_media'
  | 'stop_service'
  | 'get_correlation'
  | 'get_resource'
  | 'describe_action'
  | 'case_create'
  | 'get_contact_interactions'
  | 'get_conversation_content'
  | 'get_related_cases'
  | 'get_case_notes';

/** `AIManagerVADConfig`: omitted fields use the engine defaults. */
export interface AIManagerVADConfig {
  confidence?: number;
  start_secs?: number;
  stop_secs?: number;
  min_volume?: number;
}

/** `AIManagerAI`: an AI configuration. `engine_key` is write-only and never returned. */
export interface AIManagerAI {
  id?: string;
  customer_id?: string;
  name?: string;
  detail?: string;
  type?: 'normal' | 'insight';
  is_insight_active?: boolean;
  engine_model?: AIManagerAIEngineModel;
  parameter?: Record<string, unknown>;
  rag_id?: string;
  init_prompt?: string;
  current_prompt_history_id?: string;
  tts_type?: AIManagerAITTSType;
  tts_voice_id?: string;
  stt_type?: AIManagerAISTTType;
  stt_language?: string;
  vad_config?: AIManagerVADConfig;
  smart_turn_enabled?: boolean;
  auto_aicall_audit_enabled?: boolean;
  tool_names?: AIManagerToolName[];
  direct_hash?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /ais` (sent as given). */
export interface AICreateParams {
  name: string;
  detail?: string;
  type?: 'normal' | 'insight';
  engine_model: AIManagerAIEngineModel;
  parameter?: Record<string, unknown>;
  /** The LLM provider's API key. Write-only: never logged, never returned. */
  engine_key?: string;
  rag_id?: string;
  init_prompt?: string;
  tts_type?: AIManagerAITTSType;
  tts_voice_id?: string;
  stt_type?: AIManagerAISTTType;
  stt_language?: string;
  vad_config?: AIManagerVADConfig;
  tool_names?: AIManagerToolName[];
  auto_aicall_audit_enabled?: boolean;
}

/** Body of `PUT /ais/{id}`; omitting `engine_key` keeps the stored one. */
export type AIUpdateParams = Partial<AICreateParams>;

export type AIManagerAIcallStatus = 'initiating' | 'progressing' | 'pausing' | 'resuming' | 'terminating' | 'terminated';

/** `AIManagerAIcall`: one AI session on a call or conversation. */
export interface AIManagerAIcall {
  id?: string;
  customer_id?: string;
  assistance_type?: '' | 'ai' | 'team';
  assistance_id?: string;
  ai_engine_model?: AIManagerAIEngineModel;
  ai_tts_type?: AIManagerAITTSType;
  ai_tts_voice_id?: string;
  ai_stt_type?: AIManagerAISTTType;
  ai_vad_config?: AIManagerVADConfig;
  ai_smart_turn_enabled?: boolean;
  parameter?: Record<string, unknown>;
  activeflow_id?: string;
  reference_type?: '' | 'call' | 'conversation' | 'task' | 'contact_case';
  reference_id?: string;
  confbridge_id?: string;
  current_member_id?: string;
  status?: AIManagerAIcallStatus;
  stt_language?: string;
  metadata?: Record<string, unknown>;
  tm_end?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Query of `GET /aicalls`. */
export interface AICallListParams extends ListParams {
  /**
   * Only the AI calls of this reference (e.g. a call id). The local VoIPBIN filters on it;
   * VoIPBIN's spec does not list it, so callers that must work remotely filter the page too.
   */
  reference_id?: string;
}

export type AIManagerMessageRole = '' | 'system' | 'user' | 'assistant' | 'function' | 'tool' | 'notification';

/** A tool call inside an assistant message. */
export interface AIManagerToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/** `AIManagerMessage`: one message of an aicall transcript (incl. tool calls and results). */
export interface AIManagerMessage {
  id?: string;
  customer_id?: string;
  aicall_id?: string;
  activeflow_id?: string;
  active_ai_id?: string;
  role?: AIManagerMessageRole;
  content?: string;
  direction?: '' | 'incoming' | 'outgoing';
  tool_calls?: AIManagerToolCall[];
  tool_call_id?: string;
  tm_create?: string;
}

/** Body of `POST /aimessages`. */
export interface AIMessageCreateParams {
  aicall_id: string;
  role: AIManagerMessageRole;
  content: string;
}

export type AIManagerSummaryReferenceType = '' | 'call' | 'conference' | 'transcribe' | 'recording';

/** `AIManagerSummary`. */
export interface AIManagerSummary {
  id?: string;
  customer_id?: string;
  activeflow_id?: string;
  on_end_flow_id?: string;
  reference_type?: AIManagerSummaryReferenceType;
  reference_id?: string;
  /**
   * `failed` is not in VoIPBIN's spec: the local VoIPBIN ends a summary that cannot be written
   * (no summary LLM configured, provider error, sources unavailable) `failed` instead of leaving
   * it `progressing` for ever, with the reason in `failure_reason`.
   */
  status?: '' | 'progressing' | 'done' | 'failed';
  /** Why a `failed` summary could not be written (local VoIPBIN). */
  failure_reason?: string;
  language?: string;
  content?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /aisummaries`. */
export interface AISummaryCreateParams {
  on_end_flow_id?: string;
  reference_type: AIManagerSummaryReferenceType;
  reference_id: string;
  language?: string;
}

// ---------------------------------------------------------------------------------------------
// Flow manager

/** `FlowManagerActionType`. */
export type FlowManagerActionType =
  | 'ai_talk'
  | 'ai_summary'
  | 'amd'
  | 'answer'
  | 'beep'
  | 'branch'
  | 'call'
  | 'condition_call_digits'
  | 'condition_call_status'
  | 'condition_datetime'
  | 'condition_variable'
  | 'confbridge_join'
  | 'conference_join'
  | 'connect'
  | 'conversation_send'
  | 'digits_receive'
  | 'digits_send'
  | 'echo'
  | 'email_send'
  | 'external_media_start'
  | 'external_media_stop'
  | 'fetch'
  | 'fetch_flow'
  | 'goto'
  | 'hangup'
  | 'message_send'
  | 'mute'
  | 'play'
  | 'queue_join'
  | 'recording_start'
  | 'recording_stop'
  | 'sleep'
  | 'stop'
  | 'stream_echo'
  | 'talk'
  | 'transcribe_start'
  | 'transcribe_stop'
  | 'transcribe_recording'
  | 'variable_set'
  | 'webhook_send';

/** `FlowManagerAction`: one step of a flow. `id` is assigned by the server when omitted. */
export interface FlowManagerAction {
  id?: string;
  next_id?: string;
  type: FlowManagerActionType;
  /** Type-specific options (see `FlowManagerActionOption*` in the spec). */
  option?: Record<string, unknown>;
  tm_execute?: string;
}

/** `FlowManagerFlow`. */
export interface FlowManagerFlow {
  id?: string;
  customer_id?: string;
  type?: 'flow' | 'conference' | 'queue' | 'campaign' | 'transfer';
  name?: string;
  detail?: string;
  actions?: FlowManagerAction[];
  direct_hash?: string;
  on_complete_flow_id?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /flows` and `PUT /flows/{id}`. */
export interface FlowCreateParams {
  name: string;
  detail?: string;
  actions: FlowManagerAction[];
  on_complete_flow_id?: string;
}

/** Body of `PUT /flows/{id}`. */
export type FlowUpdateParams = FlowCreateParams;

export type FlowManagerReferenceType = '' | 'ai' | 'api' | 'call' | 'campaign' | 'conversation' | 'transcribe' | 'recording';

/** `FlowManagerActiveflow`: a running instance of a flow. */
export interface FlowManagerActiveflow {
  id?: string;
  customer_id?: string;
  flow_id?: string;
  status?: '' | 'running' | 'ended';
  reference_type?: FlowManagerReferenceType;
  reference_id?: string;
  reference_activeflow_id?: string;
  on_complete_flow_id?: string;
  webhook_uri?: string;
  webhook_method?: '' | 'POST' | 'GET' | 'PUT' | 'DELETE';
  current_action?: FlowManagerAction;
  forward_action_id?: string;
  executed_actions?: FlowManagerAction[];
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

// ---------------------------------------------------------------------------------------------
// Call manager

export type CallManagerCallStatus = 'dialing' | 'ringing' | 'progressing' | 'terminating' | 'canceling' | 'hangup';

/** `CallManagerCall`. */
export interface CallManagerCall {
  id?: string;
  customer_id?: string;
  owner_type?: string;
  owner_id?: string;
  flow_id?: string;
  activeflow_id?: string;
  type?: '' | 'flow' | 'conference' | 'sip-service';
  master_call_id?: string;
  chained_call_ids?: string[];
  recording_id?: string;
  recording_ids?: string[];
  groupcall_id?: string;
  source?: CommonAddress;
  destination?: CommonAddress;
  status?: CallManagerCallStatus;
  action?: FlowManagerAction;
  direction?: 'incoming' | 'outgoing';
  mute_direction?: '' | 'both' | 'out' | 'in';
  hangup_by?: '' | 'remote' | 'local';
  hangup_reason?: '' | 'normal' | 'failed' | 'busy' | 'cancel' | 'timeout' | 'noanswer' | 'dialout' | 'amd';
  metadata?: Record<string, unknown> | null;
  tm_progressing?: string;
  tm_ringing?: string;
  tm_hangup?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** `CallManagerGroupcall`: a call to several destinations at once. */
export interface CallManagerGroupcall {
  id?: string;
  customer_id?: string;
  owner_type?: string;
  owner_id?: string;
  status?: 'progressing' | 'hangingup' | 'hangup';
  flow_id?: string;
  source?: CommonAddress | null;
  destinations?: CommonAddress[];
  master_call_id?: string | null;
  master_groupcall_id?: string | null;
  ring_method?: '' | 'ring_all' | 'linear';
  answer_method?: '' | 'hangup_others';
  answer_call_id?: string;
  call_ids?: string[];
  answer_groupcall_id?: string;
  groupcall_ids?: string[];
  call_count?: number;
  groupcall_count?: number;
  dial_index?: number | null;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string | null;
}

/** Body of `POST /calls`: either `flow_id` or inline `actions`. */
export interface CallCreateParams {
  flow_id?: string;
  actions?: FlowManagerAction[];
  source: CommonAddress;
  destinations: CommonAddress[];
  anonymous?: 'yes' | 'no' | 'auto';
  /** Flat string variables seeded into the call's flow. */
  variables?: Record<string, string>;
}

/** Result of `POST /calls`. */
export interface CallCreateResult {
  calls: CallManagerCall[];
  groupcalls: CallManagerGroupcall[];
}

// ---------------------------------------------------------------------------------------------
// Message and email manager

/** `MessageManagerTarget`: delivery state of one destination. */
export interface MessageManagerTarget {
  destination?: CommonAddress;
  status?: 'received' | 'queued' | 'gw_timeout' | 'sent' | 'dlr_timeout' | 'failed' | 'delivered';
  parts?: number;
  tm_update?: string;
}

/** `MessageManagerMessage`: an SMS. */
export interface MessageManagerMessage {
  id?: string;
  customer_id?: string;
  type?: 'sms';
  source?: CommonAddress;
  targets?: MessageManagerTarget[];
  text?: string;
  direction?: 'outbound' | 'inbound';
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /messages`. */
export interface MessageSendParams {
  source: CommonAddress;
  destinations: CommonAddress[];
  text: string;
}

/** `EmailManagerEmailAttachment`. */
export interface EmailManagerEmailAttachment {
  reference_type: '' | 'recording';
  reference_id: string;
}

/** `EmailManagerEmail`. */
export interface EmailManagerEmail {
  id?: string;
  customer_id?: string;
  source?: CommonAddress;
  destinations?: CommonAddress[];
  status?:
    | ''
    | 'initiated'
    | 'processed'
    | 'delivered'
    | 'open'
    | 'click'
    | 'bounce'
    | 'dropped'
    | 'deferred'
    | 'unsubscribe'
    | 'spamreport';
  subject?: string;
  content?: string;
  attachments?: EmailManagerEmailAttachment[];
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /emails`. */
export interface EmailSendParams {
  destinations: CommonAddress[];
  subject: string;
  content: string;
  attachments?: EmailManagerEmailAttachment[];
}

// ---------------------------------------------------------------------------------------------
// Number, customer and billing manager

/** `NumberManagerNumber`. */
export interface NumberManagerNumber {
  id?: string;
  customer_id?: string;
  number?: string;
  type?: 'normal' | 'virtual';
  call_flow_id?: string;
  message_flow_id?: string;
  name?: string;
  detail?: string;
  status?: 'active' | 'deleted';
  t38_enabled?: boolean;
  emergency_enabled?: boolean;
  metadata?: { rtp_debug?: boolean };
  tm_purchase?: string;
  tm_renew?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** Body of `POST /numbers`. */
export interface NumberCreateParams {
  number: string;
  type?: 'normal' | 'virtual';
  call_flow_id?: string;
  message_flow_id?: string;
  name?: string;
  detail?: string;
}

/** Body of `PUT /numbers/{id}`. */
export interface NumberUpdateParams {
  call_flow_id?: string;
  message_flow_id?: string;
  name?: string;
  detail?: string;
}

/** `CustomerManagerCustomer`: the authenticated customer (`GET /customer`). */
export interface CustomerManagerCustomer {
  id?: string;
  name?: string;
  detail?: string;
  email?: string;
  phone_number?: string;
  address?: string;
  webhook_method?: '' | 'POST' | 'GET' | 'PUT' | 'DELETE';
  webhook_uri?: string;
  billing_account_id?: string;
  metadata?: { rtp_debug?: boolean };
  email_verified?: boolean;
  status?: 'initial' | 'active' | 'frozen' | 'deleted' | 'expired';
  identity_verification_status?: 'none' | 'pending' | 'verified' | 'rejected';
  tm_deletion_scheduled?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/** `CustomerManagerAccesskey`. `token` is only present in the response that created the key. */
export interface CustomerManagerAccesskey {
  id?: string;
  customer_id?: string;
  name?: string;
  detail?: string;
  token?: string;
  token_prefix?: string;
  tm_expire?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}

/**
 * `BillingManagerAccount` (the `/billing_accounts` endpoints answer with its admin variant,
 * which adds `status`).
 */
export interface BillingManagerAccount {
  id?: string;
  customer_id?: string;
  status?: 'active' | 'frozen' | 'deleted';
  name?: string;
  detail?: string;
  plan_type?: 'free' | 'basic' | 'professional' | 'unlimited';
  plan_status?: 'active' | 'canceling';
  balance_credit?: number;
  balance_token?: number;
  payment_type?: '' | 'prepaid';
  payment_method?: '' | 'credit card';
  paddle_subscription_id?: string;
  paddle_customer_id?: string;
  tm_last_topup?: string;
  tm_next_topup?: string;
  tm_create?: string;
  tm_update?: string;
  tm_delete?: string;
}
