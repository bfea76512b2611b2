/**
 * The session runner: one call <-> one agent conversation, over an {@link AudioPort} and
 * {@link FlowHooks}. It owns how the conversation runs: the agent's start and stop, the audio
 * conversion between the call's 8 kHz linear PCM and the agent's declared formats (one stateful
 * resampler per direction for pcm16 at another rate; G.711 through the lookup tables for
 * pcmu / pcma), caller audio and DTMF to the agent, agent audio (tagged by response) to the
 * port's playout, barge-in clears and what was heard, the tool runtime (tools/ executor through
 * the one REST client), transcripts (final lines as AI call messages through the same client),
 * the observer's records (streams/session/events.ts), the end reason and the drain of the
 * agent's last words. Nothing on the per-frame path allocates: converters reuse their buffers. The same runner serves the local flow engine, calls on
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
import type { AgentAudio, AgentAudioFormat, AgentConfig, AgentEvent, AgentFactory, AgentHost, AgentSession, AgentWarmup, ClearReport } from '../agents/agent.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from '../audio/g711.js';
import { createResampler } from '../audio/resampler.js';
import type { Resampler } from '../audio/resampler.js';
import type { AudioPort } from './audio-port.js';
import type { HostEvent, SessionObserver } from './events.js';
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
  /** What the agent's prewarm opened while the call rang (handed to the agent, which owns it). */
  warmup?: AgentWarmup;
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
  /**
   * Receives the conversation's records (performance.now() timestamps): every {@link AgentEvent}
   * the agent emits, and the host's own ({@link HostEvent}: session_started, first_audio,
   * playout_cleared, tool_call, transcript, session_ended). Called synchronously; must not block.
   */
  observer?: SessionObserver;
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

/** Responses whose first audio the runner remembers (to emit `first_audio` once per response). */
const FIRST_AUDIO_MEMORY = 64;

/** Caller audio (8 kHz linear, 20 ms) to the agent's `input` format; reuses its buffers. */
type InboundConverter = (frame8k: Int16Array) => AgentAudio;

/**
 * Agent audio in its `output` format to 8 kHz linear for the port; the result is a view of a
 * buffer the converter owns, valid until its next call (undefined: the audio has the wrong type).
 */
type OutboundConverter = (audio: AgentAudio) => Int16Array | undefined;

/** A reusable output buffer with a cached view, so a steady chunk size allocates nothing. */
class ViewBuffer<T extends Int16Array | Uint8Array> {
  private buf: T;
  private view: T;
  constructor(private readonly make: (n: number) => T, initial: number) {
    this.buf = make(initial);
    this.view = this.buf.subarray(0, 0) as T;
  }
  /** A buffer of at least `n` elements (grown once when a chunk is larger than any before). */
  room(n: number): T {
    if (this.buf.length < n) this.buf = this.make(Math.max(n, this.buf.length * 2));
    return this.buf;
  }
  /** The first `n` elements of the current buffer. */
  viewOf(n: number): T {
    if (this.view.length !== n || this.view.buffer !== this.buf.buffer) this.view = this.buf.subarray(0, n) as T;
    return this.view;
  }
}

/** The converter of caller audio for `format` (one stateful resampler for pcm16 at another rate). */
async function inboundConverter(format: AgentAudioFormat): Promise<{ convert: InboundConverter; resampler?: Resampler }> {
  if (format.encoding === 'pcm16') {
    if (format.sampleRateHz === PORT_RATE_HZ) return { convert: (frame) => frame };
    const resampler = await createResampler({ inputRateHz: PORT_RATE_HZ, outputRateHz: format.sampleRateHz });
    return { convert: (frame) => resampler.process(frame), resampler };
  }
  const encode = format.encoding === 'pcmu' ? encodeMulaw : encodeAlaw;
  const out = new ViewBuffer((n) => new Uint8Array(n), 160);
  return {
    convert(frame) {
      const n = encode(frame, out.room(frame.length));
      return out.viewOf(n);
    },
  };
}

/** The converter of agent audio in `format` to the port's 8 kHz linear. */
async function outboundConverter(format: AgentAudioFormat): Promise<{ convert: OutboundConverter; resampler?: Resampler }> {
  if (format.encoding === 'pcm16') {
    if (format.sampleRateHz === PORT_RATE_HZ) return { convert: (audio) => (audio instanceof Int16Array ? audio : undefined) };
    const resampler = await createResampler({ inputRateHz: format.sampleRateHz, outputRateHz: PORT_RATE_HZ });
    return { convert: (audio) => (audio instanceof Int16Array ? resampler.process(audio) : undefined), resampler };
  }
  const decode = format.encoding === 'pcmu' ? decodeMulaw : decodeAlaw;
  // 600 ms of G.711 before the first growth (an engine's chunks are usually 20-100 ms).
  const out = new ViewBuffer((n) => new Int16Array(n), 4800);
  return {
    convert(audio) {
      if (!(audio instanceof Uint8Array)) return undefined;
      const n = decode(audio, out.room(audio.length));
      return out.viewOf(n);
    },
  };
}

export class SessionRunner {
  private readonly opts: SessionRunnerOptions;
  private reason = '';
  private resolveEnded: () => void = () => {};
  private readonly ended = new Promise<void>((res) => (this.resolveEnded = res));
  private readonly messages: MessageLog;
  private readonly runtime: ToolRuntime;
  private running: Promise<SessionEnd> | undefined;
  private session: AgentSession | undefined;
  /** The agent audio converter, once the session declared its `output`. */
  private toPort: OutboundConverter | undefined;
  private fromAgent: Resampler | undefined;
  /** The response of the last audioOut (a one-entry cache of `firstAudioSeen`). */
  private lastAudioId: string | undefined;
  private readonly firstAudioSeen = new Set<string>();
  private wrongAudioWarned = false;

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

  /**
   * A barge-in the host detected (its own VAD, the carrier): the agent is asked to stop speaking
   * and cut its response to what was heard (it clears the playout through its host). A no-op
   * before the agent exists or after the conversation ended.
   */
  interrupt(): void {
    if (this.reason || !this.session) return;
    try {
      this.session.interrupt();
    } catch (err) {
      this.opts.logger?.warn(`${this.opts.label ?? 'session'}: the agent's interrupt failed`, { aicall_id: this.opts.aicall.id, error: String(err) });
    }
  }

  /** Runs the conversation until it ends; resolves with how. Never rejects. Runs once. */
  run(): Promise<SessionEnd> {
    this.running ??= this.conversation();
    return this.running;
  }

  /** One record to the observer, stamped now. */
  private emit(event: AgentEvent | HostEvent): void {
    const observer = this.opts.observer;
    if (!observer) return;
    try {
      observer({ atMs: performance.now(), event });
    } catch {
      // An observer must not throw; if it does, the conversation goes on.
    }
  }

  /** host.audioOut: convert, queue, and note the first audio of each response. */
  private audioOut(audio: AgentAudio, responseId: string): void {
    const convert = this.toPort;
    const samples = convert?.(audio);
    if (!samples) {
      if (!this.wrongAudioWarned) {
        this.wrongAudioWarned = true;
        this.opts.logger?.warn(`${this.opts.label ?? 'session'}: agent audio dropped (${convert ? 'not in its declared output format' : 'before the session existed'})`, {
          aicall_id: this.opts.aicall.id,
        });
      }
      return;
    }
    if (samples.length > 0) this.opts.port.play(samples, responseId);
    if (responseId !== this.lastAudioId) {
      this.lastAudioId = responseId;
      if (!this.firstAudioSeen.has(responseId)) {
        this.firstAudioSeen.add(responseId);
        if (this.firstAudioSeen.size > FIRST_AUDIO_MEMORY) this.firstAudioSeen.delete(this.firstAudioSeen.values().next().value!);
        this.emit({ type: 'first_audio', responseId });
      }
    }
  }

  /** host.clearAudio: the port's report; the outbound filter's history goes with the dropped audio. */
  private clearAudio(): ClearReport {
    const report = this.opts.port.clear();
    this.fromAgent?.reset();
    this.emit({ type: 'playout_cleared', droppedMs: report.droppedMs });
    return report;
  }

  private async conversation(): Promise<SessionEnd> {
    const { port, config, logger } = this.opts;
    let toAgent: Resampler | undefined;
    let session: AgentSession | undefined;
    let untap: (() => void) | undefined;
    let offDtmf: (() => void) | undefined;
    let error: unknown;
    const host: AgentHost = {
      audioOut: (audio, responseId) => this.audioOut(audio, responseId),
      clearAudio: () => this.clearAudio(),
      playedMs: (responseId) => port.playedMs(responseId),
      toolCall: async (tc: AgentToolCall) => {
        // What the agent said before the call is stored before the call (the spoken order).
        await this.messages.flush();
        const t0 = performance.now();
        const out = await executeToolCall(this.runtime, tc);
        this.emit({ type: 'tool_call', name: tc.name, ms: performance.now() - t0, result: out.result.result });
        return out;
      },
      transcript: (role, text, opts) => {
        const final = opts?.final !== false;
        if (final) this.messages.add(role, text);
        this.emit({ type: 'transcript', role, text, final, ...(opts?.responseId ? { responseId: opts.responseId } : {}) });
      },
      event: (ev) => this.emit(ev),
      end: (reason) => this.stop(`agent: ${reason}`),
    };
    // Listen for the end before anything is awaited: a hangup during the agent's start must
    // still end the conversation (and stop the agent), never leave it waiting for ever.
    const offEnd = port.onEnd(() => this.stop('hangup'));
    if (port.ended) this.stop('hangup');
    let started = false;
    try {
      session = await this.opts.agent(
        {
          aicall: this.opts.aicall,
          config,
          tools: selectToolDefinitions(config.tool_names).map((d) => ({ name: d.name, description: d.description, parameters: d.parameters })),
          variables: this.opts.variables,
          ...(this.opts.warmup ? { warmup: this.opts.warmup } : {}),
        },
        host,
      );
      this.session = session;
      if (!this.reason) {
        const inbound = await inboundConverter(session.input);
        toAgent = inbound.resampler;
        const outbound = await outboundConverter(session.output);
        this.fromAgent = outbound.resampler;
        this.toPort = outbound.convert;
        await this.opts.onStarted?.();
        const s = session;
        const convertIn = inbound.convert;
        untap = port.onAudio((frame) => s.audioIn(convertIn(frame)));
        offDtmf = port.onDtmf?.((digit) => s.dtmf?.(digit));
        started = true;
        this.emit({ type: 'session_started', aicallId: this.opts.aicall.id });
        await Promise.race([session.start(), this.ended]);
        await this.ended;
      }
    } catch (err) {
      // A factory that failed before taking the warmup over leaves it to us (dispose is idempotent).
      this.opts.warmup?.dispose();
      logger?.error(`${this.opts.label ?? 'session'}: the agent failed`, { aicall_id: this.opts.aicall.id, error: String(err) });
      error = err;
      if (!this.reason) this.reason = 'agent error';
    } finally {
      offEnd();
      untap?.();
      offDtmf?.();
      if (!this.reason) this.reason = 'ended';
      await session?.stop(this.reason).catch(() => undefined);
      // Let what the agent already said finish playing, unless the call or the flow is over.
      if (!port.ended && !NO_DRAIN_REASONS.has(this.reason)) {
        // The last few ms of the agent's audio still sit in the outbound filter.
        const tail = this.fromAgent?.flush();
        if (tail && tail.length > 0 && this.lastAudioId !== undefined) port.play(tail, this.lastAudioId);
        let drainTimer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([port.drain(), new Promise((res) => (drainTimer = setTimeout(res, this.opts.maxDrainMs ?? MAX_DRAIN_MS)))]);
        clearTimeout(drainTimer);
      }
      this.toPort = undefined;
      toAgent?.destroy();
      this.fromAgent?.destroy();
      this.fromAgent = undefined;
      await this.messages.flush();
      if (started) this.emit({ type: 'session_ended', reason: this.reason });
    }
    return error === undefined ? { reason: this.reason } : { reason: this.reason, error };
  }
}
