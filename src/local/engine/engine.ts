import type { Row } from '../../../db/store.js';
import type { CallEngine, LocalContext } from '../context.js';
import { hasId, idOrNil } from '../../util/ids.js';
import { nowTimestamp } from '../../util/time.js';
import { newCallRow } from '../rows.js';
import { normalizeE164 } from '../../../tools/e164.js';
import { LiveCall } from './live-call.js';
import type { HangupInfo, Party } from './live-call.js';
import { MediaClock } from './media-clock.js';
import { FlowRunner } from './flow-runner.js';
import type { FastifyInstance } from 'fastify';
import { VoipbinClient } from '../../client/client.js';
import { IN_PROCESS_BASE_URL, createInProcessFetch } from '../in-process-fetch.js';
import { AgentRegistry } from '../../../streams/agents/registry.js';
import type { TtsProvider } from '../../providers/tts/types.js';
import type { SessionObserver } from '../../../streams/session/events.js';
import type { SttProvider } from '../../providers/stt/types.js';
import type { LlmProvider } from '../../providers/llm/types.js';
import { PhoneRegistry } from './phone-registry.js';
import type { PhoneEndpoint } from './phone-registry.js';
import { Transcriptions } from './transcriptions.js';
import { AicallRegistry } from './aicall-registry.js';
import { AgentWarmups } from './agent-warmups.js';
import { generateSummary } from '../summaries.js';
import { CHARGED_CREDITS_FIELD, refund } from '../billing.js';

export interface EngineOptions {
  /** How long a call rings before it ends as `noanswer` (default 30 s). */
  ringTimeoutMs?: number;
  /** The voice of `talk` actions; without one they are skipped with a warning. */
  tts?: TtsProvider;
  /**
   * The TTS a `talk` action names (`option.provider` or `option.tts_type`: `elevenlabs`, `openai`,
   * ...); throws when that provider cannot be built (no key, no adapter): the talk then uses `tts`.
   */
  ttsFor?: (type: string) => TtsProvider;
  /** The ears of `transcribe_start` and `POST /transcribes` (see {@link Transcriptions}); without one they are skipped with a warning. */
  stt?: SttProvider;
  /** The LLM that writes AI summaries; without one they stay `progressing`. */
  summaryLlm?: LlmProvider;
  /**
   * The agents of `ai_talk` / `ai` actions, chosen by the AI configuration. Without a matching
   * agent such an action ends its AI call with a clear reason and the flow goes on.
   */
  agents?: AgentRegistry;
  /** The observer of each AI conversation's records (streams/session/events.ts), if any. */
  sessionObserver?: SessionObserverFactory;
  /** See {@link LocalCallEngine.conversationSummary}. */
  conversationSummary?: (aicallId: string) => object | undefined;
}

/**
 * Chooses the observer of one AI conversation (metrics, a monitor, a test), given its AI call
 * and the call it runs on; undefined: nobody observes it.
 */
export type SessionObserverFactory = (session: { aicallId: string; callId: string }) => SessionObserver | undefined;

/**
 * The local VoIPBIN's call engine: rings local phones, carries call audio on one media clock,
 * bridges calls and runs each answered call's flow as an activeflow.
 */
export class LocalCallEngine implements CallEngine {
  readonly ctx: LocalContext;
  readonly clock = new MediaClock();
  private readonly live = new Map<string, LiveCall>();
  private readonly ringTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly runners = new Map<string, FlowRunner>();
  private readonly ringTimeoutMs: number;
  private api: FastifyInstance | undefined;
  private readonly clients = new Map<string, VoipbinClient>();
  /** The agents of `ai_talk` / `ai` actions (see EngineOptions.agents); fixed at construction. */
  readonly agents: AgentRegistry;
  /** The voice of `talk` actions (see EngineOptions.tts). */
  tts: TtsProvider | undefined;
  /** See EngineOptions.ttsFor. */
  readonly ttsFor: ((type: string) => TtsProvider) | undefined;
  /** See EngineOptions.summaryLlm. */
  summaryLlm: LlmProvider | undefined;
  /** See EngineOptions.sessionObserver; fixed at construction. */
  readonly sessionObserver: SessionObserverFactory | undefined;
  /**
   * Ends the metrics of an AI conversation and returns the summary stored as the AI call's
   * `metadata.metrics` (src/metrics/ computes it from the observer's records), if any.
   */
  readonly conversationSummary: ((aicallId: string) => object | undefined) | undefined;
  /** The registered phones, where calls to local numbers and extensions ring. */
  readonly phones: PhoneRegistry;
  /** The running transcriptions of live calls (with the STT of EngineOptions.stt). */
  readonly transcriptions: Transcriptions;
  /** The running AI conversations of `ai_talk` / `ai` actions, by AI call id. */
  readonly aicalls = new AicallRegistry();
  /** Agents made ready while outgoing calls ring (agent-warmups.ts). */
  readonly warmups: AgentWarmups;
  private readonly tickAll = () => {
    for (const c of this.live.values()) c.tick();
  };

  constructor(ctx: LocalContext, opts: EngineOptions = {}) {
    this.ctx = ctx;
    this.ringTimeoutMs = opts.ringTimeoutMs ?? 30_000;
    this.tts = opts.tts;
    this.ttsFor = opts.ttsFor;
    this.summaryLlm = opts.summaryLlm;
    this.sessionObserver = opts.sessionObserver;
    this.conversationSummary = opts.conversationSummary;
    this.agents = opts.agents ?? new AgentRegistry();
    this.warmups = new AgentWarmups(ctx, this.agents);
    // A phone that leaves while on a call (its socket closed) ends that call: call state is ours.
    this.phones = new PhoneRegistry(ctx.store, { onUnregister: (phone) => this.phoneLeft(phone) });
    this.transcriptions = new Transcriptions(ctx, { stt: opts.stt });
  }

  /** Writes an AI summary's content with the summary LLM (see src/local/summaries.ts). */
  summarize(summary: Row): Promise<Row> {
    return generateSummary(this.ctx, this.summaryLlm, summary);
  }

  /** Gives the engine the local API, which the tool executor's REST client talks to in-process. */
  attachApi(app: FastifyInstance): void {
    this.api = app;
  }

  /** The one REST client, acting as `customerId` against the local API in this process. */
  clientFor(customerId: string): VoipbinClient {
    let c = this.clients.get(customerId);
    if (!c) {
      if (!this.api || !this.ctx.internalToken) throw new Error('the engine has no local API attached');
      c = new VoipbinClient({
        baseUrl: IN_PROCESS_BASE_URL,
        accessKey: 'in-process',
        fetch: createInProcessFetch(this.api, { customerId, internalToken: this.ctx.internalToken }),
        maxRetries: 0,
        logger: this.ctx.logger,
      });
      this.clients.set(customerId, c);
    }
    return c;
  }

  /** The live state of a call, if it is live. */
  getLive(callId: string): LiveCall | undefined {
    return this.live.get(callId);
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** A phone left the registry: the call it is on (ringing or talking) ends as the remote's hangup. */
  private phoneLeft(phone: PhoneEndpoint): void {
    if (!phone.currentCallId) return;
    const call = this.live.get(phone.currentCallId);
    if (call && call.party === phone) void this.endCall(call, { by: 'remote', reason: call.answered ? 'normal' : 'cancel' });
  }

  // ---- CallEngine (the API's seam)

  callCreated(call: Row, variables: Record<string, string>): void {
    void this.dialOut(call, variables).catch((err) => this.ctx.logger.error('dial failed', { call_id: call.id, error: String(err) }));
  }

  async hangupCall(call: Row): Promise<Row> {
    const live = this.live.get(call.id);
    if (!live) return this.storeHangup(call, { by: 'local', reason: 'normal' });
    await this.endCall(live, { by: 'local', reason: live.answered ? 'normal' : 'cancel' });
    return live.row;
  }

  async stopActiveflow(activeflow: Row): Promise<Row> {
    const runner = this.runners.get(activeflow.id);
    if (runner) {
      await runner.stop('stopped by request');
      return runner.activeflow;
    }
    const now = nowTimestamp();
    return this.ctx.store.activeflows.update({ ...activeflow, status: 'ended', tm_update: now });
  }

  // ---- call lifecycle

  /** Makes a call live: on the media clock, tracked until it ends. */
  private track(live: LiveCall): void {
    this.live.set(live.id, live);
    if (this.live.size === 1) this.clock.add(this.tickAll);
  }

  private untrack(live: LiveCall): void {
    this.live.delete(live.id);
    if (this.live.size === 0) this.clock.remove(this.tickAll);
  }

  /** An outgoing call from POST /calls (or a flow's connect): ring the destination's phone. */
  async dialOut(call: Row, variables: Record<string, string> = {}, opts: { runFlow?: boolean } = {}): Promise<LiveCall> {
    const destination = call.destination as { type: string; target: string };
    const live = new LiveCall(call);
    // Tracked before the lookup awaits, so a hangup through the API meanwhile finds the call.
    this.track(live);
    const phone = await this.phones.forDestination(call.customer_id, destination);
    if (live.ended) return live;
    // Why a call did not connect is logged at the default level, next to its hangup_reason.
    const where = `call ${call.id} to ${destination.target}`;
    const at = destination.type === 'tel' ? 'that number' : `that ${destination.type || 'address'}`;
    if (!phone) {
      // VoIPBIN reports an unreachable destination as a hangup with reason "failed".
      this.ctx.logger.warn(`${where}: no phone is registered at ${at}`, { call_id: call.id, hangup_reason: 'failed' });
      await this.endCall(live, { by: 'remote', reason: 'failed' });
      return live;
    }
    if (phone.currentCallId) {
      this.ctx.logger.warn(`${where}: the phone at ${at} is busy on another call`, { call_id: call.id, hangup_reason: 'busy' });
      await this.endCall(live, { by: 'remote', reason: 'busy' });
      return live;
    }
    live.party = phone;
    phone.currentCallId = call.id;
    await this.updateCall(live, { status: 'ringing', tm_ringing: nowTimestamp() });
    if (opts.runFlow !== false) {
      live.onAnswered = () => this.startFlow(live, variables);
      // The AI of the flow gets ready while the callee's phone rings.
      void this.warmups.ringing(live);
    }
    this.ringTimers.set(
      call.id,
      setTimeout(() => {
        if (live.answered || live.ended) return;
        this.ctx.logger.warn(`${where}: no answer within ${Math.round(this.ringTimeoutMs / 1000)} s`, { call_id: call.id, hangup_reason: 'noanswer' });
        void this.endCall(live, { by: 'remote', reason: 'noanswer' });
      }, this.ringTimeoutMs),
    );
    phone.ring(live.row);
    return live;
  }

  /**
   * A call placed by a phone (or a carrier stream) to a local address. A number with a
   * `call_flow_id` runs that flow; otherwise a phone registered at the address rings.
   */
  async placeInbound(from: Party & { currentCallId?: string }, source: { type: string; target: string }, to: string, callerCustomerId?: string): Promise<LiveCall> {
    const number = normalizeE164(to);
    const numberRow = number ? (await this.ctx.store.numbers.findBy('number', number))[0] : undefined;
    const customerId = numberRow?.customer_id ?? callerCustomerId ?? '';
    const now = nowTimestamp();
    const destination = { type: number ? 'tel' : 'extension', target: number ?? to, target_name: '', name: '', detail: '' };
    const row: Row = {
      ...newCallRow(customerId, { type: source.type, target: source.target, target_name: '', name: '', detail: '' }, destination),
      direction: 'incoming',
      status: 'ringing',
      flow_id: idOrNil(numberRow?.call_flow_id),
      tm_ringing: now,
    };
    const live = new LiveCall(row, from);
    from.currentCallId = row.id;
    const where = `call ${row.id} to ${to}`;
    if (!customerId) {
      this.ctx.logger.warn(`${where}: ${to} is not a number of any local account`, { call_id: row.id, hangup_reason: 'failed' });
      this.track(live);
      await this.endCall(live, { by: 'remote', reason: 'failed' });
      return live;
    }
    await this.ctx.store.calls.insert(row);
    this.track(live);
    if (hasId(numberRow?.call_flow_id)) {
      // The flow decides when to answer (its `answer` action, or the first media action).
      this.startFlow(live, {});
      return live;
    }
    const phone = await this.phones.forDestination(customerId, destination);
    if (live.ended) return live;
    if (!phone || phone === from) {
      const why = phone ? 'the caller itself is the phone registered at that number' : `no phone is registered at that ${number ? 'number' : 'extension'} and it has no call_flow_id`;
      this.ctx.logger.warn(`${where}: ${why}`, { call_id: row.id, hangup_reason: 'failed' });
      await this.endCall(live, { by: 'remote', reason: 'failed' });
      return live;
    }
    // Direct phone-to-phone: ring the callee on its own leg and bridge the two when it answers.
    const outRow: Row = { ...newCallRow(customerId, row.source, destination), master_call_id: row.id };
    await this.ctx.store.calls.insert(outRow);
    await this.updateCall(live, { chained_call_ids: [outRow.id] });
    const out = await this.dialOut(outRow, {}, { runFlow: false }).catch(() => undefined);
    if (!out || out.ended) {
      await this.endCall(live, { by: 'remote', reason: (out?.row.hangup_reason as HangupInfo['reason']) || 'failed' });
      return live;
    }
    out.onAnswered = () => {
      this.answer(live).then(
        () => this.bridge(live, out),
        (err: unknown) => this.ctx.logger.error('answering a bridged call failed', { call_id: live.id, error: String(err) }),
      );
    };
    out.onEnd((info) => {
      if (!live.ended) void this.endCall(live, { by: 'remote', reason: out.answered ? 'normal' : info.reason || 'failed' });
    });
    live.onEnd(() => {
      if (!out.ended) void this.endCall(out, { by: 'remote', reason: out.answered ? 'normal' : 'cancel' });
    });
    return live;
  }


  /** The party picked up (a phone answering an outgoing call). */
  async partyAnswered(callId: string): Promise<void> {
    const live = this.live.get(callId);
    if (!live || live.ended || live.answered) return;
    await this.answer(live);
    live.onAnswered?.();
  }

  /** Answers a call: status `progressing`, audio starts flowing. Idempotent. */
  async answer(live: LiveCall): Promise<void> {
    if (live.answered || live.ended) return;
    const timer = this.ringTimers.get(live.id);
    if (timer) clearTimeout(timer);
    this.ringTimers.delete(live.id);
    live.answered = true;
    await this.updateCall(live, { status: 'progressing', tm_progressing: nowTimestamp() });
    live.party?.answered?.(live.id);
  }

  /** Connects the audio of two answered calls both ways. */
  bridge(a: LiveCall, b: LiveCall): void {
    const toB = b.addSource(`bridge:${a.id}`);
    const toA = a.addSource(`bridge:${b.id}`);
    const untapA = a.tap((f) => toB.push(f));
    const untapB = b.tap((f) => toA.push(f));
    a.peer = b;
    b.peer = a;
    const unbridge = () => {
      untapA();
      untapB();
      a.removeSource(toA);
      b.removeSource(toB);
      a.peer = undefined;
      b.peer = undefined;
    };
    a.onEnd(unbridge);
    b.onEnd(unbridge);
  }

  /** Starts the call's flow as an activeflow. */
  startFlow(live: LiveCall, variables: Record<string, string>): FlowRunner | undefined {
    if (!hasId(live.row.flow_id)) return undefined;
    const runner = new FlowRunner(this, live, variables);
    // Registered before start() awaits anything, so a stop that arrives meanwhile finds it.
    this.runners.set(runner.activeflow.id, runner);
    live.onEnd(() => void runner.stop('call ended'));
    runner.start().catch((err: unknown) => {
      this.ctx.logger.error('flow failed to start', { call_id: live.id, error: String(err) });
      void runner.stop('failed to start');
    });
    runner.onDone(() => {
      this.runners.delete(runner.activeflow.id);
      // On VoIPBIN a call ends with its flow.
      if (!live.ended) void this.endCall(live, { by: 'local', reason: 'normal' });
    });
    return runner;
  }


  /** Ends a live call: stores the hangup, tells the party, releases its media. Idempotent. */
  async endCall(live: LiveCall, info: HangupInfo): Promise<void> {
    if (live.ended) return;
    const timer = this.ringTimers.get(live.id);
    if (timer) clearTimeout(timer);
    this.ringTimers.delete(live.id);
    live.markEnded(info);
    this.untrack(live);
    // A call that never connected (failed, busy, noanswer, cancel) is not charged: its price
    // comes back. Zeroed on the row before anything awaits, so the refund is exact and once.
    const charged = live.answered ? 0 : Number(live.row[CHARGED_CREDITS_FIELD] ?? 0);
    if (charged > 0) live.row = { ...live.row, [CHARGED_CREDITS_FIELD]: 0 };
    const party = live.party as (Party & { currentCallId?: string }) | undefined;
    if (party && party.currentCallId === live.id) party.currentCallId = undefined;
    party?.ended(live.id, info.reason || 'normal');
    // Ending a call runs from timers, sockets and flows in the background: a failed write is
    // logged, never thrown, so it cannot become an unhandled rejection that stops the process.
    try {
      if (live.row.customer_id && (await this.ctx.store.calls.getById(live.id))) {
        if (charged > 0) await refund(this.ctx, live.row.customer_id, charged);
        live.row = await this.storeHangup(live.row, info);
      }
    } catch (err) {
      this.ctx.logger.error('storing a hangup failed', { call_id: live.id, error: String(err) });
    }
  }

  private async storeHangup(call: Row, info: HangupInfo): Promise<Row> {
    const now = nowTimestamp();
    return this.ctx.store.calls.update({ ...call, status: 'hangup', hangup_by: info.by, hangup_reason: info.reason, tm_hangup: now, tm_update: now });
  }

  /** Applies a change to the live call's row and stores it. */
  async updateCall(live: LiveCall, patch: Partial<Row>): Promise<void> {
    live.row = { ...live.row, ...patch, tm_update: nowTimestamp() };
    if (await this.ctx.store.calls.getById(live.id)) await this.ctx.store.calls.update(live.row);
  }

  /**
   * True once {@link shutdown} began: sockets a call's end closes use 1001 "server shutting
   * down" instead of 1000 "call ended", so a client can tell a shutdown from a hangup.
   */
  shuttingDown = false;

  /**
   * Ends every live call (server shutdown): each party is told (a phone gets `hangup`), the rows
   * are written, and the flows and AI sessions those calls ran get a bounded moment to store
   * their end before the caller closes the database.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await this.transcriptions.stopAll();
    for (const live of [...this.live.values()]) await this.endCall(live, { by: 'local', reason: 'normal' });
    for (const t of this.ringTimers.values()) clearTimeout(t);
    this.ringTimers.clear();
    for (const runner of [...this.runners.values()]) await runner.stop('server shutting down');
    // An AI action writes its terminated AI call as it unwinds; what is still unwritten after
    // this bound is ended by the next start's recovery (src/local/recovery.ts).
    await this.aicalls.whenIdle(2000);
  }
}
