import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTtsProvider, ttsProviderFromEnv } from '../../src/providers/tts/index.js';
import { redact } from '../../src/util/logger.js';
import { knownPcm, startFakeDeepgram, startFakeElevenLabs, startFakeOpenAi } from './fake-tts-servers.js';
import type { FakeTtsServer } from './fake-tts-servers.js';
import { collect } from './helpers.js';

const KEYS = {
  ELEVENLABS_API_KEY: 'xi-env-key-0123456789',
  OPENAI_API_KEY: 'sk-env-key-0123456789',
  DEEPGRAM_API_KEY: 'dg-env-key-0123456789',
};

describe('createTtsProvider', () => {
  it('creates each adapter by name (case-insensitive)', () => {
    expect(createTtsProvider('openai', { apiKey: 'sk-123456' }).name).toBe('openai');
    expect(createTtsProvider('ElevenLabs', { apiKey: 'xi-123456' }).name).toBe('elevenlabs');
    expect(createTtsProvider('deepgram', { apiKey: 'dg-123456' }).name).toBe('deepgram');
  });

  it('rejects an unknown type, listing the supported ones', () => {
    expect(() => createTtsProvider('polly', { apiKey: 'k-123456' })).toThrow('unknown TTS provider "polly" (supported: elevenlabs, openai, deepgram)');
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

  it('prefers ElevenLabs, then OpenAI, then Deepgram', () => {
    expect(ttsProviderFromEnv(KEYS)?.name).toBe('elevenlabs');
    expect(ttsProviderFromEnv({ OPENAI_API_KEY: KEYS.OPENAI_API_KEY, DEEPGRAM_API_KEY: KEYS.DEEPGRAM_API_KEY })?.name).toBe('openai');
    expect(ttsProviderFromEnv({ DEEPGRAM_API_KEY: KEYS.DEEPGRAM_API_KEY })?.name).toBe('deepgram');
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
