import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
  VoipbinClient,
  retryAfterMs,
} from '../../src/client/index.js';
import type { VoipbinClientOptions } from '../../src/client/index.js';
import { captureLogger } from './capture-logger.js';
import { FakeVoipbin } from './fake-voipbin.js';

const AI = { id: '3c9a1f0e-5b7d-4e2a-8c6f-1d2e3f4a5b6c', name: 'bot', is_insight_active: false };
const PATH = `/ais/${AI.id}`;

let fake: FakeVoipbin;
beforeEach(async () => {
  fake = await FakeVoipbin.start();
});
afterEach(() => fake.close());

/** A client with tiny backoff so retries are fast; tests that measure a delay use the server's. */
function client(options: VoipbinClientOptions = {}): VoipbinClient {
  return new VoipbinClient({
    baseUrl: fake.baseUrl,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    logger: captureLogger().logger,
    ...options,
  });
}

/** A port on 127.0.0.1 that nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('retries', () => {
  it('honours Retry-After in seconds on 429, then succeeds', async () => {
    fake.script('GET', PATH, FakeVoipbin.error(429, 'RATE_LIMIT_EXCEEDED', 'slow down', { headers: { 'Retry-After': '1' } }), {
      body: AI,
    });
    const started = Date.now();
    const ai = await client().ais.get(AI.id);
    expect(ai).toEqual(AI);
    const reqs = fake.requestsFor('GET', PATH);
    expect(reqs).toHaveLength(2);
    const gapMs = reqs[1]!.atMs - reqs[0]!.atMs;
    expect(gapMs).toBeGreaterThanOrEqual(950); // the 1 s asked for, not the 1 ms backoff
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('honours retry-after-ms', async () => {
    fake.script('GET', PATH, { status: 429, headers: { 'retry-after-ms': '300' }, body: {} }, { body: AI });
    await client().ais.get(AI.id);
    const reqs = fake.requestsFor('GET', PATH);
    expect(reqs[1]!.atMs - reqs[0]!.atMs).toBeGreaterThanOrEqual(290);
  });

  it('caps a long Retry-After at maxRetryAfterMs', async () => {
    fake.script('GET', PATH, { status: 503, headers: { 'Retry-After': '3600' }, body: {} }, { body: AI });
    const started = Date.now();
    await client({ maxRetryAfterMs: 50 }).ais.get(AI.id);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(2);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-15T09:30:00Z');
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0.5' }, now)).toBe(500);
    expect(retryAfterMs({ 'retry-after': 'Thu, 15 Jan 2026 09:30:05 GMT' }, now)).toBe(5000);
    expect(retryAfterMs({ 'retry-after': 'Thu, 15 Jan 2026 09:29:00 GMT' }, now)).toBe(0);
    expect(retryAfterMs({ 'retry-after-ms': '150', 'retry-after': '9' }, now)).toBe(150);
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMs({}, now)).toBeUndefined();
  });

  it('retries 500 and 503, then succeeds', async () => {
    fake.script(
      'GET',
      PATH,
      FakeVoipbin.error(500, 'INTERNAL', 'boom'),
      FakeVoipbin.error(503, 'SERVICE_UNAVAILABLE', 'later'),
      { body: AI },
    );
    expect(await client().ais.get(AI.id)).toEqual(AI);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(3);
  });

  it('retries 408', async () => {
    fake.script('GET', PATH, { status: 408, rawBody: '' }, { body: AI });
    expect(await client().ais.get(AI.id)).toEqual(AI);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(2);
  });

  it('retries a POST on 503 too (documented: like openai-node)', async () => {
    fake.script('POST', '/ais', FakeVoipbin.error(503, 'SERVICE_UNAVAILABLE', 'later'));
    const ai = await client().ais.create({ name: 'x', engine_model: 'openai.gpt-5' });
    expect(ai.name).toBe('x');
    expect(fake.requestsFor('POST', '/ais')).toHaveLength(2);
  });

  it('does not retry 400', async () => {
    fake.script('GET', PATH, FakeVoipbin.error(400, 'INVALID_ID', 'bad id'), { body: AI });
    await expect(client().ais.get(AI.id)).rejects.toBeInstanceOf(BadRequestError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(1);
  });

  it('does not retry 404', async () => {
    await expect(client().ais.get(AI.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(1);
  });

  it('throws the typed error when maxRetries is exhausted', async () => {
    const answers = Array.from({ length: 5 }, () => FakeVoipbin.error(503, 'SERVICE_UNAVAILABLE', 'down'));
    fake.script('GET', PATH, ...answers);
    const err = await client({ maxRetries: 2 }).ais.get(AI.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect((err as InternalServerError).reason).toBe('SERVICE_UNAVAILABLE');
    expect(fake.requestsFor('GET', PATH)).toHaveLength(3);
  });

  it('a 429 that never clears ends as RateLimitError', async () => {
    const answers = Array.from({ length: 3 }, () =>
      FakeVoipbin.error(429, 'RATE_LIMIT_EXCEEDED', 'slow down', { headers: { 'retry-after-ms': '10' } }),
    );
    fake.script('GET', PATH, ...answers);
    await expect(client({ maxRetries: 1 }).ais.get(AI.id)).rejects.toBeInstanceOf(RateLimitError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(2);
  });

  it('uses the per-call maxRetries over the client default', async () => {
    fake.script('GET', PATH, FakeVoipbin.error(500, 'INTERNAL', 'a'), FakeVoipbin.error(500, 'INTERNAL', 'b'), { body: AI });
    await expect(client({ maxRetries: 5 }).ais.get(AI.id, { maxRetries: 0 })).rejects.toBeInstanceOf(InternalServerError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(1);

    expect(await client({ maxRetries: 0 }).ais.get(AI.id, { maxRetries: 1 })).toEqual(AI);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(3);
  });
});

describe('timeouts and connection errors', () => {
  it('times out with APITimeoutError', async () => {
    fake.script('GET', PATH, { body: AI, delayMs: 5_000 });
    const started = Date.now();
    const err = await client({ timeoutMs: 150, maxRetries: 0 }).ais.get(AI.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APITimeoutError);
    expect((err as APITimeoutError).message).toBe(`Request timed out after 150 ms (GET /v1.0${PATH}).`);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('retries a timeout, then succeeds', async () => {
    fake.script('GET', PATH, { body: AI, delayMs: 5_000 }, { body: AI });
    expect(await client({ timeoutMs: 1_000, maxRetries: 1 }).ais.get(AI.id)).toEqual(AI);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(2);
  });

  it('uses the per-call timeout over the client default', async () => {
    fake.script('GET', PATH, { body: AI, delayMs: 300 });
    expect(await client({ timeoutMs: 50, maxRetries: 0 }).ais.get(AI.id, { timeoutMs: 10_000 })).toEqual(AI);

    fake.script('GET', PATH, { body: AI, delayMs: 5_000 });
    const err = await client({ timeoutMs: 30_000, maxRetries: 0 })
      .ais.get(AI.id, { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APITimeoutError);
  });

  it('connection refused → APIConnectionError after the retries', async () => {
    const port = await closedPort();
    const c = new VoipbinClient({ baseUrl: `http://127.0.0.1:${port}/v1.0`, maxRetries: 2, retryBaseDelayMs: 1 });
    const err = await c.ais.get(AI.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(err).not.toBeInstanceOf(APITimeoutError);
    expect((err as APIConnectionError).status).toBeUndefined();
    expect((err as APIConnectionError).message).toContain('ECONNREFUSED');
  });

  it('a dropped connection is retried', async () => {
    fake.script('GET', PATH, { hangUp: true }, { body: AI });
    expect(await client({ maxRetries: 1 }).ais.get(AI.id)).toEqual(AI);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(2);
  });

  it('a dropped connection without retries is APIConnectionError', async () => {
    fake.script('GET', PATH, { hangUp: true });
    await expect(client({ maxRetries: 0 }).ais.get(AI.id)).rejects.toBeInstanceOf(APIConnectionError);
  });

  it("the caller's abort signal stops the call at once, with no retry", async () => {
    fake.script('GET', PATH, { body: AI, delayMs: 5_000 }, { body: AI });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await client({ maxRetries: 3 })
      .ais.get(AI.id, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIUserAbortError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(1);
  });

  it('an abort during the backoff stops the retries', async () => {
    fake.script('GET', PATH, { status: 503, headers: { 'Retry-After': '30' }, body: {} });
    const controller = new AbortController();
    const pending = client({ maxRetries: 3 }).ais.get(AI.id, { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    expect(fake.requestsFor('GET', PATH)).toHaveLength(1);
  });
});
