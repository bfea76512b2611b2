import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../src/local/customers.js';
import { createLocalApi } from '../../src/local/app.js';
import { hostHeaderIsLoopback, isLoopbackHost, registerMetricsRoute } from '../../src/metrics/http.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { parseExposition } from './exposition.js';

const CANARY = 'canary9d2e71b4';
const MCP_TOKEN = `mcp-token-${CANARY}`;
const ENGINE_KEY = `sk-engine-${CANARY}`;
const AICALL_ID = `aicall-${CANARY}`;

/** A GET with full control of the Host header (fetch does not allow setting it). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let s: TestServer;
let otherKey: string;
const tmp = tempDir();

beforeAll(async () => {
  s = await startTestServer(join(tmp.dir, 'metrics.db'), { MCP_HTTP_TOKEN: MCP_TOKEN, VOIPBIN_LOCAL_ACCESSKEY: `vbl_${CANARY}` });
  otherKey = (await createCustomer(s.store, { name: 'customer 2', initialBalanceCredit: 100_000 })).token;
  // An AI with a secret key, and a conversation whose data must not reach /metrics.
  const ai = await s.call('POST', '/ais', { name: `ai ${CANARY}`, engine_model: 'openai.gpt-4o', engine_key: ENGINE_KEY, init_prompt: `prompt ${CANARY}`,
    tts_type: 'elevenlabs',
    stt_type: 'deepgram',
  });
  expect(ai.status, JSON.stringify(ai.body)).toBe(200);
  // Through the engine's observer factory, as the session runner of an AI action gets it.
  const observe = s.engine.sessionObserver!({ aicallId: AICALL_ID, callId: `call-${CANARY}` })!;
  observe({ atMs: 0, event: { type: 'session_started', aicallId: AICALL_ID } });
  observe({ atMs: 10, event: { type: 'speech_stopped' } });
  observe({ atMs: 610, event: { type: 'first_audio', responseId: `resp-${CANARY}` } });
  observe({ atMs: 700, event: { type: 'tool_call', name: `tool_${CANARY}`, ms: 12, result: 'failed' } });
});

afterAll(async () => {
  await s?.close();
  tmp.cleanup();
});

describe('/metrics', () => {
  it('answers 200 in the Prometheus text format on loopback, with the gateway and process metrics', async () => {
    const res = await get(`${s.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const x = parseExposition(res.body);
    expect(x.value('voipbin_ai_sessions_active')).toBe(1);
    expect(x.value('voipbin_ai_sessions_total')).toBe(1);
    expect(x.value('voipbin_ai_turn_latency_seconds_count')).toBe(1);
    expect(x.value('voipbin_ai_turn_latency_seconds_sum')).toBeCloseTo(0.6, 9);
    expect(x.value('voipbin_ai_tool_call_seconds_count', { tool: 'other', result: 'failed' })).toBe(1);
    expect(x.types.get('voipbin_ai_barge_in_seconds')).toBe('histogram');
    expect(x.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(x.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('is the metrics object the engine finds through the context', () => {
  });

  it('refuses a Host header that is not loopback without a token (DNS rebinding), with WWW-Authenticate', async () => {
    const port = new URL(s.url).port;
    const res = await get(`${s.url}/metrics`, { host: `evil.example:${port}` });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="voipbin-ai-metrics"');
    const body = JSON.parse(res.body);
    expect(body.error).toMatchObject({ status: 'UNAUTHENTICATED', reason: 'AUTHENTICATION_REQUIRED' });
    expect(res.body).not.toContain('voipbin_ai_');
    // Loopback names with the server's port pass.
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) expect((await get(`${s.url}/metrics`, { host })).status).toBe(200);
    // Loopback with another port does not.
    expect((await get(`${s.url}/metrics`, { host: `localhost:1` })).status).toBe(401);
  });

  it('takes the local customer key or MCP_HTTP_TOKEN as a bearer from any Host', async () => {
    const port = new URL(s.url).port;
    for (const token of [s.key, MCP_TOKEN]) {
      const res = await get(`${s.url}/metrics`, { host: `metrics.example:${port}`, authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.body).toContain('voipbin_ai_sessions_active');
    }
  });

  it('refuses a bad token (401) and another customer key (403)', async () => {
    const bad = await get(`${s.url}/metrics`, { authorization: 'Bearer not-a-key' });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(JSON.parse(bad.body).error.reason).toBe('INVALID_CREDENTIALS');
    const other = await get(`${s.url}/metrics`, { authorization: `Bearer ${otherKey}` });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body).error).toMatchObject({ status: 'PERMISSION_DENIED', reason: 'PERMISSION_DENIED' });
  });

  it('requires a token when the server listens beyond loopback, even from loopback', async () => {
    const app = createLocalApi(s.ctx);
    registerMetricsRoute(app, s.ctx, { host: '0.0.0.0', port: 8080, mcpHttpToken: MCP_TOKEN }, s.metrics, { localCustomerId: s.localCustomerId });
    try {
      const open = await app.inject({ method: 'GET', url: '/metrics', headers: { host: '127.0.0.1:8080' } });
      expect(open.statusCode).toBe(401);
      expect(open.json().error.message).toContain('beyond loopback');
      const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { host: '127.0.0.1:8080', authorization: `Bearer ${s.key}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    } finally {
      await app.close();
    }
  });

  it('never shows a secret or call data (canary)', async () => {
    const res = await get(`${s.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain(CANARY);
    expect(res.body).not.toContain(s.localCustomerId!);
    // Nor do the log lines of the refused requests.
    await get(`${s.url}/metrics`, { authorization: `Bearer ${otherKey}` });
    expect(capturedLogs.join('\n')).not.toContain(otherKey);
    expect(capturedLogs.join('\n')).not.toContain(ENGINE_KEY);
  });
});

describe('the summary of an engine conversation', () => {
  it('is claimed once by AI call id, and the active gauge comes down', async () => {
    const summary = s.metrics.finish(AICALL_ID)!;
    expect(summary).toMatchObject({ turns: [{ at_ms: 10, latency_ms: 600, tool_calls: 1 }], turns_total: 1, tool_calls: 1, tool_calls_failed: 1 });
    expect(s.metrics.finish(AICALL_ID)).toBeUndefined();
    const x = parseExposition((await get(`${s.url}/metrics`)).body);
    expect(x.value('voipbin_ai_sessions_active')).toBe(0);
    expect(x.value('voipbin_ai_sessions_total')).toBe(1);
  });
});

describe('loopback rules', () => {
  it('knows the loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '127.0.0.1.example.com']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('checks the Host header name and port', () => {
    expect(hostHeaderIsLoopback('127.0.0.1:8080', 8080)).toBe(true);
    expect(hostHeaderIsLoopback('[::1]:8080', 8080)).toBe(true);
    expect(hostHeaderIsLoopback('localhost', 80)).toBe(true);
    expect(hostHeaderIsLoopback('localhost', 8080)).toBe(false);
    expect(hostHeaderIsLoopback('localhost:8081', 8080)).toBe(false);
    expect(hostHeaderIsLoopback('evil.example:8080', 8080)).toBe(false);
    expect(hostHeaderIsLoopback(undefined, 8080)).toBe(false);
    expect(hostHeaderIsLoopback('127.0.0.1:8080@evil', 8080)).toBe(false);
  });
});
