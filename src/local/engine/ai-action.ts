import type { Row, Store } from '../../../db/store.js';
import type { AgentConfig } from '../../../streams/agents/agent.js';
import type { FlowHooks } from '../../../streams/session/flow-hooks.js';
import { SessionRunner } from '../../../streams/session/session-runner.js';
import type { ToolAddress } from '../../../tools/executor.js';
import { DEFAULT_TTS_VOICE_IDS, providerKeyFromEnv } from '../../catalog/ai.js';
import { registerSecret } from '../../util/logger.js';
import { NIL_UUID, idOrNil, newId } from '../../util/ids.js';
import { nowTimestamp } from '../../util/time.js';
import { terminateAicall } from '../routes/aicalls.js';
import { newAicallRow } from '../rows.js';
import type { FlowAction, FlowRunner } from './flow-runner.js';
import { liveCallPort } from './live-call-port.js';

/** Why an AI action ended, stored in the AI call's metadata. */
export const NO_AGENT_REASON =
  'no agent serves this engine_model: use <provider>.<model> (the built-in pipeline, e.g. openai.gpt-4o), an OpenAI Realtime model (openai.gpt-realtime...), or external.<name> with parameter.agent_url; the AI call ended and the flow went on';

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What resolving an AI action's configuration needs from its flow: the running flow's variables
 * and substitution, or (looking ahead while the call rings) none yet.
 */
export interface AiConfigScope {
  store: Store;
  customerId: string;
  /** Fills `${...}` in strings (deeply). */
  substitute<T>(value: T): T;
  /** A flow variable, if set. */
  variable(name: string): string | undefined;
}

/** The scope of a running flow. */
function flowScope(r: FlowRunner): AiConfigScope {
  return {
    store: r.ctx.store,
    customerId: r.call.row.customer_id,
    substitute: (v) => r.substitute(v),
    variable: (name) => r.variables.get(name),
  };
}

/** The `voipbin.tts.<type>.voice_id` flow variable (VoIPBIN documents it for elevenlabs), if set. */
function voiceOverride(r: AiConfigScope, ttsType: string): string {
  return r.variable(`voipbin.tts.${ttsType}.voice_id`) ?? '';
}

/** The AI configuration of an `ai_talk` / `ai` action: the referenced AI, or the inline options. */
export async function resolveAiConfig(r: AiConfigScope, option: Record<string, unknown>): Promise<AgentConfig | { error: string }> {
  const customerId = r.customerId;
  const str = (v: unknown, d = '') => (typeof v === 'string' ? v : d);
  // `ai_id` is the older form; `assistance_type` "ai" + `assistance_id` the current one.
  const aiId = str(option.ai_id) || ((option.assistance_type ?? 'ai') === 'ai' ? str(option.assistance_id) : '');
  if (aiId) {
    const ai = await r.store.ais.get(customerId, aiId.toLowerCase());
    if (!ai) return { error: `ai ${aiId} not found` };
    const engineKey = (await r.store.ais.getSecret(customerId, ai.id)) ?? '';
    registerSecret(engineKey);
    return {
      ai_id: ai.id,
      engine_model: str(ai.engine_model),
      engine_key: engineKey,
      init_prompt: r.substitute(str(ai.init_prompt)),
      tts_type: str(ai.tts_type),
      tts_voice_id: voiceOverride(r, str(ai.tts_type)) || str(ai.tts_voice_id),
      stt_type: str(ai.stt_type),
      stt_language: str(ai.stt_language),
      language: str(option.language, str(ai.stt_language, 'en-US')),
      tool_names: (ai.tool_names as string[]) ?? [],
      vad_config: (ai.vad_config as Record<string, number>) ?? {},
      parameter: r.substitute((ai.parameter as Record<string, unknown>) ?? {}),
    };
  }
  const ttsType = str(option.tts_type, 'elevenlabs');
  const engineModel = str(option.engine_model, 'openai.gpt-4o');
  return {
    ai_id: '',
    engine_model: engineModel,
    // Inline options carry no key (it would be stored in the flow): the server's env provides it
    // (the provider's key variable; EXTERNAL_AGENT_KEY for external.* agents).
    engine_key: providerKeyFromEnv(engineModel),
    init_prompt: str(option.initial_prompt, str(option.init_prompt)),
    tts_type: ttsType,
    tts_voice_id: voiceOverride(r, ttsType) || str(option.tts_voice_id) || DEFAULT_TTS_VOICE_IDS[ttsType] || '',
    stt_type: str(option.stt_type, 'deepgram'),
    stt_language: str(option.language, 'en-US'),
    language: str(option.language, 'en-US'),
    // Inline actions enable no tools unless they list them: ["all"] would include stop_flow.
    tool_names: Array.isArray(option.tool_names) ? (option.tool_names as string[]) : [],
    vad_config: isPlainObject(option.vad_config) ? (option.vad_config as Record<string, number>) : {},
    // The engine's options, as an AI's `parameter` (e.g. `agent_url` of an external.* agent).
    parameter: isPlainObject(option.parameter) ? r.substitute(option.parameter as Record<string, unknown>) : {},
  };
}

/**
 * The flow-side hooks of one AI action on the local flow engine. `agentSourceName` is the source
 * the agent plays into, which stop_media spares.
 */
function localFlowHooks(r: FlowRunner, agentSourceName: string): FlowHooks {
  const call = r.call;
  const tel = (a: unknown) => (a && (a as ToolAddress).type === 'tel' ? (a as ToolAddress).target : undefined);
  return {
    async setVariables(vars) {
      for (const [k, v] of Object.entries(vars)) r.variables.set(k, String(v));
    },
    async getVariables() {
      return Object.fromEntries(r.variables);
    },
    async stopFlow() {
      return async () => {
        await r.stop('stop_flow');
      };
    },
    async connect(source, destinations) {
      return async () => {
        r.insertAfterCurrent([{ id: newId(), next_id: NIL_UUID, type: 'connect', option: { source, destinations } }]);
      };
    },
    async stopMedia() {
      call.stopSources((s) => s.name !== agentSourceName);
    },
    callSource() {
      const s = call.row.source as ToolAddress;
      return { type: s.type, target: s.target, target_name: s.target_name ?? '' };
    },
    accountNumber() {
      return call.row.direction === 'incoming' ? tel(call.row.destination) : tel(call.row.source);
    },
  };
}

/**
 * `ai_talk` / `ai`: the local adapter of the session runner (streams/session/). It creates the AI
 * call (initiating → progressing → terminated) with the AI's configuration or the inline options,
 * picks the agent from the engine's registry, and runs the conversation over the live call's
 * audio port and the flow hooks until the agent ends, a tool ends it, the call ends, the flow
 * stops, the AI call is terminated through the API, or the action's duration runs out. Without an
 * agent the AI call ends at once with a clear reason and the flow goes on.
 */
export async function runAiAction(r: FlowRunner, a: FlowAction, signal: AbortSignal): Promise<void> {
  const call = r.call;
  await r.engine.answer(call);
  const resolved = await resolveAiConfig(flowScope(r), a.option);
  if ('error' in resolved) {
    r.ctx.logger.warn(`${a.type} action skipped: ${resolved.error}`, { activeflow_id: r.activeflow.id });
    return;
  }
  // `ai` is request-response (no interruption); `ai_talk` is the realtime conversation.
  const config: AgentConfig = { ...resolved, mode: a.type === 'ai' ? 'ai' : 'ai_talk' };
  let aicall: Row = newAicallRow(call.row.customer_id, {
    assistance_id: idOrNil(config.ai_id),
    ai_engine_model: config.engine_model,
    ai_tts_type: config.tts_type,
    ai_tts_voice_id: config.tts_voice_id,
    ai_stt_type: config.stt_type,
    ai_vad_config: config.vad_config,
    parameter: config.parameter,
    activeflow_id: r.activeflow.id,
    reference_id: call.id,
    stt_language: config.stt_language,
  });
  await r.ctx.store.aicalls.insert(aicall);
  r.variables.set('voipbin.aicall.id', aicall.id);
  // Messages go through the one REST client, like the session's transcripts and tool messages.
  const client = r.engine.clientFor(call.row.customer_id);
  if (config.init_prompt) await client.aimessages.create({ aicall_id: aicall.id, role: 'system', content: config.init_prompt });

  const agent = r.engine.agents.resolve(config);
  if (!agent) {
    r.ctx.logger.warn(`${a.type}: ${NO_AGENT_REASON}`, { aicall_id: aicall.id });
    aicall = await r.ctx.store.aicalls.update({ ...aicall, metadata: { termination_reason: NO_AGENT_REASON } });
    await client.aimessages.create({ aicall_id: aicall.id, role: 'notification', content: NO_AGENT_REASON });
    await terminateAicall(r.ctx, aicall);
    return;
  }

  const port = liveCallPort(call, `agent:${aicall.id}`);
  const runner = new SessionRunner({
    aicall: { id: aicall.id, customer_id: aicall.customer_id, activeflow_id: r.activeflow.id, reference_id: call.id },
    config,
    agent,
    port,
    flow: localFlowHooks(r, port.source.name),
    client,
    variables: Object.fromEntries(r.variables),
    warmup: r.engine.warmups.take(call.id, a.id),
    logger: r.ctx.logger,
    label: a.type,
    observer: r.engine.sessionObserver?.({ aicallId: aicall.id, callId: call.id }),
    async onStarted() {
      aicall = await r.ctx.store.aicalls.update({ ...aicall, status: 'progressing', tm_update: nowTimestamp() });
    },
  });
  // The flow engine decides when the conversation ends from outside; registered before anything
  // is awaited, so a stop during the agent's start still ends it. (The runner itself listens for
  // the hangup on the port.)
  const onAbort = () => runner.stop(call.ended ? 'hangup' : 'flow stopped'); // a hangup stops the flow first
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted && !call.ended) onAbort();
  const durationSec = Number(a.option.duration ?? 0);
  const timer = durationSec > 0 ? setTimeout(() => runner.stop('duration'), durationSec * 1000) : undefined;
  const offTerminate = r.engine.aicalls.register(aicall.id, () => runner.stop('terminated'));
  let endReason = 'ended';
  try {
    endReason = (await runner.run()).reason;
  } finally {
    if (timer) clearTimeout(timer);
    offTerminate();
    signal.removeEventListener('abort', onAbort);
    port.close();
    // The conversation's numbers (turn latency, barge-ins, tool calls, drops) stay with the AI call.
    const metrics = r.engine.conversationSummary?.(aicall.id);
    try {
      const latest = (await r.ctx.store.aicalls.getById(aicall.id)) ?? aicall;
      const done = await terminateAicall(r.ctx, latest);
      const metadata = { ...(done.metadata as object), termination_reason: endReason, ...(metrics ? { metrics } : {}) };
      await r.ctx.store.aicalls.update({ ...done, metadata });
    } catch (err) {
      r.ctx.logger.error('storing the end of an AI call failed', { aicall_id: aicall.id, error: String(err) });
    }
  }
}
