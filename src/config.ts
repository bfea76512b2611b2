import { z } from 'zod';
import { join } from 'node:path';
import { packageRoot } from './util/paths.js';

/**
 * Environment → typed configuration. Every setting the process reads is here, so the README's
 * table and the code cannot drift apart.
 */

const UNEXPANDED_RE = /^\$\{[^}]*\}$|^\$[A-Z_][A-Z0-9_]*$/;

/** Env names whose values are secrets (registered for log redaction, never echoed in errors). */
export const SECRET_ENV_NAMES = [
  'VOIPBIN_ACCESSKEY',
  'VOIPBIN_LOCAL_ACCESSKEY',
  'MCP_HTTP_TOKEN',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'DEEPGRAM_API_KEY',
  'ELEVENLABS_API_KEY',
] as const;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const ConfigSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  VOIPBIN_AI_DB: optionalString,
  VOIPBIN_API_URL: optionalString,
  VOIPBIN_ACCESSKEY: optionalString,
  VOIPBIN_LOCAL_ACCESSKEY: optionalString,
  VOIPBIN_LOCAL_INITIAL_BALANCE: z.coerce.number().int().min(0).default(100_000),
  MCP_HTTP_TOKEN: optionalString,
  CARRIER_DEFAULT_NUMBER: optionalString,
  MCP_ALLOWED_HOSTS: optionalString,
  MCP_HTTP_MAX_SESSIONS_PER_TOKEN: z.coerce.number().int().min(1).max(10_000).default(20),
  MCP_HTTP_SESSION_IDLE_MS: z.coerce.number().int().min(1_000).max(2 ** 31 - 1).default(30 * 60_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

/** The parsed configuration. */
export interface Config {
  host: string;
  port: number;
  dbPath: string;
  /** Remote VoIPBIN (`https://api.voipbin.net/v1.0`); undefined = the embedded local API. */
  apiUrl?: string;
  accessKey?: string;
  /** Pins the local customer's access key (tests, scripts). */
  localAccessKey?: string;
  /** Credits a new local customer starts with. */
  initialBalanceCredit: number;
  /** Extra bearer token accepted by `/mcp` (besides local access keys). */
  mcpHttpToken?: string;
  /** Extra Host header values `/mcp` accepts (comma-separated in env). */
  mcpAllowedHosts: string[];
  /** Most MCP HTTP sessions one bearer token may hold open at once (beyond it: 429). */
  mcpHttpMaxSessionsPerToken: number;
  /** An MCP HTTP session unused for this long is closed. */
  mcpHttpSessionIdleMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** The local number a carrier stream reaches when its `customParameters` name none. */
  carrierDefaultNumber?: string;
}

/** A configuration error with a message fit for a person starting the program. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Rejects values that look like an unexpanded `${VAR}`: MCP hosts pass `env` blocks through
 * literally when a user forgets to define the variable, and such a value must never be
 * mistaken for a key.
 */
export function assertNoUnexpanded(env: Record<string, string | undefined>, names: readonly string[]): void {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && UNEXPANDED_RE.test(v.trim())) {
      throw new ConfigError(
        `${name} is set to the literal text ${JSON.stringify(v.trim())}, an unexpanded variable reference. ` +
          `Set ${name} to the real value, or remove it from the environment (or the "env" block of your MCP client config).`,
      );
    }
  }
}

/** Reads the configuration from `env` (default `process.env`). Throws {@link ConfigError}. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  assertNoUnexpanded(env, [...Object.keys(ConfigSchema.shape), ...SECRET_ENV_NAMES]);
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // Never echo the value: it may be a secret.
    throw new ConfigError(`invalid ${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  if (e.VOIPBIN_API_URL && !e.VOIPBIN_ACCESSKEY) {
    throw new ConfigError('VOIPBIN_API_URL is set but VOIPBIN_ACCESSKEY is not: the remote API needs an access key.');
  }
  return {
    host: e.HOST,
    port: e.PORT,
    dbPath: e.VOIPBIN_AI_DB ?? join(packageRoot(), 'data', 'voipbin-ai.db'),
    apiUrl: e.VOIPBIN_API_URL ?? (e.VOIPBIN_ACCESSKEY ? 'https://api.voipbin.net/v1.0' : undefined),
    accessKey: e.VOIPBIN_ACCESSKEY,
    localAccessKey: e.VOIPBIN_LOCAL_ACCESSKEY,
    initialBalanceCredit: e.VOIPBIN_LOCAL_INITIAL_BALANCE,
    mcpHttpToken: e.MCP_HTTP_TOKEN,
    mcpAllowedHosts: (e.MCP_ALLOWED_HOSTS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    mcpHttpMaxSessionsPerToken: e.MCP_HTTP_MAX_SESSIONS_PER_TOKEN,
    mcpHttpSessionIdleMs: e.MCP_HTTP_SESSION_IDLE_MS,
    logLevel: e.LOG_LEVEL,
    carrierDefaultNumber: e.CARRIER_DEFAULT_NUMBER,
  };
}
