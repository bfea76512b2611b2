/**
 * TTS providers by name: the adapters, the one the server uses from the environment, and the
 * builders for an AI's `tts_type` (whole-text and text-streaming).
 */
import { registerSecret } from '../../util/logger.js';
import { CartesiaWsTts } from './cartesia-ws.js';
import type { CartesiaWsOptions } from './cartesia-ws.js';
import { DeepgramTts } from './deepgram.js';
import { DeepgramWsTts } from './deepgram-ws.js';
import type { DeepgramWsOptions } from './deepgram-ws.js';
import { ElevenLabsTts } from './elevenlabs.js';
import { ElevenLabsWsTts } from './elevenlabs-ws.js';
import type { ElevenLabsWsOptions } from './elevenlabs-ws.js';
import { OpenAiTts } from './openai.js';
import { ProviderError, TTS_PROVIDER_NAMES } from './types.js';
import type { StreamingTtsProvider, TtsProvider, TtsProviderName, TtsProviderOptions } from './types.js';

export { ProviderError, TTS_PROVIDER_NAMES } from './types.js';
export type { ProviderErrorInit, TtsProvider, TtsProviderName, TtsProviderOptions, TtsRequest } from './types.js';
export { CartesiaWsTts } from './cartesia-ws.js';
export type { CartesiaWsOptions } from './cartesia-ws.js';
export { DeepgramTts } from './deepgram.js';
export { DeepgramWsTts } from './deepgram-ws.js';
export type { DeepgramWsOptions } from './deepgram-ws.js';
export { ElevenLabsTts } from './elevenlabs.js';
export { ElevenLabsWsTts } from './elevenlabs-ws.js';
export type { ElevenLabsWsOptions } from './elevenlabs-ws.js';
export type { StreamingTtsProvider, StreamingTtsProviderOptions, TtsTextStream, TtsTextStreamRequest } from './types.js';
export { OpenAiTts } from './openai.js';
export { DEFAULT_VOICE_BY_TTS_TYPE, ELEVENLABS_VOICE_VARIABLE, resolveVoice } from './voices.js';
export type { VoiceChoice, VoiceGender } from './voices.js';

/** Provider names that take their text as a stream. */
export const STREAMING_TTS_PROVIDER_NAMES: readonly TtsProviderName[] = ['elevenlabs', 'cartesia', 'deepgram'];

/** Options of {@link createStreamingTtsProvider}: each adapter reads the ones it knows. */
export type StreamingTtsOptions = ElevenLabsWsOptions & CartesiaWsOptions & DeepgramWsOptions;

/** True for a name with an adapter. */
export function isTtsProviderName(type: string): type is TtsProviderName {
  return (TTS_PROVIDER_NAMES as readonly string[]).includes(type);
}

/**
 * Creates the adapter for `type` (`openai`, `elevenlabs`, `deepgram`, `cartesia`,
 * case-insensitive); cartesia's adapter speaks each text over its WebSocket. Throws a
 * {@link ProviderError} `unsupported_provider` for any other type.
 */
export function createTtsProvider(type: string, opts: TtsProviderOptions): TtsProvider {
  const name = type.trim().toLowerCase();
  switch (name) {
    case 'openai':
      return new OpenAiTts(opts);
    case 'elevenlabs':
      return new ElevenLabsTts(opts);
    case 'deepgram':
      return new DeepgramTts(opts);
    case 'cartesia':
      return new CartesiaWsTts(opts);
    default:
      throw new ProviderError('tts', name, `unknown TTS provider "${type}" (supported: ${TTS_PROVIDER_NAMES.join(', ')})`, { code: 'unsupported_provider' });
  }
}

/** The env variables of each provider. */
const ENV: Record<TtsProviderName, { key: string; baseUrl: string }> = {
  elevenlabs: { key: 'ELEVENLABS_API_KEY', baseUrl: 'ELEVENLABS_BASE_URL' },
  openai: { key: 'OPENAI_API_KEY', baseUrl: 'OPENAI_BASE_URL' },
  deepgram: { key: 'DEEPGRAM_API_KEY', baseUrl: 'DEEPGRAM_BASE_URL' },
  cartesia: { key: 'CARTESIA_API_KEY', baseUrl: 'CARTESIA_BASE_URL' },
};

type Env = Record<string, string | undefined>;

/** A trimmed env value, or undefined when unset or blank. */
function envValue(env: Env, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

/** Registers every provider key in `env` as a secret, so no log line can show one. */
function registerEnvSecrets(env: Env): void {
  for (const { key } of Object.values(ENV)) registerSecret(envValue(env, key));
}

/**
 * The provider configured in `env`: the first of `ELEVENLABS_API_KEY`, `OPENAI_API_KEY`,
 * `DEEPGRAM_API_KEY`, `CARTESIA_API_KEY` that is set, or the one `VOIPBIN_AI_TTS` names (`none`
 * turns TTS off). Base URLs come from `<PROVIDER>_BASE_URL` (`ELEVENLABS_BASE_URL`, ...).
 * Returns undefined when no key is set; throws when `VOIPBIN_AI_TTS` is unknown or names a
 * provider whose key is missing.
 */
export function ttsProviderFromEnv(env: Env = process.env): TtsProvider | undefined {
  const value = (name: string): string | undefined => envValue(env, name);
  registerEnvSecrets(env);

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

/**
 * Creates the text-streaming adapter for `type` (`elevenlabs`, `cartesia`, `deepgram`,
 * case-insensitive). Throws a {@link ProviderError} `unsupported_provider` for any other type
 * (openai's speech endpoint takes whole texts only).
 */
export function createStreamingTtsProvider(type: string, opts: StreamingTtsOptions): StreamingTtsProvider {
  const name = type.trim().toLowerCase();
  switch (name) {
    case 'elevenlabs':
      return new ElevenLabsWsTts(opts);
    case 'cartesia':
      return new CartesiaWsTts(opts);
    case 'deepgram':
      return new DeepgramWsTts(opts);
    default:
      throw new ProviderError('tts', name, `no text-streaming TTS adapter for "${type}" (supported: ${STREAMING_TTS_PROVIDER_NAMES.join(', ')})`, {
        code: 'unsupported_provider',
      });
  }
}

/** The adapter name and its key and base URL from `env`; throws for an unknown type or a missing key. */
function envConfigFor(type: string, env: Env): { name: TtsProviderName; apiKey: string; baseUrl: string | undefined } {
  registerEnvSecrets(env);
  const name = type.trim().toLowerCase();
  if (!isTtsProviderName(name)) {
    throw new ProviderError('tts', name, `tts_type "${type}" has no adapter here (supported: ${TTS_PROVIDER_NAMES.join(', ')})`, { code: 'unsupported_provider' });
  }
  const apiKey = envValue(env, ENV[name].key);
  if (!apiKey) throw new ProviderError('tts', name, `${name} TTS needs ${ENV[name].key}`, { code: 'missing_api_key' });
  return { name, apiKey, baseUrl: envValue(env, ENV[name].baseUrl) };
}

/**
 * The whole-text adapter for an AI's `tts_type`, configured from `env` (`<PROVIDER>_API_KEY`,
 * `<PROVIDER>_BASE_URL`). Throws a {@link ProviderError}: `unsupported_provider` for a type with no
 * adapter (aws, azure, google, ...), `missing_api_key` naming the variable when its key is unset.
 */
export function ttsProviderForType(type: string, env: Env = process.env): TtsProvider {
  const { name, apiKey, baseUrl } = envConfigFor(type, env);
  return createTtsProvider(name, { apiKey, baseUrl });
}

/**
 * The text-streaming adapter for an AI's `tts_type`, configured from `env` like
 * {@link ttsProviderForType}; undefined for openai, which has no streamed text input (the caller
 * then speaks whole sentences with {@link ttsProviderForType}). Throws as that one does.
 */
export function streamingTtsProviderForType(type: string, env: Env = process.env): StreamingTtsProvider | undefined {
  const name = type.trim().toLowerCase();
  // Known but whole-text only: no key is needed to learn that.
  if (isTtsProviderName(name) && !STREAMING_TTS_PROVIDER_NAMES.includes(name)) {
    registerEnvSecrets(env);
    return undefined;
  }
  const { apiKey, baseUrl } = envConfigFor(name, env);
  return createStreamingTtsProvider(name, { apiKey, baseUrl });
}
