import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CartesiaWsTts,
  createTtsProvider,
  DeepgramWsTts,
  ElevenLabsWsTts,
  ProviderError,
  streamingTtsProviderForType,
  ttsProviderForType,
  ttsProviderFromEnv,
} from '../../src/providers/tts/index.js';
import { redact } from '../../src/util/logger.js';
import { knownPcm, startFakeDeepgram, startFakeElevenLabs, startFakeOpenAi } from './fake-tts-servers.js';
import type { FakeTtsServer } from './fake-tts-servers.js';
import { readAudio, samplesFor, startFakeCartesiaWs, startFakeDeepgramWs } from './fake-tts-ws-servers.js';
import type { FakeTtsWs } from './fake-tts-ws-servers.js';
import { collect } from './helpers.js';

const KEYS = {
  ELEVENLABS_API_KEY: 'xi-env-key-0123456789',
  OPENAI_API_KEY: 'sk-env-key-0123456789',
  DEEPGRAM_API_KEY: 'dg-env-key-0123456789',
  CARTESIA_API_KEY: 'sk_car_env-key-0123456789',
};

/** What `fn` throws (fails the test if it does not). */
function thrown(fn: () => unknown): ProviderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a throw');
}

describe('createTtsProvider', () => {
  it('creates each adapter by name (case-insensitive)', () => {
    expect(createTtsProvider('openai', { apiKey: 'sk-123456' }).name).toBe('openai');
    expect(createTtsProvider('ElevenLabs', { apiKey: 'xi-123456' }).name).toBe('elevenlabs');
    expect(createTtsProvider('deepgram', { apiKey: 'dg-123456' }).name).toBe('deepgram');
    expect(createTtsProvider('cartesia', { apiKey: 'sk_car_123456' })).toBeInstanceOf(CartesiaWsTts);
  });

  it('rejects an unknown type, listing the supported ones', () => {
    expect(() => createTtsProvider('polly', { apiKey: 'k-123456' })).toThrow('unknown TTS provider "polly" (supported: elevenlabs, openai, deepgram, cartesia)');
    expect(thrown(() => createTtsProvider('polly', { apiKey: 'k-123456' })).code).toBe('unsupported_provider');
  });

  it('rejects a missing key and a bad base URL without echoing it', () => {
    expect(() => createTtsProvider('deepgram', { apiKey: ' ' })).toThrow(/API key is required/);
    let message = '';
    try {
      createTtsProvider('elevenlabs', { apiKey: 'xi-123456', baseUrl: 'not a url secret123' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/base URL is not a valid URL/);
    expect(message).not.toContain('secret123');
  });
});

describe('ttsProviderFromEnv', () => {
  it('returns undefined when no key is set', () => {
    expect(ttsProviderFromEnv({})).toBeUndefined();
    expect(ttsProviderFromEnv({ OPENAI_API_KEY: '  ' })).toBeUndefined();
  });

  it('prefers ElevenLabs, then OpenAI, then Deepgram, then Cartesia', () => {
    expect(ttsProviderFromEnv(KEYS)?.name).toBe('elevenlabs');
    expect(ttsProviderFromEnv({ OPENAI_API_KEY: KEYS.OPENAI_API_KEY, DEEPGRAM_API_KEY: KEYS.DEEPGRAM_API_KEY })?.name).toBe('openai');
    expect(ttsProviderFromEnv({ DEEPGRAM_API_KEY: KEYS.DEEPGRAM_API_KEY, CARTESIA_API_KEY: KEYS.CARTESIA_API_KEY })?.name).toBe('deepgram');
    expect(ttsProviderFromEnv({ CARTESIA_API_KEY: KEYS.CARTESIA_API_KEY })?.name).toBe('cartesia');
  });

  it('follows VOIPBIN_AI_TTS', () => {
    expect(ttsProviderFromEnv({ ...KEYS, VOIPBIN_AI_TTS: 'deepgram' })?.name).toBe('deepgram');
    expect(ttsProviderFromEnv({ ...KEYS, VOIPBIN_AI_TTS: 'OpenAI' })?.name).toBe('openai');
    expect(ttsProviderFromEnv({ ...KEYS, VOIPBIN_AI_TTS: 'none' })).toBeUndefined();
    expect(() => ttsProviderFromEnv({ ...KEYS, VOIPBIN_AI_TTS: 'polly' })).toThrow(/supported: elevenlabs, openai, deepgram/);
    expect(() => ttsProviderFromEnv({ ELEVENLABS_API_KEY: KEYS.ELEVENLABS_API_KEY, VOIPBIN_AI_TTS: 'deepgram' })).toThrow(
      'VOIPBIN_AI_TTS=deepgram needs DEEPGRAM_API_KEY',
    );
  });

  it('registers every configured key as a secret', () => {
    ttsProviderFromEnv(KEYS);
    for (const key of Object.values(KEYS)) expect(redact(`x ${key} y`)).toBe('x [redacted] y');
  });

  describe('base URLs from the environment', () => {
    const fakes: FakeTtsServer[] = [];
    beforeAll(async () => {
      fakes.push(await startFakeElevenLabs(KEYS.ELEVENLABS_API_KEY), await startFakeOpenAi(KEYS.OPENAI_API_KEY), await startFakeDeepgram(KEYS.DEEPGRAM_API_KEY));
    });
    afterAll(() => Promise.all(fakes.map((f) => f.close())));

    it.each([
      ['elevenlabs', 0, 'ELEVENLABS_BASE_URL'],
      ['openai', 1, 'OPENAI_BASE_URL'],
      ['deepgram', 2, 'DEEPGRAM_BASE_URL'],
    ] as const)('%s speaks to %s', async (name, i, envName) => {
      const fake = fakes[i];
      const tts = ttsProviderFromEnv({ ...KEYS, VOIPBIN_AI_TTS: name, [envName]: fake.baseUrl });
      const { samples } = await collect(tts!.synthesize({ text: 'from env' }));
      expect(Array.from(samples)).toEqual(Array.from(knownPcm(tts!.sampleRateHz)));
      expect(fake.requests).toHaveLength(1);
    });
  });
});

describe('ttsProviderForType / streamingTtsProviderForType', () => {
  it('builds the whole-text adapter of each tts_type from its key (case-insensitive)', () => {
    for (const type of ['elevenlabs', 'openai', 'deepgram', 'cartesia'] as const) expect(ttsProviderForType(type, KEYS).name).toBe(type);
    expect(ttsProviderForType(' Cartesia ', KEYS)).toBeInstanceOf(CartesiaWsTts);
  });

  it('builds the text-streaming adapters, and none for openai (even without its key)', () => {
    expect(streamingTtsProviderForType('elevenlabs', KEYS)).toBeInstanceOf(ElevenLabsWsTts);
    expect(streamingTtsProviderForType('CARTESIA', KEYS)).toBeInstanceOf(CartesiaWsTts);
    expect(streamingTtsProviderForType('deepgram', KEYS)).toBeInstanceOf(DeepgramWsTts);
    expect(streamingTtsProviderForType('openai', KEYS)).toBeUndefined();
    expect(streamingTtsProviderForType('openai', {})).toBeUndefined();
  });

  it('a missing key is a ProviderError missing_api_key naming the variable, without any key in it', () => {
    const env = { ...KEYS, CARTESIA_API_KEY: '  ' };
    for (const build of [ttsProviderForType, streamingTtsProviderForType]) {
      const err = thrown(() => build('cartesia', env));
      expect(err.code).toBe('missing_api_key');
      expect(err.provider).toBe('cartesia');
      expect(err.message).toContain('CARTESIA_API_KEY');
      for (const key of Object.values(KEYS)) expect(err.message).not.toContain(key);
    }
    expect(thrown(() => ttsProviderForType('elevenlabs', {})).message).toContain('ELEVENLABS_API_KEY');
    expect(thrown(() => ttsProviderForType('openai', {})).message).toContain('OPENAI_API_KEY');
    expect(thrown(() => streamingTtsProviderForType('deepgram', {})).message).toContain('DEEPGRAM_API_KEY');
  });

  it('a tts_type without an adapter is a ProviderError unsupported_provider', () => {
    for (const type of ['aws', 'polly', '']) {
      expect(thrown(() => ttsProviderForType(type, KEYS)).code).toBe('unsupported_provider');
      expect(thrown(() => streamingTtsProviderForType(type, KEYS)).code).toBe('unsupported_provider');
    }
  });

  it('registers every configured key as a secret', () => {
    const env = { CARTESIA_API_KEY: 'sk_car_only-registered-0123', DEEPGRAM_API_KEY: 'dg-only-registered-0123' };
    streamingTtsProviderForType('openai', env);
    for (const key of Object.values(env)) expect(redact(`x ${key} y`)).toBe('x [redacted] y');
  });

  describe('base URLs from the environment', () => {
    let cartesia: FakeTtsWs;
    let deepgram: FakeTtsWs;
    beforeAll(async () => {
      cartesia = await startFakeCartesiaWs(KEYS.CARTESIA_API_KEY);
      deepgram = await startFakeDeepgramWs(KEYS.DEEPGRAM_API_KEY);
    });
    afterAll(() => Promise.all([cartesia.close(), deepgram.close()]));

    it.each([
      ['cartesia', 'CARTESIA_BASE_URL'],
      ['deepgram', 'DEEPGRAM_BASE_URL'],
    ] as const)('%s streams to %s', async (type, envName) => {
      const fake = type === 'cartesia' ? cartesia : deepgram;
      const tts = streamingTtsProviderForType(type, { ...KEYS, [envName]: fake.baseUrl })!;
      const stream = await tts.openTextStream({});
      const audio = readAudio(stream);
      stream.pushText('from env.');
      stream.end();
      expect(await audio.done).toBeUndefined();
      expect(audio.samples.length).toBe(samplesFor('from env.'));
      expect(fake.connections).toHaveLength(1);
    });

    it('cartesia speaks a whole text through ttsProviderForType', async () => {
      cartesia.reset();
      const tts = ttsProviderForType('cartesia', { ...KEYS, CARTESIA_BASE_URL: cartesia.baseUrl });
      const { samples } = await collect(tts.synthesize({ text: 'whole text' }));
      expect(samples.length).toBe(samplesFor('whole text'));
    });
  });
});
