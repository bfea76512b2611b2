/**
 * LLM providers keyed by the `<provider>` of `engine_model` (`openai.gpt-4o`, `groq.llama-3.3-70b-versatile`,
 * `anthropic.claude-sonnet-4-5`).
 */
import { PROVIDER_KEY_ENV, parseEngineModel } from '../../catalog/ai.js';
import { AnthropicProvider } from './anthropic.js';
import { OPENAI_COMPATIBLE_BASE_URLS, OpenAiCompatibleLlm, isOpenAiCompatibleProvider } from './openai-compatible.js';
import { ProviderError } from './types.js';
import type { LlmProvider, LlmProviderOptions } from './types.js';

export { ProviderError } from './types.js';
export type { ProviderErrorInit, LlmMessage, LlmProvider, LlmProviderOptions, LlmRequest, LlmResponse, LlmTool, LlmToolCall } from './types.js';
export {
  DEFAULT_LLM_MAX_RETRIES,
  DEFAULT_LLM_TIMEOUT_MS,
  OPENAI_COMPATIBLE_BASE_URLS,
  OpenAiCompatibleLlm,
  isOpenAiCompatibleProvider,
} from './openai-compatible.js';
export type { OpenAiCompatibleProvider } from './openai-compatible.js';
export { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_MAX_TOKENS, AnthropicProvider, anthropicFinishReason, resolveAnthropicBaseUrl } from './anthropic.js';

/** Providers with an adapter here: the OpenAI-compatible ones in `OPENAI_COMPATIBLE_BASE_URLS` order, then anthropic. */
export const LLM_PROVIDER_NAMES: readonly string[] = [...Object.keys(OPENAI_COMPATIBLE_BASE_URLS), 'anthropic'];

/**
 * The adapter for `engineModel` (`<provider>.<model>`; the model may contain dots and slashes).
 * Throws {@link ProviderError} (`invalid_engine_model`, `unsupported_provider`, `missing_api_key`, ...)
 * for what it cannot serve.
 */
export function createLlmProvider(engineModel: string, opts: LlmProviderOptions): LlmProvider {
  const parsed = parseEngineModel(engineModel);
  if ('error' in parsed) {
    const dot = typeof engineModel === 'string' ? engineModel.indexOf('.') : -1;
    throw new ProviderError('llm', dot > 0 ? engineModel.slice(0, dot) : '', parsed.error, { code: 'invalid_engine_model' });
  }
  const { provider, model } = parsed;
  if (provider === 'anthropic') return new AnthropicProvider(model, opts);
  if (!isOpenAiCompatibleProvider(provider)) {
    throw new ProviderError('llm', 
      provider,
      `LLM provider ${provider} is not supported by the local runtime yet (engine_model ${JSON.stringify(engineModel)}); ` +
        `supported here: ${LLM_PROVIDER_NAMES.join(', ')}`,
      { code: 'unsupported_provider' },
    );
  }
  return new OpenAiCompatibleLlm(provider, model, opts);
}

/**
 * `<PROVIDER>_BASE_URL` from `env` (e.g. `GROQ_BASE_URL` for groq, `ANTHROPIC_BASE_URL` for anthropic),
 * or undefined when unset or blank.
 */
export function llmBaseUrlFromEnv(provider: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const value = env[`${provider.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_BASE_URL`]?.trim();
  return value || undefined;
}

/**
 * The adapter for `engineModel` configured from `env`: the key from `apiKey` (e.g. an AI's
 * engine_key) or the provider's key variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...), the base URL
 * from `<PROVIDER>_BASE_URL`.
 */
export function llmProviderFromEnv(
  engineModel: string,
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<LlmProviderOptions> = {},
): LlmProvider {
  const parsed = parseEngineModel(engineModel);
  const provider = 'error' in parsed ? '' : parsed.provider;
  return createLlmProvider(engineModel, {
    ...overrides,
    apiKey: overrides.apiKey?.trim() || env[PROVIDER_KEY_ENV[provider] ?? '']?.trim() || '',
    baseUrl: overrides.baseUrl ?? llmBaseUrlFromEnv(provider, env),
  });
}
