import type { Row } from '../../../db/store.js';
import type { AgentConfig, AgentHost, AgentSession, AgentToolCall } from '../../../streams/agents/agent.js';
import { createResampler } from '../../../streams/audio/resampler.js';
import type { Resampler } from '../../../streams/audio/resampler.js';
import { executeToolCall } from '../../../tools/executor.js';
import type { FlowControl, ToolAddress } from '../../../tools/executor.js';
import { selectToolDefinitions, resolveToolNames } from '../../../tools/selection.js';
import { DEFAULT_TTS_VOICE_IDS, providerKeyFromEnv } from '../../catalog/ai.js';
import { registerSecret } from '../../util/logger.js';
import { NIL_UUID, idOrNil, newId } from '../../util/ids.js';
import { nowTimestamp } from '../../util/time.js';
import { storeAimessage, terminateAicall } from '../routes/aicalls.js';
import { newAicallRow } from '../rows.js';
import type { FlowAction, FlowRunner } from './flow-runner.js';

/** Longest wait for the agent's last words to finish playing after the AI action ends. */
const MAX_DRAIN_MS = 10_000;

/** Why an AI action ended, stored in the AI call's metadata. */
export const NO_AGENT_REASON =
  'no AI agent is configured on this local VoIPBIN yet (the built-in pipeline and external agents come in later releases); the AI call ended and the flow went on';

/** The `voipbin.tts.<type>.voice_id` flow variable (VoIPBIN documents it for elevenlabs), if set. */
function voiceOverride(r: FlowRunner, ttsType: string): string {
  return r.variables.get(`voipbin.tts.${ttsType}.voice_id`) ?? '';
}

/** The AI configuration of an `ai_talk` / `ai` action: the referenced AI, or the inline options. */
async function resolveConfig(r: FlowRunner, option: Record<string, unknown>): Promise<AgentConfig | { error: string }> {
  const customerId = r.call.row.customer_id;
  const str = (v: unknown, d = '') => (typeof v === 'string' ? v : d);
  // `ai_id` is the older form; `assistance_type` "ai" + `assistance_id` the current one.
  const aiId = str(option.ai_id) || ((option.assistance_type ?? 'ai') === 'ai' ? str(option.assistance_id) : '');
  if (aiId) {
    const ai = await r.ctx.store.ais.get(customerId, aiId.toLowerCase());
    if (!ai) return { error: `ai ${aiId} not found` };
    const engineKey = (await r.ctx.store.ais.getSecret(customerId, ai.id)) ?? '';
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
    // Inline options carry no key (it would be stored in the flow): the server's env provides it.
    engine_key: providerKeyFromEnv(engineModel),
    init_prompt: str(option.initial_prompt, str(option.init_prompt)),
    tts_type: ttsType,
    tts_voice_id: voiceOverride(r, ttsType) || str(option.tts_voice_id) || DEFAULT_TTS_VOICE_IDS[ttsType] || '',
    stt_type: str(option.stt_type, 'deepgram'),
    stt_language: str(option.language, 'en-US'),
    language: str(option.language, 'en-US'),
    // Inline actions enable no tools unless they list them: ["all"] would include stop_flow.
    tool_names: Array.isArray(option.tool_names) ? (option.tool_names as string[]) : [],
    vad_config: {},
    parameter: {},
  };
}

/** The flow-side tool hooks of one AI action on the local flow engine. */
function localFlowControl(r: FlowRunner, endAi: (reason: string) => void, agentSourceName: string): FlowControl {
  const call = r.call;
  const tel = (a: unknown) => (a && (a as ToolAddress).type === 'tel' ? (a as ToolAddress).target : undefined);
  return {
    async setVariables(vars) {
      for (const [k, v] of Object.entries(vars)) r.variables.set(k, String(v));
    },
    async getVariables() {
      return Object.fromEntries(r.variables);
    },
    async stopService() {
      endAi('stop_service');
    },
    async stopFlow() {
      return async () => {
        endAi('stop_flow');
        await r.stop('stop_flow');
      };
    },
    async connect(source, destinations) {
      return async () => {
        r.insertAfterCurrent([{ id: newId(), next_id: NIL_UUID, type: 'connect', option: { source, destinations } }]);
        endAi('connect_call');
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
 * `ai_talk` / `ai`: creates an AI call (initiating → progressing → terminated) with the AI's
 * configuration or the inline options, and hands the call's audio to an agent through the one
 * agent interface until the agent ends, a tool ends it, the call ends, or the action's duration
 * runs out. Without an agent the AI call ends at once with a clear reason and the flow goes on.
 */
export async function runAiAction(r: FlowRunner, a: FlowAction, signal: AbortSignal): Promise<void> {
  const call = r.call;
  await r.engine.answer(call);
  const config = await resolveConfig(r, a.option);
  if ('error' in config) {
    r.ctx.logger.warn(`${a.type} action skipped: ${config.error}`, { activeflow_id: r.activeflow.id });
    return;
  }
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
  if (config.init_prompt) await storeAimessage(r.ctx.store, aicall, { role: 'system', content: config.init_prompt });

  const factory = r.engine.agentFactory;
  if (!factory) {
    r.ctx.logger.warn(`${a.type}: ${NO_AGENT_REASON}`, { aicall_id: aicall.id });
    aicall = await r.ctx.store.aicalls.update({ ...aicall, metadata: { termination_reason: NO_AGENT_REASON } });
    await storeAimessage(r.ctx.store, aicall, { role: 'notification', content: NO_AGENT_REASON });
    await terminateAicall(r.ctx, aicall);
    return;
  }

  let endReason = '';
  let resolveEnded: () => void = () => {};
  const ended = new Promise<void>((res) => (resolveEnded = res));
  const endAi = (reason: string) => {
    if (!endReason) endReason = reason;
    resolveEnded();
  };
  const agentSource = call.addSource(`agent:${aicall.id}`);
  const allowed = resolveToolNames(config.tool_names);
  const rt = {
    client: r.engine.clientFor(call.row.customer_id),
    aicall: { id: aicall.id, customer_id: aicall.customer_id, activeflow_id: r.activeflow.id },
    flow: localFlowControl(r, endAi, agentSource.name),
    allowed,
    logger: r.ctx.logger,
  };
  let toAgent: Resampler | undefined;
  let fromAgent: Resampler | undefined;
  let session: AgentSession | undefined;
  let untap: (() => void) | undefined;
  const host: AgentHost = {
    audioOut(samples) {
      agentSource.push(fromAgent ? fromAgent.process(samples) : samples);
    },
    clearAudio() {
      return agentSource.clear();
    },
    toolCall(tc: AgentToolCall) {
      return executeToolCall(rt, tc);
    },
    transcript(role, text) {
      void storeAimessage(r.ctx.store, aicall, { role, content: text }).catch(() => undefined);
    },
    end(reason) {
      endAi(`agent: ${reason}`);
    },
  };
  // Listen for the end before anything is awaited: a hangup or stop during the agent's start
  // must still end the action (and stop the agent), never leave it waiting for ever.
  const offEnd = call.onEnd(() => endAi('hangup'));
  const onAbort = () => endAi(call.ended ? 'hangup' : 'flow stopped'); // a hangup stops the flow first
  signal.addEventListener('abort', onAbort, { once: true });
  if (call.ended) endAi('hangup');
  else if (signal.aborted) onAbort();
  const durationSec = Number(a.option.duration ?? 0);
  const timer = durationSec > 0 ? setTimeout(() => endAi('duration'), durationSec * 1000) : undefined;
  const offTerminate = r.engine.registerAicall(aicall.id, () => endAi('terminated'));
  try {
    session = await factory(
      {
        aicall: { id: aicall.id, customer_id: aicall.customer_id, activeflow_id: r.activeflow.id, reference_id: call.id },
        config,
        tools: selectToolDefinitions(config.tool_names).map((d) => ({ name: d.name, description: d.description, parameters: d.parameters })),
        variables: Object.fromEntries(r.variables),
      },
      host,
    );
    if (!endReason) {
      if (session.inputSampleRateHz !== 8000) toAgent = await createResampler({ inputRateHz: 8000, outputRateHz: session.inputSampleRateHz });
      if (session.outputSampleRateHz !== 8000) fromAgent = await createResampler({ inputRateHz: session.outputSampleRateHz, outputRateHz: 8000 });
      aicall = await r.ctx.store.aicalls.update({ ...aicall, status: 'progressing', tm_update: nowTimestamp() });
      const s = session;
      untap = call.tap((frame) => s.audioIn(toAgent ? toAgent.process(frame) : frame));
      await Promise.race([session.start(), ended]);
      await ended;
    }
  } catch (err) {
    r.ctx.logger.error(`${a.type}: the agent failed`, { aicall_id: aicall.id, error: String(err) });
    endReason ||= 'agent error';
  } finally {
    if (timer) clearTimeout(timer);
    offEnd();
    offTerminate();
    signal.removeEventListener('abort', onAbort);
    untap?.();
    await session?.stop(endReason || 'ended').catch(() => undefined);
    // Let what the agent already said finish playing, unless the call or flow is over.
    if (!call.ended && endReason !== 'stop_flow') {
      agentSource.end();
      let drainTimer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([agentSource.finished(), new Promise((res) => (drainTimer = setTimeout(res, MAX_DRAIN_MS)))]);
      clearTimeout(drainTimer);
    }
    call.removeSource(agentSource);
    toAgent?.destroy();
    fromAgent?.destroy();
    try {
      const latest = (await r.ctx.store.aicalls.getById(aicall.id)) ?? aicall;
      const done = await terminateAicall(r.ctx, latest);
      await r.ctx.store.aicalls.update({ ...done, metadata: { ...(done.metadata as object), termination_reason: endReason || 'ended' } });
    } catch (err) {
      r.ctx.logger.error('storing the end of an AI call failed', { aicall_id: aicall.id, error: String(err) });
    }
  }
}
