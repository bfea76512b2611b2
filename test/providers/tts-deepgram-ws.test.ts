/**
 * The Deepgram Aura streaming adapter against a loopback fake of `/v1/speak`: handshake (token
 * header, query), Speak pieces in order, audio before the end, Flush, the end (Flush, wait for
 * Flushed, Close), Clear on cancel, refused keys, close-frame errors and the flush budget.
 */
import { describe, expect, it } from 'vitest';
import { createStreamingTtsProvider, DeepgramWsTts, ProviderError } from '../../src/providers/tts/index.js';
import type { DeepgramWsOptions } from '../../src/providers/tts/index.js';
import { readAudio, samplesFor, startFakeDeepgramWs } from './fake-tts-ws-servers.js';
import { waitFor } from './helpers.js';
import { describeTtsWsContract, fakeForBlock } from './tts-ws-contract.js';

const CANARY = 'dg-CANARY-123';

describe('deepgram aura tts websocket', () => {
  const fake = fakeForBlock(() => startFakeDeepgramWs(CANARY));
  const tts = (opts: Partial<DeepgramWsOptions> = {}): DeepgramWsTts => new DeepgramWsTts({ apiKey: fake().apiKey, baseUrl: fake().baseUrl, ...opts });

  describeTtsWsContract({
    name: 'deepgram',
    Adapter: DeepgramWsTts,
    fake,
    stream: {
      open: { language: 'es-ES', gender: 'male' },
      pieces: ['Hola, ', '', '¿qué tal?'],
      last: ' Muy bien, gracias.',
      ended: (conn) => conn.messages.some((m) => m.type === 'Close'),
      headers: (key) => ({ authorization: `Token ${key}` }),
      query: { model: 'aura-2-nestor-es', encoding: 'linear16', sample_rate: '16000' },
      more: (conn) => {
        // The audio ends with the last Flushed; Close follows it on the wire.
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
      },
      // All of it: Close went out only after the last Flushed (the fake closes at once on Close).
      samples: samplesFor('Hola, ¿qué tal? Muy bien, gracias.'),
    },
    cancel: {
      text: 'x'.repeat(200),
      flush: true,
      samples: samplesFor('x'.repeat(200)),
      more: (conn) => expect(conn.messages.slice(-2)).toEqual([{ type: 'Clear' }, { type: 'Close' }]),
    },
    refused: {
      wrong: 'dg-CANARY-wrong-456',
      code: 'INVALID_AUTH',
      message: 'Invalid credentials',
      more: (pe) => expect(pe.requestId).toMatch(/^[0-9a-f-]{36}$/),
    },
    failure: {
      // A close frame.
      code: 'DATA-0000',
      message: (key) => `bad text for ${key}`,
      pieces: ['Hello there. ', 'Again. '],
      contains: ['1008', 'bad text for'],
    },
  });

  it('uses the configured voice (model) and rate; end() with no text closes at once', async () => {
    fake().reset();
    const t = tts({ model: 'aura-2-luna-en', sampleRateHz: 24000 });
    expect(t.sampleRateHz).toBe(24000);
    const stream = await t.openTextStream({});
    const audio = readAudio(stream);
    stream.flush();
    stream.end();
    expect(await audio.done).toBeUndefined();
    expect(audio.samples).toEqual([]);
    const conn = fake().connections[0];
    expect(conn.query).toMatchObject({ model: 'aura-2-luna-en', sample_rate: '24000' });
    await waitFor(() => conn.closed);
    expect(conn.messages).toEqual([{ type: 'Close' }]);
  });

  it('an unknown model is refused with 400', async () => {
    fake().reset();
    const err = await tts({ model: 'nova-3' })
      .openTextStream({})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(400);
    expect((err as ProviderError).code).toBe('INVALID_QUERY_PARAMETER');
  });

  it('keeps within Deepgram\u2019s 20 flushes a minute so the final flush is always answered', async () => {
    fake().reset();
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
    const conn = fake().connections[0];
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
