/**
 * STT providers by name, and the one the server uses from the environment.
 */
import { registerSecret } from '../../util/logger.js';
import { DeepgramStt } from './deepgram.js';
import { STT_PROVIDER_NAMES } from './types.js';
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

/** True for a name with an adapter. */
export function isSttProviderName(type: string): type is SttProviderName {
  return (STT_PROVIDER_NAMES as readonly string[]).includes(type);
}

/** Creates the adapter for `type` (`deepgram`, case-insensitive). */
export function createSttProvider(type: string, opts: SttProviderOptions): SttProvider {
  const name = type.trim().toLowerCase();
  switch (name) {
    case 'deepgram':
      return new DeepgramStt(opts);
    default:
      throw new Error(`unknown STT provider "${type}" (supported: ${STT_PROVIDER_NAMES.join(', ')})`);
  }
}

/**
 * The provider configured in `env`: Deepgram when `DEEPGRAM_API_KEY` is set (base URL from
 * `DEEPGRAM_BASE_URL`). `VOIPBIN_AI_STT=none` (or `off`) turns STT off; `VOIPBIN_AI_STT=deepgram`
 * requires the key. Returns undefined when no key is set; throws for an unknown `VOIPBIN_AI_STT`.
 */
export function sttProviderFromEnv(env: Record<string, string | undefined> = process.env): SttProvider | undefined {
  const value = (name: string): string | undefined => env[name]?.trim() || undefined;
  const key = value('DEEPGRAM_API_KEY');
  registerSecret(key);
  const forced = value('VOIPBIN_AI_STT')?.toLowerCase();
  if (forced === 'none' || forced === 'off') return undefined;
  if (forced && !isSttProviderName(forced)) {
    throw new Error(`VOIPBIN_AI_STT="${forced}" is not an STT provider (supported: ${STT_PROVIDER_NAMES.join(', ')}, none)`);
  }
  if (forced && !key) throw new Error(`VOIPBIN_AI_STT=${forced} needs DEEPGRAM_API_KEY`);
  if (!key) return undefined;
  return createSttProvider('deepgram', { apiKey: key, baseUrl: value('DEEPGRAM_BASE_URL') });
}
