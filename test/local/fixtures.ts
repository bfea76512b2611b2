/**
 * Shared fixtures of the local VoIPBIN API suites: a recording HTTP client (every response body
 * is kept so a suite can prove a secret never appeared in one), envelope assertions, valid
 * request bodies and a second customer.
 */
import { NIL_UUID } from '../../src/util/ids.js';
import { newAicallRow } from '../../src/local/rows.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import type { StartOptions } from '../../src/server.js';
import { createCustomer } from '../../src/local/customers.js';
import { TM_NEVER, nowTimestamp } from '../../src/util/time.js';
import type { Row } from '../../db/store.js';

export { capturedLogs, TM_NEVER };

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
export const REQUEST_ID_RE = /^req_[0-9a-f]{24}$/;

/**
 * The engine_key every suite gives its AIs. It is long and unique, so finding it anywhere
 * (a response, a log line, an error) can only mean it leaked.
 */
export const CANARY_ENGINE_KEY = `sk-canary-${randomUUID()}-do-not-leak`;

/** Every raw response body (and header block) seen by {@link request} in this test file. */
export const responseLog: string[] = [];

export interface Res {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  /** Access key sent as `Authorization: Bearer`; `null` sends none. Defaults to the server's key. */
  key?: string | null;
  /** Extra headers (override the defaults). */
  headers?: Record<string, string>;
  /** A body sent as is (no JSON encoding). */
  raw?: string | Buffer;
}

/**
 * One HTTP request to `server.api + path` over the real socket. `body` is JSON-encoded
 * (with `content-type: application/json`) unless `opts.raw` is given.
 */
export async function request(server: TestServer, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<Res> {
  const key = opts.key === undefined ? server.key : opts.key;
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let payload: string | Buffer | undefined;
  if (opts.raw !== undefined) {
    payload = opts.raw;
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, opts.headers ?? {});
  const url = path.startsWith('http') ? path : server.api + path;
  const res = await fetch(url, { method, headers, body: payload });
  const text = await res.text();
  responseLog.push(`${res.status} ${JSON.stringify([...res.headers.entries()])} ${text}`);
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as any, text, headers: res.headers };
}

/** A client bound to a server and (optionally) another key. */
export function client(server: TestServer, key?: string) {
  const o = (opts: RequestOptions = {}): RequestOptions => ({ key, ...opts });
  return {
    get: (path: string, opts?: RequestOptions) => request(server, 'GET', path, undefined, o(opts)),
    post: (path: string, body?: unknown, opts?: RequestOptions) => request(server, 'POST', path, body, o(opts)),
    put: (path: string, body?: unknown, opts?: RequestOptions) => request(server, 'PUT', path, body, o(opts)),
    del: (path: string, opts?: RequestOptions) => request(server, 'DELETE', path, undefined, o(opts)),
  };
}
export type Client = ReturnType<typeof client>;

/** Asserts a 200 and returns the body. */
export function ok(res: Res): any {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${res.text}`);
  return res.body;
}

/**
 * Asserts VoIPBIN's error envelope exactly: `{error:{status, reason, message, request_id}}`, no
 * other key, a non-empty message, and the request id echoed in `x-request-id`.
 */
export function expectError(res: Res, httpStatus: number, status: string, reason: string, messageIncludes?: string | RegExp): void {
  expect({ httpStatus: res.status, body: res.body }).toMatchObject({ httpStatus, body: { error: { status, reason } } });
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(Object.keys(res.body.error).sort()).toEqual(['message', 'reason', 'request_id', 'status']);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.body.error.request_id).toMatch(REQUEST_ID_RE);
  expect(res.headers.get('x-request-id')).toBe(res.body.error.request_id);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  if (messageIncludes !== undefined) {
    if (typeof messageIncludes === 'string') expect(res.body.error.message).toContain(messageIncludes);
    else expect(res.body.error.message).toMatch(messageIncludes);
  }
}

export const expectInvalid = (res: Res, messageIncludes?: string | RegExp, reason = 'INVALID_ARGUMENT') =>
  expectError(res, 400, 'INVALID_ARGUMENT', reason, messageIncludes);
export const expectNotFound = (res: Res, reason: string) => expectError(res, 404, 'NOT_FOUND', reason);

/** Asserts the list envelope exactly and returns its items. */
export function expectList(res: Res): any[] {
  const body = ok(res);
  expect(Object.keys(body).sort()).toEqual(['next_page_token', 'result']);
  expect(Array.isArray(body.result)).toBe(true);
  expect(typeof body.next_page_token).toBe('string');
  return body.result;
}

/** Asserts the common columns of a live resource of `customerId`. */
export function expectResource(row: any, customerId: string): void {
  expect(row.id).toMatch(UUID_RE);
  expect(row.customer_id).toBe(customerId);
  expect(row.tm_create).toMatch(TIMESTAMP_RE);
  expect(row.tm_update).toMatch(TIMESTAMP_RE);
  expect(row.tm_delete).toBe(TM_NEVER);
}

/** Follows `next_page_token` to the end; returns every item and every page's size. */
export async function listAll(c: Client, path: string, pageSize: number): Promise<{ items: any[]; pages: number[]; tokens: string[] }> {
  const items: any[] = [];
  const pages: number[] = [];
  const tokens: string[] = [];
  let token = '';
  const sep = path.includes('?') ? '&' : '?';
  for (let i = 0; i < 1000; i++) {
    const res = await c.get(`${path}${sep}page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    const page = expectList(res);
    items.push(...page);
    pages.push(page.length);
    token = res.body.next_page_token;
    tokens.push(token);
    if (!token) return { items, pages, tokens };
  }
  throw new Error('paging did not end');
}

/** A valid POST /ais body (with the canary engine_key). */
export function aiBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'support agent',
    detail: 'answers the phone',
    engine_model: 'openai.gpt-4o',
    engine_key: CANARY_ENGINE_KEY,
    init_prompt: 'You are a helpful phone agent.',
    tts_type: 'elevenlabs',
    stt_type: 'deepgram',
    tool_names: ['all'],
    ...overrides,
  };
}

/** Every field an AI is returned with (never engine_key). */
export const AI_FIELDS = [
  'auto_aicall_audit_enabled', 'current_prompt_history_id', 'customer_id', 'detail', 'direct_hash', 'engine_model',
  'id', 'init_prompt', 'is_insight_active', 'name', 'parameter', 'rag_id', 'smart_turn_enabled', 'stt_language',
  'stt_type', 'tm_create', 'tm_delete', 'tm_update', 'tool_names', 'tts_type', 'tts_voice_id', 'type', 'vad_config',
].sort();

/** One action list that makes a valid call or flow. */
export const ACTIONS = [{ type: 'answer' }, { type: 'talk', option: { text: 'hello' } }, { type: 'hangup' }];

/** A started server on its own temporary SQLite file, with a cleanup. */
export interface Local {
  server: TestServer;
  dir: string;
  dbPath: string;
  c: Client;
  stop(): Promise<void>;
}

export async function startLocal(env: Record<string, string> = {}, opts: StartOptions = {}): Promise<Local> {
  const t = tempDir('voipbin-ai-local-');
  const dbPath = join(t.dir, 'voipbin.sqlite');
  const server = await startTestServer(dbPath, env, opts);
  return {
    server,
    dir: t.dir,
    dbPath,
    c: client(server),
    async stop() {
      await server.close();
      t.cleanup();
    },
  };
}

/** A second customer of the same server, with its own key and billing account. */
export async function otherCustomer(server: TestServer, name = 'other', balance = server.config.initialBalanceCredit) {
  const created = await createCustomer(server.store, { name, initialBalanceCredit: balance });
  return { customerId: created.customer.id, key: created.token, c: client(server, created.token) };
}

/** An AI call row as the flow engine stores it (AI calls are seeded; POST /aicalls is 501). */
export function aicallRow(customerId: string, overrides: Partial<Row> = {}): Row {
  return newAicallRow(customerId, {
    assistance_id: randomUUID(),
    ai_engine_model: 'openai.gpt-4o',
    ai_tts_type: 'elevenlabs',
    ai_stt_type: 'deepgram',
    activeflow_id: randomUUID(),
    reference_id: randomUUID(),
    status: 'progressing',
    stt_language: 'en-US',
    ...overrides,
  });
}

/** An activeflow row as the flow engine stores it. */
export function activeflowRow(customerId: string, overrides: Partial<Row> = {}): Row {
  const now = nowTimestamp();
  return {
    id: randomUUID(),
    customer_id: customerId,
    flow_id: randomUUID(),
    status: 'running',
    reference_type: 'call',
    reference_id: randomUUID(),
    current_action: { id: randomUUID(), next_id: NIL_UUID, type: 'talk', option: {} },
    forward_action_id: NIL_UUID,
    executed_actions: [],
    tm_create: now,
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
    ...overrides,
  };
}

/** Asserts that none of `secrets` appears in any response of this file or in any captured log line. */
export function expectNoLeak(secrets: string[]): void {
  expect(responseLog.length).toBeGreaterThan(0);
  expect(capturedLogs.length).toBeGreaterThan(0);
  for (const s of secrets) {
    const inResponses = responseLog.filter((r) => r.includes(s));
    const inLogs = capturedLogs.filter((l) => l.includes(s));
    expect(inResponses, 'secret found in a response').toEqual([]);
    expect(inLogs, 'secret found in a log line').toEqual([]);
  }
}

/** Polls `probe` until it returns a truthy value (bounded by `timeoutMs`, not by a fixed sleep). */
export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A local softphone on `/local/phone`, registered at `address`; collects the server's JSON messages. */
export async function openPhone(server: TestServer, address: { type: 'tel' | 'extension'; target: string }, key = server.key) {
  const ws = new WebSocket(server.url.replace(/^http/, 'ws') + '/local/phone', { headers: { authorization: `Bearer ${key}` } });
  const messages: any[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) messages.push(JSON.parse(data.toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (type: string, callId?: string) =>
    waitFor(async () => messages.find((m) => m.type === type && (callId === undefined || m.call_id === callId)), `phone message ${type}`);
  ws.send(JSON.stringify({ type: 'register', address }));
  await next('registered');
  return {
    ws,
    messages,
    next,
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
}
