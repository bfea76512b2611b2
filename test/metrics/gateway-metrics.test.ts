import { describe, expect, it } from 'vitest';
import {
  GatewayMetrics,
  LATENCY_BUCKETS_SECONDS,
  MAX_TRACKED_SESSIONS,
  METRICS_CONTENT_TYPE,
  TOOL_CALL_BUCKETS_SECONDS,
  withSessionMetrics,
} from '../../src/metrics/gateway-metrics.js';
import type { SessionEventRecord } from '../../streams/session/events.js';
import { CONVERSATION } from './fixtures.js';
import { parseExposition } from './exposition.js';

describe('GatewayMetrics', () => {
  it('exposes the histograms, counters and gauge with the values of the conversations it observed', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    const h = g.observerFor('00000000-0000-0000-0000-00000000aaaa');
    for (const r of CONVERSATION.slice(0, -1)) h.observer(r);
    let x = parseExposition(await g.metrics());
    expect(x.value('voipbin_ai_sessions_active')).toBe(1);
    expect(x.value('voipbin_ai_sessions_total')).toBe(1);
    h.observer(CONVERSATION[CONVERSATION.length - 1]!);
    expect(h.finish().turns_total).toBe(2);
    x = parseExposition(await g.metrics());

    expect(x.types.get('voipbin_ai_turn_latency_seconds')).toBe('histogram');
    expect(x.types.get('voipbin_ai_barge_in_seconds')).toBe('histogram');
    expect(x.types.get('voipbin_ai_tool_call_seconds')).toBe('histogram');
    expect(x.types.get('voipbin_ai_frames_dropped_total')).toBe('counter');
    expect(x.types.get('voipbin_ai_sessions_total')).toBe('counter');
    expect(x.types.get('voipbin_ai_sessions_active')).toBe('gauge');

    // Turns: 0.5 s and 0.7 s.
    expect(x.value('voipbin_ai_turn_latency_seconds_count')).toBe(2);
    expect(x.value('voipbin_ai_turn_latency_seconds_sum')).toBeCloseTo(1.2, 9);
    expect(x.value('voipbin_ai_turn_latency_seconds_bucket', { le: '0.4' })).toBe(0);
    expect(x.value('voipbin_ai_turn_latency_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(x.value('voipbin_ai_turn_latency_seconds_bucket', { le: '0.75' })).toBe(2);
    expect(x.value('voipbin_ai_turn_latency_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(x.all('voipbin_ai_turn_latency_seconds_bucket').map((s) => s.labels.le)).toEqual([...LATENCY_BUCKETS_SECONDS.map(String), '+Inf']);

    // Barge-in: 0.15 s.
    expect(x.value('voipbin_ai_barge_in_seconds_count')).toBe(1);
    expect(x.value('voipbin_ai_barge_in_seconds_sum')).toBeCloseTo(0.15, 9);
    expect(x.value('voipbin_ai_barge_in_seconds_bucket', { le: '0.1' })).toBe(0);
    expect(x.value('voipbin_ai_barge_in_seconds_bucket', { le: '0.2' })).toBe(1);

    // Tool calls, by tool and result.
    const ok = { tool: 'get_variables', result: 'success' };
    const failed = { tool: 'send_message', result: 'failed' };
    expect(x.value('voipbin_ai_tool_call_seconds_count', ok)).toBe(1);
    expect(x.value('voipbin_ai_tool_call_seconds_sum', ok)).toBeCloseTo(0.04, 9);
    expect(x.value('voipbin_ai_tool_call_seconds_bucket', { ...ok, le: '0.025' })).toBe(0);
    expect(x.value('voipbin_ai_tool_call_seconds_bucket', { ...ok, le: '0.05' })).toBe(1);
    expect(x.value('voipbin_ai_tool_call_seconds_count', failed)).toBe(1);
    expect(x.value('voipbin_ai_tool_call_seconds_sum', failed)).toBeCloseTo(0.11, 9);
    expect(x.value('voipbin_ai_tool_call_seconds_bucket', { ...failed, le: '0.1' })).toBe(0);
    expect(x.value('voipbin_ai_tool_call_seconds_bucket', { ...failed, le: '0.15' })).toBe(1);
    expect(x.all('voipbin_ai_tool_call_seconds_bucket').filter((s) => s.labels.tool === 'get_variables').map((s) => s.labels.le)).toEqual([
      ...TOOL_CALL_BUCKETS_SECONDS.map(String),
      '+Inf',
    ]);

    expect(x.value('voipbin_ai_frames_dropped_total', { direction: 'in' })).toBe(3);
    expect(x.value('voipbin_ai_frames_dropped_total', { direction: 'out' })).toBe(7);
    expect(x.value('voipbin_ai_sessions_total')).toBe(1);
    expect(x.value('voipbin_ai_sessions_active')).toBe(0);
    // Only this server's metrics were asked for.
    expect(x.samples.some((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_'))).toBe(false);
  });

  it('counts sessions across conversations, and the gauge comes down when finish() ends one', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    const a = g.observerFor('a');
    const b = g.observerFor('b');
    a.observer({ atMs: 0, event: { type: 'session_started', aicallId: 'a' } });
    b.observer({ atMs: 0, event: { type: 'session_started', aicallId: 'b' } });
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(2);
    a.observer({ atMs: 10, event: { type: 'session_ended', reason: 'hangup' } });
    a.finish();
    b.finish(); // no session_ended (the runner failed): still counted down
    b.finish();
    const x = parseExposition(await g.metrics());
    expect(x.value('voipbin_ai_sessions_active')).toBe(0);
    expect(x.value('voipbin_ai_sessions_total')).toBe(2);
  });

  it('starts with both frame-drop series at 0 and no turn samples', async () => {
    const x = parseExposition(await new GatewayMetrics({ processMetrics: false }).metrics());
    expect(x.value('voipbin_ai_frames_dropped_total', { direction: 'in' })).toBe(0);
    expect(x.value('voipbin_ai_frames_dropped_total', { direction: 'out' })).toBe(0);
    expect(x.value('voipbin_ai_turn_latency_seconds_count')).toBe(0);
    expect(x.value('voipbin_ai_sessions_active')).toBe(0);
  });

  it('puts no call data in labels: an unknown tool name is "other", the AI call id appears nowhere', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    const canary = 'canary-7f3a9c-secret';
    const h = g.observerFor(`aicall-${canary}`);
    h.observer({ atMs: 0, event: { type: 'session_started', aicallId: `aicall-${canary}` } });
    h.observer({ atMs: 1, event: { type: 'tool_call', name: `tool-${canary}`, ms: 3, result: 'success' } });
    h.observer({ atMs: 2, event: { type: 'error', message: `error ${canary}` } });
    h.observer({ atMs: 2, event: { type: 'transcript', role: 'user', text: `my card is ${canary}`, final: true } });
    h.observer({ atMs: 2, event: { type: 'metric', name: `metric_${canary}`, value: 1 } });
    h.observer({ atMs: 3, event: { type: 'session_ended', reason: `reason ${canary}` } });
    const text = await g.metrics();
    expect(text).not.toContain(canary);
    // Nor the summary stored with the AI call: numbers only.
    expect(JSON.stringify(h.finish())).not.toContain(canary);
    expect(parseExposition(text).value('voipbin_ai_tool_call_seconds_count', { tool: 'other', result: 'success' })).toBe(1);
  });

  it('has its own registry: two in one process do not collide, and both can add the process metrics', async () => {
    const a = new GatewayMetrics();
    const b = new GatewayMetrics();
    const ha = a.observerFor('x');
    ha.observer({ atMs: 0, event: { type: 'session_started', aicallId: 'x' } });
    const xa = parseExposition(await a.metrics());
    const xb = parseExposition(await b.metrics());
    expect(xa.value('voipbin_ai_sessions_active')).toBe(1);
    expect(xb.value('voipbin_ai_sessions_active')).toBe(0);
    for (const x of [xa, xb]) {
      expect(x.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(x.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
      expect(x.all('process_resident_memory_bytes').length + x.all('nodejs_heap_size_used_bytes').length).toBeGreaterThan(0);
    }
    // Each metric family once.
    const names = [...xa.types.keys()];
    expect(new Set(names).size).toBe(names.length);
    ha.finish();
    expect(a.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(METRICS_CONTENT_TYPE).toBe(a.contentType);
  });

  it('remembers each conversation by AI call id until finish(id) claims its summary', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    const observe = g.sessionObserver({ aicallId: 'ac-1' });
    for (const r of CONVERSATION.slice(0, -1)) observe(r);
    expect(g.finish('nobody')).toBeUndefined();
    const summary = g.finish('ac-1')!;
    expect(summary.turns_total).toBe(2);
    expect(summary.barge_ins).toBe(1);
    expect(g.finish('ac-1')).toBeUndefined();
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(0);
  });

  it('observing the same AI call again ends the old conversation', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    g.sessionObserver({ aicallId: 'ac' })({ atMs: 0, event: { type: 'session_started', aicallId: 'ac' } });
    g.sessionObserver({ aicallId: 'ac' })({ atMs: 5, event: { type: 'session_started', aicallId: 'ac' } });
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(1);
    g.finish('ac');
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(0);
  });

  it('forgets the oldest unclaimed conversation beyond MAX_TRACKED_SESSIONS (bounded memory)', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    for (let i = 0; i <= MAX_TRACKED_SESSIONS; i++) g.sessionObserver({ aicallId: `ac-${i}` })({ atMs: 0, event: { type: 'session_started', aicallId: '' } });
    expect(g.finish('ac-0')).toBeUndefined();
    expect(g.finish(`ac-${MAX_TRACKED_SESSIONS}`)).toBeDefined();
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(MAX_TRACKED_SESSIONS - 1);
  });

  it('withSessionMetrics feeds the metrics and another observer, which may not break either', async () => {
    const g = new GatewayMetrics({ processMetrics: false });
    const seen: SessionEventRecord[] = [];
    const factory = withSessionMetrics(g, (s: { aicallId: string; callId: string }) => (s.callId === 'quiet' ? undefined : (r) => {
      seen.push(r);
      throw new Error('observer bug');
    }));
    const observe = factory({ aicallId: 'a', callId: 'c' });
    expect(() => observe({ atMs: 0, event: { type: 'session_started', aicallId: 'a' } })).not.toThrow();
    expect(seen).toHaveLength(1);
    factory({ aicallId: 'b', callId: 'quiet' })({ atMs: 0, event: { type: 'session_started', aicallId: 'b' } });
    expect(parseExposition(await g.metrics()).value('voipbin_ai_sessions_active')).toBe(2);
    expect(withSessionMetrics(g)({ aicallId: 'c' })).toBeTypeOf('function');
  });
});
