/**
 * Helpers of the process tests (not a test file): `voipbin-ai serve` and `voipbin-ai mcp` as real
 * child processes, their discovery file, and local phones against a spawned server. Every child
 * is tracked and killed by {@link killAll} (call it in afterEach), so a failing test leaves
 * nothing running.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LocalPhoneClient } from '../../src/softphone/local-phone-client.js';
import { discoveryPath } from '../../src/local/discovery.js';
import type { DiscoveryRecord } from '../../src/local/discovery.js';
import { TestPhone, until } from '../media/helpers.js';
import { cliEnv } from '../helpers/server.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = ['--import', 'tsx', 'src/cli.ts'];


export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
const mcpClients = new Set<Client>();

/** Kills every child this file's tests started (SIGKILL) and closes every MCP client. */
export async function killAll(): Promise<void> {
  for (const c of mcpClients) await c.close().catch(() => undefined);
  mcpClients.clear();
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  children.clear();
}

/** Spawns `voipbin-ai <args>` with `env` (on top of a cleaned environment). */
export function runCli(args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Waits for a child's exit (failing with its stderr after `timeoutMs`). */
export async function exitOf(child: Child, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit in ${timeoutMs} ms; stderr: ${child.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The discovery file's record once it names a URL (the owner listens). */
export async function waitDiscovery(dbPath: string, pid: number, child?: Child, timeoutMs = 60_000): Promise<DiscoveryRecord> {
  let rec: DiscoveryRecord | undefined;
  await until(
    () => {
      if (child && child.proc.exitCode !== null) throw new Error(`the process exited early: ${child.stderr()}`);
      if (!existsSync(discoveryPath(dbPath))) return false;
      try {
        rec = JSON.parse(readFileSync(discoveryPath(dbPath), 'utf8')) as DiscoveryRecord;
      } catch {
        return false;
      }
      return rec.pid === pid && rec.url !== '';
    },
    'the discovery file',
    timeoutMs,
  );
  return rec!;
}

/** `voipbin-ai serve` on `dbPath` (port 0), once its discovery file names its URL. */
export async function spawnServe(dbPath: string, key: string, env: Record<string, string> = {}): Promise<{ child: Child; url: string; rec: DiscoveryRecord }> {
  const child = runCli(['serve'], { HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, VOIPBIN_LOCAL_ACCESSKEY: key, LOG_LEVEL: 'debug', ...env });
  const rec = await waitDiscovery(dbPath, child.proc.pid!, child);
  return { child, url: rec.url, rec };
}

/** A spawned `voipbin-ai mcp` driven by the SDK client over stdio. */
export interface McpChild {
  client: Client;
  pid: number;
  stderr: () => string;
  /** Calls a tool; throws with the tool's text when it fails; returns the structured result. */
  tool(name: string, args?: Record<string, unknown>): Promise<any>;
}

export async function spawnMcp(env: Record<string, string>): Promise<McpChild> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI, 'mcp'],
    cwd: ROOT,
    env: cliEnv({ LOG_LEVEL: 'debug', ...env }),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const client = new Client({ name: 'process-test', version: '1.0.0' });
  mcpClients.add(client);
  await client.connect(transport);
  const pid = transport.pid!;
  // The SDK spawns it; track the pid so killAll ends it even when close() cannot.
  children.add({ pid, exitCode: null, signalCode: null, kill: (s: NodeJS.Signals) => killPid(pid, s) } as unknown as ChildProcess);
  return {
    client,
    pid,
    stderr: () => stderr,
    async tool(name, args = {}) {
      const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: any };
      if (r.isError) throw new Error(`${name} failed: ${r.content.map((c) => c.text ?? '').join('\n')}`);
      return r.structuredContent;
    },
  };
}

function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** fetch against `<url>/v1.0` with an access key; the body parsed when JSON. */
export async function api(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v1.0${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/** Creates a number of the local customer through the REST API. */
export async function addNumber(url: string, key: string, number: string): Promise<void> {
  const r = await api(url, key, 'POST', '/numbers', { number });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** A local phone connected to `url` and registered as the tel `number`. */
export async function phoneAt(url: string, key: string, number: string): Promise<TestPhone> {
  const p = new TestPhone(await LocalPhoneClient.connect(url, key));
  await p.client.register({ type: 'tel', target: number });
  return p;
}
