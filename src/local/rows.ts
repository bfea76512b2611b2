import type { Row } from '../../db/store.js';
import { NIL_UUID, newId } from '../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../util/time.js';

/**
 * A new call row with every field of VoIPBIN's CallManagerCall (unset ids are the nil UUID),
 * status `dialing`, direction `outgoing`. Shared by `POST /calls` and the call engine.
 */
export function newCallRow(customerId: string, source: unknown, destination: unknown): Row {
  return {
    id: newId(),
    customer_id: customerId,
    owner_type: '',
    owner_id: NIL_UUID,
    flow_id: NIL_UUID,
    activeflow_id: NIL_UUID,
    type: 'flow',
    master_call_id: NIL_UUID,
    chained_call_ids: [],
    recording_id: NIL_UUID,
    recording_ids: [],
    groupcall_id: NIL_UUID,
    source,
    destination,
    status: 'dialing',
    // Before its flow runs, a call's current action is the start placeholder (the spec's enum has no '').
    action: { id: NIL_UUID, next_id: NIL_UUID, type: 'answer', option: {} },
    direction: 'outgoing',
    mute_direction: '',
    hangup_by: '',
    hangup_reason: '',
    metadata: {},
    tm_progressing: TM_NEVER,
    tm_ringing: TM_NEVER,
    tm_hangup: TM_NEVER,
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
}

/**
 * A new AI call row with every field of VoIPBIN's AIManagerAIcall (unset ids are the nil UUID),
 * status `initiating`, referencing a call. Shared by the flow engine and the tests that seed
 * AI calls directly (the API starts AI calls only through flows).
 */
export function newAicallRow(customerId: string, fields: Partial<Row> = {}): Row {
  return {
    id: newId(),
    customer_id: customerId,
    assistance_type: 'ai',
    assistance_id: NIL_UUID,
    ai_engine_model: '',
    ai_tts_type: '',
    ai_tts_voice_id: '',
    ai_stt_type: '',
    ai_vad_config: {},
    ai_smart_turn_enabled: false,
    parameter: {},
    activeflow_id: NIL_UUID,
    reference_type: 'call',
    reference_id: NIL_UUID,
    confbridge_id: NIL_UUID,
    current_member_id: NIL_UUID,
    status: 'initiating',
    stt_language: '',
    metadata: {},
    tm_end: TM_NEVER,
    tm_create: nowTimestamp(),
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
    ...fields,
  };
}
