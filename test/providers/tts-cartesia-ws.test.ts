/**
 * The Cartesia WebSocket adapter against a loopback fake of the same protocol: handshake (key
 * header, version), text in pieces, audio before the end, flush, the closing message, cancel,
 * refused keys and provider errors, and the whole-text `synthesize` built on the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CartesiaWsTts, createStreamingTtsProvider, createTtsProvider, ProviderError } from '../../src/providers/tts/index.js';
import type { CartesiaWsOptions } from '../../src/providers/tts/index.js';
import { readAudio, samplesFor, startFakeCartesiaWs, toneSample } from './fake-tts-ws-servers.js';
import type { FakeTtsWs } from './fake-tts-ws-servers.js';
import { collect, waitFor } from './helpers.js';

const CANARY = 'sk_car_CANARY_123';
const DEFAULT_VOICE = '71a7ad14-091c-4e8e-a314-022ece01c121';

describe('cartesia tts websocket', () => {
  let fake: FakeTtsWs;
  beforeAll(async () => {
    fake = await startFakeCartesiaWs(CANARY);
  });
  afterAll(() => fake.close());
  const tts = (opts: Partial<CartesiaWsOptions> = {}): CartesiaWsTts => new CartesiaWsTts({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, ...opts });

  it('sends the key and version on the handshake, the pieces in order, flush and the final message; audio streams before end()', async () => {
    fake.reset();
    const stream = await tts().openTextStream({ language: 'ja-JP' });
    const audio = readAudio(stream);
    stream.pushText('Hello, ');
    stream.pushText('there! ');
    stream.pushText('');
    stream.pushText('How are you?');
    stream.flush();
    await waitFor(() => audio.samples.length > 0, 10_000);
    const conn = fake.connections[0];
    // Audio is flowing although the context is still open.
    expect(conn.messages.some((m) => m.continue === false)).toBe(false);
    stream.pushText(' Fine.');
    stream.end();
    expect(await audio.done).toBeUndefined();

    expect(conn.headers['x-api-key']).toBe(CANARY);
    expect(conn.headers['cartesia-version']).toBe('2025-04-16');
    expect(conn.query).toEqual({ cartesia_version: '2025-04-16' });
    expect(conn.url).not.toContain(CANARY);
    expect(JSON.stringify(conn.messages)).not.toContain(CANARY);

    const contextId = conn.messages[0].context_id;
    expect(typeof contextId).toBe('string');
    const base = {
      model_id: 'sonic-3',
      voice: { mode: 'id', id: DEFAULT_VOICE },
      output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 16000 },
      context_id: contextId,
      language: 'ja',
    };
    expect(conn.messages).toEqual([
      { ...base, transcript: 'Hello, ', continue: true },
      { ...base, transcript: 'there! ', continue: true },
      { ...base, transcript: 'How are you?', continue: true },
      { ...base, transcript: '', continue: true, flush: true },
      { ...base, transcript: ' Fine.', continue: true },
      { ...base, transcript: '', continue: false },
    ]);
    expect(conn.textReceived).toBe('Hello, there! How are you? Fine.');
    expect(audio.samples.length).toBe(samplesFor('Hello, there! How are you? Fine.'));
    expect(audio.samples.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, n) => toneSample(n)));
    await waitFor(() => conn.closed);
  });

  it('speaks with the request voice at the configured rate, without a language when none is given', async () => {
    fake.reset();
    const t = tts({ sampleRateHz: 24000, model: 'sonic-2', maxBufferDelayMs: 0 });
    expect(t.sampleRateHz).toBe(24000);
    const stream = await t.openTextStream({ voiceId: ' my-voice ' });
    const audio = readAudio(stream);
    stream.pushText('Hi.');
    stream.end();
    expect(await audio.done).toBeUndefined();
    const first = fake.connections[0].messages[0];
    expect(first).toMatchObject({ model_id: 'sonic-2', voice: { mode: 'id', id: 'my-voice' }, max_buffer_delay_ms: 0 });
    expect(first.output_format).toEqual({ container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 });
    expect(first).not.toHaveProperty('language');
    expect(audio.samples.length).toBe(samplesFor('Hi.', 24000));
  });

  it('cancel() stops the audio at once, tells Cartesia and closes the socket', async () => {
    fake.reset();
    fake.behavior = { chunkDelayMs: 30 };
    const stream = await tts().openTextStream({});
    stream.pushText('x'.repeat(200));
    const it = stream.audio[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    stream.cancel();
    stream.cancel();
    expect((await it.next()).done).toBe(true);
    const conn = fake.connections[0];
    await waitFor(() => conn.closed, 10_000);
    expect(conn.messages.at(-1)).toEqual({ context_id: conn.messages[0].context_id, cancel: true });
    const sent = conn.chunksSent;
    await new Promise((r) => setTimeout(r, 150));
    expect(conn.chunksSent).toBe(sent);
    expect(conn.samplesSent).toBeLessThan(samplesFor('x'.repeat(200)));
    expect(() => stream.pushText('more')).toThrow(/after end/);
  });

  it('leaving the audio loop early cancels the stream', async () => {
    fake.reset();
    fake.behavior = { chunkDelayMs: 30 };
    const stream = await tts().openTextStream({});
    stream.pushText('y'.repeat(200));
    for await (const chunk of stream.audio) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const conn = fake.connections[0];
    await waitFor(() => conn.closed, 10_000);
    expect(conn.messages.at(-1)).toMatchObject({ cancel: true });
  });

  it('end() with no text sends nothing and ends the audio', async () => {
    fake.reset();
    const stream = await tts().openTextStream({});
    const audio = readAudio(stream);
    stream.flush();
    stream.end();
    expect(await audio.done).toBeUndefined();
    expect(audio.samples).toEqual([]);
    await waitFor(() => fake.connections[0].closed);
    expect(fake.connections[0].messages).toEqual([]);
  });

  it('a wrong key is refused with 401 as a ProviderError without the key in it', async () => {
    fake.reset();
    fake.behavior = { echoKeyInErrors: true };
    const wrong = 'sk_car_CANARY_wrong_456';
    const err = await tts({ apiKey: wrong })
      .openTextStream({})
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProviderError);
    const pe = err as ProviderError;
    expect(pe.status).toBe(401);
    expect(pe.code).toBe('invalid_api_key');
    expect(pe.provider).toBe('cartesia');
    expect(pe.message).toContain('Invalid API key');
    expect(pe.message).not.toContain(wrong);
    expect(fake.refused).toEqual([401]);
  });

  it('a provider error mid-stream surfaces from the audio iteration, scrubbed', async () => {
    fake.reset();
    fake.behavior = { failAfterTexts: { count: 2, code: 'quota_exceeded', message: `Quota exceeded for ${CANARY}` } };
    const stream = await tts().openTextStream({});
    const audio = readAudio(stream);
    stream.pushText('Hello there. ');
    stream.pushText('And more. ');
    const err = (await audio.done) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('tts');
    expect(err.code).toBe('quota_exceeded');
    expect(err.status).toBe(500);
    expect(err.message).toContain('Quota exceeded');
    expect(err.message).not.toContain(CANARY);
  });

  it('an abort mid-stream rejects the iteration with the reason', async () => {
    fake.reset();
    fake.behavior = { chunkDelayMs: 30 };
    const ac = new AbortController();
    const stream = await tts().openTextStream({ signal: ac.signal });
    const audio = readAudio(stream);
    stream.pushText('z'.repeat(100));
    await waitFor(() => audio.samples.length > 0, 10_000);
    ac.abort(new Error('caller hung up'));
    expect(((await audio.done) as Error).message).toBe('caller hung up');
    await waitFor(() => fake.connections[0].closed, 10_000);
  });

  it('times out a handshake that never completes', async () => {
    fake.reset();
    fake.behavior = { hangHandshake: true };
    const err = await tts({ connectTimeoutMs: 200 })
      .openTextStream({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('timeout');
  });

  it('synthesize() speaks a whole text over one stream (createTtsProvider), and nothing for a blank one', async () => {
    fake.reset();
    const provider = createTtsProvider('cartesia', { apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    expect(provider.name).toBe('cartesia');
    const { samples } = await collect(provider.synthesize({ text: 'Good morning.', language: 'en-US' }));
    expect(samples.length).toBe(samplesFor('Good morning.'));
    const conn = fake.connections[0];
    expect(conn.messages.map((m) => [m.transcript, m.continue])).toEqual([
      ['Good morning.', true],
      ['', false],
    ]);
    const blank = await collect(provider.synthesize({ text: '   ' }));
    expect(blank.samples.length).toBe(0);
    expect(fake.connections).toHaveLength(1);
  });

  it('maps the base URL to ws(s), validates options and is created by the streaming factory', () => {
    const a = createStreamingTtsProvider('Cartesia', { apiKey: 'sk_car_123456', baseUrl: 'https://example.test/' }) as CartesiaWsTts;
    expect(a).toBeInstanceOf(CartesiaWsTts);
    expect(a.websocketUrl()).toBe('wss://example.test/tts/websocket?cartesia_version=2025-04-16');
    expect(new CartesiaWsTts({ apiKey: 'sk_car_123456' }).websocketUrl()).toBe('wss://api.cartesia.ai/tts/websocket?cartesia_version=2025-04-16');
    expect(() => new CartesiaWsTts({ apiKey: 'sk_car_123456', sampleRateHz: 11025 })).toThrow(/unsupported sampleRateHz/);
    expect(() => new CartesiaWsTts({ apiKey: 'sk_car_123456', cartesiaVersion: 'latest' })).toThrow(/YYYY-MM-DD/);
    expect(() => new CartesiaWsTts({ apiKey: ' ' })).toThrow(/API key is required/);
  });
});
