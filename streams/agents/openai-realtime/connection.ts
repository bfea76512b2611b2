/**
 * A thin, typed connection to the OpenAI Realtime API (GA protocol) over the `openai` package's
 * own WebSocket client, `OpenAIRealtimeWS` (`openai/realtime/ws`).
 *
 * What this adds to `OpenAIRealtimeWS`:
 * - `connectRealtime()` resolves once the socket is open and rejects with a
 *   {@link RealtimeConnectError} (HTTP status when there was one) when it cannot connect.
 * - Server events through `on(type, handler)` / `onEvent(handler)`, `error` events included
 *   (the SDK raises those through its separate `error` channel; unhandled, it would turn them
 *   into an unhandled promise rejection).
 * - A `closed` promise and `onClose()` with the close code and reason (the SDK exposes neither:
 *   they come from its underlying `ws` socket).
 * - The API key is registered with `registerSecret` and scrubbed from every message this module
 *   builds, logs or throws.
 *
 * URL: `OpenAIRealtimeWS` builds `<baseURL>/realtime?model=<model>` and forces the scheme to
 * `wss:`, so `https://host:port/v1` becomes `wss://host:port/v1/realtime?model=...`. It never
 * dials plain `ws:`; loopback fakes serve TLS (trusted via `ca` here, or `NODE_EXTRA_CA_CERTS`
 * for a whole process).
 */

import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { OpenAIRealtimeError } from 'openai/realtime/internal-base';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { redact, registerSecret } from '../../../src/util/logger.js';
import type { Logger } from '../../../src/util/logger.js';

export type RealtimeServerEventType = RealtimeServerEvent['type'];
export type RealtimeServerEventOf<T extends RealtimeServerEventType> = Extract<RealtimeServerEvent, { type: T }>;

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** How long `close()` waits for the peer's close frame before dropping the socket. */
const CLOSE_TIMEOUT_MS = 5000;

export interface ConnectRealtimeOptions {
  /** The AI's `engine_key`. Never logged, never part of an error message. */
  apiKey: string;
  /** The Realtime model, without the `openai.` prefix (e.g. `gpt-realtime`). */
  model: string;
  /** `https://host:port/v1`; default `OPENAI_BASE_URL`, else `https://api.openai.com/v1`. */
  baseUrl?: string;
  /** Extra trusted CA certificate(s), PEM (a loopback fake's self-signed certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Opening handshake timeout, ms (default 10 000). */
  handshakeTimeoutMs?: number;
  logger?: Logger;
}

export interface RealtimeCloseInfo {
  code: number;
  reason: string;
  /** `true` when this side called `close()`. */
  byClient: boolean;
}

/** Why a connection could not be opened. The message never contains the API key. */
export class RealtimeConnectError extends Error {
  constructor(
    message: string,
    /** The HTTP status of a refused upgrade (401 for a wrong key), if there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RealtimeConnectError';
  }
}

export interface RealtimeConnection {
  /** The URL dialled (`wss://.../realtime?model=...`; it carries no secret). */
  readonly url: string;
  readonly model: string;
  /** `Date.now()` when the socket opened (the session's 60-minute cap counts from here). */
  readonly openedAt: number;
  /** Sends a client event; a no-op (logged) once closed. */
  send(event: RealtimeClientEvent): void;
  /** Handles server events of one type; returns an unsubscribe function. */
  on<T extends RealtimeServerEventType>(type: T, handler: (event: RealtimeServerEventOf<T>) => void): () => void;
  /** Handles every server event, in arrival order; returns an unsubscribe function. */
  onEvent(handler: (event: RealtimeServerEvent) => void): () => void;
  /** Called once, when the socket closes (either side, or a drop: code 1006). */
  onClose(handler: (info: RealtimeCloseInfo) => void): () => void;
  readonly closed: Promise<RealtimeCloseInfo>;
  readonly isOpen: boolean;
  /** Closes the socket (default 1000). Resolves when closed. */
  close(code?: number, reason?: string): Promise<RealtimeCloseInfo>;
}

/** `https://host:port/v1` → `wss://host:port/v1/realtime?model=<model>` (what `OpenAIRealtimeWS` dials). */
export function realtimeUrl(baseUrl: string, model: string): string {
  const url = new URL(baseUrl + (baseUrl.endsWith('/') ? 'realtime' : '/realtime'));
  url.protocol = 'wss';
  url.searchParams.set('model', model);
  return url.toString();
}

function scrub(text: string, apiKey: string): string {
  // registerSecret ignores very short values; replace the key itself as well.
  const out = redact(text);
  return apiKey ? out.split(apiKey).join('[redacted]') : out;
}

/** Opens a Realtime session. Resolves when the WebSocket is open (`session.created` follows). */
export async function connectRealtime(opts: ConnectRealtimeOptions): Promise<RealtimeConnection> {
  const { apiKey, model } = opts;
  if (!apiKey) throw new RealtimeConnectError('OpenAI Realtime: no API key (the AI has no engine_key)');
  if (!model) throw new RealtimeConnectError('OpenAI Realtime: no model');
  registerSecret(apiKey);
  const baseUrl = opts.baseUrl ?? process.env.OPENAI_BASE_URL ?? DEFAULT_OPENAI_BASE_URL;
  const log = opts.logger?.child({ component: 'openai-realtime', model });

  let rt: OpenAIRealtimeWS;
  try {
    const client = new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 0 });
    rt = new OpenAIRealtimeWS(
      {
        model,
        options: {
          handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
          ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        },
      },
      client,
    );
  } catch (err) {
    throw new RealtimeConnectError(`OpenAI Realtime: cannot open a connection: ${scrub((err as Error).message, apiKey)}`);
  }
  const url = rt.url.toString();
  const socket = rt.socket;
  log?.debug('realtime connecting', { url });

  const eventHandlers = new Set<(e: RealtimeServerEvent) => void>();
  const closeHandlers = new Set<(i: RealtimeCloseInfo) => void>();
  let byClient = false;
  let opened = false;
  let openedAt = 0;
  let httpStatus: number | undefined;
  let socketError: string | undefined;

  rt.on('event', (event) => {
    for (const h of [...eventHandlers]) {
      try {
        h(event);
      } catch (err) {
        log?.error('realtime event handler threw', { type: event.type, error: scrub(String((err as Error)?.message ?? err), apiKey) });
      }
    }
  });
  // Server `error` events were delivered through 'event' above; this channel also carries socket
  // and parse errors. Bound so the SDK never turns an error into an unhandled rejection.
  rt.on('error', (err: OpenAIRealtimeError) => {
    if (err.error) return;
    socketError = scrub(err.message, apiKey);
    const m = /Unexpected server response: (\d{3})/.exec(err.message);
    if (m) httpStatus = Number(m[1]);
    if (opened) log?.warn('realtime socket error', { error: socketError });
  });

  const closed = new Promise<RealtimeCloseInfo>((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => {
      const info: RealtimeCloseInfo = { code, reason: scrub(reason.toString(), apiKey), byClient };
      if (opened) log?.info('realtime closed', { code: info.code, reason: info.reason, by_client: byClient });
      resolve(info);
      for (const h of [...closeHandlers]) {
        try {
          h(info);
        } catch (err) {
          log?.error('realtime close handler threw', { error: scrub(String((err as Error)?.message ?? err), apiKey) });
        }
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onOpen = (): void => {
      opened = true;
      openedAt = Date.now();
      resolve();
    };
    socket.once('open', onOpen);
    void closed.then((info) => {
      if (opened) return;
      socket.off('open', onOpen);
      const detail =
        httpStatus === 401 ? 'HTTP 401: the API key was refused (check the AI engine_key)'
        : httpStatus !== undefined ? `HTTP ${httpStatus}`
        : (socketError ?? `closed with code ${info.code}`);
      const message = `OpenAI Realtime: cannot connect to ${url}: ${detail}`;
      log?.warn('realtime connect failed', { url, status: httpStatus, error: detail });
      reject(new RealtimeConnectError(scrub(message, apiKey), httpStatus));
    });
  });
  log?.info('realtime connected', { url });

  const conn: RealtimeConnection = {
    url,
    model,
    openedAt,
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    send(event) {
      if (socket.readyState !== socket.OPEN) {
        log?.debug('realtime send after close dropped', { type: event.type });
        return;
      }
      rt.send(event);
    },
    on(type, handler) {
      const h = (e: RealtimeServerEvent): void => {
        if (e.type === type) handler(e as RealtimeServerEventOf<typeof type>);
      };
      eventHandlers.add(h);
      return () => eventHandlers.delete(h);
    },
    onEvent(handler) {
      eventHandlers.add(handler);
      return () => eventHandlers.delete(handler);
    },
    onClose(handler) {
      closeHandlers.add(handler);
      return () => closeHandlers.delete(handler);
    },
    closed,
    close(code = 1000, reason = 'OK') {
      if (socket.readyState === socket.CLOSED) return closed;
      byClient = true;
      if (socket.readyState === socket.CLOSING) return closed;
      rt.close({ code, reason });
      // A peer that never answers the close frame must not hold the call: drop it after 5 s.
      const timer = setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS);
      timer.unref();
      void closed.then(() => clearTimeout(timer));
      return closed;
    },
  };
  return conn;
}
