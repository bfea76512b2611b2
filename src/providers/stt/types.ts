/**
 * Streaming speech-to-text contract: the caller writes 16-bit mono PCM at the stream's rate in
 * chunks of any size and receives interim and final transcripts, in order, with their offsets
 * in the stream.
 *
 * Adapters speak each provider's real wire protocol against a configurable base URL, so tests
 * run them against loopback fakes of the same protocol. The machinery the WebSocket adapters
 * share (stream lifecycle, key scrubbing, handshake refusals) lives in `ws-stream.ts`: this
 * module is only the contract, which callers import without pulling in `ws`.
 */
import type { ProviderError } from '../errors.js';

export type SttProviderName = 'deepgram' | 'openai' | 'elevenlabs' | 'cartesia';

/** The supported provider names. */
export const STT_PROVIDER_NAMES: readonly SttProviderName[] = ['deepgram', 'openai', 'elevenlabs', 'cartesia'];

export interface SttTranscript {
  text: string;
  isFinal: boolean;
  /** offset of the utterance in the stream */
  startMs: number;
  endMs: number;
}

export interface SttStreamOptions {
  sampleRateHz: number;
  /** BCP-47 language (default `en`). */
  language?: string;
  /** Aborting before the connection is up rejects `open()` with `signal.reason`; after, drops the connection at once. */
  signal?: AbortSignal;
}

export interface SttStream {
  /** 16-bit mono PCM at the stream's sampleRateHz, any chunk size; never throws (drops after close). */
  write(samples: Int16Array): void;
  /** Final and interim results, in order. */
  onTranscript(listener: (t: SttTranscript) => void): void;
  onError(listener: (err: ProviderError) => void): void;
  /** Ends the audio, waits (bounded, e.g. 5 s) for the last final results, closes. Idempotent. */
  close(): Promise<void>;
}

export interface SttProvider {
  readonly name: SttProviderName;
  /**
   * The rate the provider works at, when it has one (OpenAI: 24000). Streams at other rates are
   * still accepted (converted inside, or sent as they are when the provider takes them); a caller
   * that can produce this rate directly saves a conversion.
   */
  readonly preferredSampleRateHz?: number;
  /** Connects; rejects with {@link ProviderError} (handshake refused, network, timeout) or `signal.reason`. */
  open(opts: SttStreamOptions): Promise<SttStream>;
}

export interface SttProviderOptions {
  apiKey: string;
  /**
   * Provider API root (defaults: `https://api.deepgram.com`, `https://api.openai.com/v1`,
   * `https://api.elevenlabs.io`, `https://api.cartesia.ai`); `http(s)` is mapped to `ws(s)`.
   */
  baseUrl?: string;
  /** Model id (defaults: `nova-3`, `gpt-4o-transcribe`, `scribe_v2_realtime`, `ink-whisper`). */
  model?: string;
  /** Longest wait for the WebSocket handshake (and, where the protocol has one, the session start), ms (default 10000). */
  connectTimeoutMs?: number;
}

export { ProviderError } from '../errors.js';
export type { ProviderErrorInit } from '../errors.js';
