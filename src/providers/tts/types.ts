/**
 * Text-to-speech provider contract: an adapter turns text into a stream of 16-bit mono PCM at a
 * fixed rate ({@link TtsProvider.sampleRateHz}); the caller re-frames and resamples (statefully).
 *
 * Adapters speak each provider's real wire protocol against a configurable base URL, so tests run
 * them against loopback fakes of the same protocol.
 */
import type { ProviderError } from '../errors.js';

/** The providers with an adapter. */
export type TtsProviderName = 'openai' | 'elevenlabs' | 'deepgram';

/** The supported provider names, in the order `ttsProviderFromEnv` prefers them. */
export const TTS_PROVIDER_NAMES: readonly TtsProviderName[] = ['elevenlabs', 'openai', 'deepgram'];

export interface TtsRequest {
  text: string;
  /** Provider voice id; overrides every default. */
  voiceId?: string;
  /** BCP-47 or ISO 639-1 language of `text` (e.g. `en-US`, `ja`). */
  language?: string;
  /** 'male'|'female'|'neutral': picks a built-in voice when no voice is configured. */
  gender?: string;
  /** Aborting stops the request at once; the stream then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

export interface TtsProvider {
  readonly name: TtsProviderName;
  /** Rate of the PCM the stream yields. */
  readonly sampleRateHz: number;
  /**
   * Streams 16-bit mono PCM chunks as they arrive (any chunk size; the caller re-frames and
   * resamples). Rejects with {@link ProviderError} on HTTP errors, network errors and timeouts, and
   * with `signal.reason` (an `AbortError` by default) when `req.signal` aborts. Ending the
   * iteration early (`break`) cancels the request.
   */
  synthesize(req: TtsRequest): AsyncIterable<Int16Array>;
}

export interface TtsProviderOptions {
  apiKey: string;
  /** Provider API root (defaults: `https://api.openai.com/v1`, `https://api.elevenlabs.io`, `https://api.deepgram.com`). */
  baseUrl?: string;
  /** Model id (openai `gpt-4o-mini-tts`, elevenlabs `eleven_flash_v2_5`; for deepgram the model is the voice). */
  model?: string;
  /** Voice used when a request names none (beats the language/gender tables). */
  defaultVoiceId?: string;
  /** PCM rate to request (openai: 24000 only; elevenlabs and deepgram: 16000 by default). */
  sampleRateHz?: number;
  /**
   * Longest wait for the response headers and then between two body chunks, in ms (default
   * 15000). Synthesis of a long text may take longer in total; only a stalled stream times out.
   */
  timeoutMs?: number;
}

export { ProviderError } from '../errors.js';
export type { ProviderErrorInit } from '../errors.js';
