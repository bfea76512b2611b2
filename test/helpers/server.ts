import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import type { RunningServer, StartOptions } from '../../src/server.js';
import { createLogger, setLogSink } from '../../src/util/logger.js';

/** Log lines captured from every logger while tests run (to prove secrets never appear). */
export const capturedLogs: string[] = [];
setLogSink((line) => {
  capturedLogs.push(line);
});

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'voipbin-ai-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestServer extends RunningServer {
  /** The local customer's access key. */
  key: string;
  /** `http://127.0.0.1:port/v1.0` */
  api: string;
  config: Config;
  /** fetch against the API with the local key. */
  call(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any; headers: Headers }>;
}

let keyCounter = 0;

/**
 * Starts the real server (SQLite file in `dbPath`, HTTP on 127.0.0.1, port 0) with a pinned
 * local key. Reusing a `dbPath` reopens the same data (restart tests).
 */
export async function startTestServer(dbPath: string, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<TestServer> {
  const key = env.VOIPBIN_LOCAL_ACCESSKEY ?? `vbl_test_${process.pid}_${++keyCounter}_${Math.random().toString(36).slice(2)}`;
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: dbPath, LOG_LEVEL: 'debug', ...env, VOIPBIN_LOCAL_ACCESSKEY: key });
  const server = await startServer(config, { logger: createLogger('debug'), ...opts });
  const api = `${server.url}/v1.0`;
  return Object.assign(server, {
    key,
    api,
    config,
    async call(method: string, path: string, body?: unknown, useKey: string = key) {
      const res = await fetch(api + path, {
        method,
        headers: {
          authorization: `Bearer ${useKey}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
  });
}

/**
 * This process's environment without anything that configures voipbin-ai (VOIPBIN_*, MCP_*,
 * provider keys, LOG_LEVEL, HOST, PORT, NODE_OPTIONS), plus `extra`: what a spawned CLI gets, so a
 * developer's own settings cannot change what a test of the real command sees.
 */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(VOIPBIN_|MCP_)|_API_KEY$|^(LOG_LEVEL|HOST|PORT|NODE_OPTIONS)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
