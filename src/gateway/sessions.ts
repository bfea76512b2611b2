/**
 * Gateway sessions on remote VoIPBIN calls (api.voipbin.net, or any VoIPBIN-compatible API): the
 * agent runs in this process, attached to a call of the remote through that call's media_stream.
 *
 * `start({call_id, ai_id | ai})`:
 * 1. reads the call (`GET /calls/{id}`: 404 names the call_id) and the AI (`GET /ais/{id}`), or
 *    takes the inline AI configuration;
 * 2. the provider key: the AI's `engine_key` when the remote returns it, else the provider's env
 *    var of this process (`OPENAI_API_KEY` for `openai.*` models, ...). Never logged or returned;
 * 3. picks the agent from the same {@link AgentRegistry} the local engine uses;
 * 4. dials `{VOIPBIN_API_URL}/calls/{id}/media_stream` with `VOIPBIN_ACCESSKEY`
 *    (streams/media-stream-client.ts) and runs a {@link SessionRunner} over a
 *    {@link mediaStreamPort} with tools/remote-flow.ts as its flow hooks.
 *
 * Transcripts: the public API's `POST /aicalls` would start VoIPBIN's *own* AI on the call (a
 * second agent talking), so the gateway creates no AI call there. The transcript (final lines,
 * tool calls and results) is kept with the gateway session (`messages`, see
 * `GET /v1.0/gateway/sessions/{id}/messages`); when the start names an `aicall_id` of the remote,
 * every message is also stored there with `POST /aimessages`.
 */
import type { VoipbinClientOptions } from '../client/client.js';
import { VoipbinClient } from '../client/client.js';
import { VoipbinError } from '../client/errors.js';
import { AIMessages } from '../client/resources.js';
import type { AIManagerAI, AIManagerMessage, AIMessageCreateParams, CallManagerCall } from '../client/types.js';
import { ApiError } from '../api/errors.js';
import { DEFAULT_TTS_VOICE_IDS, providerKeyFromEnv } from '../catalog/ai.js';
import type { Logger } from '../util/logger.js';
import { registerSecret } from '../util/logger.js';
import { newId } from '../util/ids.js';
import { nowTimestamp } from '../util/time.js';
import type { AgentConfig } from '../../streams/agents/agent.js';
import type { AgentRegistry } from '../../streams/agents/registry.js';
import { connectMediaStream } from '../../streams/media-stream-client.js';
import type { Encapsulation } from '../../streams/protocols/encapsulation.js';
import type { SessionObserver } from '../../streams/session/events.js';
import type { FlowHooks } from '../../streams/session/flow-hooks.js';
import { mediaStreamPort } from '../../streams/session/media-stream-port.js';
import type { MediaStreamPort } from '../../streams/session/media-stream-port.js';
import { SessionRunner } from '../../streams/session/session-runner.js';
import type { ToolAddress } from '../../tools/executor.js';
import { RemoteFlowControl } from '../../tools/remote-flow.js';

/** Ended sessions kept for `get` / `list` (the oldest are forgotten). */
export const ENDED_SESSIONS_KEPT = 200;
/** Most messages one session keeps. */
export const MAX_SESSION_MESSAGES = 2000;

export const GATEWAY_NOT_CONFIGURED =
  'the gateway runs agents on calls of a remote VoIPBIN, and none is configured: set VOIPBIN_API_URL (e.g. https://api.voipbin.net/v1.0) and VOIPBIN_ACCESSKEY, then restart';

export const NO_AGENT_MESSAGE =
  'no agent serves this engine_model on this gateway: use <provider>.<model> (the built-in pipeline, e.g. openai.gpt-4o), an OpenAI Realtime model (openai.gpt-realtime...), or external.<name> with parameter.agent_url';

/** An inline AI configuration (instead of `ai_id`). */
export interface InlineAi {
  engine_model: string;
  init_prompt?: string;
  tts_type?: string;
  tts_voice_id?: string;
  stt_type?: string;
  stt_language?: string;
  tool_names?: string[];
  parameter?: Record<string, unknown>;
}

export interface StartGatewaySession {
  call_id: string;
  ai_id?: string;
  ai?: InlineAi;
  /** Default `sln`. */
  encapsulation?: Encapsulation;
  /** An AI call of the remote to also store the transcript under (`POST /aimessages`). */
  aicall_id?: string;
  /** Who started it (the local customer, for scoping the REST routes). */
  owner?: string;
}

export type GatewaySessionStatus = 'starting' | 'running' | 'ended';

/** The public view of a session (what the REST API and the MCP tools answer). */
export interface GatewaySessionView {
  id: string;
  call_id: string;
  ai_id: string;
  aicall_id: string;
  activeflow_id: string;
  engine_model: string;
  encapsulation: Encapsulation;
  status: GatewaySessionStatus;
  end_reason: string;
  tm_create: string;
  tm_update: string;
  tm_end: string;
  metrics: Record<string, unknown>;
}

export interface GatewaySessionsOptions {
  /** The remote API base (`https://api.voipbin.net/v1.0`); undefined: the gateway is unavailable. */
  apiUrl?: string;
  /** The remote access key (REST and media_stream); never logged. */
  accessKey?: string;
  agents: AgentRegistry;
  logger: Logger;
  /** Where provider keys are read when the AI carries none (default process.env). */
  env?: Record<string, string | undefined>;
  /** The observer of each conversation (metrics). */
  sessionObserver?: (session: { aicallId: string; callId: string }) => SessionObserver | undefined;
  /** Ends a conversation's metrics and returns its summary. */
  conversationSummary?: (aicallId: string) => object | undefined;
  /** More options of the remote REST client (tests: retries, timeouts, fetch). */
  clientOptions?: Omit<VoipbinClientOptions, 'baseUrl' | 'accessKey'>;
  /** Media stream handshake timeout. */
  handshakeTimeoutMs?: number;
  /** Bound of the drain of the agent's last words (see SessionRunner). */
  maxDrainMs?: number;
}

/** The transcript of one session: kept here, and teed to the remote's AI call when one is named. */
class SessionMessages extends AIMessages {
  constructor(
    client: VoipbinClient,
    private readonly session: Session,
  ) {
    super(client);
  }
  override async create(body: AIMessageCreateParams): Promise<AIManagerMessage> {
    const s = this.session;
    const message: AIManagerMessage = {
      ...(body as AIManagerMessage),
      id: newId(),
      aicall_id: s.aicallId,
      activeflow_id: s.activeflowId,
      tm_create: nowTimestamp(),
    };
    if (s.messages.length < MAX_SESSION_MESSAGES) s.messages.push(message);
    if (s.remoteAicallId) return super.create({ ...body, aicall_id: s.remoteAicallId });
    return message;
  }
}

interface Session {
  id: string;
  owner: string | undefined;
  callId: string;
  aiId: string;
  aicallId: string;
  remoteAicallId: string;
  activeflowId: string;
  engineModel: string;
  encapsulation: Encapsulation;
  status: GatewaySessionStatus;
  endReason: string;
  tmCreate: string;
  tmUpdate: string;
  tmEnd: string;
  messages: AIManagerMessage[];
  toolCalls: number;
  summary: object | undefined;
  port: MediaStreamPort | undefined;
  runner: SessionRunner | undefined;
  /** Set by a stop that came while the session was still starting. */
  stopRequested: string;
  done: Promise<void>;
}

const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);

/** The address of a call leg as the tools take it. */
function toolAddress(a: CallManagerCall['source']): ToolAddress {
  return { type: str(a?.type, 'tel'), target: str(a?.target), target_name: str(a?.target_name) } as ToolAddress;
}

/** The running and recently ended gateway sessions of this process. */
export class GatewaySessions {
  private readonly opts: GatewaySessionsOptions;
  private readonly sessions = new Map<string, Session>();
  private readonly client: VoipbinClient | undefined;
  private closing = false;

  constructor(opts: GatewaySessionsOptions) {
    this.opts = opts;
    registerSecret(opts.accessKey);
    if (opts.apiUrl) this.client = this.newClient();
  }

  /** True when a remote VoIPBIN is configured. */
  get available(): boolean {
    return this.client !== undefined && !this.closing;
  }

  /** The remote API base (no key), for messages. */
  get apiUrl(): string | undefined {
    return this.opts.apiUrl;
  }

  private newClient(): VoipbinClient {
    return new VoipbinClient({ logger: this.opts.logger, ...this.opts.clientOptions, baseUrl: this.opts.apiUrl, accessKey: this.opts.accessKey });
  }

  private requireClient(): VoipbinClient {
    if (!this.client || this.closing) throw new ApiError(409, 'GATEWAY_NOT_CONFIGURED', GATEWAY_NOT_CONFIGURED);
    return this.client;
  }

  /** A remote failure as our envelope: 404 names what was not found, the rest is 503 with the remote's reason. */
  private remoteError(err: unknown, what: string, id: string): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof VoipbinError && err.status === 404) {
      return new ApiError(404, `${what.toUpperCase()}_NOT_FOUND`, `${what}_id ${id}: ${what === 'ai' ? 'AI' : what} not found on the remote VoIPBIN (${this.opts.apiUrl})`);
    }
    if (err instanceof VoipbinError && err.status === 409) {
      return new ApiError(409, err.reason || 'FAILED_PRECONDITION', `${what}_id ${id}: the remote VoIPBIN refused: ${err.message}`);
    }
    if (err instanceof VoipbinError && (err.status === 401 || err.status === 403)) {
      return new ApiError(503, 'REMOTE_AUTHENTICATION_FAILED', `the remote VoIPBIN refused VOIPBIN_ACCESSKEY (${err.status} ${err.reason}); check the key`);
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ApiError(503, 'REMOTE_UNAVAILABLE', `reading ${what} ${id} from the remote VoIPBIN failed: ${message}`);
  }

  /** The AI configuration of a start. */
  private async resolveConfig(client: VoipbinClient, input: StartGatewaySession): Promise<AgentConfig> {
    const env = this.opts.env ?? process.env;
    if (input.ai_id) {
      let ai: AIManagerAI;
      try {
        ai = await client.ais.get(input.ai_id);
      } catch (err) {
        throw this.remoteError(err, 'ai', input.ai_id);
      }
      const a = ai as AIManagerAI & Record<string, unknown>;
      const engineModel = str(a.engine_model);
      // VoIPBIN's own server returns the key to its owner; our local API never does (write-only).
      const engineKey = str(a.engine_key) || providerKeyFromEnv(engineModel, env);
      registerSecret(engineKey);
      return {
        ai_id: str(a.id, input.ai_id),
        engine_model: engineModel,
        engine_key: engineKey,
        init_prompt: str(a.init_prompt),
        tts_type: str(a.tts_type),
        tts_voice_id: str(a.tts_voice_id),
        stt_type: str(a.stt_type),
        stt_language: str(a.stt_language),
        language: str(a.stt_language, 'en-US'),
        tool_names: Array.isArray(a.tool_names) ? (a.tool_names as string[]) : [],
        vad_config: (a.vad_config as Record<string, number>) ?? {},
        parameter: (a.parameter as Record<string, unknown>) ?? {},
      };
    }
    const ai = input.ai;
    if (!ai) throw new ApiError(400, 'INVALID_ARGUMENT', 'ai_id: required; send the id of an AI of the remote VoIPBIN, or an inline "ai" configuration');
    const engineKey = providerKeyFromEnv(ai.engine_model, env);
    registerSecret(engineKey);
    const ttsType = ai.tts_type ?? 'elevenlabs';
    return {
      ai_id: '',
      engine_model: ai.engine_model,
      engine_key: engineKey,
      init_prompt: ai.init_prompt ?? '',
      tts_type: ttsType,
      tts_voice_id: ai.tts_voice_id ?? DEFAULT_TTS_VOICE_IDS[ttsType] ?? '',
      stt_type: ai.stt_type ?? 'deepgram',
      stt_language: ai.stt_language ?? 'en-US',
      language: ai.stt_language ?? 'en-US',
      tool_names: ai.tool_names ?? [],
      vad_config: {},
      parameter: ai.parameter ?? {},
    };
  }

  /**
   * Starts a session on a call of the remote VoIPBIN; resolves once its media stream is open and
   * the agent runs. Throws {@link ApiError}s (404 for an unknown call or AI, 409 when no remote is
   * configured or the call is over, 400 when no agent serves the AI, 503 when the remote fails).
   */
  async start(input: StartGatewaySession): Promise<GatewaySessionView> {
    const client = this.requireClient();
    const callId = input.call_id;
    let call: CallManagerCall;
    try {
      call = await client.calls.get(callId);
    } catch (err) {
      throw this.remoteError(err, 'call', callId);
    }
    if (call.status === 'hangup' || call.status === 'terminating' || call.status === 'canceling') {
      throw new ApiError(409, 'CALL_STATE_INVALID', `call_id ${callId}: the call is ${call.status}; a gateway session needs a live call`);
    }
    const config = await this.resolveConfig(client, input);
    const agent = this.opts.agents.resolve(config);
    if (!agent) throw new ApiError(400, 'AGENT_NOT_AVAILABLE', `${NO_AGENT_MESSAGE} (engine_model ${JSON.stringify(config.engine_model)})`);

    const now = nowTimestamp();
    const id = newId();
    let resolveDone!: () => void;
    const session: Session = {
      id,
      owner: input.owner,
      callId,
      aiId: config.ai_id,
      aicallId: input.aicall_id || id,
      remoteAicallId: input.aicall_id ?? '',
      activeflowId: str(call.activeflow_id),
      engineModel: config.engine_model,
      encapsulation: input.encapsulation ?? 'sln',
      status: 'starting',
      endReason: '',
      tmCreate: now,
      tmUpdate: now,
      tmEnd: '',
      messages: [],
      toolCalls: 0,
      summary: undefined,
      port: undefined,
      runner: undefined,
      stopRequested: '',
      done: new Promise<void>((r) => (resolveDone = r)),
    };
    this.sessions.set(id, session);
    const log = { gateway_session_id: id, call_id: callId };
    let stream;
    try {
      stream = await connectMediaStream({
        url: this.opts.apiUrl!,
        callId,
        encapsulation: session.encapsulation,
        accessKey: this.opts.accessKey,
        logger: this.opts.logger,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      });
    } catch (err) {
      this.sessions.delete(id);
      resolveDone();
      throw this.remoteError(err, 'call', callId);
    }
    const port = mediaStreamPort(stream);
    session.port = port;

    // The runner's client: the remote for tools; messages go to the session (and the remote AI call, if named).
    const runnerClient = this.newClient();
    Object.defineProperty(runnerClient, 'aimessages', { value: new SessionMessages(runnerClient, session) });
    let runner: SessionRunner | undefined;
    const remote = new RemoteFlowControl(
      runnerClient,
      session.activeflowId,
      { source: toolAddress(call.source), accountNumber: this.accountNumber(call) },
      { endAgent: (why) => runner?.stop(why), stopMedia: () => undefined },
      this.variables(session),
    );
    const flow: FlowHooks = {
      setVariables: (v) => remote.setVariables(v),
      getVariables: () => remote.getVariables(),
      stopFlow: () => remote.stopFlow(),
      connect: () => remote.connect(),
      stopMedia: () => remote.stopMedia(),
      callSource: () => remote.callSource(),
      accountNumber: () => remote.accountNumber(),
    };
    const metricsObserver = this.opts.sessionObserver?.({ aicallId: session.aicallId, callId });
    const observer: SessionObserver = (record) => {
      if (record.event.type === 'tool_call') session.toolCalls++;
      metricsObserver?.(record);
    };
    runner = new SessionRunner({
      aicall: { id: session.aicallId, customer_id: str(call.customer_id), activeflow_id: session.activeflowId, reference_id: callId },
      config,
      agent,
      port,
      flow,
      client: runnerClient,
      variables: this.variables(session),
      logger: this.opts.logger,
      label: 'gateway',
      observer,
      maxDrainMs: this.opts.maxDrainMs,
      onStarted: () => {
        session.status = 'running';
        session.tmUpdate = nowTimestamp();
      },
    });
    session.runner = runner;
    // Stopped while the media stream was opening: end at once.
    if (session.stopRequested) {
      runner.stop(session.stopRequested);
      port.close(1000, 'stopped by the gateway');
    }
    if (config.init_prompt) void runnerClient.aimessages.create({ aicall_id: session.aicallId, role: 'system', content: config.init_prompt }).catch(() => undefined);
    this.opts.logger.info('gateway session started', { ...log, engine_model: config.engine_model, encapsulation: session.encapsulation });
    void runner.run().then((end) => {
      port.close(1000, 'session ended');
      session.status = 'ended';
      session.endReason = end.reason;
      session.tmEnd = session.tmUpdate = nowTimestamp();
      session.summary = this.opts.conversationSummary?.(session.aicallId);
      this.opts.logger.info('gateway session ended', { ...log, reason: end.reason });
      this.trim();
      resolveDone();
    });
    return this.view(session);
  }

  /** The flow variables a session starts with. */
  private variables(s: Session): Record<string, string> {
    return {
      'voipbin.call.id': s.callId,
      'voipbin.activeflow.id': s.activeflowId,
      'voipbin.aicall.id': s.aicallId,
      'voipbin.gateway_session.id': s.id,
    };
  }

  private accountNumber(call: CallManagerCall): string | undefined {
    const own = call.direction === 'incoming' ? call.destination : call.source;
    return own?.type === 'tel' ? own.target : undefined;
  }

  /** Forgets the oldest ended sessions beyond {@link ENDED_SESSIONS_KEPT}. */
  private trim(): void {
    let ended = 0;
    for (const s of this.sessions.values()) if (s.status === 'ended') ended++;
    for (const [id, s] of this.sessions) {
      if (ended <= ENDED_SESSIONS_KEPT) break;
      if (s.status !== 'ended') continue;
      this.sessions.delete(id);
      ended--;
    }
  }

  private view(s: Session): GatewaySessionView {
    const port = s.port;
    return {
      id: s.id,
      call_id: s.callId,
      ai_id: s.aiId,
      aicall_id: s.aicallId,
      activeflow_id: s.activeflowId,
      engine_model: s.engineModel,
      encapsulation: s.encapsulation,
      status: s.status,
      end_reason: s.endReason,
      tm_create: s.tmCreate,
      tm_update: s.tmUpdate,
      tm_end: s.tmEnd,
      metrics: {
        frames_in: port?.framesReceived ?? 0,
        frames_out: port?.framesSent ?? 0,
        messages: s.messages.length,
        tool_calls: s.toolCalls,
        ...(s.summary ? { conversation: s.summary } : {}),
      },
    };
  }

  private find(id: string, owner?: string): Session {
    const s = this.sessions.get(id);
    if (!s || (owner !== undefined && s.owner !== undefined && s.owner !== owner)) {
      throw new ApiError(404, 'GATEWAY_SESSION_NOT_FOUND', `gateway session ${id} not found`);
    }
    return s;
  }

  /** One session (404 when unknown, or started by another owner). */
  get(id: string, owner?: string): GatewaySessionView {
    return this.view(this.find(id, owner));
  }

  /** Sessions, newest first (running ones and the last ended ones). */
  list(owner?: string): GatewaySessionView[] {
    return [...this.sessions.values()]
      .filter((s) => owner === undefined || s.owner === undefined || s.owner === owner)
      .reverse()
      .map((s) => this.view(s));
  }

  /** The transcript of a session, oldest first. */
  messages(id: string, owner?: string): AIManagerMessage[] {
    return [...this.find(id, owner).messages];
  }

  /**
   * Stops a session: the agent stops and the media stream closes at once (VoIPBIN's flow then goes
   * on with its next action). Resolves with the ended session; stopping an ended one changes nothing.
   */
  async stop(id: string, owner?: string, reason = 'stopped'): Promise<GatewaySessionView> {
    const s = this.find(id, owner);
    if (s.status !== 'ended') {
      s.stopRequested ||= reason;
      s.runner?.stop(reason);
      s.port?.close(1000, 'stopped by the gateway');
      await s.done;
    }
    return this.view(s);
  }

  /** Stops every session (server shutdown). */
  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.sessions.values()].filter((s) => s.status !== 'ended').map((s) => this.stop(s.id, undefined, 'shutdown')));
  }
}
