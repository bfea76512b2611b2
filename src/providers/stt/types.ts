/**
 * Streaming speech-to-text contract: the caller writes 16-bit mono PCM at the stream's rate in
 * chunks of any size and receives interim and final transcripts, in order, with their offsets
 * in the stream.
 *
 * Adapters speak each provider's real wire protocol against a configurable base URL, so tests
 * run them against loopback fakes of the same protocol.
 */
import type { ProviderError } from '../errors.js';

export type SttProviderName = 'deepgram';

/** The supported provider names. */
export const STT_PROVIDER_NAMES: readonly SttProviderName[] = ['deepgram'];

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
  readonly name: 'deepgram';
  /** Connects; rejects with {@link ProviderError} (handshake refused, network, timeout) or `signal.reason`. */
  open(opts: SttStreamOptions): Promise<SttStream>;
}

export interface SttProviderOptions {
  apiKey: string;
  /** Provider API root (default `https://api.deepgram.com`); `http(s)` is mapped to `ws(s)`. */
  baseUrl?: string;
  /** Model id (default `nova-3`). */
  model?: string;
  /** Longest wait for the WebSocket handshake, ms (default 10000). */
  connectTimeoutMs?: number;
}

export { ProviderError } from '../errors.js';
export type { ProviderErrorInit } from '../errors.js';
