/**
 * The gateway's Prometheus metrics (served at `/metrics`, see ./http.ts), through prom-client.
 *
 * Each {@link GatewayMetrics} has its own prom-client Registry (never the library's global
 * default registry), so several servers in one process (the tests, an embedding application)
 * do not collide. The Node.js process metrics (`process_*`, `nodejs_*`: CPU, memory, event loop
 * lag, GC) are collected once per process on a shared registry of their own (collecting them
 * starts an event-loop monitor and a GC observer, which must not multiply per server) and are
 * served with every exposition.
 *
 * Label values are bounded and carry no customer data: `tool` is one of the nine tool names or
 * `other`, `result` is `success` / `failed`, `direction` is `in` / `out`. AI call ids, customer
 * ids and anything else per call never become labels (they live in the AI call's metadata).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counter as CounterT, Histogram as HistogramT } from 'prom-client';
import { TOOL_NAMES } from '../../tools/types.js';
import { SessionMetrics } from '../../streams/session/metrics.js';
import type { SessionMetricsOptions, SessionMetricsSink, SessionMetricsSummary } from '../../streams/session/metrics.js';
import type { SessionObserver } from '../../streams/session/events.js';

/** Buckets (seconds) for voice latencies: turn latency and barge-in, 5 ms … 5 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5];
/** Buckets (seconds) for tool calls: the voice buckets plus 10 s (a REST call through VoIPBIN can be slow). */
export const TOOL_CALL_BUCKETS_SECONDS: readonly number[] = [...LATENCY_BUCKETS_SECONDS, 10];

const KNOWN_TOOLS: ReadonlySet<string> = new Set(TOOL_NAMES);

/** Most conversations remembered for {@link GatewayMetrics.finish} (far above the live calls of one process). */
export const MAX_TRACKED_SESSIONS = 10_000;

/** The exposition's content type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

let processRegistry: Registry | undefined;

/** The process-wide registry of the default Node.js process metrics (created on first use). */
export function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface GatewayMetricsOptions {
  /** Include the Node.js process metrics in {@link GatewayMetrics.metrics} (default true). */
  processMetrics?: boolean;
  /** Options of every {@link SessionMetrics} made by {@link GatewayMetrics.observerFor}. */
  session?: Omit<SessionMetricsOptions, 'sink'>;
}

/** What {@link GatewayMetrics.observerFor} returns: the runner's observer and the summary at the end. */
export interface SessionMetricsHandle {
  /** Give this to the session runner (`SessionRunnerOptions.observer`). */
  observer: SessionObserver;
  /** The per-call metrics themselves (summary so far). */
  metrics: SessionMetrics;
  /**
   * Ends the measurement (idempotent; brings the active-sessions gauge down if the session never
   * reported its end) and returns the summary to store as the AI call's `metadata.metrics`.
   */
  finish(): SessionMetricsSummary;
}

/** The gateway's metrics of one server (see the module comment). */
export class GatewayMetrics implements SessionMetricsSink {
  /** The registry of the `voipbin_ai_*` metrics. */
  readonly registry = new Registry();
  private readonly withProcess: boolean;
  private readonly sessionOptions: Omit<SessionMetricsOptions, 'sink'>;

  private readonly turnLatencyHist: HistogramT;
  private readonly bargeInHist: HistogramT;
  private readonly toolCallHist: HistogramT<'tool' | 'result'>;
  private readonly framesDroppedIn: ReturnType<CounterT<'direction'>['labels']>;
  private readonly framesDroppedOut: ReturnType<CounterT<'direction'>['labels']>;
  private readonly sessionsTotal: CounterT;
  private readonly sessionsActive: Gauge;
  /** Conversations whose summary has not been claimed yet, by AI call id (oldest first). */
  private readonly sessions = new Map<string, SessionMetricsHandle>();
  /** Children of the tool histogram, bound once per (tool, result): no label hashing per call. */
  private readonly toolChildren = new Map<string, ReturnType<HistogramT<'tool' | 'result'>['labels']>>();

  constructor(opts: GatewayMetricsOptions = {}) {
    this.withProcess = opts.processMetrics ?? true;
    this.sessionOptions = opts.session ?? {};
    const registers = [this.registry];
    this.turnLatencyHist = new Histogram({
      name: 'voipbin_ai_turn_latency_seconds',
      help: 'Turn latency: the caller stopped speaking until the first audio of the answer was queued for the caller.',
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.bargeInHist = new Histogram({
      name: 'voipbin_ai_barge_in_seconds',
      help: 'Barge-in latency: the caller started speaking over a playing response until the playout was cleared.',
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.toolCallHist = new Histogram({
      name: 'voipbin_ai_tool_call_seconds',
      help: 'Tool call latency through the executor, by tool (one of the nine tool names, or "other") and result.',
      labelNames: ['tool', 'result'] as const,
      buckets: [...TOOL_CALL_BUCKETS_SECONDS],
      registers,
    });
    const frames = new Counter({
      name: 'voipbin_ai_frames_dropped_total',
      help: 'Audio frames dropped on the way (a full buffer, a stalled socket), by direction: in (caller to agent) or out (agent to caller).',
      labelNames: ['direction'] as const,
      registers,
    });
    this.framesDroppedIn = frames.labels('in');
    this.framesDroppedOut = frames.labels('out');
    // Both series exist from the start, at 0 (a rate() over a series that appears late is wrong).
    this.framesDroppedIn.inc(0);
    this.framesDroppedOut.inc(0);
    this.sessionsTotal = new Counter({
      name: 'voipbin_ai_sessions_total',
      help: 'Agent sessions started (one per AI call that reached its agent).',
      registers,
    });
    this.sessionsActive = new Gauge({
      name: 'voipbin_ai_sessions_active',
      help: 'Agent sessions running now.',
      registers,
    });
    if (this.withProcess) processMetricsRegistry();
  }

  /**
   * The metrics of one conversation: an observer for the session runner and `finish()` for the
   * summary to store. The conversation is also remembered under `aicallId` until
   * {@link GatewayMetrics.finish} claims its summary (the id never becomes a label).
   */
  observerFor(aicallId: string): SessionMetricsHandle {
    const metrics = new SessionMetrics({ ...this.sessionOptions, sink: this });
    const handle: SessionMetricsHandle = {
      observer: metrics.observe,
      metrics,
      finish: () => {
        if (this.sessions.get(aicallId) === handle) this.sessions.delete(aicallId);
        return metrics.finish();
      },
    };
    this.sessions.get(aicallId)?.finish(); // the same AI call observed again: the old one is over
    this.sessions.set(aicallId, handle);
    // Bounded even if nobody claims the summaries: the oldest is ended and forgotten.
    if (this.sessions.size > MAX_TRACKED_SESSIONS) this.sessions.values().next().value?.finish();
    return handle;
  }

  /**
   * The engine's observer factory (EngineOptions.sessionObserver): one {@link SessionMetrics}
   * per AI conversation, its summary claimed with {@link GatewayMetrics.finish} when it ends.
   */
  readonly sessionObserver = (session: { aicallId: string }): SessionObserver => this.observerFor(session.aicallId).observer;

  /**
   * Ends the metrics of the conversation of `aicallId` (idempotent) and returns its summary for
   * the AI call's `metadata.metrics`; undefined when nothing observed it (or it was claimed).
   */
  finish(aicallId: string): SessionMetricsSummary | undefined {
    return this.sessions.get(aicallId)?.finish();
  }

  /** The exposition in the Prometheus text format ({@link METRICS_CONTENT_TYPE}). */
  async metrics(): Promise<string> {
    const own = await this.registry.metrics();
    return this.withProcess ? (await processMetricsRegistry().metrics()) + own : own;
  }

  readonly contentType = METRICS_CONTENT_TYPE;

  // SessionMetricsSink: called by every SessionMetrics of this server.

  sessionStarted(): void {
    this.sessionsTotal.inc();
    this.sessionsActive.inc();
  }

  sessionEnded(): void {
    this.sessionsActive.dec();
  }

  turnLatency(ms: number): void {
    this.turnLatencyHist.observe(ms / 1000);
  }

  bargeIn(ms: number): void {
    this.bargeInHist.observe(ms / 1000);
  }

  toolCall(name: string, result: 'success' | 'failed', ms: number): void {
    if (!Number.isFinite(ms)) return;
    const tool = KNOWN_TOOLS.has(name) ? name : 'other';
    const res = result === 'success' ? 'success' : 'failed';
    const key = tool + '|' + res;
    let child = this.toolChildren.get(key);
    if (!child) {
      child = this.toolCallHist.labels(tool, res);
      this.toolChildren.set(key, child);
    }
    child.observe(Math.max(0, ms) / 1000);
  }

  framesDropped(direction: 'in' | 'out', count: number): void {
    if (!(count > 0)) return;
    (direction === 'in' ? this.framesDroppedIn : this.framesDroppedOut).inc(count);
  }
}

/** The GatewayMetrics of each local context (set by the composition root, src/server.ts). */
/**
 * An engine observer factory that feeds `metrics` and, when given, `other` too (a test's or a
 * monitor's factory), so adding metrics never displaces another observer.
 */
export function withSessionMetrics<S extends { aicallId: string }>(
  metrics: GatewayMetrics,
  other?: (session: S) => SessionObserver | undefined,
): (session: S) => SessionObserver {
  return (session) => {
    const mine = metrics.sessionObserver(session);
    const theirs = other?.(session);
    if (!theirs) return mine;
    return (record) => {
      mine(record);
      try {
        theirs(record);
      } catch {
        // An observer must not break the call (nor the other observers).
      }
    };
  };
}
