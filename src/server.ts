import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { SqliteStore } from '../db/sqlite-store.js';
import type { Store } from '../db/store.js';
import { createLocalApi } from './local/app.js';
import { DEFAULT_PRICES } from './local/context.js';
import type { LocalContext, Prices } from './local/context.js';
import { ensureLocalCustomer } from './local/customers.js';
import { createLogger } from './util/logger.js';
import { LocalCallEngine } from './local/engine/engine.js';
import type { EngineOptions } from './local/engine/engine.js';
import { attachWebSocketRoutes } from './local/ws/upgrade.js';
import type { WsRoute } from './local/ws/upgrade.js';
import { phoneRoute } from './local/ws/phone.js';
import { mediaStreamRoute } from './local/ws/media-stream.js';
import { carrierRoute } from './local/ws/carrier.js';
import { ttsProviderFromEnv } from './providers/tts/index.js';
import { summaryLlmFromEnv } from './local/summaries.js';
import { sttProviderFromEnv } from './providers/stt/index.js';
import type { Logger } from './util/logger.js';

/** A running `voipbin-ai serve`. */
export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  ctx: LocalContext;
  /** The local call engine (phones, media, flows). */
  engine: LocalCallEngine;
  /** `http://host:port` the server listens on. */
  url: string;
  /** The local customer's id (local mode). */
  localCustomerId?: string;
  /** The local access key, only when it was created by this start (print it once). */
  newLocalKey?: string;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  prices?: Prices;
  /** Hooks that add more to the app before it listens (MCP endpoint, media sockets). */
  extend?: (app: FastifyInstance, ctx: LocalContext) => void | Promise<void>;
  /** More WebSocket routes (carrier ingress, ...). */
  wsRoutes?: (ctx: LocalContext, engine: LocalCallEngine) => WsRoute[];
  engine?: EngineOptions;
}

/** The local VoIPBIN assembled but not listening: store, context, call engine and API app. */
export interface LocalPlatform {
  app: FastifyInstance;
  store: Store;
  ctx: LocalContext;
  engine: LocalCallEngine;
  localCustomerId: string;
  /** The local access key, only when it was created by this start (print it once). */
  newLocalKey?: string;
  /** Ends every live call, closes the app and the database. */
  close(): Promise<void>;
}

/**
 * Opens the local VoIPBIN on the SQLite file at `config.dbPath`: makes sure the local customer
 * exists, and builds the context, the call engine (providers from the environment unless given)
 * and the `/v1.0` app. Shared by `serve` (which adds sockets and listens) and `mcp` over stdio
 * (which talks to the app in-process).
 */
export async function openLocalPlatform(config: Config, opts: Pick<StartOptions, 'logger' | 'prices' | 'engine'> = {}): Promise<LocalPlatform> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const store = SqliteStore.open(config.dbPath);
  try {
    const ctx: LocalContext = {
      store,
      logger,
      prices: opts.prices ?? DEFAULT_PRICES,
      internalToken: randomBytes(32).toString('hex'),
    };
    const local = await ensureLocalCustomer(store, {
      pinnedKey: config.localAccessKey,
      initialBalanceCredit: config.initialBalanceCredit,
    });
    const engine = new LocalCallEngine(ctx, {
      ...opts.engine,
      tts: opts.engine?.tts ?? ttsProviderFromEnv(process.env),
      stt: opts.engine?.stt ?? sttProviderFromEnv(process.env),
      summaryLlm: opts.engine?.summaryLlm ?? summaryLlmFromEnv(process.env),
    });
    const app = createLocalApi(ctx);
    engine.attachApi(app);
    return {
      app,
      store,
      ctx,
      engine,
      localCustomerId: local.customerId,
      newLocalKey: local.newToken,
      async close() {
        await engine.shutdown();
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Starts the main job: the local VoIPBIN API on SQLite, its WebSockets (local phones,
 * media streams, carrier streams) and whatever `extend` adds, on `config.host:config.port`.
 * Shared by the CLI and the tests, so tests run what users run.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const platform = await openLocalPlatform(config, opts);
  const { app, ctx, engine } = platform;
  try {
    const wss = attachWebSocketRoutes(app.server, ctx, [
      phoneRoute(ctx, engine),
      mediaStreamRoute(ctx, engine),
      carrierRoute(ctx, engine, config.carrierDefaultNumber),
      ...(opts.wsRoutes?.(ctx, engine) ?? []),
    ]);
    await opts.extend?.(app, ctx);
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closed = false;
    return {
      app,
      store: platform.store,
      ctx,
      engine,
      url: `http://${host}:${port}`,
      localCustomerId: platform.localCustomerId,
      newLocalKey: platform.newLocalKey,
      async close() {
        if (closed) return;
        closed = true;
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        await platform.close();
      },
    };
  } catch (err) {
    await platform.close();
    throw err;
  }
}
