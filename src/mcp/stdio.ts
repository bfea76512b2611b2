/**
 * `voipbin-ai mcp`: the MCP server over stdio. stdout is the protocol channel; every log line
 * goes to stderr.
 *
 * - Remote mode (VOIPBIN_ACCESSKEY set): the tools use api.voipbin.net (or VOIPBIN_API_URL).
 * - Local mode: the embedded VoIPBIN on SQLite, served in-process (no port); the tools act as
 *   the local customer through the process's internal token (no access key is stored).
 */
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { VoipbinClient } from '../client/index.js';
import { loadConfig } from '../config.js';
import type { Config } from '../config.js';
import { openLocalPlatform } from '../server.js';
import { createLogger } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { checkProviderKeyEnv } from './env.js';
import { createServer } from './server.js';

/** A VoIPBIN client for the MCP tools plus what has to be released at shutdown. */
export interface McpBackend {
  client: VoipbinClient;
  mode: 'local' | 'remote';
  close(): Promise<void>;
}

/**
 * Opens what the tools talk to: the remote API, or the local API in-process on the SQLite
 * store at `config.dbPath`.
 */
export async function openMcpBackend(config: Config, logger: Logger): Promise<McpBackend> {
  if (config.apiUrl) {
    const client = new VoipbinClient({ baseUrl: config.apiUrl, accessKey: config.accessKey, logger });
    return { client, mode: 'remote', close: async () => {} };
  }
  const platform = await openLocalPlatform(config, { logger });
  try {
    if (platform.newLocalKey && !config.localAccessKey) {
      // stdout is the protocol channel and the key must not go to a log: say how to get one.
      logger.warn('created the local VoIPBIN customer; set VOIPBIN_LOCAL_ACCESSKEY to pin a key you can use with the REST API');
    }
    await platform.app.ready();
    // The tools act as the local customer through this process's internal token: no access key
    // is created or stored. The call engine runs calls placed from here (a destination with no
    // phone connected ends as `failed`, as on VoIPBIN); phones connect to `serve`, not here.
    return { client: platform.engine.clientFor(platform.localCustomerId), mode: 'local', close: () => platform.close() };
  } catch (err) {
    await platform.close();
    throw err;
  }
}

export interface McpStdioOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: Readable;
  stdout?: Writable;
}

/**
 * Runs `voipbin-ai mcp` until stdin closes or SIGINT/SIGTERM arrives; returns the exit code.
 * Configuration errors (including an unexpanded `${VAR}` in a key variable) throw ConfigError.
 */
export async function runMcpStdio(opts: McpStdioOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const config = loadConfig(env);
  checkProviderKeyEnv(env);

  const logger = createLogger(config.logLevel, { component: 'mcp' });
  const backend = await openMcpBackend(config, logger);
  const server = createServer({ client: backend.client, env, logger });
  const transport = new StdioServerTransport(stdin, stdout);

  let finish!: (why: string) => void;
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const onEnd = () => finish('stdin closed');
  const onSigint = () => finish('SIGINT');
  const onSigterm = () => finish('SIGTERM');
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  transport.onclose = () => finish('transport closed');

  try {
    await server.connect(transport);
    logger.info('mcp server ready on stdio', { mode: backend.mode, ...(backend.mode === 'local' ? { db: config.dbPath } : {}) });
    const why = await done;
    logger.info('mcp server shutting down', { why });
  } finally {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    await server.close().catch(() => undefined);
    await backend.close();
  }
  return 0;
}
