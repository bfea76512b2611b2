/**
 * TTS providers by name, and the one the server uses from the environment.
 */
import { registerSecret } from '../../util/logger.js';
import { DeepgramTts } from './deepgram.js';
import { ElevenLabsTts } from './elevenlabs.js';
import { ElevenLabsWsTts } from './elevenlabs-ws.js';
import type { ElevenLabsWsOptions } from './elevenlabs-ws.js';
import type { StreamingTtsProvider } from './types.js';
import { OpenAiTts } from './openai.js';
import { TTS_PROVIDER_NAMES } from './types.js';
import type { TtsProvider, TtsProviderName, TtsProviderOptions } from './types.js';

export { ProviderError, TTS_PROVIDER_NAMES } from './types.js';
export type { ProviderErrorInit, TtsProvider, TtsProviderName, TtsProviderOptions, TtsRequest } from './types.js';
export { DeepgramTts } from './deepgram.js';
export { ElevenLabsTts } from './elevenlabs.js';
export { ElevenLabsWsTts } from './elevenlabs-ws.js';
export type { ElevenLabsWsOptions } from './elevenlabs-ws.js';
export type { StreamingTtsProvider, TtsTextStream, TtsTextStreamRequest } from './types.js';
export { OpenAiTts } from './openai.js';

/** True for a name with an adapter. */
export function isTtsProviderName(type: string): type is TtsProviderName {
  return (TTS_PROVIDER_NAMES as readonly string[]).includes(type);
}

/** Creates the adapter for `type` (`openai`, `elevenlabs`, `deepgram`, case-insensitive). */
export function createTtsProvider(type: string, opts: TtsProviderOptions): TtsProvider {
  const name = type.trim().toLowerCase();
  switch (name) {
    case 'openai':
      return new OpenAiTts(opts);
    case 'elevenlabs':
      return new ElevenLabsTts(opts);
    case 'deepgram':
      return new DeepgramTts(opts);
    default:
      throw new Error(`unknown TTS provider "${type}" (supported: ${TTS_PROVIDER_NAMES.join(', ')})`);
  }
}

/** The env variables of each provider. */
const ENV: Record<TtsProviderName, { key: string; baseUrl: string }> = {
  elevenlabs: { key: 'ELEVENLABS_API_KEY', baseUrl: 'ELEVENLABS_BASE_URL' },
  openai: { key: 'OPENAI_API_KEY', baseUrl: 'OPENAI_BASE_URL' },
  deepgram: { key: 'DEEPGRAM_API_KEY', baseUrl: 'DEEPGRAM_BASE_URL' },
};

/**
 * The provider configured in `env`: the first of `ELEVENLABS_API_KEY`, `OPENAI_API_KEY`,
 * `DEEPGRAM_API_KEY` that is set, or the one `VOIPBIN_AI_TTS` names (`none` turns TTS off).
 * Base URLs come from `ELEVENLABS_BASE_URL`, `OPENAI_BASE_URL`, `DEEPGRAM_BASE_URL`.
 * Returns undefined when no key is set; throws when `VOIPBIN_AI_TTS` is unknown or names a
 * provider whose key is missing.
 */
export function ttsProviderFromEnv(env: Record<string, string | undefined> = process.env): TtsProvider | undefined {
  const value = (name: string): string | undefined => env[name]?.trim() || undefined;
  for (const { key } of Object.values(ENV)) registerSecret(value(key));

  const forced = value('VOIPBIN_AI_TTS')?.toLowerCase();
  let name: TtsProviderName | undefined;
  if (forced === 'none' || forced === 'off') return undefined;
  if (forced) {
    if (!isTtsProviderName(forced)) {
      throw new Error(`VOIPBIN_AI_TTS="${forced}" is not a TTS provider (supported: ${TTS_PROVIDER_NAMES.join(', ')}, none)`);
    }
    if (!value(ENV[forced].key)) throw new Error(`VOIPBIN_AI_TTS=${forced} needs ${ENV[forced].key}`);
    name = forced;
  } else {
    name = TTS_PROVIDER_NAMES.find((n) => value(ENV[n].key));
  }
  if (!name) return undefined;
  return createTtsProvider(name, { apiKey: value(ENV[name].key)!, baseUrl: value(ENV[name].baseUrl) });
}

/** Creates the text-streaming adapter for `type` (only `elevenlabs` has one, case-insensitive). */
export function createStreamingTtsProvider(type: string, opts: ElevenLabsWsOptions): StreamingTtsProvider {
  const name = type.trim().toLowerCase();
  if (name === 'elevenlabs') return new ElevenLabsWsTts(opts);
  throw new Error(`no text-streaming TTS adapter for "${type}" (supported: elevenlabs)`);
}
