import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AnthropicProvider,
  ANTHROPIC_DEFAULT_BASE_URL,
  anthropicFinishReason,
  createLlmProvider,
  llmProviderFromEnv,
  ProviderError,
} from '../../src/providers/llm/index.js';
import type { LlmProvider, LlmProviderOptions, LlmRequest } from '../../src/providers/llm/index.js';
import { FAKE_REQUEST_ID, KNOWN_ANTHROPIC_VERSIONS, startFakeAnthropicMessages } from './fake-anthropic-messages.js';
import type { FakeAnthropicMessages } from './fake-anthropic-messages.js';

const CANARY = 'sk-ant-CANARY-xyz';

let fake: FakeAnthropicMessages;
/** A second fake whose valid key is the canary, to reach the error paths past authentication. */
let canaryFake: FakeAnthropicMessages;
beforeAll(async () => {
  fake = await startFakeAnthropicMessages();
  canaryFake = await startFakeAnthropicMessages(CANARY);
});
afterAll(async () => {
  await fake.close();
  await canaryFake.close();
});
beforeEach(() => {
  for (const f of [fake, canaryFake]) {
    f.requests.length = 0;
    f.script = {};
  }
});

const llm = (engineModel = 'anthropic.claude-sonnet-4-5', opts: Partial<LlmProviderOptions> = {}): LlmProvider =>
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
  // No `type` in the schema: the adapter must still send an object schema.
  { type: 'function', function: { name: 'stop_service', description: 'Stops the AI', parameters: { properties: {} } } },
];

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** Everything an error could leak through. */
const everything = (err: any): string => `${err?.message} ${err?.stack} ${JSON.stringify(err)} ${String(err?.cause ?? '')} ${err?.cause?.stack ?? ''}`;

describe('factory', () => {
  it('serves anthropic.<model> with the default API root', () => {
    const p = createLlmProvider('anthropic.claude-sonnet-4-5', { apiKey: 'sk-ant-factory-123456' }) as AnthropicProvider;
    expect(p).toBeInstanceOf(AnthropicProvider);
    expect(p.provider).toBe('anthropic');
    expect(p.model).toBe('claude-sonnet-4-5');
    expect(p.baseUrl).toBe(ANTHROPIC_DEFAULT_BASE_URL);
  });

  it('still serves the OpenAI-compatible providers', () => {
    const p = createLlmProvider('groq.llama-3.3-70b-versatile', { apiKey: 'gsk-123456789' });
    expect(p).not.toBeInstanceOf(AnthropicProvider);
    expect(p.provider).toBe('groq');
  });

  it('needs a key and a valid base URL, without echoing either', () => {
    expect(failureSync(() => createLlmProvider('anthropic.claude-x', { apiKey: '  ' })).code).toBe('missing_api_key');
    const err = failureSync(() => createLlmProvider('anthropic.claude-x', { apiKey: CANARY, baseUrl: 'not a url secret123' }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('invalid_base_url');
    expect(everything(err)).not.toContain('secret123');
    expect(everything(err)).not.toContain(CANARY);
  });

  it('reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY, an engine_key taking precedence', async () => {
    fake.script = { text: 'from env' };
    const fromEnv = llmProviderFromEnv('anthropic.claude-haiku-4-5', { ANTHROPIC_BASE_URL: fake.baseUrl, ANTHROPIC_API_KEY: fake.apiKey }, { maxRetries: 0 });
    expect((await fromEnv.complete({ messages: [{ role: 'user', content: 'x' }] })).text).toBe('from env');
    const withKey = llmProviderFromEnv('anthropic.claude-haiku-4-5', { ANTHROPIC_BASE_URL: fake.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-wrong-env-key' }, { apiKey: fake.apiKey, maxRetries: 0 });
    expect((await withKey.complete({ messages: [{ role: 'user', content: 'x' }] })).text).toBe('from env');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
  });
});

function failureSync(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('complete()', () => {
  it('returns the text and maps system prompts, model, tools and max_tokens', async () => {
    fake.script = { text: 'Hello! How can I help?' };
    const res = await llm('anthropic.claude-3.5-haiku').complete({
      messages: [
        { role: 'system', content: 'You are a phone agent.' },
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      tools: TOOLS,
      temperature: 0.3,
    });
    expect(res).toEqual({ text: 'Hello! How can I help?', toolCalls: [], finishReason: 'stop' });

    expect(fake.requests).toHaveLength(1);
    const r = fake.requests[0];
    expect(r.status).toBe(200);
    expect(r.path).toBe('/v1/messages');
    expect(KNOWN_ANTHROPIC_VERSIONS).toContain(r.headers['anthropic-version']);
    expect(r.body.model).toBe('claude-3.5-haiku'); // dots of the model kept, prefix dropped
    expect(r.body.stream).toBeFalsy();
    expect(r.body.system).toBe('You are a phone agent.\n\nBe brief.');
    expect(r.body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(r.body.max_tokens).toBe(1024); // required by Anthropic: the default
    expect(r.body.temperature).toBeUndefined(); // the API version the SDK speaks has none
    expect(r.body.tools).toEqual([
      {
        name: 'connect_call',
        description: 'Connects the call to a destination',
        input_schema: { type: 'object', properties: { destination: { type: 'string' } }, required: ['destination'] },
      },
      { name: 'stop_service', description: 'Stops the AI', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  it('sends maxTokens as max_tokens and no system param without system messages', async () => {
    fake.script = { text: 'ok', stopReason: 'max_tokens' };
    const res = await llm().complete({ messages: [{ role: 'user', content: 'x' }], maxTokens: 77 });
    expect(res.finishReason).toBe('length');
    expect(fake.requests[0].body.max_tokens).toBe(77);
    expect('system' in fake.requests[0].body).toBe(false);
    expect('tools' in fake.requests[0].body).toBe(false);
  });

  it('returns tool_use blocks as tool calls with JSON arguments', async () => {
    fake.script = {
      text: 'Connecting you.',
      toolUses: [{ id: 'toolu_01', name: 'connect_call', input: { destination: '+15551234567', note: 'ünïcode ✓' } }],
    };
    const res = await llm().complete({ messages: [{ role: 'user', content: 'Connect me' }], tools: TOOLS });
    expect(res.text).toBe('Connecting you.');
    expect(res.finishReason).toBe('tool_calls');
    expect(res.toolCalls).toHaveLength(1);
    expect(res.toolCalls[0]).toMatchObject({ id: 'toolu_01', name: 'connect_call' });
    expect(JSON.parse(res.toolCalls[0].arguments)).toEqual({ destination: '+15551234567', note: 'ünïcode ✓' });
  });

  it('maps tool calls and results to alternating tool_use / tool_result turns', async () => {
    fake.script = { text: 'Done.' };
    const res = await llm().complete({
      messages: [
        { role: 'system', content: 'You are a phone agent.' },
        { role: 'user', content: 'Connect me and then hang up' },
        {
          role: 'assistant',
          content: 'Sure.',
          tool_calls: [
            { id: 'toolu_a', type: 'function', function: { name: 'connect_call', arguments: '{"destination":"1"}' } },
            { id: 'toolu_b', type: 'function', function: { name: 'stop_service', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_a', content: '{"result":"failed"}' },
        { role: 'tool', tool_call_id: 'toolu_b', content: 'ok' },
        { role: 'user', content: 'Hello?' },
      ],
      tools: TOOLS,
    });
    expect(res.text).toBe('Done.');
    const r = fake.requests[0];
    expect(r.status).toBe(200); // the fake checks alternation and tool_use ids too
    expect(r.body.system).toBe('You are a phone agent.');
    expect(r.body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(r.body.messages[1].content).toEqual([
      { type: 'text', text: 'Sure.' },
      { type: 'tool_use', id: 'toolu_a', name: 'connect_call', input: { destination: '1' } },
      { type: 'tool_use', id: 'toolu_b', name: 'stop_service', input: {} },
    ]);
    // Both results in one user turn (first, as the API requires), then the user's words.
    expect(r.body.messages[2].content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_a', content: '{"result":"failed"}' },
      { type: 'tool_result', tool_use_id: 'toolu_b', content: 'ok' },
      { type: 'text', text: 'Hello?' },
    ]);
  });

  it('accepts a base URL with the /v1 suffix our other providers use', async () => {
    fake.script = { text: 'ok' };
    await llm('anthropic.claude-x', { baseUrl: `${fake.baseUrl}/v1/` }).complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(fake.requests[0].path).toBe('/v1/messages');
  });

  it('rejects a tool message without tool_call_id, and non-object tool arguments, before sending', async () => {
    const noId = await failure(llm().complete({ messages: [{ role: 'tool', content: 'x' }] }));
    expect(noId).toBeInstanceOf(ProviderError);
    expect(noId.code).toBe('invalid_request');
    const badArgs = await failure(
      llm().complete({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: '', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '[1,2]' } }] },
        ],
      }),
    );
    expect(badArgs.code).toBe('invalid_request');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('stream()', () => {
  it('streams text deltas in order and resolves the full response', async () => {
    fake.script = { textChunks: ['Hel', 'lo', ', wor', 'ld', '!'] };
    const deltas: string[] = [];
    const res = await llm().stream({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], tools: TOOLS }, (d) => deltas.push(d));
    expect(deltas).toEqual(['Hel', 'lo', ', wor', 'ld', '!']);
    expect(res).toEqual({ text: 'Hello, world!', toolCalls: [], finishReason: 'stop' });
    const body = fake.requests[0].body;
    expect(body.stream).toBe(true);
    expect(body.model).toBe('claude-sonnet-4-5');
    expect(body.system).toBe('Be brief.');
    expect(body.max_tokens).toBe(1024);
  });

  it('assembles a tool input split over several input_json_delta chunks', async () => {
    const input = { destination: '+15551234567', note: 'ünïcode ✓' };
    fake.script = {
      text: 'One moment.',
      toolUses: [
        { id: 'toolu_01', name: 'connect_call', input, jsonChunks: ['{"destin', 'ation":"+1555', '1234567","note":"ünï', 'code ✓"}'] },
        { id: 'toolu_02', name: 'stop_service', input: {}, jsonChunks: [] }, // no input at all
      ],
    };
    const deltas: string[] = [];
    const res = await llm().stream({ messages: [{ role: 'user', content: 'Connect me' }], tools: TOOLS }, (d) => deltas.push(d));
    expect(deltas.join('')).toBe('One moment.');
    expect(res.text).toBe('One moment.');
    expect(res.finishReason).toBe('tool_calls');
    expect(res.toolCalls).toEqual([
      { id: 'toolu_01', name: 'connect_call', arguments: '{"destination":"+15551234567","note":"ünïcode ✓"}' },
      { id: 'toolu_02', name: 'stop_service', arguments: '{}' },
    ]);
    expect(JSON.parse(res.toolCalls[0].arguments)).toEqual(input);
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

  it('a stream cut before message_stop → ProviderError protocol', async () => {
    fake.script = { text: 'abcdefghi', endAfterEvents: 5 };
    const deltas: string[] = [];
    const err = await failure(llm().stream({ messages: [{ role: 'user', content: 'x' }] }, (d) => deltas.push(d)));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('protocol');
    expect(deltas).toEqual(['abc', 'def']);
  });

  it('an error event inside the stream → ProviderError with its type', async () => {
    fake.script = { text: 'abcdef', errorEventAfterEvents: { after: 4, type: 'overloaded_error', message: 'Overloaded' } };
    const err = await failure(llm().stream({ messages: [{ role: 'user', content: 'x' }] }, () => {}));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('overloaded_error');
    expect(err.message).toContain('Overloaded');
  });

  it('times out a stalled stream with ProviderError timeout', async () => {
    fake.script = { text: 'never finished', stallAfterEvents: 4 };
    const deltas: string[] = [];
    const t0 = Date.now();
    const err = await failure(llm('anthropic.claude-x', { timeoutMs: 300 }).stream({ messages: [{ role: 'user', content: 'x' }] }, (d) => deltas.push(d)));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
    expect(deltas).toEqual(['nev']);
    expect(Date.now() - t0).toBeLessThan(4000);
  });
});

describe('abort', () => {
  it('aborting mid-stream rejects promptly with the signal reason and closes the request', async () => {
    // The fake then hangs: only the abort can end the call before the 5 s timeout.
    fake.script = { text: 'a long answer that keeps going', stallAfterEvents: 5 };
    const ctl = new AbortController();
    const deltas: string[] = [];
    let abortedAt = 0;
    const p = llm().stream({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }, (d) => {
      deltas.push(d);
      if (deltas.length === 2) {
        abortedAt = Date.now();
        ctl.abort();
      }
    });
    const err = await failure(p);
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(err).toBe(ctl.signal.reason);
    expect(err.name).toBe('AbortError');
    expect(deltas).toEqual(['a l', 'ong']);
    await expect.poll(() => fake.requests[0]?.closedEarly).toBe(true);
  });

  it('aborting complete() while waiting rejects at once with a custom reason', async () => {
    fake.script = { text: 'late', headerDelayMs: 4000 };
    const ctl = new AbortController();
    const reason = new Error('barge-in');
    setTimeout(() => ctl.abort(reason), 50);
    const t0 = Date.now();
    const err = await failure(llm().complete({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }));
    expect(err).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  it('an already aborted signal sends nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const err = await failure(llm().stream({ messages: [{ role: 'user', content: 'x' }], signal: ctl.signal }, () => {}));
    expect(err.name).toBe('AbortError');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('errors', () => {
  it('a wrong key → ProviderError authentication_error 401, without the key even when the server echoes it', async () => {
    fake.script = { echoKeyInErrors: true };
    for (const call of ['complete', 'stream'] as const) {
      const p = llm('anthropic.claude-x', { apiKey: CANARY });
      const req = { messages: [{ role: 'user' as const, content: 'x' }] };
      const err = await failure(call === 'complete' ? p.complete(req) : p.stream(req, () => {}));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.kind).toBe('llm');
      expect(err.provider).toBe('anthropic');
      expect(err.status).toBe(401);
      expect(err.code).toBe('authentication_error');
      expect(err.requestId).toBe(FAKE_REQUEST_ID);
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/^anthropic LLM: 401 invalid x-api-key/);
      expect(everything(err)).not.toContain(CANARY);
    }
    // The canary did reach the server: the scrubbing, not its absence, keeps it out.
    expect(fake.requests).toHaveLength(2);
    expect(JSON.stringify(fake.requests[0].headers)).toContain(CANARY);
  });

  it('429 is retried, then the call succeeds', async () => {
    const rateLimited = { status: 429, type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' };
    fake.script = { text: 'finally', failFirst: [rateLimited, { ...rateLimited }] };
    const res = await llm('anthropic.claude-x', { maxRetries: 2 }).complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(res.text).toBe('finally');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('retries are bounded by maxRetries, then ProviderError rate_limit_error', async () => {
    fake.script = { failWith: { status: 429, type: 'rate_limit_error', message: 'Rate limited' } };
    const err = await failure(llm('anthropic.claude-x', { maxRetries: 1 }).stream({ messages: [{ role: 'user', content: 'x' }] }, () => {}));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_error');
    expect(err.requestId).toBe(FAKE_REQUEST_ID);
    expect(err.retryable).toBe(true);
    expect(fake.requests).toHaveLength(2);
  });

  it.each([
    [529, 'overloaded_error', 'Overloaded'],
    [500, 'api_error', 'Internal server error'],
  ])('%i → ProviderError %s', async (status, type, message) => {
    fake.script = { failWith: { status, type, message } };
    const err = await failure(llm().complete({ messages: [{ role: 'user', content: 'x' }] }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(status);
    expect(err.code).toBe(type);
    expect(err.message).toContain(message);
    expect(fake.requests).toHaveLength(1); // maxRetries 0
  });

  it('an unreachable server → ProviderError network', async () => {
    const err = await failure(llm('anthropic.claude-x', { baseUrl: 'http://127.0.0.1:1' }).complete({ messages: [{ role: 'user', content: 'x' }] }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('network');
    expect(err.status).toBeUndefined();
  });

  it('the key never appears in any error message', async () => {
    const canary = (opts: Partial<LlmProviderOptions> = {}): LlmProvider =>
      createLlmProvider('anthropic.claude-x', { apiKey: CANARY, baseUrl: canaryFake.baseUrl, maxRetries: 0, timeoutMs: 5000, ...opts });
    const req = (): LlmRequest => ({ messages: [{ role: 'user', content: 'x' }] });
    const errors: any[] = [];
    for (const failWith of [
      { status: 429, type: 'rate_limit_error', message: `limited for ${CANARY}` },
      { status: 529, type: 'overloaded_error', message: 'Overloaded' },
      { status: 500, type: 'api_error', message: `boom ${CANARY}` },
      { status: 400, type: 'invalid_request_error', message: `bad key ${CANARY}` },
    ]) {
      canaryFake.script = { failWith };
      errors.push(await failure(canary().complete(req())));
      errors.push(await failure(canary().stream(req(), () => {})));
    }
    canaryFake.script = { text: 'abcdef', errorEventAfterEvents: { after: 3, type: 'overloaded_error', message: `over ${CANARY}` } };
    errors.push(await failure(canary().stream(req(), () => {})));
    canaryFake.script = { text: 'abcdef', endAfterEvents: 3 };
    errors.push(await failure(canary().stream(req(), () => {})));
    canaryFake.script = { text: 'abcdef', stallAfterEvents: 3 };
    errors.push(await failure(canary({ timeoutMs: 300 }).stream(req(), () => {})));
    errors.push(await failure(canary({ baseUrl: 'http://127.0.0.1:1' }).complete(req())));

    expect(errors.map((e) => e.code)).toEqual([
      'rate_limit_error', 'rate_limit_error',
      'overloaded_error', 'overloaded_error',
      'api_error', 'api_error',
      'invalid_request_error', 'invalid_request_error',
      'overloaded_error', 'protocol', 'timeout', 'network',
    ]);
    for (const err of errors) {
      expect(err).toBeInstanceOf(ProviderError);
      expect(everything(err)).not.toContain(CANARY);
    }
    // The server did quote the key in its messages: it was scrubbed, not absent.
    expect(errors[0].message).toContain('[redacted]');
  });
});

describe('anthropicFinishReason', () => {
  it('maps stop reasons to finish reasons, passing others through', () => {
    expect(anthropicFinishReason('end_turn')).toBe('stop');
    expect(anthropicFinishReason('tool_use')).toBe('tool_calls');
    expect(anthropicFinishReason('max_tokens')).toBe('length');
    expect(anthropicFinishReason('stop_sequence')).toBe('stop_sequence');
    expect(anthropicFinishReason('refusal')).toBe('refusal');
    expect(anthropicFinishReason(null)).toBe('unknown');
  });
});
