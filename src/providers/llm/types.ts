/**
 * LLM provider contract: chat completions with function calling, whole or streamed.
 *
 * Adapters speak each provider's real wire protocol against a configurable base URL, so tests
 * run them against loopback fakes of the same protocol. Keys never leave the adapter: every
 * {@link ProviderError} message is scrubbed.
 */
import type { ProviderError } from '../errors.js';

export interface LlmToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Assistant turns that called tools. */
  tool_calls?: LlmToolCall[];
  /** Tool results: the id of the call they answer. */
  tool_call_id?: string;
}

export interface LlmTool {
  type: 'function';
  function: { name: string; description: string; parameters: object };
}

export interface LlmRequest {
  messages: LlmMessage[];
  tools?: LlmTool[];
  temperature?: number;
  maxTokens?: number;
  /** Aborting stops the request at once; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

export interface LlmResponse {
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  /** The provider's `finish_reason` (`stop`, `tool_calls`, `length`, ...), or `unknown`. */
  finishReason: string;
}

export interface LlmProvider {
  /** The `<provider>` of `engine_model` (e.g. `openai`, `groq`). */
  readonly provider: string;
  /** The model as the provider names it (without the `<provider>.` prefix). */
  readonly model: string;
  /**
   * One completion. Rejects with {@link ProviderError} on HTTP, network and protocol errors and
   * timeouts, and with `signal.reason` (an `AbortError` by default) when `req.signal` aborts.
   */
  complete(req: LlmRequest): Promise<LlmResponse>;
  /** Streams text deltas (in order) to `onDelta`, then resolves the full response. Rejects as {@link complete}. */
  stream(req: LlmRequest, onDelta: (text: string) => void): Promise<LlmResponse>;
}

export interface LlmProviderOptions {
  /** The provider key (optional for ollama only). */
  apiKey: string;
  /** API root including the version path (e.g. `https://api.groq.com/openai/v1`); defaults per provider. */
  baseUrl?: string;
  /**
   * Longest wait for the response (complete) or for the first and then each next chunk (stream),
   * in ms (default 30000).
   */
  timeoutMs?: number;
  /** Retries of connection errors, 408/409/429 and 5xx, with backoff (default 2). */
  maxRetries?: number;
}

export { ProviderError } from '../errors.js';
export type { ProviderErrorInit } from '../errors.js';
