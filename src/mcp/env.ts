/** The environment variables the MCP tools read keys from, checked once at start. */
import { PROVIDER_KEY_ENV } from '../catalog/ai.js';
import { assertNoUnexpanded } from '../config.js';
import { registerSecret } from '../util/logger.js';

/** Every provider key variable `create_ai` / `update_ai` may read by default. */
export const PROVIDER_KEY_ENV_NAMES: readonly string[] = [...new Set(Object.values(PROVIDER_KEY_ENV))];

/**
 * Rejects provider key variables that hold an unexpanded `${VAR}` (ConfigError with a clear
 * message) and registers the others as secrets, so no log line can show them.
 */
export function checkProviderKeyEnv(env: Readonly<Record<string, string | undefined>>): void {
  assertNoUnexpanded(env, PROVIDER_KEY_ENV_NAMES);
  for (const name of PROVIDER_KEY_ENV_NAMES) registerSecret(env[name]);
}
