/**
 * Anthropic's Messages API, through the official `@anthropic-ai/sdk` package:
 *
 *   POST {base}/v1/messages
 *   anthropic-version: <the SDK's API version>, plus the key (the SDK chooses the auth header)
 *   {"model", "max_tokens", "system", "messages": [...], "tools": [...], "stream": true|false}
 *
 * Unlike OpenAI's chat completions, system prompts are a top-level `system` param, turns must
 * alternate user/assistant, tool calls are assistant `tool_use` content blocks and tool results
 * are user `tool_result` blocks, and `max_tokens` is required. Streamed answers are SSE events
 * (`message_start`, `content_block_start`/`_delta`/`_stop`, `message_delta`, `message_stop`,
 * `ping`, `error`). Errors are JSON `{"type": "error", "error": {"type", "message"}}`.
 */
import Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  RawMessageStreamEvent,
  Tool,
} from '@anthropic-ai/sdk/resources/messages';
import { redact, registerSecret } from '../../util/logger.js';
import { DEFAULT_LLM_MAX_RETRIES, DEFAULT_LLM_TIMEOUT_MS } from './openai-compatible.js';
import { idleGuard } from './idle-guard.js';
import { ProviderError } from './types.js';
import type { LlmProvider, LlmProviderOptions, LlmRequest, LlmResponse } from './types.js';

/** Anthropic's API root (the SDK appends `/v1/messages`). */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** Anthropic requires `max_tokens`; used when the request sets no `maxTokens`. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

const PROVIDER = 'anthropic';

/**
 * `baseUrl` (or Anthropic's default) without trailing slashes and without a trailing `/v1`: the
 * SDK adds `/v1/messages` itself, while our other providers' base URLs include the version path,
 * so both spellings work. Throws without echoing the URL when it is invalid.
 */
export function resolveAnthropicBaseUrl(baseUrl: string | undefined): string {
  const base = (baseUrl?.trim() || ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '').replace(/\/v1$/, '');
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new ProviderError('llm', PROVIDER, 'anthropic LLM: the base URL is not a valid URL', { code: 'invalid_base_url' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ProviderError('llm', PROVIDER, 'anthropic LLM: the base URL must be http(s)', { code: 'invalid_base_url' });
  }
  return base;
}

/** Anthropic's `stop_reason` in the vocabulary of OpenAI's `finish_reason`, which callers branch on. */
export function anthropicFinishReason(stopReason: string | null | undefined): string {
  switch (stopReason) {
    case 'end_turn':
      return 'stop';
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
      return 'length';
    case null:
    case undefined:
    case '':
      return 'unknown';
    default:
      return stopReason;
  }
}

type Turn = { role: 'user' | 'assistant'; content: ContentBlockParam[] };

/** An LLM adapter for `anthropic.<model>` (e.g. `anthropic.claude-sonnet-4-5`). */
export class AnthropicProvider implements LlmProvider {
  readonly provider = PROVIDER;
  readonly model: string;
  /** API root without `/v1`. */
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly client: Anthropic;

  constructor(model: string, opts: LlmProviderOptions) {
    this.model = model.trim();
    if (!this.model) throw new ProviderError('llm', PROVIDER, 'anthropic LLM: a model is required', { code: 'invalid_engine_model' });
    const key = typeof opts.apiKey === 'string' ? opts.apiKey.trim() : '';
    registerSecret(opts.apiKey);
    registerSecret(key);
    if (/\s/.test(key)) throw new ProviderError('llm', PROVIDER, 'anthropic LLM: the API key contains whitespace', { code: 'invalid_api_key' });
    if (!key) throw new ProviderError('llm', PROVIDER, 'anthropic LLM: an API key is required', { code: 'missing_api_key' });
    this.apiKey = key;
    this.baseUrl = resolveAnthropicBaseUrl(opts.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_LLM_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ProviderError('llm', PROVIDER, 'anthropic LLM: timeoutMs must be a positive number', { code: 'invalid_option' });
    }
    const maxRetries = opts.maxRetries ?? DEFAULT_LLM_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new ProviderError('llm', PROVIDER, 'anthropic LLM: maxRetries must be a non-negative integer', { code: 'invalid_option' });
    }
    this.client = new Anthropic({
      apiKey: this.apiKey,
      // An explicit base URL and key keep the SDK from reading ANTHROPIC_* env vars or a
      // credentials profile on disk on its own: the factory has already chosen them.
      authToken: null,
      webhookKey: null,
      baseURL: this.baseUrl,
      timeout: this.timeoutMs,
      maxRetries,
      logLevel: 'off',
    });
  }

  async complete(req: LlmRequest): Promise<LlmResponse> {
    try {
      const params = this.params(req);
      const res = await this.client.messages.create({ ...params, stream: false }, { signal: req.signal });
      if (!Array.isArray(res?.content)) {
        throw new ProviderError('llm', PROVIDER, 'anthropic LLM: the response has no content', { code: 'bad_response' });
      }
      let text = '';
      const toolCalls: LlmResponse['toolCalls'] = [];
      for (const block of res.content as ContentBlock[]) {
        if (block.type === 'text') text += block.text;
        else if (block.type === 'tool_use') toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
      }
      return { text, toolCalls, finishReason: anthropicFinishReason(res.stop_reason) };
    } catch (err) {
      throw this.mapError(err, req.signal, false);
    }
  }

  async stream(req: LlmRequest, onDelta: (text: string) => void): Promise<LlmResponse> {
    // The SDK's timeout ends at the response headers: an idle timer guards the body too.
    const guard = idleGuard(req.signal, this.timeoutMs);

    let text = '';
    let stopReason: string | null = null;
    let stopped = false;
    // tool_use blocks by content index; `json` collects the input_json_delta pieces.
    const tools = new Map<number, { id: string; name: string; json: string; input: unknown }>();
    let callbackError: { error: unknown } | undefined;
    const emit = (piece: string): void => {
      text += piece;
      try {
        onDelta(piece);
      } catch (error) {
        callbackError = { error };
        throw error;
      }
    };
    try {
      const params = this.params(req); // before arming: a mapping error sends nothing
      guard.arm();
      const stream = await this.client.messages.create({ ...params, stream: true }, { signal: guard.signal });
      for await (const event of stream as AsyncIterable<RawMessageStreamEvent>) {
        guard.arm();
        switch (event.type) {
          case 'content_block_start': {
            const block = event.content_block;
            if (block.type === 'tool_use') tools.set(event.index, { id: block.id, name: block.name, json: '', input: block.input });
            else if (block.type === 'text' && block.text) emit(block.text);
            break;
          }
          case 'content_block_delta': {
            const delta = event.delta;
            if (delta.type === 'text_delta') {
              if (delta.text) emit(delta.text);
            } else if (delta.type === 'input_json_delta') {
              const tool = tools.get(event.index);
              if (tool) tool.json += delta.partial_json ?? '';
            }
            break;
          }
          case 'message_delta':
            if (event.delta?.stop_reason) stopReason = event.delta.stop_reason;
            break;
          case 'message_stop':
            stopped = true;
            break;
          default:
            break; // message_start, content_block_stop and events newer than this adapter
        }
      }
      // The SDK's stream ends quietly when aborted: a cut stream must not pass for a whole one.
      if (guard.signal.aborted) throw new Anthropic.APIUserAbortError();
      if (!stopped) {
        throw new ProviderError('llm', PROVIDER, 'anthropic LLM: the stream ended before message_stop', { code: 'protocol' });
      }
    } catch (err) {
      // A throwing onDelta ends the stream and surfaces as it is.
      if (callbackError) throw callbackError.error;
      throw this.mapError(err, req.signal, guard.timedOut);
    } finally {
      guard.dispose();
    }
    const toolCalls = [...tools.entries()]
      .sort(([a], [b]) => a - b)
      // A tool without input sends no (or only empty) deltas: its start block holds the input.
      .map(([, t]) => ({ id: t.id, name: t.name, arguments: t.json || JSON.stringify(t.input ?? {}) }));
    return { text, toolCalls, finishReason: anthropicFinishReason(stopReason) };
  }

  private params(req: LlmRequest): MessageCreateParamsBase {
    const system: string[] = [];
    const turns: Turn[] = [];
    // Anthropic wants strictly alternating turns: a block joins the previous turn of its role.
    const push = (role: Turn['role'], blocks: ContentBlockParam[]): void => {
      if (!blocks.length) return;
      const last = turns[turns.length - 1];
      if (last?.role === role) last.content.push(...blocks);
      else turns.push({ role, content: blocks });
    };
    for (const m of req.messages) {
      const content = typeof m.content === 'string' ? m.content : '';
      switch (m.role) {
        case 'system':
          // Anywhere in the list, system text goes to the one top-level `system` param.
          if (content) system.push(content);
          break;
        case 'user':
          // Anthropic rejects empty text blocks.
          push('user', content ? [{ type: 'text', text: content }] : []);
          break;
        case 'assistant': {
          const blocks: ContentBlockParam[] = content ? [{ type: 'text', text: content }] : [];
          for (const tc of m.tool_calls ?? []) {
            blocks.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: this.toolInput(tc.function.arguments) });
          }
          push('assistant', blocks);
          break;
        }
        case 'tool':
          if (!m.tool_call_id) {
            throw new ProviderError('llm', PROVIDER, 'anthropic LLM: a tool message needs tool_call_id', { code: 'invalid_request' });
          }
          // Consecutive results merge into one user turn, as the API requires.
          push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content }]);
          break;
        default:
          throw new ProviderError('llm', PROVIDER, `anthropic LLM: unknown message role ${JSON.stringify((m as { role: unknown }).role)}`, {
            code: 'invalid_request',
          });
      }
    }
    const messages: MessageParam[] = turns.map((t) =>
      // A lone text block goes as a plain string, the API's most common form.
      t.content.length === 1 && t.content[0].type === 'text' ? { role: t.role, content: t.content[0].text } : { role: t.role, content: t.content },
    );
    const p: MessageCreateParamsBase = { model: this.model, max_tokens: req.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS, messages };
    if (system.length) p.system = system.join('\n\n');
    if (req.tools?.length) {
      p.tools = req.tools.map((t): Tool => {
        const schema = (t.function.parameters ?? {}) as Record<string, unknown>;
        return {
          name: t.function.name,
          description: t.function.description,
          // Anthropic requires an object schema; OpenAI-style tools may omit `type`.
          input_schema: { ...schema, type: 'object' } as Tool.InputSchema,
        };
      });
    }
    // `req.temperature` is not sent: the API version this SDK speaks (2026-10-21) has no
    // `temperature` param, and newer models reject any value but 1.0 with a 400.
    return p;
  }

  /** A tool call's JSON `arguments` as the object `tool_use.input` must be; throws without echoing them. */
  private toolInput(args: string): Record<string, unknown> {
    if (!args?.trim()) return {};
    let input: unknown;
    try {
      input = JSON.parse(args);
    } catch {
      throw new ProviderError('llm', PROVIDER, 'anthropic LLM: tool call arguments are not valid JSON', { code: 'invalid_request' });
    }
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      throw new ProviderError('llm', PROVIDER, 'anthropic LLM: tool call arguments must be a JSON object', { code: 'invalid_request' });
    }
    return input as Record<string, unknown>;
  }

  /** Our abort → `signal.reason`; anything else → a scrubbed {@link ProviderError}. */
  private mapError(err: unknown, signal: AbortSignal | undefined, timedOut: boolean): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    if (err instanceof ProviderError) return err;
    if (timedOut || err instanceof Anthropic.APIConnectionTimeoutError) {
      return new ProviderError('llm', PROVIDER, `anthropic LLM: no response within ${this.timeoutMs} ms`, { code: 'timeout' });
    }
    // Before APIError: the connection and abort errors are APIError subclasses without a status.
    if (err instanceof Anthropic.APIConnectionError) {
      return new ProviderError('llm', PROVIDER, `anthropic LLM: cannot reach the API (${this.scrub(err.message)})`, { code: 'network', cause: err.cause });
    }
    if (err instanceof Anthropic.APIUserAbortError) return new ProviderError('llm', PROVIDER, 'anthropic LLM: the request was aborted', { code: 'aborted' });
    if (err instanceof Anthropic.APIError) {
      const body = err.error as { error?: { type?: unknown; message?: unknown } } | undefined;
      const type = err.type ?? (typeof body?.error?.type === 'string' ? body.error.type : undefined);
      const detail = err.apiMessage ?? (typeof body?.error?.message === 'string' ? body.error.message : err.message);
      // A status-less APIError is an `error` event inside a 200 stream (e.g. overloaded_error).
      const message = err.status ? `${err.status} ${detail}` : `error in the response stream: ${detail}`;
      return new ProviderError('llm', PROVIDER, `anthropic LLM: ${this.scrub(message)}`, {
        status: err.status,
        code: type ? String(type) : undefined,
        requestId: err.requestID ?? undefined,
      });
    }
    const detail = err instanceof Error ? err.message : String(err);
    return new ProviderError('llm', PROVIDER, `anthropic LLM: ${this.scrub(detail)}`, { code: 'bad_response' });
  }

  private scrub(message: string): string {
    return redact(message.split(this.apiKey).join('[redacted]'));
  }
}
