import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { ApiError } from '../../api/errors.js';
import type { LocalContext } from '../context.js';
import { authenticateKey } from '../customers.js';
import type { AuthenticatedKey } from '../customers.js';
import { revocationMessage } from '../key-sessions.js';
import type { KeyRevocation } from '../key-sessions.js';
import { bearerFrom, newRequestId } from '../app.js';
import { truncateUtf8 } from '../../../streams/protocols/errors.js';
import { redact } from '../../util/logger.js';

/** Largest WebSocket message any local socket accepts (20 ms of audio is 320 bytes). */
export const MAX_WS_MESSAGE_BYTES = 64 * 1024;

/** What a WebSocket route gets once the upgrade is accepted. */
export interface UpgradeContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** The authenticated customer, when the route requires auth. */
  customerId: string;
  /** The access key that authenticated the upgrade, when the route requires auth. */
  key?: AuthenticatedKey;
  /**
   * Ends the socket when its access key is deleted or expires (`reason` says which, for the
   * client). Unset, the socket closes with 1008 and the reason; a route may set it in
   * `onConnection` to end what runs on the socket first (a phone hangs up its call).
   */
  onKeyRevoked?: (cause: KeyRevocation, reason: string) => void | Promise<void>;
}

export interface WsRoute {
  /** Path pattern with `:name` parameters, e.g. `/v1.0/calls/:id/media_stream`. */
  path: string;
  /** Whether an access key is required at the HTTP upgrade (carrier streams authenticate later). */
  auth: boolean;
  /** Checks before the upgrade; throw ApiError to answer with VoIPBIN's envelope instead. */
  accept?: (ctx: UpgradeContext) => Promise<void> | void;
  onConnection: (ws: WebSocket, ctx: UpgradeContext) => void;
}

function compile(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const re = new RegExp(
    '^' + path.replace(/\/:([a-zA-Z_]+)/g, (_, n: string) => (names.push(n), '/([^/]+)')) + '/?$',
  );
  return { re, names };
}

/** The bearer token, `?accesskey=` or `?token=` of an upgrade request. */
export function upgradeToken(req: IncomingMessage, url: URL): string | undefined {
  return (
    bearerFrom(req.headers.authorization) || url.searchParams.get('accesskey') ||
    url.searchParams.get('token') ||
    undefined
  );
}

/** Answers an upgrade request with an HTTP error in VoIPBIN's envelope and closes the socket. */
function reject(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.toEnvelope(newRequestId()));
  const text = `HTTP/1.1 ${err.httpStatus} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  socket.end(text);
}

/**
 * Routes HTTP upgrades of the server to WebSocket handlers by path. One `ws` server (noServer)
 * serves every route; each route decides on auth and may refuse before the upgrade, so a client
 * gets a real HTTP status and VoIPBIN's error envelope rather than a socket that closes at once.
 */
export function attachWebSocketRoutes(server: Server, ctx: LocalContext, routes: WsRoute[]): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  const compiled = routes.map((r) => ({ route: r, ...compile(r.path) }));
  const handle = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
      socket.on('error', () => {
        /* a client that goes away mid-handshake must not surface as an unhandled error */
      });
      const url = new URL(req.url ?? '/', 'http://local');
      const match = compiled.map((c) => ({ c, m: c.re.exec(url.pathname) })).find((x) => x.m);
      if (!match) return reject(socket, new ApiError(404, 'ROUTE_NOT_FOUND', `no WebSocket endpoint at ${redact(url.pathname)}`));
      const params: Record<string, string> = {};
      const uctx: UpgradeContext = { req, url, params, customerId: '' };
      try {
        try {
          match.c.names.forEach((n, i) => (params[n] = decodeURIComponent(match.m![i + 1]!)));
        } catch {
          throw new ApiError(400, 'INVALID_ARGUMENT', 'the request URL is not valid (malformed percent-encoding)');
        }
        if (match.c.route.auth) {
          const token = upgradeToken(req, url);
          if (!token) throw new ApiError(401, 'AUTHENTICATION_REQUIRED', 'send an access key as Authorization: Bearer <key> or ?accesskey=<key>');
          const key = await authenticateKey(ctx.store, token);
          if (!key) throw new ApiError(401, 'INVALID_CREDENTIALS', 'the access key is not valid (unknown, deleted or expired)');
          uctx.customerId = key.customerId;
          uctx.key = key;
        }
        await match.c.route.accept?.(uctx);
      } catch (err) {
        if (err instanceof ApiError) return reject(socket, err);
        ctx.logger.error('websocket upgrade failed', { path: redact(url.pathname), error: String(err) });
        return reject(socket, new ApiError(500, 'INTERNAL', 'internal error'));
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => {
          /* ws closes the socket itself with 1009/1002; nothing else to do */
        });
        try {
          match.c.route.onConnection(ws, uctx);
        } catch (err) {
          ctx.logger.error('websocket handler failed', { path: redact(url.pathname), error: String(err) });
          ws.close(1011, 'internal error');
        }
        bindToKey(ws, uctx, ctx);
      });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Nothing an upgrade request does may take the process (and every other call) down.
    handle(req, socket, head).catch((err: unknown) => {
      ctx.logger.error('websocket upgrade failed', { error: String(err) });
      if (!socket.destroyed) reject(socket, new ApiError(500, 'INTERNAL', 'internal error'));
    });
  });
  return wss;
}

/**
 * Ties an accepted socket to the access key that opened it: deleting the key (or its expiry)
 * ends the socket (see {@link UpgradeContext.onKeyRevoked}). Bound after `onConnection`, so the
 * route has had its chance to set its own ending.
 */
function bindToKey(ws: WebSocket, u: UpgradeContext, ctx: LocalContext): void {
  if (!u.key || ws.readyState === ws.CLOSED) return;
  const unbind = ctx.keySessions.bind(u.key, async (cause) => {
    const reason = revocationMessage(cause);
    if (u.onKeyRevoked) await u.onKeyRevoked(cause, reason);
    else closeWith(ws, 1008, reason);
  });
  ws.once('close', unbind);
}

/** Closes a socket with a reason trimmed to the protocol's 123-byte limit. */
export function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, truncateUtf8(reason));
}

/**
 * Most unsent bytes a socket may hold before outgoing audio frames are dropped: a stalled client
 * must not make the server queue its audio without bound (64 KiB is about 4 s of 8 kHz audio).
 */
export const MAX_SEND_BUFFER_BYTES = 64 * 1024;

/** True when `ws` can take another audio frame now. */
export function canSendAudio(ws: WebSocket): boolean {
  return ws.readyState === ws.OPEN && ws.bufferedAmount <= MAX_SEND_BUFFER_BYTES;
}
