/**
 * MCP over Streamable HTTP at `/mcp` inside `voipbin-ai serve` (same host and port as the API).
 *
 * - Host check first (DNS-rebinding defence): 127.0.0.1:port, localhost:port, [::1]:port and
 *   MCP_ALLOWED_HOSTS; anything else gets 403 with a JSON-RPC error body.
 * - Bearer auth on every request: a VoIPBIN access key of the local API (the session then acts
 *   as that key's customer, through the in-process fetch with that key) or MCP_HTTP_TOKEN (the
 *   session acts as the local customer, through the process's internal token, or an internal
 *   key made at start and deleted at shutdown). In remote mode every session uses the remote client. 401 + `WWW-Authenticate:
 *   Bearer` otherwise.
 * - Sessions: an `initialize` POST without `mcp-session-id` opens one (its own MCP server and
 *   transport); later requests carry the id. A session is bound to the token that opened it:
 *   another token, or an unknown id, gets 404 (so ids of other users cannot be probed).
 * - Limits: each token may hold MCP_HTTP_MAX_SESSIONS_PER_TOKEN sessions (default 20; beyond it
 *   429), so one careless client cannot fill the server for everyone; a session unused for
 *   MCP_HTTP_SESSION_IDLE_MS (default 30 min) is closed.
 * - A session opened with an access key ends when that key is deleted or expires (the key's
 *   sessions are on LocalContext.keySessions); MCP_HTTP_TOKEN sessions are not tied to a key.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { VoipbinClient } from '../client/index.js';
import type { Config } from '../config.js';
import type { LocalContext } from '../local/context.js';
import { authenticateKey, createAccessKey, ensureLocalCustomer, safeEqual } from '../local/customers.js';
import type { AuthenticatedKey } from '../local/customers.js';
import { revocationMessage } from '../local/key-sessions.js';
import { IN_PROCESS_BASE_URL, createInProcessFetch } from '../local/in-process-fetch.js';
import { registerSecret } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { createServer } from './server.js';
import type { GatewaySessions } from '../gateway/index.js';
import { checkProviderKeyEnv } from './env.js';

/** The endpoint path. */
export const MCP_PATH = '/mcp';

export interface McpHttpOptions {
  /** Environment the tools read provider keys from (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  /** Sessions unused for this long are closed (default: config.mcpHttpSessionIdleMs, 30 min). */
  sessionIdleMs?: number;
  /** Most sessions one bearer token may hold (default: config.mcpHttpMaxSessionsPerToken, 20); beyond it 429. */
  maxSessionsPerToken?: number;
  /** Most sessions open at once over all tokens, a memory bound (default 1000); beyond it 503. */
  maxSessions?: number;
  /** The gateway the MCP gateway tools act through (absent: they say the gateway is not available here). */
  gateway?: GatewaySessions;
}

interface Session {
  id: string;
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** SHA-256 of the bearer token that opened the session. */
  tokenHash: string;
  lastSeen: number;
  /** Unties the session from its access key (a no-op for MCP_HTTP_TOKEN sessions). */
  unbind: () => void;
}

/** Who a bearer token is. */
interface Principal {
  kind: 'accesskey' | 'mcp_token';
  token: string;
  /** The access key (kind `accesskey`): its sessions end when it is deleted or expires. */
  key?: AuthenticatedKey;
}

const JSONRPC_UNAUTHORIZED = -32001;
const JSONRPC_FORBIDDEN = -32003;
const JSONRPC_BAD_REQUEST = -32000;
const JSONRPC_SESSION_NOT_FOUND = -32001;
const JSONRPC_TOO_MANY_SESSIONS = -32029;

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function bearerToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (!auth || !/^Bearer\s+/i.test(auth)) return undefined;
  return auth.replace(/^Bearer\s+/i, '').trim() || undefined;
}

function sendRpcError(reply: FastifyReply, status: number, code: number, message: string, headers: Record<string, string> = {}): FastifyReply {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/**
 * Mounts `/mcp` on the serve app. Call it from `startServer`'s `extend` hook:
 * `startServer(config, { extend: (app, ctx) => registerMcpHttp(app, ctx, config) })`.
 */
export async function registerMcpHttp(app: FastifyInstance, ctx: LocalContext, config: Config, opts: McpHttpOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  // Same start-time rule as stdio: a provider key variable holding `${VAR}` stops the start.
  checkProviderKeyEnv(env);
  const logger = (opts.logger ?? ctx.logger).child({ component: 'mcp-http' });
  const idleMs = opts.sessionIdleMs ?? config.mcpHttpSessionIdleMs ?? 30 * 60_000;
  const maxPerToken = opts.maxSessionsPerToken ?? config.mcpHttpMaxSessionsPerToken ?? 20;
  const maxSessions = opts.maxSessions ?? 1000;
  const sessions = new Map<string, Session>();
  /** Sessions being opened (initialize in flight), per token hash: they count against the cap. */
  const opening = new Map<string, number>();
  const inProcessFetch = createInProcessFetch(app);

  const remoteClient = config.apiUrl ? new VoipbinClient({ baseUrl: config.apiUrl, accessKey: config.accessKey, logger }) : undefined;
  const localClient = (key: string) => new VoipbinClient({ baseUrl: IN_PROCESS_BASE_URL, accessKey: key, fetch: inProcessFetch, logger });

  // MCP_HTTP_TOKEN sessions act as the local customer: through the process's internal token
  // when the app has one (nothing stored), else through an access key made now and deleted at shutdown.
  let internalClient: VoipbinClient | undefined;
  let internalKey: { id: string; customerId: string } | undefined;
  if (config.mcpHttpToken) {
    registerSecret(config.mcpHttpToken);
    if (!remoteClient) {
      const { customerId } = await ensureLocalCustomer(ctx.store, {
        pinnedKey: config.localAccessKey,
        initialBalanceCredit: config.initialBalanceCredit,
      });
      if (ctx.internalToken) {
        const fetch = createInProcessFetch(app, { customerId, internalToken: ctx.internalToken });
        internalClient = new VoipbinClient({ baseUrl: IN_PROCESS_BASE_URL, fetch, logger });
      } else {
        const { row, token } = await createAccessKey(ctx.store, customerId, {
          name: 'mcp-http',
          detail: `internal key of /mcp for MCP_HTTP_TOKEN sessions (pid ${process.pid}); deleted at shutdown`,
        });
        internalKey = { id: row.id, customerId };
        internalClient = localClient(token);
      }
    }
  }

  async function principalOf(token: string): Promise<Principal | undefined> {
    if (config.mcpHttpToken && safeEqual(token, config.mcpHttpToken)) return { kind: 'mcp_token', token };
    const key = await authenticateKey(ctx.store, token);
    if (key) return { kind: 'accesskey', token, key };
    return undefined;
  }

  function clientFor(p: Principal): VoipbinClient {
    if (remoteClient) return remoteClient;
    if (p.kind === 'mcp_token') return internalClient!;
    return localClient(p.token);
  }

  function hostAllowed(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const host = hostHeader.trim().toLowerCase();
    const addr = app.server.address() as AddressInfo | null;
    const port = addr && typeof addr === 'object' ? addr.port : config.port;
    const exact = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
    if (exact.has(host)) return true;
    const hostname = host.replace(/:\d+$/, '');
    for (const entry of config.mcpAllowedHosts) {
      const e = entry.toLowerCase();
      if (e === host) return true;
      // An entry without a port allows that host name on any port.
      if (!/:\d+$/.test(e) && e === hostname) return true;
    }
    return false;
  }

  /** Drops a session from the table (it ended one way or another). */
  function forget(id: string): void {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    s.unbind();
  }

  async function closeSession(s: Session, why: string): Promise<void> {
    forget(s.id);
    logger.debug('mcp session closed', { session: s.id, why });
    await s.server.close().catch(() => undefined);
  }

  function sessionsOf(tokenHash: string): number {
    let n = opening.get(tokenHash) ?? 0;
    for (const s of sessions.values()) if (s.tokenHash === tokenHash) n++;
    return n;
  }

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const s of sessions.values()) if (now - s.lastSeen > idleMs) void closeSession(s, 'idle');
  }, Math.min(60_000, Math.max(1_000, idleMs / 2)));
  sweep.unref();

  app.addHook('preClose', async () => {
    clearInterval(sweep);
    // Open SSE streams would keep the HTTP server from closing.
    await Promise.all([...sessions.values()].map((s) => closeSession(s, 'shutdown')));
  });
  app.addHook('onClose', async () => {
    if (internalKey) await ctx.store.accesskeys.softDelete(internalKey.customerId, internalKey.id).catch(() => undefined);
  });

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    if (!hostAllowed(req.headers.host)) {
      logger.warn('mcp request with a forbidden Host header', { method: req.method });
      return sendRpcError(reply, 403, JSONRPC_FORBIDDEN, 'Forbidden: Host header not allowed (add it to MCP_ALLOWED_HOSTS if this is intended)');
    }
    const token = bearerToken(req);
    if (!token) {
      return sendRpcError(reply, 401, JSONRPC_UNAUTHORIZED, 'Unauthorized: send Authorization: Bearer <VoIPBIN access key or MCP_HTTP_TOKEN>', {
        'www-authenticate': 'Bearer realm="voipbin-ai-mcp"',
      });
    }
    const principal = await principalOf(token);
    if (!principal) {
      return sendRpcError(reply, 401, JSONRPC_UNAUTHORIZED, 'Unauthorized: the bearer token is not a valid access key or MCP_HTTP_TOKEN', {
        'www-authenticate': 'Bearer realm="voipbin-ai-mcp", error="invalid_token"',
      });
    }
    const tokenHash = sha256(token);
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;

    if (sessionId) {
      const s = sessions.get(sessionId);
      if (!s || !safeEqual(s.tokenHash, tokenHash)) {
        return sendRpcError(reply, 404, JSONRPC_SESSION_NOT_FOUND, 'Session not found: start a new session with an initialize request');
      }
      s.lastSeen = Date.now();
      return forward(req, reply, s.transport);
    }

    const body = req.body;
    const isInit = Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
    if (req.method !== 'POST' || !isInit) {
      return sendRpcError(reply, 400, JSONRPC_BAD_REQUEST, 'Bad Request: no mcp-session-id header; start a session with an initialize request');
    }
    if (sessionsOf(tokenHash) >= maxPerToken) {
      return sendRpcError(
        reply,
        429,
        JSONRPC_TOO_MANY_SESSIONS,
        `Too many open MCP sessions for this token (limit ${maxPerToken}, MCP_HTTP_MAX_SESSIONS_PER_TOKEN): ` +
          `close the sessions you no longer use (DELETE /mcp with their mcp-session-id header) or reuse one; ` +
          `unused sessions also close after ${Math.round(idleMs / 1000)} s`,
      );
    }
    if (sessions.size >= maxSessions) {
      return sendRpcError(reply, 503, JSONRPC_BAD_REQUEST, 'Too many open MCP sessions on this server; close one (DELETE /mcp) or retry later');
    }

    const server = createServer({ client: clientFor(principal), env, logger, gateway: opts.gateway });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        const session: Session = { id, transport, server, tokenHash, lastSeen: Date.now(), unbind: () => undefined };
        sessions.set(id, session);
        // A session opened with an access key ends with the key (deleted, or expired).
        if (principal.key) {
          session.unbind = ctx.keySessions.bind(principal.key, (cause) => closeSession(session, revocationMessage(cause)));
        }
        logger.info('mcp session opened', { session: id, auth: principal.kind });
      },
      onsessionclosed: (id) => {
        forget(id);
        logger.info('mcp session ended by the client', { session: id });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) forget(transport.sessionId);
    };
    opening.set(tokenHash, (opening.get(tokenHash) ?? 0) + 1);
    try {
      await server.connect(transport);
      return await forward(req, reply, transport);
    } finally {
      const n = (opening.get(tokenHash) ?? 1) - 1;
      if (n > 0) opening.set(tokenHash, n);
      else opening.delete(tokenHash);
    }
  }

  async function forward(req: FastifyRequest, reply: FastifyReply, transport: StreamableHTTPServerTransport): Promise<void> {
    reply.hijack();
    try {
      await transport.handleRequest(req.raw, reply.raw, req.body);
    } catch (err) {
      logger.error('mcp request failed', { error: err instanceof Error ? err.message : String(err) });
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }));
      } else if (!reply.raw.writableEnded) {
        reply.raw.end();
      }
    }
  }

  app.route({ method: ['GET', 'POST', 'DELETE'], url: MCP_PATH, handler: handle });
}
