/**
 * The ElevenLabs stream-input adapter against a loopback fake of the same WebSocket protocol:
 * text in pieces, audio before the end, the closing message, cancel, handshake and provider errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamingTtsProvider, ElevenLabsWsTts, ProviderError } from '../../src/providers/tts/index.js';
import type { ElevenLabsWsOptions, TtsTextStream } from '../../src/providers/tts/index.js';
import { SAMPLES_PER_CHAR, startFakeElevenLabsWs, toneSample } from './fake-elevenlabs-ws.js';
import type { FakeElevenLabsWs } from './fake-elevenlabs-ws.js';
import { waitFor } from './helpers.js';

const CANARY = 'el-CANARY-123';

function tts(fake: FakeElevenLabsWs, opts: Partial<ElevenLabsWsOptions> = {}): ElevenLabsWsTts {
  return new ElevenLabsWsTts({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, ...opts });
}

/** Reads the audio in the background; `samples` grows as chunks arrive. */
function reader(stream: TtsTextStream): { samples: number[]; done: Promise<unknown> } {
  const samples: number[] = [];
  const done = (async () => {
    for await (const chunk of stream.audio) samples.push(...chunk);
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { samples, done };
}

describe('elevenlabs stream-input websocket', () => {
  let fake: FakeElevenLabsWs;
  beforeAll(async () => {
    fake = await startFakeElevenLabsWs(CANARY);
  });
  afterAll(() => fake.close());
  const fresh = (): void => {
    fake.behavior = {};
    fake.connections.length = 0;
    fake.refused.length = 0;
  };

  it('sends the config, the pieces in order and the closing text; audio streams back before end()', async () => {
    fresh();
    const stream = await tts(fake).openTextStream({ language: 'ja-JP', gender: 'male' });
    const r = reader(stream);
    stream.pushText('Hello ');
    stream.pushText('there, ');
    stream.pushText('');
    stream.pushText('how are you?');
    stream.flush();
    await waitFor(() => r.samples.length > 0, 10_000);
    expect(fake.connections[0].messages.at(-1)).not.toEqual({ text: '' });
    stream.pushText(' Fine.');
    stream.end();
    expect(await r.done).toBeUndefined();

    const conn = fake.connections[0];
    expect(conn.voiceId).toBe('Mv8AjrYZCBkdsmDHNwcB');
    expect(conn.query).toEqual({ model_id: 'eleven_flash_v2_5', output_format: 'pcm_16000', inactivity_timeout: '20', language_code: 'ja' });
    expect(conn.headers['xi-api-key']).toBe(CANARY);
    expect(conn.url).not.toContain(CANARY);
    expect(conn.messages[0]).toEqual({ text: ' ', generation_config: { chunk_length_schedule: [50, 120, 160, 250] } });
    expect(JSON.stringify(conn.messages)).not.toContain(CANARY);
    expect(conn.messages.slice(1)).toEqual([
      { text: 'Hello ' },
      { text: 'there, ' },
      { text: 'how are you?' },
      { text: ' ', flush: true },
      { text: ' Fine.' },
      { text: '' },
    ]);
    expect(conn.generations).toEqual(['Hello there, how are you? ', ' Fine.']);
    const chars = 'Hellothere,howareyou?Fine.'.length;
    expect(r.samples.length).toBe(chars * SAMPLES_PER_CHAR);
    expect(r.samples.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, n) => toneSample(n)));
    await waitFor(() => conn.closed);
  });

  it('cancel() mid-stream stops the audio at once and closes the socket', async () => {
    fresh();
    fake.behavior = { chunkDelayMs: 30 };
    const stream = await tts(fake).openTextStream({});
    stream.pushText('x'.repeat(400));
    stream.flush();
    const it = stream.audio[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    stream.cancel();
    expect((await it.next()).done).toBe(true);
    const conn = fake.connections[0];
    await waitFor(() => conn.closed, 10_000);
    expect(conn.samplesSent).toBeLessThan(400 * SAMPLES_PER_CHAR);
  });

  it('a wrong key is refused with 401 as a ProviderError without the key in it', async () => {
    fresh();
    fake.behavior = { echoKeyInErrors: true };
    const wrong = 'el-CANARY-wrong-456';
    const err = await tts(fake, { apiKey: wrong }).openTextStream({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    const pe = err as ProviderError;
    expect(pe.status).toBe(401);
    expect(pe.code).toBe('invalid_api_key');
    expect(pe.message).toContain('Invalid API key');
    expect(pe.message).not.toContain(wrong);
    expect(fake.refused).toEqual([401]);
  });

  it('a provider error mid-stream surfaces from the audio iteration, scrubbed', async () => {
    fresh();
    fake.behavior = { failAfterTexts: { count: 2, error: 'quota_exceeded', message: `Quota exceeded for ${CANARY}` } };
    const stream = await tts(fake).openTextStream({});
    const r = reader(stream);
    stream.pushText('Hello there. ');
    stream.flush();
    const err = (await r.done) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('tts');
    expect(err.code).toBe('quota_exceeded');
    expect(err.message).toContain('Quota exceeded');
    expect(err.message).not.toContain(CANARY);
  });

  it('times out a handshake that never completes', async () => {
    fresh();
    fake.behavior = { hangHandshake: true };
    const err = await tts(fake, { connectTimeoutMs: 200 }).openTextStream({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('timeout');
  });

  it('maps the base URL to ws(s) and is created by the factory', () => {
    const a = createStreamingTtsProvider('ElevenLabs', { apiKey: 'xi-123456', baseUrl: 'https://example.test/v1/' }) as ElevenLabsWsTts;
    expect(a.streamInputUrl({ voiceId: 'v' })).toMatch(/^wss:\/\/example\.test\/v1\/text-to-speech\/v\/stream-input\?/);
    expect(() => createStreamingTtsProvider('openai', { apiKey: 'sk-123456' })).toThrow(/elevenlabs/);
  });
});
