/** The environment variables the MCP tools read keys from, checked once at start. */
import { PROVIDER_KEY_ENV } from '../catalog/ai.js';
import { assertNoUnexpanded } from '../config.js';
import { registerSecret } from '../util/logger.js';

/** Every provider key variable `create_ai` / `update_ai` may read by default. */
export const PROVIDER_KEY_ENV_NAMES: readonly string[] = [...new Set(Object.values(PROVIDER_KEY_ENV))];

/** The operator's list of further variables `engine_key_env` may name (comma-separated). */
export const ENGINE_KEY_ENV_ALLOW = 'MCP_ENGINE_KEY_ENV_ALLOW';

/**
 * The variables `engine_key_env` may name: the catalog's provider key variables plus those the
 * operator lists in MCP_ENGINE_KEY_ENV_ALLOW. Any other variable of the server process (say
 * GITHUB_TOKEN) is refused: otherwise whoever can call `create_ai` could attach it to an AI as
 * its LLM key and have it sent to an LLM endpoint.
 */
export function allowedEngineKeyEnvNames(env: Readonly<Record<string, string | undefined>>): readonly string[] {
  const extra = (env[ENGINE_KEY_ENV_ALLOW] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s));
  return [...new Set([...PROVIDER_KEY_ENV_NAMES, ...extra])];
}

/**
 * Rejects key variables (the provider ones and the operator's allowed ones) that hold an
 * unexpanded `${VAR}` (ConfigError with a clear message) and registers the others as secrets,
 * so no log line can show them.
 */
export function checkProviderKeyEnv(env: Readonly<Record<string, string | undefined>>): void {
  const names = allowedEngineKeyEnvNames(env);
  assertNoUnexpanded(env, names);
  for (const name of names) registerSecret(env[name]);
}
