/**
 * The Cartesia WebSocket adapter against a loopback fake of the same protocol: handshake (key
 * header, version), text in pieces, audio before the end, flush, the closing message, cancel,
 * refused keys and provider errors, and the whole-text `synthesize` built on the stream.
 */
import { describe, expect, it } from 'vitest';
import { CartesiaWsTts, createStreamingTtsProvider, createTtsProvider } from '../../src/providers/tts/index.js';
import type { CartesiaWsOptions } from '../../src/providers/tts/index.js';
import { readAudio, samplesFor, startFakeCartesiaWs } from './fake-tts-ws-servers.js';
import { collect, waitFor } from './helpers.js';
import { describeTtsWsContract, fakeForBlock } from './tts-ws-contract.js';

const CANARY = 'sk_car_CANARY_123';
const DEFAULT_VOICE = '71a7ad14-091c-4e8e-a314-022ece01c121';

describe('cartesia tts websocket', () => {
  const fake = fakeForBlock(() => startFakeCartesiaWs(CANARY));
  const tts = (opts: Partial<CartesiaWsOptions> = {}): CartesiaWsTts => new CartesiaWsTts({ apiKey: fake().apiKey, baseUrl: fake().baseUrl, ...opts });

  describeTtsWsContract({
    name: 'cartesia',
    Adapter: CartesiaWsTts,
    fake,
    stream: {
      open: { language: 'ja-JP' },
      pieces: ['Hello, ', 'there! ', '', 'How are you?'],
      last: ' Fine.',
      ended: (conn) => conn.messages.some((m) => m.continue === false),
      headers: (key) => ({ 'x-api-key': key, 'cartesia-version': '2025-04-16' }),
      query: { cartesia_version: '2025-04-16' },
      more: (conn) => {
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
      },
      samples: samplesFor('Hello, there! How are you? Fine.'),
    },
    cancel: {
      text: 'x'.repeat(200),
      flush: false,
      samples: samplesFor('x'.repeat(200)),
      more: (conn) => expect(conn.messages.at(-1)).toEqual({ context_id: conn.messages[0].context_id, cancel: true }),
    },
    refused: { wrong: 'sk_car_CANARY_wrong_456', code: 'invalid_api_key', message: 'Invalid API key' },
    failure: {
      code: 'quota_exceeded',
      message: (key) => `Quota exceeded for ${key}`,
      pieces: ['Hello there. ', 'And more. '],
      status: 500,
      contains: ['Quota exceeded'],
    },
  });

  it('speaks with the request voice at the configured rate, without a language when none is given', async () => {
    fake().reset();
    const t = tts({ sampleRateHz: 24000, model: 'sonic-2', maxBufferDelayMs: 0 });
    expect(t.sampleRateHz).toBe(24000);
    const stream = await t.openTextStream({ voiceId: ' my-voice ' });
    const audio = readAudio(stream);
    stream.pushText('Hi.');
    stream.end();
    expect(await audio.done).toBeUndefined();
    const first = fake().connections[0].messages[0];
    expect(first).toMatchObject({ model_id: 'sonic-2', voice: { mode: 'id', id: 'my-voice' }, max_buffer_delay_ms: 0 });
    expect(first.output_format).toEqual({ container: 'raw', encoding: 'pcm_s16le', sample_rate: 24000 });
    expect(first).not.toHaveProperty('language');
    expect(audio.samples.length).toBe(samplesFor('Hi.', 24000));
  });

  it('leaving the audio loop early cancels the stream', async () => {
    fake().reset();
    fake().behavior = { chunkDelayMs: 30 };
    const stream = await tts().openTextStream({});
    stream.pushText('y'.repeat(200));
    for await (const chunk of stream.audio) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    const conn = fake().connections[0];
    await waitFor(() => conn.closed, 10_000);
    expect(conn.messages.at(-1)).toMatchObject({ cancel: true });
  });

  it('end() with no text sends nothing and ends the audio', async () => {
    fake().reset();
    const stream = await tts().openTextStream({});
    const audio = readAudio(stream);
    stream.flush();
    stream.end();
    expect(await audio.done).toBeUndefined();
    expect(audio.samples).toEqual([]);
    await waitFor(() => fake().connections[0].closed);
    expect(fake().connections[0].messages).toEqual([]);
  });

  it('an abort mid-stream rejects the iteration with the reason', async () => {
    fake().reset();
    fake().behavior = { chunkDelayMs: 30 };
    const ac = new AbortController();
    const stream = await tts().openTextStream({ signal: ac.signal });
    const audio = readAudio(stream);
    stream.pushText('z'.repeat(100));
    await waitFor(() => audio.samples.length > 0, 10_000);
    ac.abort(new Error('caller hung up'));
    expect(((await audio.done) as Error).message).toBe('caller hung up');
    await waitFor(() => fake().connections[0].closed, 10_000);
  });

  it('synthesize() speaks a whole text over one stream (createTtsProvider), and nothing for a blank one', async () => {
    fake().reset();
    const provider = createTtsProvider('cartesia', { apiKey: fake().apiKey, baseUrl: fake().baseUrl });
    expect(provider.name).toBe('cartesia');
    const { samples } = await collect(provider.synthesize({ text: 'Good morning.', language: 'en-US' }));
    expect(samples.length).toBe(samplesFor('Good morning.'));
    const conn = fake().connections[0];
    expect(conn.messages.map((m) => [m.transcript, m.continue])).toEqual([
      ['Good morning.', true],
      ['', false],
    ]);
    const blank = await collect(provider.synthesize({ text: '   ' }));
    expect(blank.samples.length).toBe(0);
    expect(fake().connections).toHaveLength(1);
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
