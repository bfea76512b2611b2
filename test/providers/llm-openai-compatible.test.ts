import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLlmProvider, ProviderError } from '../../src/providers/llm/index.js';
import type { LlmProvider, LlmProviderOptions, LlmRequest } from '../../src/providers/llm/index.js';
import { startFakeOpenAiChat } from './fake-openai-chat.js';
import type { FakeOpenAiChat } from './fake-openai-chat.js';

let fake: FakeOpenAiChat;
beforeAll(async () => {
  fake = await startFakeOpenAiChat();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.script = {};
});

const llm = (engineModel = 'openai.gpt-4o-mini', opts: Partial<LlmProviderOptions> = {}): LlmProvider =>
  createLlmProvider(engineModel, { apiKey: fake.apiKey, baseUrl: fake.baseUrl, maxRetries: 0, timeoutMs: 5000, ...opts });

const TOOLS: LlmRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'connect_call',
      description: 'Connects the call to a destination',
      parameters: { type: 'object', properties: { destination: { type: 'string' } }, required: ['destination'] },
    },
  },
  { type: 'function', function: { name: 'stop_service', description: 'Stops the AI', parameters: { type: 'object', properties: {} } } },
];

const CALLS = [
  { id: 'call_abc', name: 'connect_call', arguments: '{"destination":"+15551234567","note":"ünïcode ✓"}' },
  { id: 'call_def', name: 'stop_service', arguments: '{}' },
];

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('complete()', () => {
  it('returns the text and sends model (without prefix), messages, tools and options', async () => {
    fake.script = { text: 'Hello! How can I help?' };
    const res = await llm('openai.gpt-4.1-mini').complete({
      messages: [
        { role: 'system', content: 'You are a phone agent.' },
        { role: 'user', content: 'Hi' },
      ],
      tools: TOOLS,
      temperature: 0.3,
      maxTokens: 200,
    });
    expect(res).toEqual({ text: 'Hello! How can I help?', toolCalls: [], finishReason: 'stop' });

    expect(fake.requests).toHaveLength(1);
    const r = fake.requests[0];
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(r.headers['openai-organization']).toBeUndefined();
    expect(r.body.model).toBe('gpt-4.1-mini');
    expect(r.body.stream).toBeFalsy();
    expect(r.body.messages).toEqual([
      { role: 'system', content: 'You are a phone agent.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(r.body.tools).toEqual(TOOLS);
    expect(r.body.temperature).toBe(0.3);
    // OpenAI's newer models take max_completion_tokens; other providers max_tokens.
    expect(r.body.max_completion_tokens).toBe(200);
    expect(r.body.max_tokens).toBeUndefined();
  });

  it('returns tool calls and sends assistant tool calls and tool results back', async () => {
    fake.script = { toolCalls: CALLS };
    const res = await llm('groq.llama-3.3-70b-versatile', { baseUrl: fake.baseUrl }).complete({
      messages: [
        { role: 'user', content: 'Connect me' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'connect_call', arguments: '{"destination":"1"}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: '{"result":"failed"}' },
      ],
      tools: TOOLS,
      maxTokens: 50,
    });
    expect(res).toEqual({ text: '', toolCalls: CALLS, finishReason: 'tool_calls' });
    const body = fake.requests[0].body;
    expect(body.model).toBe('llama-3.3-70b-versatile');
    expect(body.max_tokens).toBe(50);
    expect(body.max_completion_tokens).toBeUndefined();
    expect(body.temperature).toBeUndefined();
    expect(body.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'connect_call', arguments: '{"destination":"1"}' } }],
    });
    expect(body.messages[2]).toEqual({ role: 'tool', tool_call_id: 'call_0', content: '{"result":"failed"}' });
  });

  it('keeps dots and slashes of the model name', async () => {
    fake.script = { text: 'ok' };
    await llm('openrouter.meta-llama/llama-3.1-8b-instruct').complete({ messages: [{ role: 'user', content: 'x' }] });
    await llm('together.Qwen/Qwen2.5-7B-Instruct-Turbo').complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(fake.requests.map((r) => r.body.model)).toEqual(['meta-llama/llama-3.1-8b-instruct', 'Qwen/Qwen2.5-7B-Instruct-Turbo']);
  });

  it('rejects a tool message without tool_call_id before sending', async () => {
    const err = await failure(llm().complete({ messages: [{ role: 'tool', content: 'x' }] }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('invalid_request');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('stream()', () => {
  it('streams text deltas in order and resolves the full response', async () => {
    fake.script = { textChunks: ['Hel', 'lo', ', wor', 'ld', '!'] };
    const deltas: string[] = [];
    const res = await llm().stream({ messages: [{ role: 'user', content: 'Hi' }], tools: TOOLS }, (d) => deltas.push(d));
    expect(deltas).toEqual(['Hel', 'lo', ', wor', 'ld', '!']);
    expect(res).toEqual({ text: 'Hello, world!', toolCalls: [], finishReason: 'stop' });
    const body = fake.requests[0].body;
    expect(body.stream).toBe(true);
    expect(body.model).toBe('gpt-4o-mini');
    expect(body.tools).toEqual(TOOLS);
  });

  it('assembles tool-call arguments split across chunks and interleaved by index', async () => {
    fake.script = { text: 'One moment.', toolCalls: CALLS };
    const deltas: string[] = [];
    const res = await llm('deepseek.deepseek-chat').stream({ messages: [{ role: 'user', content: 'Connect me' }], tools: TOOLS }, (d) => deltas.push(d));
    expect(deltas.join('')).toBe('One moment.');
    expect(res.text).toBe('One moment.');
    expect(res.toolCalls).toEqual(CALLS);
    expect(JSON.parse(res.toolCalls[0].arguments)).toEqual({ destination: '+15551234567', note: 'ünïcode ✓' });
    expect(res.finishReason).toBe('tool_calls');
  });

  it('an onDelta that throws ends the stream with its own error', async () => {
    fake.script = { text: 'abcdefghijkl', chunkDelayMs: 20 };
    const boom = new Error('sink closed');
    const err = await failure(
      llm().stream({ messages: [{ role: 'user', content: 'x' }] }, () => {
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    await expect.poll(() => fake.requests[0]?.closedEarly).toBe(true);
  });

  it('times out a stalled stream with ProviderError timeout', async () => {
    fake.script = { text: 'never finished', stallAfterEvents: 2 };
    const deltas: string[] = [];
    const t0 = Date.now();
    const err = await failure(llm('openai.gpt-4o', { timeoutMs: 300 }).stream({ messages: [{ role: 'user', content: 'x' }] }, (d) => deltas.push(d)));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
    expect(deltas).toEqual(['nev']);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('errors', () => {
  it('auth error → ProviderError 401 without the key, even when the server echoes it', async () => {
    const wrongKey = 'sk-wrong-secret-key-987654321';
    fake.script = { echoKeyInErrors: true };
    for (const call of ['complete', 'stream'] as const) {
      const p = llm('openai.gpt-4o', { apiKey: wrongKey });
      const req = { messages: [{ role: 'user' as const, content: 'x' }] };
      const err = await failure(call === 'complete' ? p.complete(req) : p.stream(req, () => {}));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.status).toBe(401);
      expect(err.code).toBe('invalid_api_key');
      expect(err.provider).toBe('openai');
      expect(err.message).toMatch(/^openai LLM: 401 Incorrect API key provided/);
      const everything = `${err.message} ${err.stack} ${JSON.stringify(err)} ${String(err.cause ?? '')}`;
      expect(everything).not.toContain(wrongKey);
      expect(everything).not.toContain('987654321');
    }
    expect(fake.requests[0].headers.authorization).toBe(`Bearer ${wrongKey}`);
  });

  it('scrubs the masked key fragment OpenAI quotes', async () => {
    const err = await failure(llm('openai.gpt-4o', { apiKey: 'sk-other-key-55556666' }).complete({ messages: [{ role: 'user', content: 'x' }] }));
    expect(err.message).not.toContain('6666');
    expect(err.message).toContain('[redacted]');
  });

  it('429 → ProviderError with status, code and request id', async () => {
    fake.script = { failWith: { status: 429, message: 'Rate limit reached for gpt-4o', type: 'requests', code: 'rate_limit_exceeded' } };
    const err = await failure(llm().complete({ messages: [{ role: 'user', content: 'x' }] }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.requestId).toBe('req_fake_123');
    expect(err.message).toContain('Rate limit reached');
  });

  it('500 is retried maxRetries times, then ProviderError 500', async () => {
    fake.script = { failWith: { status: 500, message: 'The server had an error', type: 'server_error' } };
    const err = await failure(llm('mistral.mistral-small-latest', { maxRetries: 1 }).stream({ messages: [{ role: 'user', content: 'x' }] }, () => {}));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(500);
    expect(err.code).toBe('server_error');
    expect(err.provider).toBe('mistral');
    expect(fake.requests).toHaveLength(2);
  });

  it('an unreachable server → ProviderError network', async () => {
    const err = await failure(llm('ollama.llama3.2', { baseUrl: 'http://127.0.0.1:1/v1', apiKey: '' }).complete({ messages: [{ role: 'user', content: 'x' }] }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('network');
    expect(err.status).toBeUndefined();
  });
});

describe('abort', () => {
  it('aborting a stream mid-way rejects with the signal reason and closes the request', async () => {
    fake.script = { text: 'a long answer that keeps going', stallAfterEvents: 3 };
    const ctl = new AbortController();
    const deltas: string[] = [];
    const p = llm().stream({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }, (d) => {
      deltas.push(d);
      ctl.abort();
    });
    const err = await failure(p);
    expect(err).toBe(ctl.signal.reason);
    expect(err.name).toBe('AbortError');
    expect(deltas).toEqual(['a l']);
    await expect.poll(() => fake.requests[0]?.closedEarly).toBe(true);
  });

  it('aborting complete() while waiting rejects at once with a custom reason', async () => {
    fake.script = { text: 'late', headerDelayMs: 2000 };
    const ctl = new AbortController();
    const reason = new Error('barge-in');
    setTimeout(() => ctl.abort(reason), 50);
    const t0 = Date.now();
    const err = await failure(llm().complete({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }));
    expect(err).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('an already aborted signal sends nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const err = await failure(llm().stream({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }, () => {}));
    expect(err.name).toBe('AbortError');
    expect(fake.requests).toHaveLength(0);
  });
});
