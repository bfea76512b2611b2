/**
 * STT providers by name, the one an AI's `stt_type` asks for, and the one the server uses from
 * the environment.
 */
import { registerSecret } from '../../util/logger.js';
import { CartesiaStt } from './cartesia.js';
import { DeepgramStt } from './deepgram.js';
import { ElevenLabsStt } from './elevenlabs.js';
import { OpenAiStt } from './openai.js';
import { ProviderError, STT_PROVIDER_NAMES } from './types.js';
import type { SttProvider, SttProviderName, SttProviderOptions } from './types.js';

export { ProviderError, STT_PROVIDER_NAMES } from './types.js';
export type {
  ProviderErrorInit,
  SttProvider,
  SttProviderName,
  SttProviderOptions,
  SttStream,
  SttStreamOptions,
  SttTranscript,
} from './types.js';
export { DeepgramStt, DEEPGRAM_DEFAULT_STT_MODEL } from './deepgram.js';
export type { DeepgramSttTuning } from './deepgram.js';
export { OpenAiStt, OPENAI_DEFAULT_STT_MODEL, OPENAI_STT_SAMPLE_RATE_HZ } from './openai.js';
export type { OpenAiSttTuning } from './openai.js';
export { ElevenLabsStt, ELEVENLABS_DEFAULT_STT_MODEL, ELEVENLABS_STT_PCM_RATES } from './elevenlabs.js';
export type { ElevenLabsSttTuning } from './elevenlabs.js';
export { CartesiaStt, CARTESIA_DEFAULT_STT_MODEL, CARTESIA_STT_API_VERSION } from './cartesia.js';
export type { CartesiaSttTuning } from './cartesia.js';

/** The environment variables of each provider: its key and its base URL. */
export const STT_PROVIDER_ENV: Readonly<Record<SttProviderName, { key: string; baseUrl: string }>> = {
  deepgram: { key: 'DEEPGRAM_API_KEY', baseUrl: 'DEEPGRAM_BASE_URL' },
  openai: { key: 'OPENAI_API_KEY', baseUrl: 'OPENAI_BASE_URL' },
  elevenlabs: { key: 'ELEVENLABS_API_KEY', baseUrl: 'ELEVENLABS_BASE_URL' },
  cartesia: { key: 'CARTESIA_API_KEY', baseUrl: 'CARTESIA_BASE_URL' },
};

/** True for a name with an adapter. */
export function isSttProviderName(type: string): type is SttProviderName {
  return (STT_PROVIDER_NAMES as readonly string[]).includes(type);
}

function unsupported(type: string): ProviderError {
  const name = type.trim().toLowerCase();
  return new ProviderError('stt', name || 'unknown', `unknown STT provider "${name}" (supported: ${STT_PROVIDER_NAMES.join(', ')})`, { code: 'unsupported_provider' });
}

/**
 * Creates the adapter for `type` (`deepgram`, `openai`, `elevenlabs`, `cartesia`,
 * case-insensitive); a {@link ProviderError} with code `unsupported_provider` for other names.
 */
export function createSttProvider(type: string, opts: SttProviderOptions): SttProvider {
  const name = type.trim().toLowerCase();
  switch (name) {
    case 'deepgram':
      return new DeepgramStt(opts);
    case 'openai':
      return new OpenAiStt(opts);
    case 'elevenlabs':
      return new ElevenLabsStt(opts);
    case 'cartesia':
      return new CartesiaStt(opts);
    default:
      throw unsupported(type);
  }
}

type Env = Record<string, string | undefined>;

const envValue = (env: Env, name: string): string | undefined => env[name]?.trim() || undefined;

/** Every provider key in `env` joins the redaction list, whichever provider is used. */
function registerKeys(env: Env): void {
  for (const { key } of Object.values(STT_PROVIDER_ENV)) registerSecret(envValue(env, key));
}

/**
 * The adapter an AI's `stt_type` asks for, configured from `env`: key `<PROVIDER>_API_KEY`,
 * base URL `<PROVIDER>_BASE_URL`. Throws a {@link ProviderError} with code `missing_api_key`
 * (naming the variable to set, never a key) when the key is unset, and `unsupported_provider`
 * for a type without an adapter (e.g. `google`).
 */
export function sttProviderForType(type: string, env: Env = process.env): SttProvider {
  registerKeys(env);
  const name = type.trim().toLowerCase();
  if (!isSttProviderName(name)) throw unsupported(type);
  const vars = STT_PROVIDER_ENV[name];
  const apiKey = envValue(env, vars.key);
  if (!apiKey) throw new ProviderError('stt', name, `STT provider "${name}" needs ${vars.key} to be set`, { code: 'missing_api_key' });
  return createSttProvider(name, { apiKey, baseUrl: envValue(env, vars.baseUrl) });
}

/**
 * The provider configured in `env`: Deepgram when `DEEPGRAM_API_KEY` is set (base URL from
 * `DEEPGRAM_BASE_URL`). `VOIPBIN_AI_STT` picks a provider by name (`deepgram`, `openai`,
 * `elevenlabs`, `cartesia`; its key is then required) or turns STT off (`none`, `off`). Returns
 * undefined when no provider is chosen; throws for an unknown `VOIPBIN_AI_STT`. Other keys alone
 * never select their provider: `OPENAI_API_KEY` is usually there for the LLM.
 */
export function sttProviderFromEnv(env: Env = process.env): SttProvider | undefined {
  registerKeys(env);
  const forced = envValue(env, 'VOIPBIN_AI_STT')?.toLowerCase();
  if (forced === 'none' || forced === 'off') return undefined;
  if (forced !== undefined && !isSttProviderName(forced)) {
    throw new Error(`VOIPBIN_AI_STT="${forced}" is not an STT provider (supported: ${STT_PROVIDER_NAMES.join(', ')}, none)`);
  }
  const name: SttProviderName = forced ?? 'deepgram';
  const vars = STT_PROVIDER_ENV[name];
  const apiKey = envValue(env, vars.key);
  if (forced && !apiKey) throw new Error(`VOIPBIN_AI_STT=${forced} needs ${vars.key}`);
  if (!apiKey) return undefined;
  return createSttProvider(name, { apiKey, baseUrl: envValue(env, vars.baseUrl) });
}
