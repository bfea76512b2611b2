/**
 * MCP over Streamable HTTP at /mcp of the real serve app (startTestServer + registerMcpHttp):
 * bearer auth, Host validation, sessions bound to their token, acting as the right customer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../../src/config.js';
import { createCustomer } from '../../src/local/customers.js';
import { registerMcpHttp } from '../../src/mcp/http.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { CANARY, EXPECTED_TOOLS, errorInfo, ok, toolCaller, postMcp, rpcBody } from './helpers.js';

const MCP_TOKEN = 'mcp-http-token-3c1f0e9a7b5d';
const LOCAL_KEY = `vbl_mcp_http_${process.pid}_a81c`;
const SOURCE = '+15550200001';

let tmp: ReturnType<typeof tempDir>;
let server: TestServer;
let mcpUrl: URL;
const seen: unknown[] = [];
const clients: Client[] = [];

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};



async function connect(token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: 'http-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

beforeAll(async () => {
  tmp = tempDir();
  const dbPath = join(tmp.dir, 'db.sqlite');
  const env = { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, MCP_HTTP_TOKEN: MCP_TOKEN, VOIPBIN_LOCAL_ACCESSKEY: LOCAL_KEY };
  const config = loadConfig(env);
  server = await startTestServer(dbPath, env, {
    extend: (app, ctx) => registerMcpHttp(app, ctx, config, { env: { OPENAI_API_KEY: CANARY } }),
  });
  mcpUrl = new URL(`${server.url}/mcp`);
  expect((await server.call('POST', '/numbers', { number: SOURCE })).status).toBe(200);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.close();
  tmp?.cleanup();
});

describe('MCP over Streamable HTTP at /mcp', () => {
  it('requires a bearer token: 401 with WWW-Authenticate: Bearer', async () => {
    const none = await postMcp(mcpUrl, INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await rpcBody(none)).error.message).toMatch(/Unauthorized/);

    const wrong = await postMcp(mcpUrl, INIT, { authorization: 'Bearer vbl_not_a_key' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');

    const viaQuery = await fetch(`${mcpUrl}?accesskey=${LOCAL_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INIT),
    });
    expect(viaQuery.status).toBe(401); // only the Authorization header counts
  });

  it('rejects a forged Host header with 403 and a JSON-RPC error body', async () => {
    const forged = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: mcpUrl.port,
          path: '/mcp',
          method: 'POST',
          headers: {
            host: `evil.example.com:${mcpUrl.port}`,
            authorization: `Bearer ${LOCAL_KEY}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    expect(forged.status).toBe(403);
    const body = JSON.parse(forged.body);
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { message: expect.stringMatching(/Host/) } });
    expect(typeof body.error.code).toBe('number');
  });

  it('a local access key opens a session acting as that key\'s customer', async () => {
    const { client, transport } = await connect(LOCAL_KEY);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(EXPECTED_TOOLS);
    const call = toolCaller(client, seen);
    const ai = ok(
      await call('create_ai', { name: 'HTTP AI', engine_model: 'openai.gpt-4o', init_prompt: 'Hi', tts_type: 'openai', stt_type: 'deepgram' }),
    ).ai;
    expect(await server.store.ais.getSecret(server.localCustomerId!, ai.id)).toBe(CANARY);
    expect(ok(await call('list_numbers', {})).numbers.map((n: { number: string }) => n.number)).toEqual([SOURCE]);
    const missing = errorInfo(await call('get_ai', { id: '0b5a3f7e-1111-4222-8333-444455556666' }));
    expect(missing).toMatchObject({ status: 404, reason: 'AI_NOT_FOUND' });
  });

  it('MCP_HTTP_TOKEN opens a session acting as the local customer', async () => {
    const { client } = await connect(MCP_TOKEN);
    const call = toolCaller(client, seen);
    expect(ok(await call('list_numbers', {})).numbers.map((n: { number: string }) => n.number)).toEqual([SOURCE]);
    const sent = ok(await call('send_message', { source: SOURCE, destinations: ['+15550209999'], text: 'from MCP_HTTP_TOKEN' })).message;
    expect((await server.call('GET', `/messages/${sent.id}`)).status).toBe(200); // the local customer's message
  });

  it("another customer's key sees only that customer's resources", async () => {
    const other = await createCustomer(server.store, { name: 'other', initialBalanceCredit: 1000 });
    const { client } = await connect(other.token);
    const call = toolCaller(client, seen);
    expect(ok(await call('list_numbers', {})).numbers).toEqual([]);
    expect(ok(await call('list_ais', {})).ais).toEqual([]);
  });

  it('sessions: the id works for later requests, is bound to its token, unknown ids get 404, DELETE ends it', async () => {
    const init = await postMcp(mcpUrl, INIT, { authorization: `Bearer ${LOCAL_KEY}` });
    expect(init.status).toBe(200);
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    expect((await rpcBody(init)).result.serverInfo.name).toBe('voipbin-ai');
    const auth = { authorization: `Bearer ${LOCAL_KEY}`, 'mcp-protocol-version': '2025-06-18' };
    expect((await postMcp(mcpUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...auth, 'mcp-session-id': sid })).status).toBe(202);

    const list = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...auth, 'mcp-session-id': sid });
    expect(list.status).toBe(200);
    expect((await rpcBody(list)).result.tools).toHaveLength(EXPECTED_TOOLS.length);

    const unknown = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...auth, 'mcp-session-id': '7d9f0a52-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(404);
    expect((await rpcBody(unknown)).error.message).toMatch(/Session not found/);

    // Valid token, but not the one that opened the session.
    const stolen = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, {
      authorization: `Bearer ${MCP_TOKEN}`,
      'mcp-protocol-version': '2025-06-18',
      'mcp-session-id': sid,
    });
    expect(stolen.status).toBe(404);

    const noSession = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, auth);
    expect(noSession.status).toBe(400);

    const del = await fetch(mcpUrl, { method: 'DELETE', headers: { ...auth, 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    const after = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { ...auth, 'mcp-session-id': sid });
    expect(after.status).toBe(404);
  });

  it('remote mode: every session uses the remote client (VOIPBIN_API_URL + VOIPBIN_ACCESSKEY), whoever authenticated', async () => {
    const remoteCustomer = await createCustomer(server.store, { name: 'remote account', initialBalanceCredit: 1000 });
    expect((await server.call('POST', '/numbers', { number: '+15550209001' }, remoteCustomer.token)).status).toBe(200);
    const remoteApi = new URL(server.api);
    const dbPath = join(tmp.dir, 'front.sqlite');
    const frontKey = `vbl_front_${process.pid}_91b2`;
    const env = { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, VOIPBIN_LOCAL_ACCESSKEY: frontKey };
    const remoteConfig = loadConfig({ ...env, VOIPBIN_API_URL: remoteApi.toString(), VOIPBIN_ACCESSKEY: remoteCustomer.token });
    const front = await startTestServer(dbPath, env, {
      extend: (app, ctx) => registerMcpHttp(app, ctx, remoteConfig, { env: {} }),
    });
    try {
      expect((await front.call('POST', '/numbers', { number: '+15550209000' })).status).toBe(200); // a front-local number
      const transport = new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${frontKey}` } },
      });
      const client = new Client({ name: 'remote-test', version: '1.0.0' });
      await client.connect(transport);
      try {
        // The remote account's number, not the front server's local one.
        const numbers = ok(await toolCaller(client, seen)('list_numbers', {})).numbers;
        expect(numbers.map((n: { number: string }) => n.number)).toEqual(['+15550209001']);
      } finally {
        await client.close();
      }
    } finally {
      await front.close();
    }
  });

  it('the provider key never appears in tool results or logs', () => {
    expect(seen.length).toBeGreaterThan(5);
    expect(JSON.stringify(seen)).not.toContain(CANARY);
    const logs = capturedLogs.join('\n');
    expect(logs).not.toContain(CANARY);
    expect(logs).not.toContain(MCP_TOKEN);
    expect(logs).not.toContain(LOCAL_KEY);
  });
});
