/**
 * MCP over Streamable HTTP (the real serve app, the real SDK client and raw HTTP on 127.0.0.1):
 * `engine_key_env` names only provider key variables and the operator's allowlist, sessions are
 * capped per token and time out as configured, and a deleted or expired access key ends the MCP
 * sessions it opened (MCP_HTTP_TOKEN sessions are not keys and go on).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createCustomer } from '../../src/local/customers.js';
import { registerMcpHttp } from '../../src/mcp/http.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { errorInfo, ok, toolCaller, postMcp, rpcBody } from './helpers.js';

const MCP_TOKEN = 'mcp-http-token-isolation-5e2d8b';
const LOCAL_KEY = `vbl_mcp_iso_${process.pid}_c4d2`;
/** A secret of the server process that is not an LLM key: it must never reach an AI. */
const GITHUB_CANARY = 'ghp_canary_ISOLATION_0f1e2d3c4b5a69788796';
/** An LLM key in a variable the operator allowed with MCP_ENGINE_KEY_ENV_ALLOW. */
const ALLOWED_CANARY = 'sk-allowed-canary-ISOLATION-a1b2c3d4';
const PROTOCOL = '2025-06-18';
/** Generous bound for what should happen at once (a busy 2-core machine). */
const SOON_MS = 10_000;

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

let tmp: ReturnType<typeof tempDir>;
let server: TestServer;
let mcpUrl: URL;
const seen: unknown[] = [];
const clients: Client[] = [];
const savedEnv: Record<string, string | undefined> = {};
const SERVER_ENV = { GITHUB_TOKEN: GITHUB_CANARY, MY_LLM_KEY: ALLOWED_CANARY, MCP_ENGINE_KEY_ENV_ALLOW: 'MY_LLM_KEY, SOME_OTHER_KEY' };



/** A raw session: initialize + initialized; returns its id (the response body is drained). */
async function openSession(token: string, url = mcpUrl): Promise<string> {
  const init = await postMcp(url, INIT, { authorization: `Bearer ${token}` });
  expect(init.status).toBe(200);
  await init.text();
  const sid = init.headers.get('mcp-session-id')!;
  const note = await postMcp(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headersOf(token, sid));
  expect(note.status).toBe(202);
  return sid;
}

function headersOf(token: string, sid: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'mcp-protocol-version': PROTOCOL, 'mcp-session-id': sid };
}

async function toolsList(token: string, sid: string, url = mcpUrl): Promise<number> {
  const res = await postMcp(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headersOf(token, sid));
  await res.text();
  return res.status;
}

/**
 * Opens the session's standalone SSE stream (GET /mcp); `ended` resolves when the server ends
 * it, which is what closing the session does.
 */
async function sseStream(token: string, sid: string, url = mcpUrl): Promise<{ ended: Promise<true> }> {
  const res = await fetch(url, { method: 'GET', headers: { ...headersOf(token, sid), accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done) {
        /* keep-alives and notifications */
      }
    } catch {
      /* a reset connection is an end too */
    }
    return true as const;
  })();
  return { ended };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

async function deleteSession(token: string, sid: string): Promise<void> {
  const res = await fetch(mcpUrl, { method: 'DELETE', headers: headersOf(token, sid) });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  // The secrets sit in the server process's own environment, where `serve` reads them.
  for (const [k, v] of Object.entries(SERVER_ENV)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  tmp = tempDir();
  const dbPath = join(tmp.dir, 'db.sqlite');
  const env = {
    HOST: '127.0.0.1',
    PORT: '0',
    VOIPBIN_AI_DB: dbPath,
    MCP_HTTP_TOKEN: MCP_TOKEN,
    VOIPBIN_LOCAL_ACCESSKEY: LOCAL_KEY,
    MCP_HTTP_MAX_SESSIONS_PER_TOKEN: '2',
  };
  const config = loadConfig(env);
  server = await startTestServer(dbPath, env, { extend: (app, ctx) => registerMcpHttp(app, ctx, config) });
  mcpUrl = new URL(`${server.url}/mcp`);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.close();
  tmp?.cleanup();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const aiArgs = (over: Record<string, unknown> = {}) => ({
  name: 'Receptionist',
  engine_model: 'openai.gpt-4o',
  init_prompt: 'You are a receptionist.',
  tts_type: 'openai',
  stt_type: 'deepgram',
  ...over,
});

describe('engine_key_env over MCP HTTP', () => {
  it('refuses a variable that is not a provider key (GITHUB_TOKEN), allows the operator allowlist, and never leaks the value', async () => {
    const transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${LOCAL_KEY}` } } });
    const client = new Client({ name: 'iso-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    const call = toolCaller(client, seen);

    const refused = errorInfo(await call('create_ai', aiArgs({ engine_key_env: 'GITHUB_TOKEN' })));
    expect(refused.reason).toBe('ENGINE_KEY_ENV_NOT_ALLOWED');
    expect(refused.message).toMatch(/^engine_key_env: GITHUB_TOKEN is not a provider key variable/);
    // It lists what is allowed: the catalog's provider variables and the operator's names.
    for (const name of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'MY_LLM_KEY', 'SOME_OTHER_KEY']) expect(refused.message).toContain(name);
    expect(refused.next_step).toContain('MCP_ENGINE_KEY_ENV_ALLOW');
    expect(ok(await call('list_ais', {})).ais).toEqual([]); // nothing was created

    const allowed = ok(await call('create_ai', aiArgs({ engine_key_env: 'MY_LLM_KEY' }))).ai;
    expect(await server.store.ais.getSecret(server.localCustomerId!, allowed.id)).toBe(ALLOWED_CANARY);

    // update_ai cannot swap the key for GITHUB_TOKEN either; the stored key stays.
    const upd = errorInfo(await call('update_ai', { id: allowed.id, engine_key_env: 'GITHUB_TOKEN' }));
    expect(upd.reason).toBe('ENGINE_KEY_ENV_NOT_ALLOWED');
    expect(await server.store.ais.getSecret(server.localCustomerId!, allowed.id)).toBe(ALLOWED_CANARY);

    const everything = JSON.stringify(seen);
    expect(everything).not.toContain(GITHUB_CANARY);
    expect(everything).not.toContain(ALLOWED_CANARY);
    const logs = capturedLogs.join('\n');
    expect(logs).not.toContain(GITHUB_CANARY);
    expect(logs).not.toContain(ALLOWED_CANARY);
  });
});

describe('MCP HTTP session limits', () => {
  it('caps sessions per token (MCP_HTTP_MAX_SESSIONS_PER_TOKEN) with a 429 that says to close sessions; other tokens are unaffected', async () => {
    const capped = await createCustomer(server.store, { name: 'careless client', initialBalanceCredit: 100 });
    const a = await openSession(capped.token);
    await openSession(capped.token);
    const third = await postMcp(mcpUrl, INIT, { authorization: `Bearer ${capped.token}` });
    expect(third.status).toBe(429);
    const body = await rpcBody(third);
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: expect.any(Number) } });
    expect(body.error.message).toMatch(/Too many open MCP sessions for this token \(limit 2/);
    expect(body.error.message).toContain('DELETE /mcp');
    expect(body.error.message).toContain('MCP_HTTP_MAX_SESSIONS_PER_TOKEN');

    // The careless client filled only its own share.
    const other = await openSession(MCP_TOKEN);
    await openSession(LOCAL_KEY);
    // Closing one of its sessions makes room again.
    await deleteSession(capped.token, a);
    await openSession(capped.token);
    await deleteSession(MCP_TOKEN, other);
  });

  it('closes idle sessions after MCP_HTTP_SESSION_IDLE_MS, and the config has the documented defaults', async () => {
    const dbPath = join(tmp.dir, 'idle.sqlite');
    const key = `vbl_mcp_idle_${process.pid}_77aa`;
    const env = { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, VOIPBIN_LOCAL_ACCESSKEY: key, MCP_HTTP_SESSION_IDLE_MS: '1000' };
    const config = loadConfig(env);
    const idle = await startTestServer(dbPath, env, { extend: (app, ctx) => registerMcpHttp(app, ctx, config) });
    try {
      const url = new URL(`${idle.url}/mcp`);
      const sid = await openSession(key, url);
      expect(await toolsList(key, sid, url)).toBe(200);
      // Left alone (an open SSE stream is not a use), it is swept within a few seconds (idle 1 s,
      // swept every second): its stream ends and its id is gone.
      const stream = await sseStream(key, sid, url);
      expect(await within(stream.ended, 20_000, 'the idle session to close')).toBe(true);
      expect(await toolsList(key, sid, url)).toBe(404);
    } finally {
      await idle.close();
    }
    expect(loadConfig({})).toMatchObject({ mcpHttpMaxSessionsPerToken: 20, mcpHttpSessionIdleMs: 30 * 60_000 });
    expect(() => loadConfig({ MCP_HTTP_SESSION_IDLE_MS: '10' })).toThrow(ConfigError);
    expect(() => loadConfig({ MCP_HTTP_MAX_SESSIONS_PER_TOKEN: '0' })).toThrow(/MCP_HTTP_MAX_SESSIONS_PER_TOKEN/);
  }, 40_000);
});

describe('access keys end their MCP sessions', () => {
  it('DELETE /accesskeys/{id} closes the sessions opened with that key; the same customer\'s other key and MCP_HTTP_TOKEN go on', async () => {
    const customer = await createCustomer(server.store, { name: 'key owner', initialBalanceCredit: 100 });
    const extra = await server.call('POST', '/accesskeys', { name: 'for an MCP client' }, customer.token);
    expect(extra.status).toBe(200);
    const kx = extra.body.token as string;

    const sx = await openSession(kx);
    const streamX = await sseStream(kx, sx);
    const sc = await openSession(customer.token);
    const st = await openSession(MCP_TOKEN);

    const del = await server.call('DELETE', `/accesskeys/${extra.body.id}`, undefined, customer.token);
    expect(del.status).toBe(200);
    // The session's open stream ends: the server closed the session, not just the next request.
    expect(await within(streamX.ended, SOON_MS, 'the deleted key\'s SSE stream to end')).toBe(true);
    expect(server.ctx.keySessions.count(extra.body.id)).toBe(0);
    expect(capturedLogs.some((l) => l.includes('mcp session closed') && l.includes(sx) && l.includes('the access key was deleted'))).toBe(true);

    expect(await toolsList(customer.token, sc)).toBe(200);
    expect(await toolsList(MCP_TOKEN, st)).toBe(200);
    await deleteSession(customer.token, sc);
    await deleteSession(MCP_TOKEN, st);
  });

  it('an access key that expires closes its MCP sessions at tm_expire', async () => {
    const customer = await createCustomer(server.store, { name: 'short key owner', initialBalanceCredit: 100 });
    const short = await server.call('POST', '/accesskeys', { name: 'short', expire: 4 }, customer.token);
    expect(short.status).toBe(200);
    const sid = await openSession(short.body.token);
    const stream = await sseStream(short.body.token, sid);
    // 4 s after creation, plus a generous margin.
    expect(await within(stream.ended, 25_000, 'the expired key\'s SSE stream to end')).toBe(true);
    expect(capturedLogs.some((l) => l.includes('mcp session closed') && l.includes(sid) && l.includes('the access key expired'))).toBe(true);
  }, 40_000);

  it('no key, token or canary appears in the logs', () => {
    const logs = capturedLogs.join('\n');
    for (const secret of [LOCAL_KEY, MCP_TOKEN, GITHUB_CANARY, ALLOWED_CANARY]) expect(logs).not.toContain(secret);
  });
});
