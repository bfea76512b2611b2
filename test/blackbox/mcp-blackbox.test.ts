/**
 * Independent black-box checks of the MCP server with the ecosystem's own tools:
 * the MCP Inspector CLI (0.15.0) over stdio, and the MCP conformance suite (0.1.10) over
 * Streamable HTTP. Neither knows our code; they only speak MCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { registerMcpHttp } from '../../src/mcp/http.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const BIN = join(process.cwd(), 'node_modules', '.bin');
const CANARY = 'sk-canary-BLACKBOX-1a2b3c4d5e';

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('MCP Inspector CLI 0.15.0 over stdio', () => {
  const tmp = tempDir();
  const env = () => ({ VOIPBIN_AI_DB: join(tmp.dir, 'inspector.sqlite'), OPENAI_API_KEY: CANARY, LOG_LEVEL: 'warn' });
  const server = [process.execPath, '--import', 'tsx', 'src/cli.ts', 'mcp'];
  afterAll(() => tmp.cleanup());

  it('tools/list shows the tools with their schemas', async () => {
    const r = await run(join(BIN, 'mcp-inspector'), ['--cli', ...server, '--method', 'tools/list'], env());
    expect(r.code, r.err).toBe(0);
    const names = (JSON.parse(r.out) as { tools: { name: string; inputSchema: unknown }[] }).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['create_ai', 'list_ais', 'create_call', 'get_aicall_messages', 'send_message']));
  });

  it('tools/call creates an AI and lists it, with no VoIPBIN account and no key in any result', async () => {
    const created = await run(
      join(BIN, 'mcp-inspector'),
      ['--cli', ...server, '--method', 'tools/call', '--tool-name', 'create_ai',
        '--tool-arg', 'name=receptionist', '--tool-arg', 'engine_model=openai.gpt-4o', '--tool-arg', 'init_prompt=Be kind.',
        '--tool-arg', 'tts_type=elevenlabs', '--tool-arg', 'stt_type=deepgram'],
      env(),
    );
    expect(created.code, created.err).toBe(0);
    expect(JSON.parse(created.out).isError ?? false).toBe(false);
    const listed = await run(join(BIN, 'mcp-inspector'), ['--cli', ...server, '--method', 'tools/call', '--tool-name', 'list_ais'], env());
    expect(listed.code, listed.err).toBe(0);
    expect(JSON.parse(listed.out).structuredContent.ais.map((a: { name: string }) => a.name)).toContain('receptionist');
    for (const text of [created.out, created.err, listed.out, listed.err]) expect(text).not.toContain(CANARY);
  });
});

describe('MCP conformance 0.1.10 over Streamable HTTP', () => {
  const tmp = tempDir();
  const TOKEN = 'mcp-blackbox-token-0123456789';
  let server: TestServer;
  let proxy: Server;
  let proxyUrl = '';

  beforeAll(async () => {
    const dbPath = join(tmp.dir, 'conformance.sqlite');
    const env = { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, MCP_HTTP_TOKEN: TOKEN };
    const config = loadConfig(env);
    server = await startTestServer(dbPath, env, { extend: (app, ctx) => registerMcpHttp(app, ctx, config, { env: {} }) });
    const target = new URL(server.url);
    // The suite sends no credentials, and /mcp requires a bearer token: a loopback proxy adds it
    // (and the server's own Host), so the suite checks the protocol, not our auth.
    proxy = createServer((req, res) => {
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host, authorization: `Bearer ${TOKEN}` } },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    await server?.close();
    tmp.cleanup();
  });

  for (const scenario of ['server-initialize', 'tools-list', 'ping']) {
    it(`passes ${scenario}`, async () => {
      const r = await run(join(BIN, 'conformance'), ['server', '--url', proxyUrl, '--scenario', scenario], {});
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out + r.err).not.toMatch(/\bFAIL(ED)?\b/);
    });
  }
});
