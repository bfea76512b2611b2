/**
 * What each adapter puts on the wire (method, path, headers, query, JSON body) and how it reads
 * each provider's own error shapes, against the loopback fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTtsProvider, ProviderError } from '../../src/providers/tts/index.js';
import { ELEVENLABS_BUILTIN_VOICES } from '../../src/providers/tts/elevenlabs.js';
import { knownPcm, startFakeDeepgram, startFakeElevenLabs, startFakeOpenAi } from './fake-tts-servers.js';
import type { FakeTtsServer } from './fake-tts-servers.js';
import { collect, failureOf, providerFor } from './helpers.js';

function fresh(fake: FakeTtsServer): void {
  fake.behavior = {};
  fake.requests.length = 0;
}

describe('openai wire format', () => {
  let fake: FakeTtsServer;
  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });
  afterAll(() => fake.close());

  it('POSTs /v1/audio/speech with Bearer auth and {model, voice, input, response_format: "pcm"}', async () => {
    fresh(fake);
    await collect(providerFor(fake).synthesize({ text: 'Hello world' }));
    const r = fake.requests[0];
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/audio/speech');
    expect(r.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hello world', response_format: 'pcm' });
  });

  it('uses the request voice, then the configured one, then the gender voice', async () => {
    fresh(fake);
    const tts = providerFor(fake, { model: 'tts-1', defaultVoiceId: 'coral' });
    await collect(tts.synthesize({ text: 'a', voiceId: 'verse' }));
    await collect(tts.synthesize({ text: 'b', gender: 'male' }));
    await collect(providerFor(fake).synthesize({ text: 'c', gender: 'male' }));
    await collect(providerFor(fake).synthesize({ text: 'd', gender: 'female' }));
    expect(fake.requests.map((r) => (r.body as { voice: string }).voice)).toEqual(['verse', 'coral', 'onyx', 'nova']);
    expect((fake.requests[0].body as { model: string }).model).toBe('tts-1');
  });

  it("reports OpenAI's error JSON: status, code and message (the masked key is not the key)", async () => {
    fresh(fake);
    const err = await failureOf(providerFor(fake, { apiKey: 'sk-wrong-0123456789abcdef' }), { text: 'hi' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_api_key');
    expect(err.message).toContain('Incorrect API key provided');
    expect(err.message).not.toContain('sk-wrong-0123456789abcdef');
  });

  it('rejects a sample rate other than 24 kHz', () => {
    expect(() => createTtsProvider('openai', { apiKey: 'sk-x-123456', sampleRateHz: 16000 })).toThrow(/24000/);
  });
});

describe('elevenlabs wire format', () => {
  let fake: FakeTtsServer;
  beforeAll(async () => {
    fake = await startFakeElevenLabs();
  });
  afterAll(() => fake.close());

  it('POSTs /v1/text-to-speech/{voice}/stream?output_format=pcm_16000 with xi-api-key and {text, model_id}', async () => {
    fresh(fake);
    await collect(providerFor(fake).synthesize({ text: 'Hello world' }));
    const r = fake.requests[0];
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL/stream');
    expect(r.query).toEqual({ output_format: 'pcm_16000' });
    expect(r.headers['xi-api-key']).toBe(fake.apiKey);
    expect(r.headers.authorization).toBeUndefined();
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({ text: 'Hello world', model_id: 'eleven_flash_v2_5' });
  });

  it('sends language_code (ISO 639-1) and picks the VoIPBIN voice for language and gender', async () => {
    fresh(fake);
    await collect(providerFor(fake).synthesize({ text: 'こんにちは', language: 'ja-JP', gender: 'male' }));
    await collect(providerFor(fake).synthesize({ text: 'Hi', gender: 'male' }));
    await collect(providerFor(fake).synthesize({ text: 'Hola', language: 'es-ES' }));
    await collect(providerFor(fake).synthesize({ text: 'Hi', voiceId: 'my-voice', language: 'en-US' }));
    const [ja, en, es, custom] = fake.requests;
    expect(ja.path).toBe(`/v1/text-to-speech/${ELEVENLABS_BUILTIN_VOICES.ja[0]}/stream`);
    expect(ja.body).toEqual({ text: 'こんにちは', model_id: 'eleven_flash_v2_5', language_code: 'ja' });
    expect(en.path).toBe('/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream');
    expect(es.path).toBe(`/v1/text-to-speech/${ELEVENLABS_BUILTIN_VOICES.es[1]}/stream`);
    expect(custom.path).toBe('/v1/text-to-speech/my-voice/stream');
    expect((custom.body as { language_code: string }).language_code).toBe('en');
  });

  it('omits language_code for models that do not take it, and honours sampleRateHz', async () => {
    fresh(fake);
    const tts = providerFor(fake, { model: 'eleven_multilingual_v2', sampleRateHz: 24000, defaultVoiceId: 'dflt' });
    expect(tts.sampleRateHz).toBe(24000);
    const { samples } = await collect(tts.synthesize({ text: 'Bonjour', language: 'fr' }));
    expect(Array.from(samples)).toEqual(Array.from(knownPcm(24000)));
    const r = fake.requests[0];
    expect(r.path).toBe('/v1/text-to-speech/dflt/stream');
    expect(r.query.output_format).toBe('pcm_24000');
    expect(r.body).toEqual({ text: 'Bonjour', model_id: 'eleven_multilingual_v2' });
  });

  it('accepts a base URL that already ends in /v1', async () => {
    fresh(fake);
    await collect(providerFor(fake, { baseUrl: `${fake.baseUrl}/v1/` }).synthesize({ text: 'x' }));
    expect(fake.requests[0].path).toBe('/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL/stream');
  });

  it('reads {detail:{status,message}} and FastAPI validation errors', async () => {
    fresh(fake);
    const notFound = await failureOf(providerFor(fake), { text: 'x', voiceId: 'missing-voice' });
    expect(notFound).toBeInstanceOf(ProviderError);
    expect(notFound.status).toBe(404);
    expect(notFound.code).toBe('voice_not_found');
    expect(notFound.message).toBe('elevenlabs TTS failed: HTTP 404 voice_not_found: A voice with the voice_id missing-voice was not found.');
    fake.behavior = { failWith: { status: 422, body: { detail: [{ type: 'missing', loc: ['body', 'text'], msg: 'Field required' }] } } };
    const invalid = await failureOf(providerFor(fake), { text: 'x' });
    expect(invalid.status).toBe(422);
    expect(invalid.message).toContain('body.text: Field required');
  });

  it('rejects an unsupported sample rate', () => {
    expect(() => createTtsProvider('elevenlabs', { apiKey: 'xi-123456', sampleRateHz: 11025 })).toThrow(/supported: 8000, 16000/);
  });
});

describe('deepgram wire format', () => {
  let fake: FakeTtsServer;
  beforeAll(async () => {
    fake = await startFakeDeepgram();
  });
  afterAll(() => fake.close());

  it('POSTs /v1/speak?model&encoding=linear16&sample_rate&container=none with Token auth and {text}', async () => {
    fresh(fake);
    await collect(providerFor(fake).synthesize({ text: 'Hello world' }));
    const r = fake.requests[0];
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/speak');
    expect(r.query).toEqual({ model: 'aura-2-thalia-en', encoding: 'linear16', sample_rate: '16000', container: 'none' });
    expect(r.headers.authorization).toBe(`Token ${fake.apiKey}`);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({ text: 'Hello world' });
  });

  it('takes the voice as the model and honours sampleRateHz', async () => {
    fresh(fake);
    const tts = providerFor(fake, { sampleRateHz: 8000 });
    const { samples } = await collect(tts.synthesize({ text: 'a', voiceId: 'aura-2-zeus-en' }));
    expect(Array.from(samples)).toEqual(Array.from(knownPcm(8000)));
    await collect(providerFor(fake).synthesize({ text: 'b', gender: 'male' }));
    await collect(providerFor(fake).synthesize({ text: 'c', language: 'es-MX' }));
    await collect(providerFor(fake, { model: 'aura-2-luna-en' }).synthesize({ text: 'd', gender: 'male' }));
    expect(fake.requests.map((r) => r.query.model)).toEqual(['aura-2-zeus-en', 'aura-2-apollo-en', 'aura-2-celeste-es', 'aura-2-luna-en']);
    expect(fake.requests[0].query.sample_rate).toBe('8000');
  });

  it('reads {err_code, err_msg, request_id}', async () => {
    fresh(fake);
    const err = await failureOf(providerFor(fake), { text: 'x', voiceId: 'aura-2-nobody-en' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('INVALID_QUERY_PARAMETER');
    expect(err.requestId).toMatch(/^00000000-/);
    expect(err.message).toBe('deepgram TTS failed: HTTP 400 INVALID_QUERY_PARAMETER: No such model/voice: aura-2-nobody-en');
  });

  it('reads a non-JSON error body as text', async () => {
    fresh(fake);
    fake.behavior = { failWith: { status: 503, body: 'upstream overloaded' } };
    const err = await failureOf(providerFor(fake), { text: 'x' });
    expect(err.status).toBe(503);
    expect(err.message).toBe('deepgram TTS failed: HTTP 503: upstream overloaded');
  });
});
