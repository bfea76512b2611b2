/**
 * The behaviour every TTS adapter shares, run against each provider's loopback fake: exact PCM
 * across odd chunk boundaries, errors as ProviderError without the key, abort, cancel and timeouts.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/providers/tts/index.js';
import { redact } from '../../src/util/logger.js';
import { knownPcm, startFakeTts } from './fake-tts-servers.js';
import type { FakeProvider, FakeTtsServer } from './fake-tts-servers.js';
import { collect, failureOf, providerFor, recordBodyChunkSizes, waitFor } from './helpers.js';

const RATES: Record<FakeProvider, number> = { openai: 24000, elevenlabs: 16000, deepgram: 16000 };

describe.each(['openai', 'elevenlabs', 'deepgram'] as const)('%s adapter', (name) => {
  let fake: FakeTtsServer;
  beforeAll(async () => {
    fake = await startFakeTts(name);
  });
  afterAll(() => fake.close());
  const reset = (behavior: FakeTtsServer['behavior'] = {}) => {
    fake.behavior = behavior;
    fake.requests.length = 0;
  };

  it('yields the exact PCM at its declared rate, across odd chunk boundaries', async () => {
    reset();
    const spy = recordBodyChunkSizes(); // before the adapter: the OpenAI SDK takes fetch when built
    let result: Awaited<ReturnType<typeof collect>>;
    let rate: number;
    try {
      const tts = providerFor(fake);
      expect(tts.name).toBe(name);
      rate = tts.sampleRateHz;
      result = await collect(tts.synthesize({ text: 'Hello there' }));
    } finally {
      spy.restore();
    }
    expect(rate).toBe(RATES[name]);
    expect(Array.from(result.samples)).toEqual(Array.from(knownPcm(rate)));
    // The fake wrote 1, 3, 7, ... byte pieces: samples really straddled the client's chunks.
    expect(spy.sizes.filter((n) => n % 2 === 1).length).toBeGreaterThan(0);
    expect(result.chunks.length).toBeGreaterThan(1);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].status).toBe(200);
  });

  it('sends nothing and yields nothing for a blank text', async () => {
    reset();
    const { samples } = await collect(providerFor(fake).synthesize({ text: '  \n ' }));
    expect(samples.length).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });

  it('drops a trailing half sample', async () => {
    reset({ trailingOddByte: true, chunkSizes: [4001] });
    const { samples } = await collect(providerFor(fake).synthesize({ text: 'odd' }));
    expect(Array.from(samples)).toEqual(Array.from(knownPcm(RATES[name])));
  });

  it('maps a wrong key to ProviderError 401 whose message holds no key, even when the server echoes it', async () => {
    reset({ echoKeyInErrors: true });
    const wrongKey = `${name}-wrong-key-0123456789abcdef`;
    const err = await failureOf(providerFor(fake, { apiKey: wrongKey }), { text: 'hi' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.provider).toBe(name);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(new RegExp(`^${name} TTS failed: HTTP 401`));
    expect(err.message).toMatch(/invalid/i);
    expect(err.message).not.toContain(wrongKey);
    expect(err.message).not.toContain(fake.apiKey);
    expect(err.message).not.toContain('127.0.0.1');
    expect(JSON.stringify(err)).not.toContain(wrongKey);
    // The key is registered for log redaction too.
    expect(redact(`key=${wrongKey}`)).not.toContain(wrongKey);
  });

  it('rejects with the abort reason when the signal aborts mid-stream, and closes the request', async () => {
    reset({ stallAfterBytes: 600 });
    const ac = new AbortController();
    const got: Int16Array[] = [];
    const err = await (async () => {
      try {
        for await (const c of providerFor(fake).synthesize({ text: 'long text', signal: ac.signal })) {
          got.push(c);
          ac.abort();
        }
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(got.length).toBeGreaterThan(0);
    expect(err?.name).toBe('AbortError');
    await waitFor(() => fake.requests[0]?.closedEarly === true);
  });

  it('aborts while waiting for the response headers', async () => {
    reset({ headerDelayMs: 5000 });
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error('barge-in')), 50);
    const err = await failureOf(providerFor(fake), { text: 'hi', signal: ac.signal });
    expect(err.message).toBe('barge-in');
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => fake.requests[0]?.closedEarly === true);
  });

  it('does not send a request when the signal is already aborted', async () => {
    reset();
    const err = await failureOf(providerFor(fake), { text: 'hi', signal: AbortSignal.abort() });
    expect(err.name).toBe('AbortError');
    expect(fake.requests).toHaveLength(0);
  });

  it('cancels the request when the consumer stops early', async () => {
    reset({ stallAfterBytes: 600 });
    for await (const c of providerFor(fake).synthesize({ text: 'hi' })) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    await waitFor(() => fake.requests[0]?.closedEarly === true);
  });

  it('times out with ProviderError code "timeout" when the stream stalls', async () => {
    reset({ stallAfterBytes: 600 });
    const started = Date.now();
    const err = await failureOf(providerFor(fake, { timeoutMs: 150 }), { text: 'hi' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
    expect(err.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => fake.requests[0]?.closedEarly === true);
  });

  it('times out when the response headers never come', async () => {
    reset({ headerDelayMs: 5000 });
    const err = await failureOf(providerFor(fake, { timeoutMs: 150 }), { text: 'hi' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
  });

  it('maps a refused connection to ProviderError without the URL or the key', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const base = name === 'openai' ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`;
    const err = await failureOf(providerFor(fake, { baseUrl: base, timeoutMs: 5000 }), { text: 'hi' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBeUndefined();
    expect(err.message).not.toContain(String(port));
    expect(err.message).not.toContain(fake.apiKey);
  });
});
