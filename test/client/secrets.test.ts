/**
 * Auth and secrets: the access key travels only as a Bearer header, and neither it nor an
 * engine_key reaches a URL, a log line or an error message.
 */
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  AuthenticationError,
  BadRequestError,
  DEFAULT_BASE_URL,
  VoipbinClient,
} from '../../src/client/index.js';
import type { VoipbinError } from '../../src/client/index.js';
import { createLogger, setLogSink } from '../../src/util/logger.js';
import { captureLogger } from './capture-logger.js';
import { FakeVoipbin } from './fake-voipbin.js';

const CANARY = 'sk-canary-CLIENT-0123456789';
const ENGINE_KEY_CANARY = 'sk-canary-ENGINE-9876543210';

let fake: FakeVoipbin;
beforeAll(async () => {
  fake = await FakeVoipbin.start({ accessKey: CANARY });
});
afterAll(() => fake.close());

describe('authentication', () => {
  it('sends the key as a Bearer header and never in the URL', async () => {
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: CANARY, logger: captureLogger().logger });
    await client.customer.get();
    await client.ais.list({ page_size: 5 });
    const reqs = fake.requests.slice(-2);
    for (const r of reqs) {
      expect(r.headers.authorization).toBe(`Bearer ${CANARY}`);
      expect(r.url).not.toContain(CANARY);
      expect(Object.keys(r.query)).not.toContain('accesskey');
      expect(Object.keys(r.query)).not.toContain('token');
      expect(r.headers['user-agent']).toMatch(/^voipbin-ai/);
      expect(r.headers.accept).toBe('application/json');
    }
  });

  it('a wrong key is an AuthenticationError', async () => {
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: 'sk-wrong-key-000000', maxRetries: 0 });
    const err = await client.customer.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).reason).toBe('INVALID_CREDENTIALS');
  });

  it('no key sends no Authorization header', async () => {
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, maxRetries: 0 });
    expect(client.hasAccessKey).toBe(false);
    const err = await client.customer.get().catch((e: unknown) => e);
    expect((err as AuthenticationError).reason).toBe('AUTHENTICATION_REQUIRED');
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });
});

describe('secrets never leak', () => {
  const restore: (() => void)[] = [];
  afterEach(() => {
    while (restore.length) restore.pop()!();
  });

  it('absent from log lines, error messages and the client object', async () => {
    const { logger, lines } = captureLogger();
    const client = new VoipbinClient({
      baseUrl: fake.baseUrl,
      accessKey: CANARY,
      logger,
      retryBaseDelayMs: 1,
      maxRetries: 1,
    });

    // A success with an engine_key in the body, a retried 503, a 400 whose message echoes both
    // secrets and the URL with an ?accesskey=, and a 401 that echoes the key.
    await client.ais.create({ name: 'x', engine_model: 'openai.gpt-5', engine_key: ENGINE_KEY_CANARY });
    fake.script('GET', '/customer', FakeVoipbin.error(503, 'SERVICE_UNAVAILABLE', 'later'));
    await client.customer.get();
    fake.script(
      'POST',
      '/ais',
      FakeVoipbin.error(
        400,
        'INVALID_ARGUMENT',
        `engine_key ${ENGINE_KEY_CANARY} rejected for POST /v1.0/ais?accesskey=${CANARY} by Bearer ${CANARY}`,
      ),
    );
    const badRequest = (await client.ais
      .create({ name: 'x', engine_model: 'openai.gpt-5', engine_key: ENGINE_KEY_CANARY })
      .catch((e: unknown) => e)) as VoipbinError;
    expect(badRequest).toBeInstanceOf(BadRequestError);
    fake.script('GET', '/ais', FakeVoipbin.error(401, 'INVALID_CREDENTIALS', `key ${CANARY} expired`));
    const unauthenticated = (await client.ais.list().catch((e: unknown) => e)) as VoipbinError;
    expect(unauthenticated).toBeInstanceOf(AuthenticationError);

    // Debug lines were written (method, path, status, ms) ...
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'debug', method: 'POST', path: '/v1.0/ais', status: 200, attempt: 0 });
    expect(typeof line.ms).toBe('number');
    expect(lines.some((l) => l.includes('"msg":"voipbin retry"'))).toBe(true);
    // ... but the secrets never reached the logger, not even before redaction.
    for (const l of lines) {
      expect(l).not.toContain(CANARY);
      expect(l).not.toContain(ENGINE_KEY_CANARY);
      expect(l).not.toContain('engine_key');
    }
    for (const err of [badRequest, unauthenticated]) {
      for (const text of [err.message, err.serverMessage, err.stack ?? '', inspect(err), JSON.stringify(err)]) {
        expect(text).not.toContain(CANARY);
        expect(text).not.toContain(ENGINE_KEY_CANARY);
      }
    }
    expect(inspect(client, { depth: 5 })).not.toContain(CANARY);
    expect(JSON.stringify(client)).not.toContain(CANARY);
  });

  it('absent from connection errors', async () => {
    const client = new VoipbinClient({ baseUrl: 'http://127.0.0.1:9/v1.0', accessKey: CANARY, maxRetries: 0 });
    const err = (await client.ais.list({ page_token: 'x' }).catch((e: unknown) => e)) as VoipbinError;
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(err.message).not.toContain(CANARY);
    expect(inspect(err)).not.toContain(CANARY);
  });

  it('a query value named accesskey or token is redacted in the logged path', async () => {
    const { logger, lines } = captureLogger();
    const client = new VoipbinClient({ baseUrl: fake.baseUrl, accessKey: CANARY, logger, maxRetries: 0 });
    await client.get('/ais', { query: { token: 'tok-secret-123456', page_size: 1 } });
    expect(lines.join('\n')).not.toContain('tok-secret-123456');
    expect(lines.join('\n')).toContain('token=[redacted]');
  });

  it('through the real logger at debug level too', async () => {
    const written: string[] = [];
    restore.push(((prev) => () => setLogSink(prev))(setLogSink((l) => written.push(l))));
    const client = new VoipbinClient({
      baseUrl: fake.baseUrl,
      accessKey: CANARY,
      logger: createLogger('debug', { component: 'test' }),
    });
    await client.ais.create({ name: 'y', engine_model: 'openai.gpt-5', engine_key: ENGINE_KEY_CANARY });
    expect(written.length).toBeGreaterThan(0);
    expect(written.join('\n')).not.toContain(CANARY);
    expect(written.join('\n')).not.toContain(ENGINE_KEY_CANARY);
  });
});

describe('configuration', () => {
  it('fromEnv reads VOIPBIN_API_URL and VOIPBIN_ACCESSKEY; overrides win', async () => {
    const env = { VOIPBIN_API_URL: fake.baseUrl, VOIPBIN_ACCESSKEY: CANARY };
    const client = VoipbinClient.fromEnv(env, { timeoutMs: 1234, maxRetries: undefined });
    expect(client.baseUrl).toBe(fake.baseUrl);
    expect(client.timeoutMs).toBe(1234);
    expect(client.maxRetries).toBe(2);
    expect(client.hasAccessKey).toBe(true);
    await client.customer.get();
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${CANARY}`);

    const other = VoipbinClient.fromEnv(env, { baseUrl: 'http://localhost:8080' });
    expect(other.baseUrl).toBe('http://localhost:8080/v1.0');
  });

  it('defaults to api.voipbin.net with 30 s timeout and 2 retries', () => {
    const client = VoipbinClient.fromEnv({});
    expect(client.baseUrl).toBe(DEFAULT_BASE_URL);
    expect(client.timeoutMs).toBe(30_000);
    expect(client.maxRetries).toBe(2);
    expect(client.hasAccessKey).toBe(false);
  });

  it('base URLs: trailing slashes dropped, a bare host gets /v1.0', () => {
    expect(new VoipbinClient({ baseUrl: 'https://api.voipbin.net/' }).baseUrl).toBe('https://api.voipbin.net/v1.0');
    expect(new VoipbinClient({ baseUrl: 'https://api.voipbin.net/v1.0/' }).baseUrl).toBe('https://api.voipbin.net/v1.0');
    expect(new VoipbinClient({ baseUrl: 'http://127.0.0.1:3000/api/v1.0' }).baseUrl).toBe('http://127.0.0.1:3000/api/v1.0');
  });

  it('uses an injected fetch (the in-process local API)', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const inProcess: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') });
      return new Response(JSON.stringify({ result: [], next_page_token: '' }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    const client = new VoipbinClient({ baseUrl: 'http://local.voipbin/v1.0', fetch: inProcess, accessKey: 'local-key-123' });
    const page = await client.flows.list({ page_size: 3 });
    expect(page.result).toEqual([]);
    expect(seen).toEqual([{ url: 'http://local.voipbin/v1.0/flows?page_size=3', auth: 'Bearer local-key-123' }]);
  });
});
