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

/**
 * Starts the main job: the local VoIPBIN API on SQLite (plus whatever `extend` adds) on
 * `config.host:config.port`. Shared by the CLI and the tests, so tests run what users run.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const store = SqliteStore.open(config.dbPath);
  const ctx: LocalContext = {
    store,
    logger,
    prices: opts.prices ?? DEFAULT_PRICES,
    internalToken: randomBytes(32).toString('hex'),
  };
  let localCustomerId: string | undefined;
  let newLocalKey: string | undefined;
  try {
    const local = await ensureLocalCustomer(store, {
      pinnedKey: config.localAccessKey,
      initialBalanceCredit: config.initialBalanceCredit,
    });
    localCustomerId = local.customerId;
    newLocalKey = local.newToken;
    // Providers come from the environment unless a caller (tests) passes its own.
    const engine = new LocalCallEngine(ctx, {
      ...opts.engine,
      tts: opts.engine?.tts ?? ttsProviderFromEnv(process.env),
      stt: opts.engine?.stt ?? sttProviderFromEnv(process.env),
      summaryLlm: opts.engine?.summaryLlm ?? summaryLlmFromEnv(process.env),
    });
    const app = createLocalApi(ctx);
    engine.attachApi(app);
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
      store,
      ctx,
      engine,
      url: `http://${host}:${port}`,
      localCustomerId,
      newLocalKey,
      async close() {
        if (closed) return;
        closed = true;
        await engine.shutdown();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
