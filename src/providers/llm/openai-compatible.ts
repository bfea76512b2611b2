/**
 * One adapter for every provider that speaks OpenAI's chat completions API, through the
 * `openai` package:
 *
 *   POST {base}/chat/completions
 *   Authorization: Bearer <key>
 *   {"model": "...", "messages": [...], "tools": [...], "stream": true|false}
 *
 * Non-streamed answers are one JSON `chat.completion`; streamed ones are SSE `data:` chunks of
 * `choices[0].delta` (text, and tool calls whose `arguments` arrive in pieces keyed by `index`),
 * ended by `data: [DONE]`. Errors are JSON `{"error": {"message", "type", "code"}}`.
 */
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { redact, registerSecret } from '../../util/logger.js';
import { idleGuard } from './idle-guard.js';
import { ProviderError } from './types.js';
import type { LlmMessage, LlmProvider, LlmProviderOptions, LlmRequest, LlmResponse } from './types.js';

/** Default API roots of the providers served by this adapter. */
export const OPENAI_COMPATIBLE_BASE_URLS = {
  openai: 'https://api.openai.com/v1',
  groq: 'https://api.groq.com/openai/v1',
  deepseek: 'https://api.deepseek.com/v1',
  together: 'https://api.together.xyz/v1',
  fireworks: 'https://api.fireworks.ai/inference/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  mistral: 'https://api.mistral.ai/v1',
  cerebras: 'https://api.cerebras.ai/v1',
  perplexity: 'https://api.perplexity.ai',
  grok: 'https://api.x.ai/v1',
  sambanova: 'https://api.sambanova.ai/v1',
  nvidia: 'https://integrate.api.nvidia.com/v1',
  ollama: 'http://127.0.0.1:11434/v1',
  qwen: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
} as const satisfies Record<string, string>;

export type OpenAiCompatibleProvider = keyof typeof OPENAI_COMPATIBLE_BASE_URLS;

export const DEFAULT_LLM_TIMEOUT_MS = 30_000;
export const DEFAULT_LLM_MAX_RETRIES = 2;

export function isOpenAiCompatibleProvider(provider: string): provider is OpenAiCompatibleProvider {
  return Object.prototype.hasOwnProperty.call(OPENAI_COMPATIBLE_BASE_URLS, provider);
}

/** `baseUrl` (or the provider's default) without trailing slashes; throws without echoing it when invalid. */
export function resolveLlmBaseUrl(provider: OpenAiCompatibleProvider, baseUrl: string | undefined): string {
  const base = (baseUrl?.trim() || OPENAI_COMPATIBLE_BASE_URLS[provider]).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new ProviderError('llm', provider, `${provider} LLM: the base URL is not a valid URL`, { code: 'invalid_base_url' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ProviderError('llm', provider, `${provider} LLM: the base URL must be http(s)`, { code: 'invalid_base_url' });
  }
  return base;
}

/** OpenAI's 401 message quotes a masked part of the key ("Incorrect API key provided: sk-ab***xyz"). */
const PROVIDED_KEY_RE = /(api[ _-]?key provided:?\s*)\S+/gi;

export class OpenAiCompatibleLlm implements LlmProvider {
  readonly provider: OpenAiCompatibleProvider;
  readonly model: string;
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly client: OpenAI;

  constructor(provider: OpenAiCompatibleProvider, model: string, opts: LlmProviderOptions) {
    this.provider = provider;
    this.model = model.trim();
    if (!this.model) throw new ProviderError('llm', provider, `${provider} LLM: a model is required`, { code: 'invalid_engine_model' });
    const key = typeof opts.apiKey === 'string' ? opts.apiKey.trim() : '';
    registerSecret(opts.apiKey);
    registerSecret(key);
    if (/\s/.test(key)) throw new ProviderError('llm', provider, `${provider} LLM: the API key contains whitespace`, { code: 'invalid_api_key' });
    // A local Ollama ignores the key, but the client needs one.
    if (!key && provider !== 'ollama') throw new ProviderError('llm', provider, `${provider} LLM: an API key is required`, { code: 'missing_api_key' });
    this.apiKey = key || 'ollama';
    this.baseUrl = resolveLlmBaseUrl(provider, opts.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ProviderError('llm', provider, `${provider} LLM: timeoutMs must be a positive number`, { code: 'invalid_option' });
    }
    const maxRetries = opts.maxRetries ?? DEFAULT_LLM_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new ProviderError('llm', provider, `${provider} LLM: maxRetries must be a non-negative integer`, { code: 'invalid_option' });
    }
    this.client = new OpenAI({
      apiKey: this.apiKey,
      baseURL: this.baseUrl,
      timeout: this.timeoutMs,
      maxRetries,
      // Nothing from OPENAI_* env vars leaks into requests to other providers.
      organization: null,
      project: null,
      webhookSecret: null,
      logLevel: 'off',
    });
  }

  async complete(req: LlmRequest): Promise<LlmResponse> {
    try {
      const res = await this.client.chat.completions.create({ ...this.params(req), stream: false }, { signal: req.signal });
      const choice = res.choices?.[0];
      if (!choice) throw new ProviderError('llm', this.provider, `${this.provider} LLM: the response has no choices`, { code: 'bad_response' });
      const toolCalls = (choice.message.tool_calls ?? []).flatMap((tc) =>
        tc.type === 'function' ? [{ id: tc.id, name: tc.function.name, arguments: tc.function.arguments ?? '' }] : [],
      );
      return { text: choice.message.content ?? '', toolCalls, finishReason: choice.finish_reason ?? 'unknown' };
    } catch (err) {
      throw this.mapError(err, req.signal, false);
    }
  }

  async stream(req: LlmRequest, onDelta: (text: string) => void): Promise<LlmResponse> {
    // The client's timeout ends at the response headers: an idle timer guards the body too.
    const guard = idleGuard(req.signal, this.timeoutMs);

    let text = '';
    let finishReason = 'unknown';
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let callbackError: { error: unknown } | undefined;
    try {
      guard.arm();
      const stream = await this.client.chat.completions.create({ ...this.params(req), stream: true }, { signal: guard.signal });
      for await (const chunk of stream) {
        guard.arm();
        const choice: ChatCompletionChunk.Choice | undefined = chunk.choices?.[0];
        if (!choice) continue; // e.g. a trailing usage-only chunk
        const delta = choice.delta ?? {};
        if (typeof delta.content === 'string' && delta.content) {
          text += delta.content;
          try {
            onDelta(delta.content);
          } catch (error) {
            callbackError = { error };
            throw error;
          }
        }
        for (const tc of delta.tool_calls ?? []) {
          // `index` keys the pieces of one call; a provider that omits it sends whole calls.
          const index = typeof tc.index === 'number' ? tc.index : calls.size;
          let call = calls.get(index);
          if (!call) calls.set(index, (call = { id: '', name: '', arguments: '' }));
          if (tc.id) call.id = tc.id;
          if (tc.function?.name && !call.name) call.name = tc.function.name; // some servers repeat it
          if (tc.function?.arguments) call.arguments += tc.function.arguments;
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      // The client's stream ends quietly when aborted: a cut stream must not pass for a whole one.
      if (guard.signal.aborted) throw new OpenAI.APIUserAbortError();
    } catch (err) {
      // A throwing onDelta ends the stream and surfaces as it is.
      if (callbackError) throw callbackError.error;
      throw this.mapError(err, req.signal, guard.timedOut);
    } finally {
      guard.dispose();
    }
    const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    return { text, toolCalls, finishReason };
  }

  private params(req: LlmRequest): ChatCompletionCreateParamsBase {
    const p: ChatCompletionCreateParamsBase = { model: this.model, messages: req.messages.map((m) => this.message(m)) };
    if (req.tools?.length) {
      p.tools = req.tools.map((t) => ({
        type: 'function',
        function: { name: t.function.name, description: t.function.description, parameters: t.function.parameters as Record<string, unknown> },
      }));
    }
    if (req.temperature !== undefined) p.temperature = req.temperature;
    if (req.maxTokens !== undefined) {
      // OpenAI's newer models reject `max_tokens`; the other providers know only `max_tokens`.
      if (this.provider === 'openai') p.max_completion_tokens = req.maxTokens;
      else p.max_tokens = req.maxTokens;
    }
    return p;
  }

  private message(m: LlmMessage): ChatCompletionMessageParam {
    switch (m.role) {
      case 'system':
        return { role: 'system', content: m.content };
      case 'user':
        return { role: 'user', content: m.content };
      case 'assistant':
        if (m.tool_calls?.length) {
          return {
            role: 'assistant',
            content: m.content || null,
            tool_calls: m.tool_calls.map((tc) => ({ id: tc.id, type: 'function', function: { name: tc.function.name, arguments: tc.function.arguments } })),
          };
        }
        return { role: 'assistant', content: m.content };
      case 'tool':
        if (!m.tool_call_id) {
          throw new ProviderError('llm', this.provider, `${this.provider} LLM: a tool message needs tool_call_id`, { code: 'invalid_request' });
        }
        return { role: 'tool', tool_call_id: m.tool_call_id, content: m.content };
      default:
        throw new ProviderError('llm', this.provider, `${this.provider} LLM: unknown message role ${JSON.stringify((m as { role: unknown }).role)}`, {
          code: 'invalid_request',
        });
    }
  }

  /** Our abort → `signal.reason`; anything else → a scrubbed {@link ProviderError}. */
  private mapError(err: unknown, signal: AbortSignal | undefined, timedOut: boolean): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    if (err instanceof ProviderError) return err;
    const p = this.provider;
    if (timedOut || err instanceof OpenAI.APIConnectionTimeoutError) {
      return new ProviderError('llm', p, `${p} LLM: no response within ${this.timeoutMs} ms`, { code: 'timeout' });
    }
    if (err instanceof OpenAI.APIConnectionError) {
      return new ProviderError('llm', p, `${p} LLM: cannot reach the API (${this.scrub(err.message)})`, { code: 'network', cause: err.cause });
    }
    if (err instanceof OpenAI.APIUserAbortError) return new ProviderError('llm', p, `${p} LLM: the request was aborted`, { code: 'aborted' });
    if (err instanceof OpenAI.APIError) {
      const code = err.code ?? err.type ?? undefined;
      const message = err.status ? err.message : `error in the response stream: ${err.message}`;
      return new ProviderError('llm', p, `${p} LLM: ${this.scrub(message)}`, {
        status: err.status,
        code: code ? String(code) : undefined,
        requestId: err.requestID ?? undefined,
      });
    }
    const detail = err instanceof Error ? err.message : String(err);
    return new ProviderError('llm', p, `${p} LLM: ${this.scrub(detail)}`, { code: 'bad_response' });
  }

  private scrub(message: string): string {
    return redact(message.split(this.apiKey).join('[redacted]')).replace(PROVIDED_KEY_RE, '$1[redacted]');
  }
}
