/**
 * Metrics of one conversation, computed from its {@link SessionEventRecord}s: per turn (the
 * caller stopped speaking → the first audio of the answer), per barge-in (the caller started
 * speaking over a playing response → the playout cleared), per tool call, and per call (counts,
 * mean / p50 / p95 / max, frames dropped, duration). {@link SessionMetrics.summary} is a plain
 * JSON object stored in the AI call's `metadata.metrics`; the same measurements also feed a
 * process-wide {@link SessionMetricsSink} (src/metrics/gateway-metrics.ts: the Prometheus
 * histograms and counters served at `/metrics`).
 *
 * It runs beside the audio path: each record costs O(1) work and allocates nothing except a
 * turn entry per answered turn (bounded by `maxTurns`); samples go into preallocated typed arrays.
 *
 * ## The summary (`metadata.metrics`)
 * ```jsonc
 * {
 *   "turns": [                       // at most `maxTurns` (default 50): the first ones of the call
 *     { "at_ms": 1200,               // when the caller stopped speaking, ms after the session started
 *       "latency_ms": 640.5,         // caller stopped → first agent audio queued
 *       "tool_calls": 1,             // tool calls made while answering (until the caller spoke again)
 *       "barge_in_ms": 180 }         // only when the caller cut this answer: speech started → playout cleared
 *   ],
 *   "turns_total": 2,                // answered turns, including those left out of `turns`
 *   "turn_latency_ms": { "count": 2, "mean": 520, "p50": 520, "p95": 628, "max": 640 },
 *   "barge_ins": 1,
 *   "barge_in_ms":     { "count": 1, "mean": 180, "p50": 180, "p95": 180, "max": 180 },
 *   "tool_calls": 2, "tool_calls_failed": 1,
 *   "tool_call_ms":    { "count": 2, "mean": 75, "p50": 75, "p95": 93, "max": 95 },
 *   "first_audio_ms": 310,           // session started → the first agent audio (greeting or answer); null if none
 *   "frames_dropped": { "in": 3, "out": 5 },
 *   "dropped_audio_ms": 1400,        // agent audio cleared unplayed (barge-ins), in all
 *   "errors": 0,                     // recoverable agent errors reported
 *   "duration_ms": 9500              // session started → ended (or → finish())
 * }
 * ```
 * Every `*_ms` value is in milliseconds, rounded to 0.1 ms. A statistic with no sample has
 * `count: 0` and `null` for the rest. Percentiles interpolate linearly between the samples; they
 * are exact up to {@link SAMPLE_CAPACITY} samples per series and estimated from a uniform
 * reservoir of that many beyond (count, mean and max stay exact).
 *
 * ## What counts
 * - A **turn** is a `speech_stopped` followed by a `first_audio` before the caller speaks again;
 *   its latency runs from the last `speech_stopped` (a caller who pauses and goes on restarts it).
 *   A `first_audio` with no pending stop (the greeting, a second response) is not a turn.
 * - A **barge-in** is a `speech_started` followed by a `playout_cleared` that dropped audio
 *   (`droppedMs > 0`: a response was playing), before the next `first_audio`. A clear that dropped
 *   nothing (nothing was playing) or came without the caller speaking is not one.
 * - **Tool calls** come from `tool_call` records (the executor's own timing).
 */
import type { SessionEventRecord, SessionObserver } from './events.js';

/** The process-wide side (Prometheus): receives each measurement as it is taken. Must not throw. */
export interface SessionMetricsSink {
  sessionStarted(): void;
  sessionEnded(): void;
  turnLatency(ms: number): void;
  bargeIn(ms: number): void;
  toolCall(name: string, result: 'success' | 'failed', ms: number): void;
  framesDropped(direction: 'in' | 'out', count: number): void;
}

/** Count, mean and percentiles of one series, in ms (`null` without samples). */
export interface LatencySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** One answered turn. */
export interface TurnSummary {
  at_ms: number;
  latency_ms: number;
  tool_calls: number;
  barge_in_ms?: number;
}

/** What {@link SessionMetrics.summary} returns: stored as the AI call's `metadata.metrics`. */
export interface SessionMetricsSummary {
  turns: TurnSummary[];
  turns_total: number;
  turn_latency_ms: LatencySummary;
  barge_ins: number;
  barge_in_ms: LatencySummary;
  tool_calls: number;
  tool_calls_failed: number;
  tool_call_ms: LatencySummary;
  first_audio_ms: number | null;
  frames_dropped: { in: number; out: number };
  dropped_audio_ms: number;
  errors: number;
  duration_ms: number;
}

export interface SessionMetricsOptions {
  /** Receives every measurement too (the Prometheus side). */
  sink?: SessionMetricsSink;
  /** Most turn entries kept in `summary().turns` (default 50); aggregates count every turn. */
  maxTurns?: number;
  /** The clock `finish()` uses when the session never ended (default `performance.now`). */
  now?: () => number;
}

/** Samples kept per series for the percentiles. */
export const SAMPLE_CAPACITY = 1024;

/** Rounds ms to 0.1 ms. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * One latency series: exact count / sum / max, and samples for percentiles in a typed array
 * that grows up to {@link SAMPLE_CAPACITY}, then reservoir sampling (Algorithm R).
 */
export class LatencySeries {
  private samples = new Float64Array(16);
  private kept = 0;
  count = 0;
  private sum = 0;
  private max = -Infinity;

  add(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < 0) ms = 0;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.kept < SAMPLE_CAPACITY) {
      if (this.kept === this.samples.length) {
        const grown = new Float64Array(Math.min(SAMPLE_CAPACITY, this.samples.length * 2));
        grown.set(this.samples);
        this.samples = grown;
      }
      this.samples[this.kept++] = ms;
    } else {
      const j = Math.floor(Math.random() * this.count);
      if (j < SAMPLE_CAPACITY) this.samples[j] = ms;
    }
  }

  /** The `p` quantile (0..1) of the kept samples, interpolated linearly; NaN without samples. */
  quantile(p: number): number {
    if (this.kept === 0) return NaN;
    const sorted = this.samples.slice(0, this.kept).sort();
    const pos = (sorted.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  }

  summary(): LatencySummary {
    if (this.count === 0) return { count: 0, mean: null, p50: null, p95: null, max: null };
    return {
      count: this.count,
      mean: round(this.sum / this.count),
      p50: round(this.quantile(0.5)),
      p95: round(this.quantile(0.95)),
      max: round(this.max),
    };
  }
}

/**
 * The metrics of one conversation. Hand {@link SessionMetrics.observe} to the session runner as
 * its observer; call {@link SessionMetrics.finish} when the session is over and store the result.
 */
export class SessionMetrics {
  /** The observer to give the runner (bound; never throws). */
  readonly observe: SessionObserver;

  private readonly sink: SessionMetricsSink | undefined;
  private readonly maxTurns: number;
  private readonly now: () => number;

  private startedAt = NaN;
  private endedAt = NaN;
  private lastAt = NaN;
  private started = false;
  private ended = false;
  /** When the caller last stopped speaking, while the answer's first audio is awaited. */
  private pendingStop = NaN;
  /** Tool calls since `pendingStop`. */
  private pendingTools = 0;
  /** When the caller started speaking, while a clear of a playing response may follow. */
  private pendingSpeech = NaN;
  private firstAudioAt = NaN;

  private readonly turnLatency = new LatencySeries();
  private readonly bargeIn = new LatencySeries();
  private readonly toolCall = new LatencySeries();
  private readonly turns: TurnSummary[] = [];
  /** The latest answered turn (kept or not), for its tool calls and barge-in. */
  private lastTurn: TurnSummary | undefined;
  private toolsFailed = 0;
  private droppedIn = 0;
  private droppedOut = 0;
  private droppedAudioMs = 0;
  private errors = 0;

  constructor(opts: SessionMetricsOptions = {}) {
    this.sink = opts.sink;
    this.maxTurns = Math.max(0, opts.maxTurns ?? 50);
    this.now = opts.now ?? (() => performance.now());
    this.observe = (record) => {
      try {
        this.record(record);
      } catch {
        // A metric must never break a call.
      }
    };
  }

  /** Takes one record (in order). */
  record({ atMs, event }: SessionEventRecord): void {
    if (Number.isNaN(this.startedAt)) this.startedAt = atMs;
    this.lastAt = atMs;
    switch (event.type) {
      case 'session_started':
        if (this.started) return;
        this.started = true;
        this.startedAt = atMs;
        this.sink?.sessionStarted();
        return;
      case 'speech_started':
        // The caller is (again) talking: a stop before this was a pause, not the end of a turn.
        this.pendingStop = NaN;
        this.pendingSpeech = atMs;
        return;
      case 'speech_stopped':
        this.pendingStop = atMs;
        this.pendingTools = 0;
        return;
      case 'first_audio': {
        if (Number.isNaN(this.firstAudioAt)) this.firstAudioAt = atMs;
        // A new answer plays: an earlier speech start can no longer be a barge-in on the old one.
        this.pendingSpeech = NaN;
        if (Number.isNaN(this.pendingStop)) return;
        const ms = atMs - this.pendingStop;
        const turn: TurnSummary = { at_ms: round(this.pendingStop - this.startedAt), latency_ms: round(ms), tool_calls: this.pendingTools };
        this.pendingStop = NaN;
        this.pendingTools = 0;
        this.lastTurn = turn;
        if (this.turns.length < this.maxTurns) this.turns.push(turn);
        this.turnLatency.add(ms);
        this.sink?.turnLatency(ms);
        return;
      }
      case 'playout_cleared': {
        if (event.droppedMs > 0) this.droppedAudioMs += event.droppedMs;
        if (Number.isNaN(this.pendingSpeech) || !(event.droppedMs > 0)) return;
        const ms = atMs - this.pendingSpeech;
        this.pendingSpeech = NaN;
        this.bargeIn.add(ms);
        if (this.lastTurn && this.lastTurn.barge_in_ms === undefined) this.lastTurn.barge_in_ms = round(ms);
        this.sink?.bargeIn(ms);
        return;
      }
      case 'tool_call':
        this.toolCall.add(event.ms);
        if (event.result !== 'success') this.toolsFailed++;
        if (!Number.isNaN(this.pendingStop)) this.pendingTools++;
        else if (this.lastTurn) this.lastTurn.tool_calls++;
        this.sink?.toolCall(event.name, event.result, event.ms);
        return;
      case 'frames_dropped':
        if (!(event.count > 0)) return;
        if (event.direction === 'in') this.droppedIn += event.count;
        else this.droppedOut += event.count;
        this.sink?.framesDropped(event.direction, event.count);
        return;
      case 'error':
        this.errors++;
        return;
      case 'session_ended':
        this.end(atMs);
        return;
      default:
        return;
    }
  }

  private end(atMs: number): void {
    if (this.ended) return;
    this.ended = true;
    this.endedAt = atMs;
    if (this.started) this.sink?.sessionEnded();
  }

  /**
   * Ends the measurement (idempotent): a session that never reported `session_ended` ends now, so
   * the active-sessions gauge always comes back down. Returns the summary to store.
   */
  finish(atMs: number = this.now()): SessionMetricsSummary {
    if (!this.ended) this.end(Number.isNaN(this.lastAt) ? atMs : Math.max(atMs, this.lastAt));
    return this.summary();
  }

  /** The summary so far (see the module comment for its shape). */
  summary(): SessionMetricsSummary {
    const end = this.ended ? this.endedAt : Number.isNaN(this.lastAt) ? this.startedAt : this.lastAt;
    return {
      turns: this.turns.map((t) => ({ ...t })),
      turns_total: this.turnLatency.count,
      turn_latency_ms: this.turnLatency.summary(),
      barge_ins: this.bargeIn.count,
      barge_in_ms: this.bargeIn.summary(),
      tool_calls: this.toolCall.count,
      tool_calls_failed: this.toolsFailed,
      tool_call_ms: this.toolCall.summary(),
      first_audio_ms: Number.isNaN(this.firstAudioAt) ? null : round(this.firstAudioAt - this.startedAt),
      frames_dropped: { in: this.droppedIn, out: this.droppedOut },
      dropped_audio_ms: round(this.droppedAudioMs),
      errors: this.errors,
      duration_ms: Number.isNaN(this.startedAt) ? 0 : round(Math.max(0, end - this.startedAt)),
    };
  }
}
