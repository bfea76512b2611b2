/**
 * Agents made ready while a call rings. When an outgoing call whose flow will run an `ai_talk` /
 * `ai` action starts ringing, the first such action's AI configuration is resolved ahead of the
 * flow (no flow variables yet: only the providers, voice and VAD settings matter here) and its
 * agent kind's {@link AgentFactory.prewarm} opens what the session will need (the STT stream,
 * models). The action takes it over when it runs; a call that ends first disposes of it.
 */
import type { AgentRegistry } from '../../../streams/agents/registry.js';
import type { AgentWarmup } from '../../../streams/agents/agent.js';
import type { LocalContext } from '../context.js';
import { resolveAiConfig } from './ai-action.js';
import type { FlowAction } from './flow-runner.js';
import type { LiveCall } from './live-call.js';

const AI_ACTIONS = new Set(['ai_talk', 'ai']);

export class AgentWarmups {
  private readonly byCall = new Map<string, { actionId: string; warmup: AgentWarmup }>();

  constructor(
    private readonly ctx: LocalContext,
    private readonly agents: AgentRegistry,
  ) {}

  /** The call is ringing and will run its flow when answered: make its first AI action's agent ready. */
  async ringing(live: LiveCall): Promise<void> {
    const flowId = live.row.flow_id;
    if (typeof flowId !== 'string' || !flowId) return;
    try {
      const flow = await this.ctx.store.flows.get(live.row.customer_id, flowId);
      const action = ((flow?.actions as FlowAction[] | undefined) ?? []).find((a) => AI_ACTIONS.has(a.type));
      if (!action || live.ended || live.answered) return;
      const scope = { store: this.ctx.store, customerId: live.row.customer_id, substitute: <T>(v: T) => v, variable: () => undefined };
      const config = await resolveAiConfig(scope, action.option ?? {});
      if ('error' in config || live.ended) return;
      const warmup = this.agents.resolve(config)?.prewarm?.(config);
      if (!warmup) return;
      if (live.ended) return warmup.dispose();
      this.byCall.set(live.id, { actionId: action.id, warmup });
      live.onEnd(() => {
        const left = this.byCall.get(live.id);
        this.byCall.delete(live.id);
        left?.warmup.dispose();
      });
    } catch (err) {
      // A warm-up is an optimisation: the action opens everything itself when it runs.
      this.ctx.logger.debug('agent warm-up skipped', { call_id: live.id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** The warm-up made for action `actionId` of the call, handed over once (undefined: none). */
  take(callId: string, actionId: string): AgentWarmup | undefined {
    const w = this.byCall.get(callId);
    if (!w || w.actionId !== actionId) return undefined;
    this.byCall.delete(callId);
    return w.warmup;
  }
}
