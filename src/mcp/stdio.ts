/**
 * `voipbin-ai mcp`: the MCP server over stdio. stdout is the protocol channel; every log line
 * goes to stderr.
 *
 * - Remote mode (VOIPBIN_ACCESSKEY set): the tools use api.voipbin.net (or VOIPBIN_API_URL).
 * - Local mode: one database has one live engine (src/local/discovery.ts). When a `serve` (or
 *   another `mcp`) already runs the database, the tools act through it over HTTP, so calls,
 *   phones and hangups are that server's. Otherwise this process runs the local VoIPBIN itself,
 *   listening on HOST:PORT (a free port when that one is taken) so phones can reach it, and
 *   claims the database the same way. Either way the tools act as the local customer through
 *   the engine's internal token: no access key is created or stored.
 */
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { VoipbinClient } from '../client/index.js';
import { loadConfig } from '../config.js';
import type { Config } from '../config.js';
import { defaultAgentRegistry, startServer } from '../server.js';
import { GatewaySessions } from '../gateway/sessions.js';
import { DatabaseInUseError, findLiveOwner, ownerHeaders } from '../local/discovery.js';
import type { DiscoveryRecord } from '../local/discovery.js';
import { createLogger } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { checkProviderKeyEnv } from './env.js';
import { registerMcpHttp } from './http.js';
import { createServer } from './server.js';

/** A VoIPBIN client for the MCP tools plus what has to be released at shutdown. */
export interface McpBackend {
  client: VoipbinClient;
  /** `local`: this process runs the engine; `attached`: a running serve does; `remote`: api.voipbin.net. */
  mode: 'local' | 'attached' | 'remote';
  /** The local VoIPBIN's URL (local and attached modes). */
  url?: string;
  /** Agent sessions on remote calls run by this process (remote mode; local mode: the server's, unavailable). */
  gateway?: GatewaySessions;
  close(): Promise<void>;
}

/** How long to wait for an owner that is still starting before giving up. */
const OWNER_START_WAIT_MS = 20_000;

/** The one REST client, acting as the owner's local customer over HTTP. */
function clientThrough(owner: DiscoveryRecord, logger: Logger): VoipbinClient {
  const headers = ownerHeaders(owner);
  const viaOwner: typeof fetch = (input, init) => {
    const h = new Headers(init?.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return fetch(input, { ...init, headers: h });
  };
  // No retries: a POST /calls whose answer was lost must not place a second call.
  return new VoipbinClient({ baseUrl: `${owner.url}/v1.0`, fetch: viaOwner, maxRetries: 0, logger });
}

/**
 * Opens what the tools talk to: the remote API; the local VoIPBIN of a running `serve` on the
 * same database (over HTTP); or a local VoIPBIN this process starts and serves on HOST:PORT.
 */
export async function openMcpBackend(config: Config, logger: Logger): Promise<McpBackend> {
  if (config.apiUrl) {
    const client = new VoipbinClient({ baseUrl: config.apiUrl, accessKey: config.accessKey, logger });
    // This process is the gateway: start_gateway_session runs the agent here, on the remote call.
    const gateway = new GatewaySessions({ apiUrl: config.apiUrl, accessKey: config.accessKey, agents: defaultAgentRegistry(logger), logger });
    return { client, mode: 'remote', gateway, close: () => gateway.shutdown() };
  }
  for (let attempt = 0; ; attempt++) {
    const owner = await findLiveOwner(config.dbPath, { waitStartingMs: OWNER_START_WAIT_MS, logger });
    if (owner?.url) {
      logger.info('using the local VoIPBIN already running on this database', { url: owner.url, pid: owner.pid, role: owner.role });
      return { client: clientThrough(owner, logger), mode: 'attached', url: owner.url, close: async () => {} };
    }
    if (owner) throw new DatabaseInUseError(owner, config.dbPath);
    try {
      const server = await startServer(config, {
        logger,
        role: 'mcp',
        fallbackToFreePort: true,
        // Everything `serve` offers, so nothing is missing while this process owns the database.
        extend: (app, ctx, parts) => registerMcpHttp(app, ctx, config, { gateway: parts.gateway }),
      });
      if (server.newLocalKey && !config.localAccessKey) {
        // stdout is the protocol channel and the key must not go to a log: say how to get one.
        logger.warn('created the local VoIPBIN customer; set VOIPBIN_LOCAL_ACCESSKEY to pin a key you can use with the REST API');
      }
      logger.info('local VoIPBIN listening', { url: server.url, api: `${server.url}/v1.0`, db: config.dbPath });
      return {
        client: server.engine.clientFor(server.localCustomerId!),
        mode: 'local',
        url: server.url,
        gateway: server.gateway,
        close: () => server.close(),
      };
    } catch (err) {
      // Another process claimed the database between the look and the claim: use it instead.
      if (err instanceof DatabaseInUseError && attempt < 2) continue;
      throw err;
    }
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
  const server = createServer({ client: backend.client, env, logger, gateway: backend.gateway });
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
    logger.info('mcp server ready on stdio', { mode: backend.mode, ...(backend.mode !== 'remote' ? { db: config.dbPath, url: backend.url } : {}) });
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
