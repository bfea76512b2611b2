import { describe, expect, it } from 'vitest';
import { LatencySeries, SAMPLE_CAPACITY, SessionMetrics } from '../../streams/session/metrics.js';
import { CONVERSATION, SpySink } from './fixtures.js';

describe('SessionMetrics', () => {
  it('computes every per-turn and per-call number of a conversation', () => {
    const sink = new SpySink();
    const m = new SessionMetrics({ sink });
    for (const r of CONVERSATION) m.observe(r);
    expect(m.finish()).toEqual({
      turns: [
        { at_ms: 3000, latency_ms: 500, tool_calls: 1, barge_in_ms: 150 },
        { at_ms: 5000, latency_ms: 700, tool_calls: 1 },
      ],
      turns_total: 2,
      turn_latency_ms: { count: 2, mean: 600, p50: 600, p95: 690, max: 700 },
      barge_ins: 1,
      barge_in_ms: { count: 1, mean: 150, p50: 150, p95: 150, max: 150 },
      tool_calls: 2,
      tool_calls_failed: 1,
      tool_call_ms: { count: 2, mean: 75, p50: 75, p95: 106.5, max: 110 },
      first_audio_ms: 300,
      frames_dropped: { in: 3, out: 7 },
      dropped_audio_ms: 1200,
      errors: 1,
      duration_ms: 9000,
    });
    expect(sink.calls).toEqual([
      'started',
      'tool get_variables success 40',
      'turn 500',
      'barge 150',
      'turn 700',
      'tool send_message failed 110',
      'drop in 3',
      'drop out 5',
      'drop out 2',
      'ended',
    ]);
  });

  it('is plain JSON (it is stored as the AI call metadata)', () => {
    const m = new SessionMetrics();
    for (const r of CONVERSATION) m.observe(r);
    const s = m.finish();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('keeps at most maxTurns turn entries; the aggregates count every turn', () => {
    const m = new SessionMetrics({ maxTurns: 2 });
    m.observe({ atMs: 0, event: { type: 'session_started', aicallId: 'a' } });
    for (let i = 0; i < 5; i++) {
      m.observe({ atMs: i * 1000 + 100, event: { type: 'speech_stopped' } });
      m.observe({ atMs: i * 1000 + 100 + (i + 1) * 100, event: { type: 'first_audio', responseId: `r${i}` } });
    }
    const s = m.finish(6000);
    expect(s.turns).toEqual([
      { at_ms: 100, latency_ms: 100, tool_calls: 0 },
      { at_ms: 1100, latency_ms: 200, tool_calls: 0 },
    ]);
    expect(s.turns_total).toBe(5);
    expect(s.turn_latency_ms).toEqual({ count: 5, mean: 300, p50: 300, p95: 480, max: 500 });
    expect(s.duration_ms).toBe(6000);
  });

  it('finish() ends a session that never reported its end, once', () => {
    const sink = new SpySink();
    const m = new SessionMetrics({ sink, now: () => 2500 });
    m.observe({ atMs: 1000, event: { type: 'session_started', aicallId: 'a' } });
    m.observe({ atMs: 2000, event: { type: 'speech_started' } });
    expect(m.finish().duration_ms).toBe(1500);
    m.finish();
    m.observe({ atMs: 3000, event: { type: 'session_ended', reason: 'late' } });
    expect(sink.calls).toEqual(['started', 'ended']);
  });

  it('a session that never started does not touch the active gauge', () => {
    const sink = new SpySink();
    const m = new SessionMetrics({ sink });
    const s = m.finish(100);
    expect(sink.calls).toEqual([]);
    expect(s.duration_ms).toBe(0);
    expect(s.turn_latency_ms).toEqual({ count: 0, mean: null, p50: null, p95: null, max: null });
    expect(s.first_audio_ms).toBeNull();
  });

  it('never throws into the runner, even when its sink does', () => {
    const sink = new SpySink();
    sink.turnLatency = () => {
      throw new Error('boom');
    };
    const m = new SessionMetrics({ sink });
    expect(() => {
      m.observe({ atMs: 0, event: { type: 'speech_stopped' } });
      m.observe({ atMs: 10, event: { type: 'first_audio', responseId: 'r' } });
    }).not.toThrow();
    expect(m.summary().turns_total).toBe(1);
  });

  it('ignores drops of zero frames and negative or non-finite tool timings safely', () => {
    const m = new SessionMetrics();
    m.observe({ atMs: 0, event: { type: 'frames_dropped', count: 0, direction: 'in' } });
    m.observe({ atMs: 1, event: { type: 'tool_call', name: 'stop_service', ms: -5, result: 'success' } });
    m.observe({ atMs: 2, event: { type: 'tool_call', name: 'stop_service', ms: Number.NaN, result: 'success' } });
    const s = m.summary();
    expect(s.frames_dropped).toEqual({ in: 0, out: 0 });
    expect(s.tool_call_ms).toEqual({ count: 1, mean: 0, p50: 0, p95: 0, max: 0 });
  });
});

describe('LatencySeries', () => {
  it('interpolates percentiles linearly', () => {
    const s = new LatencySeries();
    for (const v of [10, 20, 30, 40]) s.add(v);
    expect(s.quantile(0.5)).toBe(25);
    expect(s.quantile(0)).toBe(10);
    expect(s.quantile(1)).toBe(40);
  });

  it('keeps count, mean and max exact beyond its sample capacity, with bounded memory', () => {
    const s = new LatencySeries();
    const n = SAMPLE_CAPACITY * 4;
    for (let i = 1; i <= n; i++) s.add(i);
    const sum = s.summary();
    expect(sum.count).toBe(n);
    expect(sum.max).toBe(n);
    expect(sum.mean).toBe((n + 1) / 2);
    // A uniform reservoir: the median lands near the middle.
    expect(sum.p50!).toBeGreaterThan(n * 0.35);
    expect(sum.p50!).toBeLessThan(n * 0.65);
  });
});
