/**
 * The OpenAI Realtime agent: an {@link AgentSession} over one (at a time) GA Realtime connection
 * ({@link connectRealtime}), speaking G.711 mu-law both ways so the call's audio passes through
 * untouched.
 *
 * Life of a session:
 * - **Pre-warm** (the factory): connect with the AI's `engine_key`, send the `session.update` built
 *   from the AI configuration ({@link buildSessionUpdate}) and wait for `session.updated`. A
 *   refused key or a refused update rejects the factory (messages never carry the key).
 * - **start()**: asks for the greeting (`response.create`): the AI speaks first.
 * - **One response sequencer**: every `response.create` goes through {@link RealtimeAgentSession.requestResponse}.
 *   It is sent only when no response is active, none is being cancelled, none has been asked
 *   for and not yet created, no tool call of the conversation is still running, and the caller
 *   is not speaking (the server VAD answers the caller's turn itself, `create_response: true`).
 *   Otherwise it waits; requests coalesce (two tool results with `run_llm` give one response),
 *   and a response that begins after the request satisfies it. A refusal
 *   (`conversation_already_has_active_response`, a race with the server's own response) puts the
 *   request back unless a response began meanwhile.
 * - **Barge-in** (`input_audio_buffer.speech_started`, or the host's `interrupt()`): clear the
 *   host's playout (its report says how much of each response the caller heard), cancel the
 *   active response, truncate each assistant audio item that was cut at the heard ms (floored,
 *   and clamped to the audio received for that item, which never exceeds what the server has),
 *   drop the cancelled response's late deltas (audio and transcript), and store the assistant
 *   text cut to what was heard (a proportional cut at a word boundary).
 * - **Transcripts**: user lines from `input_audio_transcription.completed`; assistant lines from
 *   `output_audio_transcript.done`, held until the caller has heard them (played out, the caller
 *   speaks, a tool call follows, or the session ends) so a barge-in after `response.done` (the
 *   model generates faster than real time) still stores only the heard part. Interim deltas go
 *   out as non-final lines.
 * - **DTMF**: the keys the caller presses are collected until a pause of {@link DTMF_GAP_MS} or a
 *   `#`, then go to the model as one user text item ({@link dtmfText}), stored as a user line, and
 *   a response is asked for through the sequencer (the Realtime API has no DTMF input of its own).
 * - **Rollover**: OpenAI caps a session at 60 minutes. At `maxSessionMs` (default 55 min) a new
 *   connection is opened and seeded (the same `session.update`, then the conversation so far as
 *   text items and function calls), and the session switches over at the first quiet moment
 *   between responses; the old connection is closed a little later. Forced after
 *   `rolloverForceMs` if no quiet moment comes.
 * - **Faults**: a socket that drops gets one reconnect attempt (seeded the same way; a response
 *   cut by the drop is asked for again), else the session ends with a reason. `error` events are
 *   logged (without the key) and reported; fatal ones (a refused key, no quota, ...) end the
 *   session. `rate_limits.updated` is reported as metric events.
 */

import type { RealtimeServerEvent, ConversationItem, RealtimeFunctionTool, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type {
  AgentAudio,
  AgentConfig,
  AgentFactory,
  AgentHost,
  AgentSession,
  AgentStartOptions,
  AgentWarmup,
  ClearReport,
} from '../agent.js';
import { PCMU } from '../agent.js';
import { DtmfCollector, dtmfText } from '../dtmf.js';
import { cutAtWordBoundary } from '../heard-text.js';
import { toOpenAIRealtimeTools } from '../../../tools/export.js';
import { redact } from '../../../src/util/logger.js';
import type { Logger } from '../../../src/util/logger.js';
import { connectRealtime } from './connection.js';
import type { ConnectRealtimeOptions, RealtimeCloseInfo, RealtimeConnection } from './connection.js';
import { isOpenAIRealtimeEngineModel, openAIRealtimeModel } from './models.js';
import { buildSessionUpdate } from './session-update.js';

// Shared with the other agents; exported here too for callers that import them from this agent.
export { DTMF_GAP_MS, dtmfText } from '../dtmf.js';
export { cutAtWordBoundary } from '../heard-text.js';

/** 55 minutes: well before OpenAI's 60-minute session cap. */
export const DEFAULT_MAX_SESSION_MS = 55 * 60_000;
/** After a rollover is due, the longest wait for a quiet moment before switching anyway. */
export const DEFAULT_ROLLOVER_FORCE_MS = 4 * 60_000;
/** Bytes per ms of `audio/pcmu` (8 kHz, one byte per sample). */
const PCMU_BYTES_PER_MS = 8;
/** After the caller stops speaking, how long a queued response waits for the server's own. */
const AUTO_RESPONSE_GRACE_MS = 1000;
/** Most conversation entries seeded into a new connection (the newest are kept). */
const MAX_SEED_ENTRIES = 200;
/** Responses remembered for barge-in reports and late-delta drops. */
const MAX_RESPONSES_KEPT = 64;
/** A `response.create` with no `response.created` (or error) by then is given up (the sequencer must not stall). */
const CREATE_TIMEOUT_MS = 10_000;
/** A `response.cancel` with no `response.done` by then counts as done. */
const CANCEL_TIMEOUT_MS = 5_000;

/** End reasons after which the host plays nothing more (the runner's no-drain reasons). */
const NO_DRAIN_REASONS = new Set(['hangup', 'stop_flow']);

/** Error codes after which the session cannot go on. */
const FATAL_ERROR_CODES = new Set([
  'invalid_api_key',
  'insufficient_quota',
  'account_deactivated',
  'model_not_found',
  'billing_hard_limit_reached',
  'organization_deactivated',
]);

export interface OpenAIRealtimeAgentOptions {
  /** `https://host:port/v1`; default `OPENAI_BASE_URL`, else OpenAI's. */
  baseUrl?: string;
  /** Extra trusted CA certificate(s) (a loopback fake's). */
  ca?: ConnectRealtimeOptions['ca'];
  /** The key used when the AI has no `engine_key` (the server's `OPENAI_API_KEY`); never when it has one. */
  fallbackApiKey?: string;
  logger?: Logger;
  /** When to roll over to a new connection (default {@link DEFAULT_MAX_SESSION_MS}). */
  maxSessionMs?: number;
  /** Longest wait for a quiet moment once a rollover is due (default {@link DEFAULT_ROLLOVER_FORCE_MS}). */
  rolloverForceMs?: number;
  /** How long the old connection stays open after a switch, for late caller transcripts (default 2000). */
  oldConnectionGraceMs?: number;
  /** Wait for `session.updated`, ms (default 10 000). */
  readyTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Reconnects after drops per session (default 1 per drop, at most 3 in all). */
  maxReconnects?: number;
  /** Input transcription model (default that of session-update.ts). */
  transcriptionModel?: string;
}

/** The registry matcher: an `engine_model` that is an OpenAI Realtime model (models.ts decides). */
export function isOpenAIRealtimeConfig(config: AgentConfig): boolean {
  return isOpenAIRealtimeEngineModel(config.engine_model);
}

/** The OpenAI Realtime agent factory. */
export function openAIRealtimeAgent(opts: OpenAIRealtimeAgentOptions = {}): AgentFactory {
  const factory: AgentFactory = async (options, host) => {
    const warm = options.warmup instanceof RealtimeWarmup ? options.warmup : undefined;
    if (options.warmup && !warm) options.warmup.dispose();
    try {
      const { model, apiKey } = realtimeTarget(options.config, opts);
      const session = new RealtimeAgentSession(options, host, model, apiKey, opts);
      await session.open(warm?.take(apiKey, model));
      return session;
    } finally {
      warm?.dispose();
    }
  };
  // While the call rings: the WebSocket handshake (the session.update, which needs the flow's
  // variables, is sent when the session opens on it).
  factory.prewarm = (config) => {
    try {
      const { model, apiKey } = realtimeTarget(config, opts);
      return new RealtimeWarmup(connectRealtime(connectOptions(apiKey, model, opts)), apiKey, model);
    } catch {
      return { dispose: () => undefined };
    }
  };
  return factory;
}

/** The model and key a configuration runs with; throws what the factory reports. */
function realtimeTarget(config: AgentConfig, opts: OpenAIRealtimeAgentOptions): { model: string; apiKey: string } {
  const model = openAIRealtimeModel(config.engine_model);
  if (!model) throw new Error(`OpenAI Realtime: engine_model ${JSON.stringify(config.engine_model)} is not a Realtime model`);
  const own = config.engine_key?.trim() ?? '';
  const apiKey = own || opts.fallbackApiKey?.trim() || '';
  if (!apiKey) throw new Error('OpenAI Realtime: the AI has no engine_key (and no OPENAI_API_KEY is configured)');
  return { model, apiKey };
}

function connectOptions(apiKey: string, model: string, opts: OpenAIRealtimeAgentOptions): ConnectRealtimeOptions {
  return {
    apiKey,
    model,
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.handshakeTimeoutMs ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  };
}

/** A Realtime connection opened while the call rang, for the session of the same model and key. */
class RealtimeWarmup implements AgentWarmup {
  private taken = false;

  constructor(
    private readonly conn: Promise<RealtimeConnection>,
    private readonly apiKey: string,
    private readonly model: string,
  ) {
    conn.catch(() => undefined); // a failed warm-up only means the session connects itself
  }

  /** The connection, once, when it is for this key and model (undefined otherwise). */
  take(apiKey: string, model: string): Promise<RealtimeConnection> | undefined {
    if (this.taken || apiKey !== this.apiKey || model !== this.model) return undefined;
    this.taken = true;
    return this.conn;
  }

  dispose(): void {
    if (this.taken) return;
    this.taken = true;
    void this.conn.then((c) => c.close(), () => undefined);
  }
}

// ---- conversation state ---------------------------------------------------------------------------

type HistoryEntry =
  | { kind: 'message'; role: 'user' | 'assistant'; text: string }
  | { kind: 'function_call'; call_id: string; name: string; arguments: string }
  | { kind: 'function_call_output'; call_id: string; output: string };

interface ItemState {
  itemId: string;
  responseId: string;
  /** Where this item's audio starts in its response's audio (ms). */
  startMs: number;
  /** Audio received for this item (ms). */
  audioMs: number;
  /** Transcript so far (deltas), or the final one. */
  transcript: string;
  /** `output_audio_transcript.done` arrived (or the response ended). */
  done: boolean;
  /** The text as heard after a barge-in (set once cut). */
  cut?: string;
  stored: boolean;
  /** The connection the item lives on (a truncate goes there only). */
  conn: RealtimeConnection;
}

interface ResponseState {
  id: string;
  conn: RealtimeConnection;
  items: ItemState[];
  audioMs: number;
  /** Cancelled by a barge-in (or lost): late deltas are dropped. */
  dropped: boolean;
  cancelling: boolean;
  lateDroppedMs: number;
}

let eventCounter = 0;
function eventId(): string {
  eventCounter += 1;
  return `evt_vbai_${process.pid.toString(36)}_${eventCounter.toString(36)}`;
}


export class RealtimeAgentSession implements AgentSession {
  readonly input = PCMU;
  readonly output = PCMU;

  private conn: RealtimeConnection | null = null;
  private readonly update: SessionUpdateEvent;
  private readonly log: Logger | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  // sequencer
  private active: ResponseState | null = null;
  private awaitingCreate = false;
  private createEventId: string | null = null;
  private createdSinceRequest = false;
  private wantResponse = false;
  private pendingTools = 0;
  private userSpeaking = false;
  private lastSpeechStoppedAt = 0;
  private pumpTimer: NodeJS.Timeout | undefined;
  /** DTMF digits pressed since the last message to the model (sent at `#` or a pause). */
  private readonly dtmfKeys = new DtmfCollector((digits) => this.flushDtmf(digits));
  private createTimer: NodeJS.Timeout | undefined;
  private cancelTimer: NodeJS.Timeout | undefined;

  // conversation
  private readonly responses = new Map<string, ResponseState>();
  private readonly history: HistoryEntry[] = [];
  private readonly pendingAssistant: ItemState[] = [];
  private readonly userInterim = new Map<string, string>();
  private toolChain: Promise<void> = Promise.resolve();
  private playoutTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;

  // rollover / reconnect
  private rolloverTimer: NodeJS.Timeout | undefined;
  private rolloverForceTimer: NodeJS.Timeout | undefined;
  private rolloverCheckTimer: NodeJS.Timeout | undefined;
  private next: { conn: RealtimeConnection; seededCount: number } | null = null;
  private preparing = false;
  private reconnecting = false;
  private reconnects = 0;
  private readonly retired = new Set<RealtimeConnection>();

  constructor(
    private readonly options: AgentStartOptions,
    private readonly host: AgentHost,
    private readonly model: string,
    private readonly apiKey: string,
    private readonly opts: OpenAIRealtimeAgentOptions,
  ) {
    const c = options.config;
    this.log = opts.logger?.child({ component: 'openai-realtime-agent', aicall_id: options.aicall.id, model });
    this.update = buildSessionUpdate({
      instructions: c.init_prompt ?? '',
      voice: c.tts_voice_id,
      vadConfig: c.vad_config,
      tools: toOpenAIRealtimeTools(options.tools) as RealtimeFunctionTool[],
      language: c.stt_language || c.language,
      ...(opts.transcriptionModel ? { transcriptionModel: opts.transcriptionModel } : {}),
    });
  }

  // ---- the AgentSession contract ------------------------------------------------------------

  /** Pre-warm: connect, configure, wait until the session is updated. */
  /** Connects (on `warm`, the connection opened while the call rang, when it is still up) and sets the session up. */
  async open(warm?: Promise<RealtimeConnection>): Promise<void> {
    const { conn } = await this.openLink(false, warm);
    if (this.stopped) {
      await conn.close();
      return;
    }
    this.attach(conn);
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    this.requestResponse();
  }

  audioIn(audio: AgentAudio): void {
    const conn = this.conn;
    if (!conn || this.stopped || !conn.isOpen) return;
    const bytes = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
    conn.send({ type: 'input_audio_buffer.append', audio: bytes.toString('base64') });
  }

  interrupt(): void {
    if (this.stopped) return;
    this.bargeIn();
  }

  dtmf(digit: string): void {
    if (this.stopped) return;
    this.dtmfKeys.press(digit);
  }

  /** The digits so far to the model as one user message, then a response (see the class comment). */
  private flushDtmf(digits: string): void {
    const conn = this.conn;
    if (!digits || this.stopped || !conn?.isOpen) return;
    const text = dtmfText(digits);
    conn.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
    this.history.push({ kind: 'message', role: 'user', text });
    this.host.transcript('user', text);
    this.requestResponse();
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.log?.info('realtime agent stopping', { reason });
      this.dtmfKeys.close();
      for (const t of [this.pumpTimer, this.createTimer, this.cancelTimer, this.playoutTimer, this.rolloverTimer, this.rolloverForceTimer, this.rolloverCheckTimer]) {
        if (t) clearTimeout(t);
      }
      // After a hangup nothing more is played: what is stored is what was heard so far. Otherwise
      // the host plays out what it has queued, so the lines stand as generated.
      if (NO_DRAIN_REASONS.has(reason)) {
        for (const item of this.pendingAssistant) {
          if (item.stored || item.cut !== undefined) continue;
          const heard = Math.min(item.audioMs, Math.max(0, this.host.playedMs(item.responseId) - item.startMs));
          if (heard < item.audioMs || !item.done) item.cut = cutAtWordBoundary(item.transcript, item.audioMs > 0 ? heard / item.audioMs : 0);
        }
      }
      this.flushAssistant(true);
      const conns = [this.conn, this.next?.conn, ...this.retired].filter((c): c is RealtimeConnection => c !== null && c !== undefined);
      this.conn = null;
      this.next = null;
      await Promise.allSettled(conns.map((c) => c.close(1000, 'session ended')));
    })();
    return this.stopping;
  }

  // ---- connections ----------------------------------------------------------------------------

  private scrub(text: string): string {
    return redact(text).split(this.apiKey).join('[redacted]');
  }

  /**
   * Connects, sends the session.update and `seed` (conversation items), and resolves once
   * `session.updated` arrives. Rejects (and closes) on an `error` before that, or a timeout.
   */
  private async openLink(withSeed: boolean, warm?: Promise<RealtimeConnection>): Promise<{ conn: RealtimeConnection; seededCount: number }> {
    const ready = warm ? await warm.catch(() => undefined) : undefined;
    const conn = ready?.isOpen ? ready : await connectRealtime(connectOptions(this.apiKey, this.model, this.opts));
    if (ready && ready !== conn) void ready.close().catch(() => undefined);
    const updateId = eventId();
    // The seed is taken once connected: what happened while connecting is in it.
    const seededCount = withSeed ? this.history.length : 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const timeoutMs = this.opts.readyTimeoutMs ?? 10_000;
        const timer = setTimeout(() => finish(new Error(`OpenAI Realtime: no session.updated within ${timeoutMs} ms`)), timeoutMs);
        const offs: Array<() => void> = [];
        const finish = (err?: Error): void => {
          clearTimeout(timer);
          for (const off of offs) off();
          if (err) reject(err);
          else resolve();
        };
        offs.push(conn.on('session.updated', () => finish()));
        offs.push(
          conn.on('error', (e) => {
            if (e.error.event_id && e.error.event_id !== updateId) return;
            finish(new Error(`OpenAI Realtime: session.update refused: ${this.scrub(`${e.error.code ?? e.error.type}: ${e.error.message}`)}`));
          }),
        );
        offs.push(conn.onClose((info) => finish(new Error(`OpenAI Realtime: connection closed during setup (code ${info.code})`))));
        conn.send({ ...this.update, event_id: updateId });
        if (withSeed) this.sendSeed(conn, this.history.slice(0, seededCount));
      });
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
    return { conn, seededCount };
  }

  private sendSeed(conn: RealtimeConnection, seed: readonly HistoryEntry[]): void {
    let entries = seed.slice(-MAX_SEED_ENTRIES);
    // A function_call_output whose call was cut off here would be refused.
    const cutOff = new Set(seed.slice(0, seed.length - entries.length).flatMap((e) => (e.kind === 'function_call' ? [e.call_id] : [])));
    if (cutOff.size > 0) entries = entries.filter((e) => e.kind !== 'function_call_output' || !cutOff.has(e.call_id));
    for (const e of entries) {
      let item: ConversationItem;
      if (e.kind === 'message') {
        item =
          e.role === 'user'
            ? { type: 'message', role: 'user', content: [{ type: 'input_text', text: e.text }] }
            : { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: e.text }] };
      } else if (e.kind === 'function_call') {
        item = { type: 'function_call', call_id: e.call_id, name: e.name, arguments: e.arguments };
      } else {
        item = { type: 'function_call_output', call_id: e.call_id, output: e.output };
      }
      conn.send({ type: 'conversation.item.create', item });
    }
  }

  /** Makes `conn` the current connection. */
  private attach(conn: RealtimeConnection): void {
    this.conn = conn;
    conn.onEvent((e) => {
      if (this.stopped) return;
      if (conn === this.conn) this.onEvent(conn, e);
      else if (this.retired.has(conn) && e.type === 'conversation.item.input_audio_transcription.completed') this.onEvent(conn, e);
    });
    conn.onClose((info) => {
      this.retired.delete(conn);
      if (conn === this.conn && !this.stopped && !info.byClient) void this.onDrop(info);
    });
    this.scheduleRollover(conn);
  }

  // ---- server events --------------------------------------------------------------------------

  private onEvent(conn: RealtimeConnection, e: RealtimeServerEvent): void {
    switch (e.type) {
      case 'response.created': {
        const id = e.response.id ?? eventId();
        this.awaitingCreate = false;
        if (this.createTimer) clearTimeout(this.createTimer);
        this.createdSinceRequest = true;
        // Any response that begins after a request sees what the request was for.
        this.wantResponse = false;
        const r: ResponseState = { id, conn, items: [], audioMs: 0, dropped: false, cancelling: false, lateDroppedMs: 0 };
        this.responses.set(id, r);
        // Bounded: a report names only recent responses (the oldest are forgotten first).
        while (this.responses.size > MAX_RESPONSES_KEPT) this.responses.delete(this.responses.keys().next().value as string);
        this.active = r;
        this.lastSpeechStoppedAt = 0;
        this.host.event({ type: 'response_started', responseId: id });
        return;
      }
      case 'response.output_item.added': {
        const r = this.responses.get(e.response_id);
        if (!r || r.dropped) return;
        if (e.item.type === 'message' && e.item.role === 'assistant' && e.item.id) this.itemOf(r, e.item.id);
        return;
      }
      case 'response.output_audio.delta': {
        const r = this.responses.get(e.response_id);
        if (!r) return;
        const bytes = Buffer.from(e.delta, 'base64');
        const ms = bytes.length / PCMU_BYTES_PER_MS;
        if (r.dropped) {
          r.lateDroppedMs += ms;
          return;
        }
        const item = this.itemOf(r, e.item_id);
        item.audioMs += ms;
        r.audioMs += ms;
        this.host.audioOut(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), r.id);
        return;
      }
      case 'response.output_audio_transcript.delta': {
        const r = this.responses.get(e.response_id);
        if (!r || r.dropped) return;
        const item = this.itemOf(r, e.item_id);
        item.transcript += e.delta;
        this.host.transcript('assistant', item.transcript, { final: false, responseId: r.id });
        return;
      }
      case 'response.output_audio_transcript.done': {
        const r = this.responses.get(e.response_id);
        if (!r || r.dropped) return;
        const item = this.itemOf(r, e.item_id);
        item.transcript = e.transcript;
        item.done = true;
        this.schedulePlayoutCheck();
        return;
      }
      case 'response.output_item.done': {
        const r = this.responses.get(e.response_id);
        if (e.item.type === 'function_call') {
          if (!r || r.dropped || e.item.status === 'incomplete') return;
          this.onFunctionCall(e.item.call_id ?? '', e.item.name ?? '', e.item.arguments ?? '');
        }
        return;
      }
      case 'response.done':
        return this.onResponseDone(e.response.id ?? '', e.response.status, e.response.status_details);
      case 'input_audio_buffer.speech_started':
        this.userSpeaking = true;
        this.host.event({ type: 'speech_started' });
        this.bargeIn();
        return;
      case 'input_audio_buffer.speech_stopped':
        this.userSpeaking = false;
        this.lastSpeechStoppedAt = Date.now();
        this.host.event({ type: 'speech_stopped' });
        this.pump();
        return;
      case 'conversation.item.input_audio_transcription.delta': {
        const text = (this.userInterim.get(e.item_id) ?? '') + (e.delta ?? '');
        this.userInterim.set(e.item_id, text);
        this.host.transcript('user', text, { final: false });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        this.userInterim.delete(e.item_id);
        const text = e.transcript.trim();
        if (!text) return;
        this.history.push({ kind: 'message', role: 'user', text });
        this.host.transcript('user', text);
        return;
      }
      case 'conversation.item.input_audio_transcription.failed':
        this.log?.warn('realtime input transcription failed', { error: this.scrub(e.error.message ?? '') });
        return;
      case 'conversation.item.truncated':
        this.log?.debug('realtime item truncated', { item_id: e.item_id, audio_end_ms: e.audio_end_ms });
        return;
      case 'rate_limits.updated':
        for (const rl of e.rate_limits) {
          this.log?.info('realtime rate limits', { name: rl.name, limit: rl.limit, remaining: rl.remaining, reset_seconds: rl.reset_seconds });
          if (rl.name && rl.remaining !== undefined) this.host.event({ type: 'metric', name: `openai_rate_limit_remaining_${rl.name}`, value: rl.remaining });
          if (rl.remaining === 0) this.host.event({ type: 'error', code: 'rate_limited', message: `OpenAI rate limit reached (${rl.name}); resets in ${rl.reset_seconds ?? '?'} s` });
        }
        return;
      case 'error':
        return this.onError(e.error);
      default:
        return;
    }
  }

  private itemOf(r: ResponseState, itemId: string): ItemState {
    let item = r.items.find((i) => i.itemId === itemId);
    if (!item) {
      item = { itemId, responseId: r.id, startMs: r.audioMs, audioMs: 0, transcript: '', done: false, stored: false, conn: r.conn };
      r.items.push(item);
      this.pendingAssistant.push(item);
    }
    return item;
  }

  private onResponseDone(id: string, status: string | undefined, details: { error?: { code?: string; type?: string } } | undefined): void {
    const r = this.responses.get(id);
    if (this.active?.id === id || !this.active) {
      this.active = null;
      if (this.cancelTimer) clearTimeout(this.cancelTimer);
    }
    if (r) {
      // Items the server ended without a transcript.done (a server-side cancel) keep what came.
      for (const item of r.items) item.done = true;
      if (r.lateDroppedMs > 0) this.host.event({ type: 'metric', name: 'realtime_late_audio_dropped_ms', value: r.lateDroppedMs });
    }
    const outcome = r?.dropped || status === 'cancelled' ? 'cancelled' : status === 'failed' ? 'failed' : 'completed';
    this.host.event({ type: 'response_done', responseId: id, status: outcome });
    if (outcome === 'failed') {
      this.consecutiveFailures += 1;
      const err = details?.error;
      this.log?.warn('realtime response failed', { response_id: id, code: err?.code, type: err?.type });
      this.host.event({ type: 'error', code: err?.code ?? 'response_failed', message: `OpenAI Realtime response failed (${err?.code ?? err?.type ?? 'unknown'})` });
      if (this.consecutiveFailures >= 3) {
        this.fatal('openai realtime: responses keep failing');
        return;
      }
    } else if (outcome === 'completed') this.consecutiveFailures = 0;
    this.schedulePlayoutCheck();
    this.pump();
  }

  private onError(error: { code?: string | null; type?: string; message?: string; event_id?: string | null }): void {
    const code = error.code ?? undefined;
    const message = this.scrub(error.message ?? '');
    this.log?.warn('realtime error event', { code, type: error.type, message });
    if (error.event_id && error.event_id === this.createEventId) {
      this.awaitingCreate = false;
      this.createEventId = null;
      if (code === 'conversation_already_has_active_response' && !this.createdSinceRequest) this.wantResponse = true;
    }
    if (code === 'response_cancel_not_active' && this.active) this.active.cancelling = false;
    this.host.event({ type: 'error', message: `OpenAI Realtime: ${message}`, ...(code ? { code } : {}) });
    if (code && FATAL_ERROR_CODES.has(code)) {
      this.fatal(`openai realtime error: ${code}`);
      return;
    }
    this.pump();
  }

  private fatal(reason: string): void {
    if (this.stopped) return;
    this.log?.error('realtime agent ending', { reason });
    void this.stop(reason);
    this.host.end(reason);
  }

  // ---- the response sequencer -----------------------------------------------------------------

  /** Asks for a response: sent now if nothing is in the way, else when it clears. */
  private requestResponse(): void {
    this.wantResponse = true;
    this.pump();
  }

  private busy(): boolean {
    return this.awaitingCreate || this.active !== null || this.pendingTools > 0;
  }

  private pump(): void {
    if (this.pumpTimer) {
      clearTimeout(this.pumpTimer);
      this.pumpTimer = undefined;
    }
    if (this.stopped || this.reconnecting) return;
    if (this.next && this.quiet()) {
      this.switchOver();
    }
    const conn = this.conn;
    if (!this.wantResponse || !conn?.isOpen || this.busy() || this.userSpeaking) return;
    if (this.lastSpeechStoppedAt > 0) {
      // The caller just finished a turn: the server's own response is about to begin.
      const wait = this.lastSpeechStoppedAt + AUTO_RESPONSE_GRACE_MS - Date.now();
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => this.pump(), wait);
        this.pumpTimer.unref();
        return;
      }
      this.lastSpeechStoppedAt = 0;
    }
    this.wantResponse = false;
    this.awaitingCreate = true;
    this.createdSinceRequest = false;
    const createId = eventId();
    this.createEventId = createId;
    conn.send({ type: 'response.create', event_id: createId });
    if (this.createTimer) clearTimeout(this.createTimer);
    this.createTimer = setTimeout(() => {
      if (!this.awaitingCreate || this.createEventId !== createId) return;
      this.log?.warn('realtime response.create got no answer; giving it up');
      this.awaitingCreate = false;
      this.host.event({ type: 'error', code: 'response_not_created', message: 'OpenAI Realtime: a requested response never began' });
      this.pump();
    }, CREATE_TIMEOUT_MS);
    this.createTimer.unref();
  }

  // ---- tools ----------------------------------------------------------------------------------

  private onFunctionCall(callId: string, name: string, args: string): void {
    this.flushAssistant(false);
    this.history.push({ kind: 'function_call', call_id: callId, name, arguments: args });
    this.pendingTools += 1;
    this.toolChain = this.toolChain
      .then(async () => {
        if (this.stopped) return;
        const res = await this.host.toolCall({ id: callId, name, arguments: args });
        if (this.stopped) return;
        const output = JSON.stringify(res.result);
        this.history.push({ kind: 'function_call_output', call_id: callId, output });
        this.conn?.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } });
        if (res.runLlm) this.wantResponse = true;
      })
      .catch((err: unknown) => {
        this.log?.error('realtime tool call failed', { name, error: this.scrub(String((err as Error)?.message ?? err)) });
      })
      .finally(() => {
        this.pendingTools -= 1;
        this.pump();
      });
  }

  // ---- barge-in and transcripts ----------------------------------------------------------------

  private bargeIn(): void {
    const report: ClearReport = this.host.clearAudio();
    const active = this.active;
    // A response is cut when some of it was dropped unheard, or it is still being generated (the
    // host's report may also name a response that had played in full: nothing to cut there).
    const reported = report.responses.filter(
      (h) => this.responses.has(h.responseId) && (h.playedMs + 0.5 < h.queuedMs || (active !== null && !active.dropped && h.responseId === active.id)),
    );
    if (reported.length === 0 && (!active || active.dropped)) {
      // Nothing was playing: whatever was said was heard in full.
      this.flushAssistant(false);
      return;
    }
    const heard = new Map<string, number>(reported.map((h) => [h.responseId, h.playedMs]));
    // A response with nothing left queued was played in full (the host reports only what it dropped).
    if (active && !heard.has(active.id)) heard.set(active.id, active.audioMs);
    if (active && !active.dropped) {
      active.dropped = true;
      if (!active.cancelling) {
        active.cancelling = true;
        this.conn?.send({ type: 'response.cancel', response_id: active.id });
        if (this.cancelTimer) clearTimeout(this.cancelTimer);
        this.cancelTimer = setTimeout(() => {
          if (this.active !== active) return;
          this.log?.warn('realtime response.cancel got no response.done; treating the response as over', { response_id: active.id });
          this.active = null;
          this.pump();
        }, CANCEL_TIMEOUT_MS);
        this.cancelTimer.unref();
      }
    }
    const playing = reported.at(-1)?.responseId ?? active?.id;
    this.host.event({ type: 'barge_in', ...(playing ? { responseId: playing } : {}), heardMs: playing ? (heard.get(playing) ?? 0) : 0 });
    for (const [id, ms] of heard) {
      const r = this.responses.get(id);
      if (r) this.cutResponse(r, ms);
    }
    this.flushAssistant(false);
  }

  /** Truncates the response's assistant items at `heardMs` and cuts their text to the heard part. */
  private cutResponse(r: ResponseState, heardMs: number): void {
    for (const item of r.items) {
      if (item.stored) continue;
      const itemHeard = Math.min(item.audioMs, Math.max(0, heardMs - item.startMs));
      const fullyHeard = item.done && itemHeard >= item.audioMs;
      if (fullyHeard) continue;
      // Inclusive ms, floored, never past the audio this item is known to have.
      const endMs = Math.max(0, Math.min(Math.floor(itemHeard), Math.floor(item.audioMs)));
      if (item.conn === this.conn) {
        this.conn.send({ type: 'conversation.item.truncate', item_id: item.itemId, content_index: 0, audio_end_ms: endMs });
      }
      item.cut = cutAtWordBoundary(item.transcript, item.audioMs > 0 ? itemHeard / item.audioMs : 0);
      item.done = true;
    }
  }

  /**
   * Stores assistant lines that are final, in order: cut ones, and done ones that were heard in
   * full (played out, or `force`, or the caller spoke after them: a barge-in cut them first).
   */
  private flushAssistant(force: boolean): void {
    while (this.pendingAssistant.length > 0) {
      const item = this.pendingAssistant[0]!;
      if (!item.done && !force && item.cut === undefined) return;
      this.pendingAssistant.shift();
      this.storeAssistant(item);
    }
  }

  private storeAssistant(item: ItemState): void {
    if (item.stored) return;
    item.stored = true;
    const text = (item.cut ?? item.transcript).trim();
    if (!text) return;
    this.history.push({ kind: 'message', role: 'assistant', text });
    this.host.transcript('assistant', text, { responseId: item.responseId });
  }

  /**
   * Stores done assistant lines once the host has played them out (polls `host.playedMs`; gives up
   * when it stops advancing, leaving the line to the next trigger: the caller speaking, a tool
   * call, the end).
   */
  private schedulePlayoutCheck(): void {
    if (this.playoutTimer || this.stopped) return;
    let lastPlayed = -1;
    let stalls = 0;
    const check = (): void => {
      this.playoutTimer = undefined;
      if (this.stopped) return;
      while (this.pendingAssistant.length > 0) {
        const item = this.pendingAssistant[0]!;
        if (!item.done && item.cut === undefined) return;
        const itemEnd = item.startMs + item.audioMs;
        const played = item.cut === undefined ? this.host.playedMs(item.responseId) : itemEnd;
        if (played + 1 < itemEnd) {
          stalls = played <= lastPlayed ? stalls + 1 : 0;
          lastPlayed = played;
          if (stalls >= 3) return;
          this.playoutTimer = setTimeout(check, Math.min(1000, Math.max(20, itemEnd - played)));
          this.playoutTimer.unref();
          return;
        }
        this.pendingAssistant.shift();
        this.storeAssistant(item);
        lastPlayed = -1;
        stalls = 0;
      }
    };
    this.playoutTimer = setTimeout(check, 0);
    this.playoutTimer.unref();
  }

  // ---- rollover ---------------------------------------------------------------------------------

  private scheduleRollover(conn: RealtimeConnection): void {
    if (this.rolloverTimer) clearTimeout(this.rolloverTimer);
    const maxMs = this.opts.maxSessionMs ?? DEFAULT_MAX_SESSION_MS;
    const due = Math.max(0, conn.openedAt + maxMs - Date.now());
    this.rolloverTimer = setTimeout(() => void this.prepareRollover(), due);
    this.rolloverTimer.unref();
  }

  /** Between responses, nobody speaking, nothing running: the caller hears no gap at a switch. */
  private quiet(): boolean {
    return !this.busy() && !this.userSpeaking && !this.turnPending() && !this.wantResponse;
  }

  /** The caller just finished a turn and the server's own response may be about to begin. */
  private turnPending(): boolean {
    return this.lastSpeechStoppedAt > 0 && Date.now() - this.lastSpeechStoppedAt < AUTO_RESPONSE_GRACE_MS;
  }

  private async prepareRollover(): Promise<void> {
    if (this.stopped || this.preparing || this.reconnecting || this.next) return;
    this.preparing = true;
    this.log?.info('realtime rollover: opening the next connection');
    try {
      this.flushAssistant(false);
      const next = await this.openLink(true);
      if (this.stopped || this.reconnecting) {
        await next.conn.close();
        return;
      }
      this.next = next;
    } catch (err) {
      this.log?.warn('realtime rollover: the next connection failed; retrying in 10 s', { error: this.scrub(String((err as Error).message)) });
      this.host.event({ type: 'error', code: 'rollover_failed', message: 'OpenAI Realtime: could not open the next session; retrying' });
      this.rolloverTimer = setTimeout(() => void this.prepareRollover(), 10_000);
      this.rolloverTimer.unref();
      return;
    } finally {
      this.preparing = false;
    }
    this.rolloverForceTimer = setTimeout(() => this.switchOver(), this.opts.rolloverForceMs ?? DEFAULT_ROLLOVER_FORCE_MS);
    this.rolloverForceTimer.unref();
    const poll = (): void => {
      this.rolloverCheckTimer = undefined;
      if (!this.next || this.stopped) return;
      if (this.quiet()) this.switchOver();
      else {
        this.rolloverCheckTimer = setTimeout(poll, 100);
        this.rolloverCheckTimer.unref();
      }
    };
    poll();
  }

  private switchOver(): void {
    const next = this.next;
    if (!next || this.stopped) return;
    this.next = null;
    for (const t of [this.rolloverForceTimer, this.rolloverCheckTimer]) if (t) clearTimeout(t);
    // Lines not stored yet become part of the seed (their text as generated).
    this.flushAssistant(true);
    this.sendSeed(next.conn, this.history.slice(next.seededCount));
    const old = this.conn;
    if (this.active) {
      // Forced mid-response: what is queued plays; the rest is lost with the old connection.
      this.active.dropped = true;
      this.active = null;
    }
    this.awaitingCreate = false;
    this.attach(next.conn);
    this.log?.info('realtime rollover: switched to the next connection');
    this.host.event({ type: 'metric', name: 'realtime_rollover', value: 1 });
    if (old) {
      this.retired.add(old);
      const t = setTimeout(() => {
        this.retired.delete(old);
        void old.close(1000, 'rollover');
      }, this.opts.oldConnectionGraceMs ?? 2000);
      t.unref();
    }
    this.pump();
  }

  // ---- faults -------------------------------------------------------------------------------------

  private async onDrop(info: RealtimeCloseInfo): Promise<void> {
    if (this.stopped || this.reconnecting) return;
    const wasResponding = this.active !== null && !this.active.dropped;
    this.log?.warn('realtime connection lost', { code: info.code, reason: info.reason, responding: wasResponding });
    if (this.active) {
      this.active.dropped = true;
      this.host.event({ type: 'response_done', responseId: this.active.id, status: 'failed' });
      for (const item of this.active.items) item.done = true;
      this.active = null;
    }
    this.awaitingCreate = false;
    this.userSpeaking = false;
    this.lastSpeechStoppedAt = 0;
    this.flushAssistant(false);
    if (this.next) {
      // A prepared rollover connection is as good as a reconnect.
      this.switchOver();
      if (wasResponding) this.requestResponse();
      return;
    }
    if (this.reconnects >= (this.opts.maxReconnects ?? 3)) {
      this.fatal(`openai realtime: connection lost (code ${info.code})`);
      return;
    }
    this.reconnects += 1;
    this.reconnecting = true;
    this.conn = null;
    this.host.event({ type: 'error', code: 'reconnecting', message: `OpenAI Realtime: connection lost (code ${info.code}); reconnecting` });
    try {
      const { conn, seededCount } = await this.openLink(true);
      this.reconnecting = false;
      if (this.stopped) {
        await conn.close();
        return;
      }
      // What happened during the setup (a tool result, say) follows the seed.
      this.sendSeed(conn, this.history.slice(seededCount));
      this.attach(conn);
      this.log?.info('realtime reconnected');
      if (wasResponding) this.wantResponse = true;
      this.pump();
    } catch (err) {
      this.reconnecting = false;
      this.log?.warn('realtime reconnect failed', { error: this.scrub(String((err as Error).message)) });
      this.fatal(`openai realtime: connection lost (code ${info.code}) and the reconnect failed`);
    }
  }
}
