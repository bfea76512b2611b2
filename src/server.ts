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
import { recoverInterruptedWork } from './local/recovery.js';
import { claimDatabase } from './local/discovery.js';
import type { DatabaseClaim, OwnerRole } from './local/discovery.js';
import { closeWith } from './local/ws/upgrade.js';
import type { WebSocketServer } from 'ws';
import { KeySessions } from './local/key-sessions.js';
import { AgentRegistry } from '../streams/agents/registry.js';
import { externalAgent, isExternalAgentConfig } from '../streams/agents/external/index.js';
import { GatewayMetrics, withSessionMetrics } from './metrics/gateway-metrics.js';
import { registerMetricsRoute } from './metrics/http.js';
import { isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../streams/agents/openai-realtime/agent.js';
import { GatewaySessions, registerGatewayRoutes } from './gateway/index.js';
import { isPipelineConfig, pipelineAgent } from '../streams/agents/pipeline/agent.js';
import type { PipelineParts } from '../streams/agents/pipeline/agent.js';
import { EchoGate, VoiceActivityDetector, vadConfigFrom } from '../streams/agents/pipeline/vad/index.js';
import { llmProviderFromEnv } from './providers/llm/index.js';
import { sttProviderForType } from './providers/stt/index.js';
import { streamingTtsProviderForType, ttsProviderForType } from './providers/tts/index.js';

/** A running `voipbin-ai serve`. */
export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  ctx: LocalContext;
  /** The local call engine (phones, media, flows). */
  engine: LocalCallEngine;
  /** The gateway's metrics (Prometheus, served at `/metrics`). */
  metrics: GatewayMetrics;
  /** Agent sessions on calls of the remote VoIPBIN (`/v1.0/gateway/sessions`; available with VOIPBIN_API_URL). */
  gateway: GatewaySessions;
  /** `http://host:port` the server listens on. */
  url: string;
  /** The local customer's id (local mode). */
  localCustomerId?: string;
  /** The local access key, only when it was created by this start (print it once). */
  newLocalKey?: string;
  /** The discovery file that makes this the one live engine of its database (see src/local/discovery.ts). */
  discoveryFile?: string;
  /**
   * Shuts down in order: ends every live call first (phones get `hangup`, media and carrier
   * streams close 1001 "server shutting down"), then closes the remaining sockets (1001), the
   * app and the database, and removes the discovery file. Idempotent.
   */
  close(): Promise<void>;
}

/** Parts of the platform an `extend` hook may hand to what it mounts (the composition root wires them). */
export interface ServerParts {
  /** The gateway sessions on calls of a remote VoIPBIN (the MCP tools start them too). */
  gateway: GatewaySessions;
}

export interface StartOptions {
  logger?: Logger;
  prices?: Prices;
  /** Hooks that add more to the app before it listens (MCP endpoint, media sockets). */
  extend?: (app: FastifyInstance, ctx: LocalContext, parts: ServerParts) => void | Promise<void>;
  /** More WebSocket routes (carrier ingress, ...). */
  wsRoutes?: (ctx: LocalContext, engine: LocalCallEngine) => WsRoute[];
  engine?: EngineOptions;
  /** Which command runs this server; written into the discovery file (default `serve`). */
  role?: OwnerRole;
  /** When `config.port` is taken, listen on a free port instead of failing (`mcp` does). */
  fallbackToFreePort?: boolean;
}

/**
 * The agents this process runs (local ai_talk / ai actions and gateway sessions on remote calls),
 * chosen by the AI configuration (the first match wins).
 */
export function defaultAgentRegistry(logger: Logger, env: Record<string, string | undefined> = process.env): AgentRegistry {
  return (
    new AgentRegistry()
      // OpenAI Realtime models: the AI's engine_key (OPENAI_API_KEY only when it has none), OPENAI_BASE_URL.
      .register(
        isOpenAIRealtimeConfig,
        openAIRealtimeAgent({ baseUrl: env.OPENAI_BASE_URL?.trim() || undefined, fallbackApiKey: env.OPENAI_API_KEY, logger }),
      )
      .register(isExternalAgentConfig, externalAgent({ logger }))
      // Every other <provider>.<model>: the built-in VAD → STT → LLM → TTS pipeline.
      .register(isPipelineConfig, pipelineAgent(pipelineParts(logger, env)))
  );
}

/**
 * The built-in pipeline's providers for an AI configuration: the LLM of `engine_model` with the
 * AI's `engine_key` (else the provider's key variable) and `<PROVIDER>_BASE_URL`; the STT of
 * `stt_type` and the TTS of `tts_type` (its text-streaming WebSocket where it has one) with the server's keys (`DEEPGRAM_API_KEY`, ...); the Silero
 * VAD with its energy gate, configured by `vad_config`; and the echo gate.
 */
export function pipelineParts(logger: Logger, env: Record<string, string | undefined> = process.env): PipelineParts {
  return {
    llm: (c) => llmProviderFromEnv(c.engine_model, env, { apiKey: c.engine_key }),
    stt: (c) => sttProviderForType(c.stt_type || 'deepgram', env),
    tts: (c) => ttsProviderForType(c.tts_type || 'elevenlabs', env),
    // ElevenLabs, Cartesia and Deepgram take the text over a WebSocket (no request per sentence).
    streamingTts: (c) => streamingTtsProviderForType(c.tts_type || 'elevenlabs', env),
    vad: (c) => {
      const v = vadConfigFrom(c.vad_config);
      return new VoiceActivityDetector({ confidence: v.confidence, startSecs: v.startSecs, stopSecs: v.stopSecs, minVolume: v.minVolume });
    },
    echo: () => new EchoGate(),
    logger,
  };
}

/** The local VoIPBIN assembled but not listening: store, context, call engine and API app. */
export interface LocalPlatform {
  app: FastifyInstance;
  store: Store;
  ctx: LocalContext;
  engine: LocalCallEngine;
  /** The gateway's metrics (served at `/metrics`; each AI call stores its conversation's summary). */
  metrics: GatewayMetrics;
  /** Agent sessions on calls of the remote VoIPBIN (see src/gateway/). */
  gateway: GatewaySessions;
  localCustomerId: string;
  /** The local access key, only when it was created by this start (print it once). */
  newLocalKey?: string;
  /** Ends every live call, closes the app and the database. */
  close(): Promise<void>;
}

/**
 * Opens the local VoIPBIN on the SQLite file at `config.dbPath`: makes sure the local customer
 * exists, and builds the context, the call engine (providers from the environment unless given)
 * and the `/v1.0` app, after ending what a previous process left unfinished (src/local/recovery.ts).
 * Used by {@link startServer}, which first claims the database: call it only in the process that
 * owns the database, or the recovery would end another process's live calls.
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
      keySessions: new KeySessions({ logger }),
    };
    // Per-turn and per-call metrics, one registry per server (src/metrics/).
    const metrics = new GatewayMetrics();
    const local = await ensureLocalCustomer(store, {
      pinnedKey: config.localAccessKey,
      initialBalanceCredit: config.initialBalanceCredit,
    });
    // Before the engine runs anything: what a killed process left live is over.
    await recoverInterruptedWork(store, logger);
    const engine = new LocalCallEngine(ctx, {
      ...opts.engine,
      tts: opts.engine?.tts ?? ttsProviderFromEnv(process.env),
      ttsFor: opts.engine?.ttsFor ?? ((type) => ttsProviderForType(type, process.env)),
      stt: opts.engine?.stt ?? sttProviderFromEnv(process.env),
      summaryLlm: opts.engine?.summaryLlm ?? summaryLlmFromEnv(process.env),
      // The agents of ai_talk / ai, chosen by the AI configuration (the first match wins).
      agents: opts.engine?.agents ?? defaultAgentRegistry(logger),
      // Every AI conversation feeds the metrics (and the caller's own observer, if any).
      sessionObserver: withSessionMetrics(metrics, opts.engine?.sessionObserver),
      conversationSummary: (aicallId) => metrics.finish(aicallId),
    });
    // The composition root wires the API's seam to the engine (the engine holds no back-reference).
    ctx.engine = engine;
    const app = createLocalApi(ctx);
    // Sessions on calls of a remote VoIPBIN: the same agents and metrics as the local engine's.
    const gateway = new GatewaySessions({
      apiUrl: config.apiUrl,
      accessKey: config.accessKey,
      agents: engine.agents,
      logger,
      sessionObserver: withSessionMetrics(metrics),
      conversationSummary: (aicallId) => metrics.finish(aicallId),
    });
    registerGatewayRoutes(app, ctx, gateway);
    registerMetricsRoute(app, ctx, config, metrics, { localCustomerId: local.customerId });
    engine.attachApi(app);
    return {
      app,
      store,
      ctx,
      engine,
      metrics,
      gateway,
      localCustomerId: local.customerId,
      newLocalKey: local.newToken,
      async close() {
        await gateway.shutdown();
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
 *
 * One database has one live engine: the server first claims the database with its discovery
 * file (`<db>.serve.json`, see src/local/discovery.ts) and throws DatabaseInUseError, naming the
 * owner's pid and URL, when another live process already runs it.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const claim: DatabaseClaim | undefined =
    config.dbPath === ':memory:' ? undefined : await claimDatabase(config.dbPath, opts.role ?? 'serve', logger);
  let platform: LocalPlatform;
  try {
    platform = await openLocalPlatform(config, { ...opts, logger });
  } catch (err) {
    claim?.release();
    throw err;
  }
  const { app, ctx, engine } = platform;
  let wss: WebSocketServer | undefined;
  try {
    wss = attachWebSocketRoutes(app.server, ctx, [
      phoneRoute(ctx, engine),
      mediaStreamRoute(ctx, engine),
      carrierRoute(ctx, engine, config.carrierDefaultNumber),
      ...(opts.wsRoutes?.(ctx, engine) ?? []),
    ]);
    await opts.extend?.(app, ctx, { gateway: platform.gateway });
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      if (!opts.fallbackToFreePort || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || config.port === 0) throw err;
      logger.warn('port taken; listening on a free port instead', { host: config.host, port: config.port });
      await app.listen({ host: config.host, port: 0 });
    }
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    // Local clients reach a wildcard listener on loopback (the token then never leaves the machine).
    const loopback = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '[::1]' : host;
    claim?.publish({ url: `http://${loopback}:${port}`, customerId: platform.localCustomerId, token: ctx.internalToken! });
    const sockets = wss;
    let closing: Promise<void> | undefined;
    return {
      app,
      store: platform.store,
      ctx,
      engine,
      metrics: platform.metrics,
      gateway: platform.gateway,
      url,
      localCustomerId: platform.localCustomerId,
      newLocalKey: platform.newLocalKey,
      discoveryFile: claim?.path,
      close() {
        closing ??= (async () => {
          try {
            // Calls first, while their sockets are open: each phone gets its `hangup`, each media
            // and carrier stream a 1001 close (engine.shuttingDown), and the rows are written.
            await platform.gateway.shutdown();
            await engine.shutdown();
            // Then every other socket, with a close frame and a reason rather than a reset.
            for (const ws of sockets.clients) closeWith(ws, 1001, 'server shutting down');
            await waitUntil(() => sockets.clients.size === 0, 2000);
            for (const ws of sockets.clients) ws.terminate();
            sockets.close();
            await platform.close();
          } finally {
            claim?.release();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    if (wss) for (const ws of wss.clients) ws.terminate();
    wss?.close();
    await platform.close();
    claim?.release();
    throw err;
  }
}

/** Resolves once `cond` holds or `timeoutMs` has passed (polling every 20 ms). */
async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
