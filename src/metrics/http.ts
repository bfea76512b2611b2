/**
 * `GET /metrics` on the serve app (and on the listener `voipbin-ai mcp` starts, which is the same
 * startServer): the gateway's metrics in the Prometheus text format (version 0.0.4).
 *
 * Access. The exposition carries no customer data (no ids, no numbers, no text: see
 * ./gateway-metrics.ts), only aggregate counts and latencies, but it does tell how busy the
 * server is, so it is not open to the network:
 * - **Without a token** it answers only when the server listens on a loopback address (the
 *   default `HOST=127.0.0.1`) *and* the request's Host header names loopback (`127.0.0.1`,
 *   `localhost`, `[::1]`, with the server's port), so only this machine can read it and a web
 *   page cannot reach it through DNS rebinding. A Prometheus on the same machine scrapes it as is.
 * - **With `Authorization: Bearer <token>`** it answers on any address: the token is an access
 *   key of the local customer (the key `serve` printed at its first start, or
 *   `VOIPBIN_LOCAL_ACCESSKEY`) or `MCP_HTTP_TOKEN`. Another customer's key gets 403 (the numbers
 *   are the whole server's). Set `authorization: { credentials: ... }` in the scrape config when
 *   the server listens on another address (`HOST=0.0.0.0`).
 * Errors use VoIPBIN's error envelope, like the rest of the app.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.js';
import type { Config } from '../config.js';
import type { LocalContext } from '../local/context.js';
import { bearerFrom } from '../local/app.js';
import { authenticateKey, safeEqual } from '../local/customers.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** The endpoint path. */
export const METRICS_PATH = '/metrics';

const WWW_AUTHENTICATE = 'Bearer realm="voipbin-ai-metrics"';

/** True for an address that only this machine reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** True when a Host header names loopback on `port` (no port only when it is 80). */
export function hostHeaderIsLoopback(header: string | undefined, port: number): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(header.trim().toLowerCase());
  if (!m) return false;
  const hostPort = m[2] === undefined ? 80 : Number(m[2]);
  return hostPort === port && isLoopbackHost(m[1]!);
}

export interface MetricsRouteOptions {
  /** The local customer: its access keys may read the metrics. */
  localCustomerId?: string;
}

/** Mounts `GET /metrics` (see the module comment for the access rule). */
export function registerMetricsRoute(
  app: FastifyInstance,
  ctx: LocalContext,
  config: Pick<Config, 'host' | 'port' | 'mcpHttpToken'>,
  metrics: GatewayMetrics,
  opts: MetricsRouteOptions = {},
): void {
  const openOnLoopback = isLoopbackHost(config.host);

  async function authorize(req: FastifyRequest): Promise<void> {
    const token = bearerFrom(req.headers.authorization);
    if (token) {
      if (config.mcpHttpToken && safeEqual(token, config.mcpHttpToken)) return;
      const key = await authenticateKey(ctx.store, token);
      if (!key) {
        throw new ApiError(401, 'INVALID_CREDENTIALS', 'the bearer token is not a valid access key (unknown, deleted or expired) or MCP_HTTP_TOKEN', {
          'www-authenticate': `${WWW_AUTHENTICATE}, error="invalid_token"`,
        });
      }
      if (key.customerId !== opts.localCustomerId) {
        throw new ApiError(403, 'PERMISSION_DENIED', "/metrics shows the whole server's numbers: use an access key of the local customer or MCP_HTTP_TOKEN");
      }
      return;
    }
    const addr = app.server.address() as AddressInfo | null;
    const port = addr && typeof addr === 'object' ? addr.port : config.port;
    if (openOnLoopback && hostHeaderIsLoopback(req.headers.host, port)) return;
    throw new ApiError(
      401,
      'AUTHENTICATION_REQUIRED',
      openOnLoopback
        ? '/metrics answers without a token only to loopback Host names (127.0.0.1, localhost, [::1]); send Authorization: Bearer <local access key or MCP_HTTP_TOKEN>'
        : 'this server listens beyond loopback: send Authorization: Bearer <local access key or MCP_HTTP_TOKEN> to read /metrics',
      { 'www-authenticate': WWW_AUTHENTICATE },
    );
  }

  app.get(METRICS_PATH, async (req, reply) => {
    await authorize(req);
    const text = await metrics.metrics();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}
