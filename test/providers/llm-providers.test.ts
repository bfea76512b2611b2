import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLlmProvider,
  llmBaseUrlFromEnv,
  llmProviderFromEnv,
  ProviderError,
  OPENAI_COMPATIBLE_BASE_URLS,
  OpenAiCompatibleLlm,
} from '../../src/providers/llm/index.js';
import { redact } from '../../src/util/logger.js';
import { startFakeOpenAiChat } from './fake-openai-chat.js';
import type { FakeOpenAiChat } from './fake-openai-chat.js';

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('createLlmProvider', () => {
  it('has the default base URL of each OpenAI-compatible provider', () => {
    const expected: Record<string, string> = {
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
    };
    expect(OPENAI_COMPATIBLE_BASE_URLS).toEqual(expected);
    for (const [provider, url] of Object.entries(expected)) {
      const p = createLlmProvider(`${provider}.some-model`, { apiKey: 'key-123456789' }) as OpenAiCompatibleLlm;
      expect(p).toBeInstanceOf(OpenAiCompatibleLlm);
      expect(p.provider).toBe(provider);
      expect(p.model).toBe('some-model');
      expect(p.baseUrl).toBe(url);
    }
  });

  it('takes a configured base URL (trailing slash dropped)', () => {
    const p = createLlmProvider('groq.llama', { apiKey: 'gsk-123456789', baseUrl: 'http://10.0.0.5:8080/openai/v1/' }) as OpenAiCompatibleLlm;
    expect(p.baseUrl).toBe('http://10.0.0.5:8080/openai/v1');
  });

  it.each(['gemini.gemini-2.0-flash', 'aws.anthropic.claude-v2', 'azure.gpt-4o', 'dialogflow.agent'])(
    'rejects %s as not supported by the local runtime yet',
    (engineModel) => {
      const provider = engineModel.slice(0, engineModel.indexOf('.'));
      const err = thrown(() => createLlmProvider(engineModel, { apiKey: 'key-123456789' }));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.provider).toBe(provider);
      expect(err.code).toBe('unsupported_provider');
      expect(err.message).toContain(`LLM provider ${provider} is not supported by the local runtime yet`);
      expect(err.message).toContain('supported here: openai, groq,');
    },
  );

  it('rejects malformed engine models and unknown providers', () => {
    for (const bad of ['gpt-4o', '', 'openai.', '.gpt', 'foo.bar']) {
      const err = thrown(() => createLlmProvider(bad, { apiKey: 'key-123456789' }));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.code).toBe('invalid_engine_model');
    }
  });

  it('needs a key (except for ollama) and a valid base URL, without echoing either', () => {
    expect(thrown(() => createLlmProvider('openai.gpt-4o', { apiKey: '  ' })).code).toBe('missing_api_key');
    expect(createLlmProvider('ollama.llama3.2', { apiKey: '' }).model).toBe('llama3.2');
    const err = thrown(() => createLlmProvider('openai.gpt-4o', { apiKey: 'sk-123456789', baseUrl: 'not a url secret123' }));
    expect(err.code).toBe('invalid_base_url');
    expect(err.message).not.toContain('secret123');
    expect(thrown(() => createLlmProvider('openai.gpt-4o', { apiKey: 'sk-123456789', baseUrl: 'ftp://x/v1' })).code).toBe('invalid_base_url');
  });

  it('registers the key as a secret', () => {
    createLlmProvider('together.m', { apiKey: 'tg-registered-key-4242' });
    expect(redact('x tg-registered-key-4242 y')).toBe('x [redacted] y');
  });
});

describe('base URL from env', () => {
  it('reads <PROVIDER>_BASE_URL', () => {
    const env = { OPENAI_BASE_URL: 'http://a/v1', GROQ_BASE_URL: ' http://b/openai/v1 ', DEEPSEEK_BASE_URL: '  ' };
    expect(llmBaseUrlFromEnv('openai', env)).toBe('http://a/v1');
    expect(llmBaseUrlFromEnv('groq', env)).toBe('http://b/openai/v1');
    expect(llmBaseUrlFromEnv('deepseek', env)).toBeUndefined();
    expect(llmBaseUrlFromEnv('mistral', env)).toBeUndefined();
  });

  describe('against the fake server', () => {
    let fake: FakeOpenAiChat;
    beforeAll(async () => {
      fake = await startFakeOpenAiChat('gsk-fake-groq-key-0123456789');
      fake.script = { text: 'hi from groq' };
    });
    afterAll(async () => {
      await fake.close();
    });

    it('sends to the env base URL with the env key, keeping the path prefix', async () => {
      const env = { GROQ_BASE_URL: `${fake.origin}/openai/v1`, GROQ_API_KEY: fake.apiKey, OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' };
      const p = llmProviderFromEnv('groq.llama-3.1-8b-instant', env, { maxRetries: 0 });
      expect(p.provider).toBe('groq');
      const res = await p.complete({ messages: [{ role: 'user', content: 'hi' }] });
      expect(res.text).toBe('hi from groq');
      const r = fake.requests.at(-1)!;
      expect(r.path).toBe('/openai/v1/chat/completions');
      expect(r.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
      expect(r.body.model).toBe('llama-3.1-8b-instant');
    });

    it('an explicit key (engine_key) wins over the env key; XAI_API_KEY serves grok', async () => {
      const env = { GROK_BASE_URL: fake.baseUrl, XAI_API_KEY: 'xai-wrong-key-000000' };
      const res = await llmProviderFromEnv('grok.grok-3', env, { apiKey: fake.apiKey, maxRetries: 0 }).complete({ messages: [{ role: 'user', content: 'hi' }] });
      expect(res.text).toBe('hi from groq');
      const err = await llmProviderFromEnv('grok.grok-3', env, { maxRetries: 0 })
        .complete({ messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).status).toBe(401);
      expect((err as ProviderError).message).not.toContain('xai-wrong-key-000000');
    });
  });
});
