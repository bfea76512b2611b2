/**
 * `voipbin-ai mcp` as a real child process: driven end to end over stdio by the SDK client,
 * spawned exactly as mcp.json says, and refused at start when a key variable holds an
 * unexpanded `${VAR}`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { SqliteStore } from '../../db/sqlite-store.js';
import { TM_NEVER } from '../../src/util/time.js';
import { capturedLogs, cliEnv, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { CANARY, EXPECTED_TOOLS, errorInfo, ok, seedAicall, toolCaller } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = ['--import', 'tsx', 'src/cli.ts', 'mcp'];
const SOURCE = '+15550300001';


/** Runs a command to completion (with stdin closed at once), collecting its output. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end();
  });
}

describe('voipbin-ai mcp (stdio child process)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: TestServer;
  let dbPath: string;
  const key = `vbl_mcp_stdio_${process.pid}_7f3e`;

  beforeAll(async () => {
    tmp = tempDir();
    dbPath = join(tmp.dir, 'db.sqlite');
    // A server on the same database file: creates the local customer with the pinned key and
    // lets the test add a number through the REST API (the MCP has no create_number tool).
    server = await startTestServer(dbPath, { VOIPBIN_LOCAL_ACCESSKEY: key });
    expect((await server.call('POST', '/numbers', { number: SOURCE })).status).toBe(200);
  });

  afterAll(async () => {
    await server?.close();
    tmp?.cleanup();
  });

  it('serves every tool end to end over stdio; stdout carries only the protocol; secrets stay out', async () => {
    const aicallId = await seedAicall(server.store, server.localCustomerId!, {
      messages: [
        { role: 'assistant', content: 'Thanks for calling Acme.' },
        { role: 'user', content: 'I need my order status.' },
      ],
    });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: CLI,
      cwd: ROOT,
      env: cliEnv({ VOIPBIN_AI_DB: dbPath, VOIPBIN_LOCAL_ACCESSKEY: key, OPENAI_API_KEY: CANARY, LOG_LEVEL: 'debug' }),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr!.on('data', (c) => (stderr += c));
    const protocolErrors: Error[] = [];
    transport.onerror = (e) => protocolErrors.push(e);
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    const pid = transport.pid!;
    const seen: unknown[] = [];
    const call = toolCaller(client, seen);
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(EXPECTED_TOOLS);

      const ai = ok(
        await call('create_ai', {
          name: 'Order desk',
          engine_model: 'openai.gpt-4o',
          init_prompt: 'You answer order questions.',
          tts_type: 'elevenlabs',
          stt_type: 'deepgram',
          tool_names: ['stop_service'],
        }),
      ).ai;
      expect(await server.store.ais.getSecret(server.localCustomerId!, ai.id)).toBe(CANARY);
      expect(ok(await call('list_ais', {})).ais.map((a: { id: string }) => a.id)).toContain(ai.id);

      expect(ok(await call('list_numbers', {})).numbers.map((n: { number: string }) => n.number)).toEqual([SOURCE]);
      const placed = ok(await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+15550309999' }], ai_id: ai.id }));
      const callId = placed.calls[0].id;
      expect(ok(await call('list_calls', {})).calls.map((c: { id: string }) => c.id)).toContain(callId);
      expect(ok(await call('get_call', { id: callId })).call.flow_id).toBeTruthy();

      const msgs = ok(await call('get_aicall_messages', { aicall_id: aicallId }));
      expect(msgs.messages.map((m: { content: string }) => m.content)).toEqual(['I need my order status.', 'Thanks for calling Acme.']);
      const transcript = await client.readResource({ uri: `voipbin://aicalls/${aicallId}/messages` });
      seen.push(transcript);
      expect((transcript.contents[0] as { text: string }).text).toMatch(/AI: Thanks for calling Acme\.\n.*Caller: I need my order status\./);

      const sms = ok(await call('send_message', { source: SOURCE, destinations: ['+15550308888'], text: 'Your order shipped.' })).message;
      expect(sms.text).toBe('Your order shipped.');
      const foreign = errorInfo(await call('send_message', { source: '+15550307777', destinations: ['+15550308888'], text: 'x' }));
      expect(foreign.status).toBe(400);
      expect(foreign.next_step).toContain('list_numbers');
      expect(errorInfo(await call('get_ai', { id: '0b5a3f7e-1111-4222-8333-444455556666' }))).toMatchObject({ reason: 'AI_NOT_FOUND' });
      expect(errorInfo(await call('get_call', { id: 'not-a-uuid' }))).toMatchObject({ status: 400, reason: 'INVALID_ID' });
    } finally {
      await client.close();
    }

    // Clean shutdown when stdin closes.
    await expect.poll(() => stderr, { timeout: 10_000 }).toContain('"why":"stdin closed"');
    await expect.poll(() => isAlive(pid), { timeout: 10_000 }).toBe(false);
    expect(protocolErrors).toEqual([]);
    expect(stderr).toContain('mcp server ready on stdio');
    expect(JSON.stringify(seen)).not.toContain(CANARY);
    expect(stderr).not.toContain(CANARY);
    expect(stderr).not.toContain(key);
    expect(capturedLogs.join('\n')).not.toContain(CANARY);
  });

  it('runs exactly as mcp.json says, answers on stdout only, stores no key of its own and exits 0 on SIGTERM', async () => {
    const spec = JSON.parse(readFileSync(join(ROOT, 'mcp.json'), 'utf8')).mcpServers['voipbin-ai'] as {
      command: string;
      args: string[];
      env?: Record<string, string>;
    };
    const db = join(tmp.dir, 'mcp-json.sqlite');
    const child = spawn(spec.command, spec.args, { cwd: ROOT, env: cliEnv({ ...spec.env, VOIPBIN_AI_DB: db }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const send = (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n');
    const lines = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));

    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await expect.poll(() => lines().length, { timeout: 20_000 }).toBe(1);
    expect(lines()[0].result.serverInfo).toMatchObject({ name: 'voipbin-ai' });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_ais', arguments: {} } });
    await expect.poll(() => lines().length, { timeout: 10_000 }).toBe(2);
    expect(lines()[1]).toMatchObject({ id: 2, result: { structuredContent: { ais: [] } } });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('"why":"SIGTERM"');
    for (const m of lines()) expect(m.jsonrpc).toBe('2.0'); // nothing but JSON-RPC on stdout

    const store = SqliteStore.open(db);
    try {
      const keys = store.db.prepare('SELECT data FROM accesskeys').all() as Array<{ data: string }>;
      // The tools act through the process's internal token: running the server stores no key.
      const live = keys.map((k) => JSON.parse(k.data)).filter((k) => k.tm_delete === TM_NEVER);
      expect(live).toHaveLength(1);
      expect(live[0].name).toBe('default');
    } finally {
      await store.close();
    }
  });

  it('refuses to start when a key variable holds an unexpanded ${VAR}', async () => {
    const [openai, gemini] = await Promise.all([
      run(process.execPath, CLI, cliEnv({ VOIPBIN_AI_DB: join(tmp.dir, 'x.sqlite'), OPENAI_API_KEY: '${OPENAI_API_KEY}' })),
      run(process.execPath, CLI, cliEnv({ VOIPBIN_AI_DB: join(tmp.dir, 'y.sqlite'), GEMINI_API_KEY: '${GEMINI_API_KEY}' })),
    ]);
    expect(openai.code).not.toBe(0);
    expect(openai.stdout).toBe('');
    expect(openai.stderr).toMatch(/OPENAI_API_KEY is set to the literal text "\$\{OPENAI_API_KEY\}", an unexpanded variable reference/);
    expect(gemini.code).not.toBe(0);
    expect(gemini.stderr).toMatch(/GEMINI_API_KEY .*unexpanded/);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
