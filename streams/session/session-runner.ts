/**
 * The session runner: one call <-> one agent conversation, over an {@link AudioPort} and
 * {@link FlowHooks}. It owns how the conversation runs: the agent's start and stop, one stateful
 * resampler per direction between the call's 8 kHz and the agent's declared rates, caller audio to
 * the agent, agent audio to the call, barge-in clears, the tool runtime (tools/ executor through
 * the one REST client), transcripts (AI call messages through the same client), the end reason
 * and the drain of the agent's last words. The same runner serves the local flow engine, calls on
 * api.voipbin.net (a media_stream client) and carrier streams; only the port and the hooks differ.
 * *When* a conversation runs and ends from the outside (an action's duration, a flow stop, an API
 * terminate) is the caller's: it calls {@link SessionRunner.stop}.
 */
import type { VoipbinClient } from '../../src/client/client.js';
import type { Logger } from '../../src/util/logger.js';
import { executeToolCall } from '../../tools/executor.js';
import type { ToolRuntime } from '../../tools/executor.js';
import type { AgentToolCall } from '../../tools/results.js';
import { resolveToolNames, selectToolDefinitions } from '../../tools/selection.js';
import type { AgentConfig, AgentFactory, AgentHost, AgentSession } from '../agents/agent.js';
import { createResampler } from '../audio/resampler.js';
import type { Resampler } from '../audio/resampler.js';
import type { AudioPort } from './audio-port.js';
import { toolFlowControl } from './flow-hooks.js';
import type { FlowHooks } from './flow-hooks.js';
import { MessageLog } from './message-log.js';

/** Longest wait for the agent's last words to finish playing after the conversation ends. */
export const MAX_DRAIN_MS = 10_000;

/** The rate of the call side of every {@link AudioPort}. */
export const PORT_RATE_HZ = 8000;

/** End reasons after which the agent's queued audio is dropped rather than played out. */
const NO_DRAIN_REASONS = new Set(['stop_flow']);

export interface SessionRunnerOptions {
  /** The AI call this conversation is (already created: its messages are stored under it). */
  aicall: { id: string; customer_id: string; activeflow_id: string; reference_id: string };
  config: AgentConfig;
  /** The agent, chosen by the caller (e.g. from an AgentRegistry). */
  agent: AgentFactory;
  port: AudioPort;
  flow: FlowHooks;
  /** The one REST client, acting as the AI call's customer (tools and transcripts). */
  client: VoipbinClient;
  /** Flow variables at start, handed to the agent. */
  variables: Record<string, string>;
  logger?: Logger;
  /** Prefix of log lines, e.g. the flow action type (default `session`). */
  label?: string;
  /** Bound of the drain (default {@link MAX_DRAIN_MS}). */
  maxDrainMs?: number;
  /**
   * Runs once the agent session exists, before caller audio flows and the agent starts (the local
   * engine marks the AI call `progressing` here). A rejection ends the conversation as an error.
   */
  onStarted?: () => Promise<void> | void;
}

/** How a conversation ended. */
export interface SessionEnd {
  /**
   * `hangup`, `stop_service`, `stop_flow`, `connect_call`, `agent: <why>`, `agent error`,
   * `ended`, or what the caller passed to {@link SessionRunner.stop}.
   */
  reason: string;
  /** What the agent (or `onStarted`) threw, if the conversation ended on a failure. */
  error?: unknown;
}

export class SessionRunner {
  private readonly opts: SessionRunnerOptions;
  private reason = '';
  private resolveEnded: () => void = () => {};
  private readonly ended = new Promise<void>((res) => (this.resolveEnded = res));
  private readonly messages: MessageLog;
  private readonly runtime: ToolRuntime;
  private running: Promise<SessionEnd> | undefined;

  constructor(opts: SessionRunnerOptions) {
    this.opts = opts;
    this.messages = new MessageLog(opts.client, opts.aicall.id, opts.logger);
    this.runtime = {
      client: opts.client,
      aicall: { id: opts.aicall.id, customer_id: opts.aicall.customer_id, activeflow_id: opts.aicall.activeflow_id },
      flow: toolFlowControl(opts.flow, (reason) => this.stop(reason)),
      allowed: resolveToolNames(opts.config.tool_names),
      logger: opts.logger,
    };
  }

  /** The reason the conversation ends with ('' while it runs). */
  get endReason(): string {
    return this.reason;
  }

  /**
   * Ends the conversation (idempotent: the first reason wins). May be called before {@link run}:
   * the agent is then stopped as soon as it exists.
   */
  stop(reason: string): void {
    if (!this.reason) this.reason = reason;
    this.resolveEnded();
  }

  /** Runs the conversation until it ends; resolves with how. Never rejects. Runs once. */
  run(): Promise<SessionEnd> {
    this.running ??= this.conversation();
    return this.running;
  }

  private async conversation(): Promise<SessionEnd> {
    const { port, config, logger } = this.opts;
    let toAgent: Resampler | undefined;
    let fromAgent: Resampler | undefined;
    let session: AgentSession | undefined;
    let untap: (() => void) | undefined;
    let error: unknown;
    const host: AgentHost = {
      audioOut: (samples) => port.play(fromAgent ? fromAgent.process(samples) : samples),
      clearAudio: () => port.clear(),
      toolCall: async (tc: AgentToolCall) => {
        // What the agent said before the call is stored before the call (the spoken order).
        await this.messages.flush();
        return executeToolCall(this.runtime, tc);
      },
      transcript: (role, text) => this.messages.add(role, text),
      end: (reason) => this.stop(`agent: ${reason}`),
    };
    // Listen for the end before anything is awaited: a hangup during the agent's start must
    // still end the conversation (and stop the agent), never leave it waiting for ever.
    const offEnd = port.onEnd(() => this.stop('hangup'));
    if (port.ended) this.stop('hangup');
    try {
      session = await this.opts.agent(
        {
          aicall: this.opts.aicall,
          config,
          tools: selectToolDefinitions(config.tool_names).map((d) => ({ name: d.name, description: d.description, parameters: d.parameters })),
          variables: this.opts.variables,
        },
        host,
      );
      if (!this.reason) {
        if (session.inputSampleRateHz !== PORT_RATE_HZ) toAgent = await createResampler({ inputRateHz: PORT_RATE_HZ, outputRateHz: session.inputSampleRateHz });
        if (session.outputSampleRateHz !== PORT_RATE_HZ) fromAgent = await createResampler({ inputRateHz: session.outputSampleRateHz, outputRateHz: PORT_RATE_HZ });
        await this.opts.onStarted?.();
        const s = session;
        const resampleIn = toAgent;
        untap = port.onAudio((frame) => s.audioIn(resampleIn ? resampleIn.process(frame) : frame));
        await Promise.race([session.start(), this.ended]);
        await this.ended;
      }
    } catch (err) {
      logger?.error(`${this.opts.label ?? 'session'}: the agent failed`, { aicall_id: this.opts.aicall.id, error: String(err) });
      error = err;
      if (!this.reason) this.reason = 'agent error';
    } finally {
      offEnd();
      untap?.();
      if (!this.reason) this.reason = 'ended';
      await session?.stop(this.reason).catch(() => undefined);
      // Let what the agent already said finish playing, unless the call or the flow is over.
      if (!port.ended && !NO_DRAIN_REASONS.has(this.reason)) {
        let drainTimer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([port.drain(), new Promise((res) => (drainTimer = setTimeout(res, this.opts.maxDrainMs ?? MAX_DRAIN_MS)))]);
        clearTimeout(drainTimer);
      }
      toAgent?.destroy();
      fromAgent?.destroy();
      await this.messages.flush();
    }
    return error === undefined ? { reason: this.reason } : { reason: this.reason, error };
  }
}
