/**
 * The Deepgram Aura streaming adapter against a loopback fake of `/v1/speak`: handshake (token
 * header, query), Speak pieces in order, audio before the end, Flush, the end (Flush, wait for
 * Flushed, Close), Clear on cancel, refused keys, close-frame errors and the flush budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamingTtsProvider, DeepgramWsTts, ProviderError } from '../../src/providers/tts/index.js';
import type { DeepgramWsOptions } from '../../src/providers/tts/index.js';
import { readAudio, samplesFor, startFakeDeepgramWs, toneSample } from './fake-tts-ws-servers.js';
import type { FakeTtsWs } from './fake-tts-ws-servers.js';
import { waitFor } from './helpers.js';

const CANARY = 'dg-CANARY-123';

describe('deepgram aura tts websocket', () => {
  let fake: FakeTtsWs;
  beforeAll(async () => {
    fake = await startFakeDeepgramWs(CANARY);
  });
  afterAll(() => fake.close());
  const tts = (opts: Partial<DeepgramWsOptions> = {}): DeepgramWsTts => new DeepgramWsTts({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, ...opts });

  it('sends the token and query on the handshake, Speak pieces in order, Flush, and ends with Flush, Flushed, Close', async () => {
    fake.reset();
    const stream = await tts().openTextStream({ language: 'es-ES', gender: 'male' });
    const audio = readAudio(stream);
    stream.pushText('Hola, ');
    stream.pushText('');
    stream.pushText('¿qué tal?');
    stream.flush();
    await waitFor(() => audio.samples.length > 0, 10_000);
    const conn = fake.connections[0];
    expect(conn.messages.some((m) => m.type === 'Close')).toBe(false);
    stream.pushText(' Muy bien, gracias.');
    stream.end();
    expect(await audio.done).toBeUndefined();

    expect(conn.headers.authorization).toBe(`Token ${CANARY}`);
    expect(conn.query).toEqual({ model: 'aura-2-nestor-es', encoding: 'linear16', sample_rate: '16000' });
    expect(conn.url).not.toContain(CANARY);
    // The audio ends with the last Flushed; Close follows it on the wire.
    await waitFor(() => conn.closed);
    expect(conn.closeCode).toBe(1000);
    expect(conn.messages).toEqual([
      { type: 'Speak', text: 'Hola, ' },
      { type: 'Speak', text: '¿qué tal?' },
      { type: 'Flush' },
      { type: 'Speak', text: ' Muy bien, gracias.' },
      { type: 'Flush' },
      { type: 'Close' },
    ]);
    expect(conn.textReceived).toBe('Hola, ¿qué tal? Muy bien, gracias.');
    expect(conn.generations).toEqual(['Hola, ¿qué tal?', ' Muy bien, gracias.']);
    // All of it: Close went out only after the last Flushed (the fake closes at once on Close).
    expect(audio.samples.length).toBe(samplesFor('Hola, ¿qué tal? Muy bien, gracias.'));
    expect(audio.samples.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, n) => toneSample(n)));
  });

  it('uses the configured voice (model) and rate; end() with no text closes at once', async () => {
    fake.reset();
    const t = tts({ model: 'aura-2-luna-en', sampleRateHz: 24000 });
    expect(t.sampleRateHz).toBe(24000);
    const stream = await t.openTextStream({});
    const audio = readAudio(stream);
    stream.flush();
    stream.end();
    expect(await audio.done).toBeUndefined();
    expect(audio.samples).toEqual([]);
    const conn = fake.connections[0];
    expect(conn.query).toMatchObject({ model: 'aura-2-luna-en', sample_rate: '24000' });
    await waitFor(() => conn.closed);
    expect(conn.messages).toEqual([{ type: 'Close' }]);
  });

  it('cancel() stops the audio at once, sends Clear and Close, and the socket closes', async () => {
    fake.reset();
    fake.behavior = { chunkDelayMs: 30 };
    const stream = await tts().openTextStream({});
    stream.pushText('x'.repeat(200));
    stream.flush();
    const it = stream.audio[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    stream.cancel();
    stream.cancel();
    expect((await it.next()).done).toBe(true);
    const conn = fake.connections[0];
    await waitFor(() => conn.closed, 10_000);
    expect(conn.messages.slice(-2)).toEqual([{ type: 'Clear' }, { type: 'Close' }]);
    const sent = conn.chunksSent;
    await new Promise((r) => setTimeout(r, 150));
    expect(conn.chunksSent).toBe(sent);
    expect(conn.samplesSent).toBeLessThan(samplesFor('x'.repeat(200)));
    expect(() => stream.pushText('more')).toThrow(/after end/);
  });

  it('a wrong key is refused with 401 as a ProviderError without the key in it', async () => {
    fake.reset();
    fake.behavior = { echoKeyInErrors: true };
    const wrong = 'dg-CANARY-wrong-456';
    const err = await tts({ apiKey: wrong })
      .openTextStream({})
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProviderError);
    const pe = err as ProviderError;
    expect(pe.status).toBe(401);
    expect(pe.code).toBe('INVALID_AUTH');
    expect(pe.provider).toBe('deepgram');
    expect(pe.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(pe.message).toContain('Invalid credentials');
    expect(pe.message).not.toContain(wrong);
    expect(fake.refused).toEqual([401]);
  });

  it('an unknown model is refused with 400', async () => {
    fake.reset();
    const err = await tts({ model: 'nova-3' })
      .openTextStream({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(400);
    expect((err as ProviderError).code).toBe('INVALID_QUERY_PARAMETER');
  });

  it('a close frame mid-stream surfaces from the audio iteration as a ProviderError, scrubbed', async () => {
    fake.reset();
    fake.behavior = { failAfterTexts: { count: 2, code: 'DATA-0000', message: `bad text for ${CANARY}` } };
    const stream = await tts().openTextStream({});
    const audio = readAudio(stream);
    stream.pushText('Hello there. ');
    stream.pushText('Again. ');
    const err = (await audio.done) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('tts');
    expect(err.code).toBe('DATA-0000');
    expect(err.message).toContain('1008');
    expect(err.message).toContain('bad text for');
    expect(err.message).not.toContain(CANARY);
  });

  it('keeps within Deepgram\u2019s 20 flushes a minute so the final flush is always answered', async () => {
    fake.reset();
    const stream = await tts({ timeoutMs: 5000 }).openTextStream({});
    const audio = readAudio(stream);
    let text = '';
    for (let i = 0; i < 25; i++) {
      const piece = `S${i}. `;
      text += piece;
      stream.pushText(piece);
      stream.flush();
    }
    stream.end();
    expect(await audio.done).toBeUndefined();
    const conn = fake.connections[0];
    expect(conn.messages.filter((m) => m.type === 'Flush').length).toBe(20);
    expect(audio.samples.length).toBe(samplesFor(text));
  });

  it('maps the base URL to ws(s) and is created by the streaming factory', () => {
    const a = createStreamingTtsProvider('Deepgram', { apiKey: 'dg-123456', baseUrl: 'https://example.test/v1/' }) as DeepgramWsTts;
    expect(a).toBeInstanceOf(DeepgramWsTts);
    expect(a.speakUrl({ voiceId: 'aura-2-zeus-en' })).toBe('wss://example.test/v1/speak?model=aura-2-zeus-en&encoding=linear16&sample_rate=16000');
    expect(new DeepgramWsTts({ apiKey: 'dg-123456' }).speakUrl({})).toBe('wss://api.deepgram.com/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000');
    expect(() => new DeepgramWsTts({ apiKey: 'dg-123456', sampleRateHz: 22050 })).toThrow(/unsupported sampleRateHz/);
  });
});
