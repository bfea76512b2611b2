/**
 * Text-to-speech provider contract: an adapter turns text into a stream of 16-bit mono PCM at a
 * fixed rate ({@link TtsProvider.sampleRateHz}); the caller re-frames and resamples (statefully).
 *
 * Adapters speak each provider's real wire protocol against a configurable base URL, so tests run
 * them against loopback fakes of the same protocol.
 */
import type { ProviderError } from '../errors.js';

/** The providers with an adapter (`tts_type` values; cartesia speaks over its WebSocket only). */
export type TtsProviderName = 'openai' | 'elevenlabs' | 'deepgram' | 'cartesia';

/** The supported provider names, in the order `ttsProviderFromEnv` prefers them. */
export const TTS_PROVIDER_NAMES: readonly TtsProviderName[] = ['elevenlabs', 'openai', 'deepgram', 'cartesia'];

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
  /**
   * Provider API root (defaults: `https://api.openai.com/v1`, `https://api.elevenlabs.io`,
   * `https://api.deepgram.com`, `https://api.cartesia.ai`); WebSocket adapters use its `ws(s)` form.
   */
  baseUrl?: string;
  /** Model id (openai `gpt-4o-mini-tts`, elevenlabs `eleven_flash_v2_5`, cartesia `sonic-3`; for deepgram the model is the voice). */
  model?: string;
  /** Voice used when a request names none (beats the language/gender tables). */
  defaultVoiceId?: string;
  /** PCM rate to request (openai: 24000 only; elevenlabs, deepgram and cartesia: 16000 by default). */
  sampleRateHz?: number;
  /**
   * Longest wait for the response headers and then between two body chunks, in ms (default
   * 15000). Synthesis of a long text may take longer in total; only a stalled stream times out.
   */
  timeoutMs?: number;
}

export { ProviderError } from '../errors.js';
export type { ProviderErrorInit } from '../errors.js';

/** What a text stream is opened with: a {@link TtsRequest} without the text, which comes later. */
export type TtsTextStreamRequest = Omit<TtsRequest, 'text'>;

/**
 * One utterance whose text arrives in pieces (an LLM's tokens as they are written) and whose
 * audio streams back while more text is still coming.
 */
export interface TtsTextStream {
  /** Appends text (any piece, even half a word); empty pieces are ignored. Throws after {@link end}. */
  pushText(text: string): void;
  /** Asks the provider to speak the text it holds now instead of waiting for more (end of a sentence). */
  flush(): void;
  /** No more text: the provider speaks what it holds, then {@link audio} ends. */
  end(): void;
  /** Stops at once: {@link audio} ends without yielding more and the connection closes. Idempotent. */
  cancel(): void;
  /**
   * 16-bit mono PCM chunks at the provider's `sampleRateHz`, as they arrive. Iterate once. Throws
   * {@link ProviderError} on provider errors, drops and timeouts, and `signal.reason` when the
   * request's signal aborts; ending the iteration early (`break`) cancels the stream.
   */
  readonly audio: AsyncIterable<Int16Array>;
}

/** A provider that takes its text as a stream ({@link TtsTextStream}). */
export interface StreamingTtsProvider {
  readonly name: TtsProviderName;
  /** Rate of the PCM the audio iteration yields. */
  readonly sampleRateHz: number;
  /**
   * Connects and resolves once the provider is ready for text. Rejects with {@link ProviderError}
   * when the connection is refused (with its HTTP status), fails or times out.
   */
  openTextStream(req: TtsTextStreamRequest): Promise<TtsTextStream>;
}

/** Options of the text-streaming adapters: the common ones plus the WebSocket handshake's limit. */
export interface StreamingTtsProviderOptions extends TtsProviderOptions {
  /** Longest wait for the WebSocket handshake, ms (default 10000). */
  connectTimeoutMs?: number;
}
