import { describe, expect, it } from 'vitest';
import {
  CartesiaStt,
  DeepgramStt,
  ElevenLabsStt,
  OpenAiStt,
  ProviderError,
  STT_PROVIDER_NAMES,
  createSttProvider,
  sttProviderForType,
  sttProviderFromEnv,
} from '../../src/providers/stt/index.js';
import { redact } from '../../src/util/logger.js';

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('STT provider selection', () => {
  it('creates every adapter by name and rejects unknown names and bad keys', () => {
    expect(STT_PROVIDER_NAMES).toEqual(['deepgram', 'openai', 'elevenlabs', 'cartesia']);
    expect(createSttProvider(' Deepgram ', { apiKey: 'k-123456' })).toBeInstanceOf(DeepgramStt);
    expect(createSttProvider('openai', { apiKey: 'k-123456' })).toBeInstanceOf(OpenAiStt);
    expect(createSttProvider('ELEVENLABS', { apiKey: 'k-123456' })).toBeInstanceOf(ElevenLabsStt);
    expect(createSttProvider('cartesia', { apiKey: 'k-123456' })).toBeInstanceOf(CartesiaStt);
    for (const name of STT_PROVIDER_NAMES) expect(createSttProvider(name, { apiKey: 'k-123456' }).name).toBe(name);
    expect(() => createSttProvider('whisper', { apiKey: 'k-123456' })).toThrow(/unknown STT provider/);
    expect(thrown(() => createSttProvider('whisper', { apiKey: 'k-123456' }))).toMatchObject({ code: 'unsupported_provider' });
    for (const name of STT_PROVIDER_NAMES) expect(() => createSttProvider(name, { apiKey: ' ' })).toThrow(/API key is required/);
  });

  it('reads DEEPGRAM_API_KEY / DEEPGRAM_BASE_URL, and VOIPBIN_AI_STT=none disables', () => {
    expect(sttProviderFromEnv({})).toBeUndefined();
    const p = sttProviderFromEnv({ DEEPGRAM_API_KEY: 'dg-env-key-123456', DEEPGRAM_BASE_URL: 'http://127.0.0.1:9' });
    expect(p?.name).toBe('deepgram');
    expect((p as DeepgramStt).listenUrl(16000)).toBe(
      'ws://127.0.0.1:9/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&channels=1&language=en&interim_results=true&punctuate=true',
    );
    expect(sttProviderFromEnv({ DEEPGRAM_API_KEY: 'dg-env-key-123456', VOIPBIN_AI_STT: 'none' })).toBeUndefined();
    expect(() => sttProviderFromEnv({ VOIPBIN_AI_STT: 'deepgram' })).toThrow(/needs DEEPGRAM_API_KEY/);
    expect(() => sttProviderFromEnv({ DEEPGRAM_API_KEY: 'dg-env-key-123456', VOIPBIN_AI_STT: 'google' })).toThrow(/not an STT provider/);
  });

  it('VOIPBIN_AI_STT may name the other providers; their keys alone never select them', () => {
    const c = sttProviderFromEnv({ VOIPBIN_AI_STT: 'Cartesia', CARTESIA_API_KEY: 'ca-env-key-123456', CARTESIA_BASE_URL: 'http://127.0.0.1:9' });
    expect(c).toBeInstanceOf(CartesiaStt);
    expect((c as CartesiaStt).websocketUrl(8000)).toMatch(/^ws:\/\/127\.0\.0\.1:9\/stt\/websocket\?/);
    expect(sttProviderFromEnv({ VOIPBIN_AI_STT: 'openai', OPENAI_API_KEY: 'sk-env-key-123456', DEEPGRAM_API_KEY: 'dg-env-key-123456' })).toBeInstanceOf(OpenAiStt);
    expect(() => sttProviderFromEnv({ VOIPBIN_AI_STT: 'elevenlabs', DEEPGRAM_API_KEY: 'dg-env-key-123456' })).toThrow(/VOIPBIN_AI_STT=elevenlabs needs ELEVENLABS_API_KEY/);
    // OPENAI_API_KEY is usually set for the LLM: it must not switch transcription to OpenAI.
    expect(sttProviderFromEnv({ OPENAI_API_KEY: 'sk-env-key-123456', ELEVENLABS_API_KEY: 'el-env-key-123456' })).toBeUndefined();
    expect(sttProviderFromEnv({ OPENAI_API_KEY: 'sk-env-key-123456', DEEPGRAM_API_KEY: 'dg-env-key-123456' })).toBeInstanceOf(DeepgramStt);
  });

  it('the default endpoint is Deepgram over wss', () => {
    expect(new DeepgramStt({ apiKey: 'k-123456' }).listenUrl(8000, 'ja')).toMatch(/^wss:\/\/api\.deepgram\.com\/v1\/listen\?model=nova-3&.*sample_rate=8000.*language=ja/);
  });
});

describe('sttProviderForType (an AI stt_type -> adapter, from the environment)', () => {
  const env = {
    DEEPGRAM_API_KEY: 'dg-type-key-0123456789',
    OPENAI_API_KEY: 'sk-type-key-0123456789',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    ELEVENLABS_API_KEY: 'el-type-key-0123456789',
    ELEVENLABS_BASE_URL: 'https://eu.residency.example',
    CARTESIA_API_KEY: 'ca-type-key-0123456789',
  };

  it('builds each adapter with its key and base URL', () => {
    expect(sttProviderForType('deepgram', env)).toBeInstanceOf(DeepgramStt);
    const o = sttProviderForType(' OpenAI ', env);
    expect(o).toBeInstanceOf(OpenAiStt);
    expect((o as OpenAiStt).realtimeUrl()).toBe('ws://127.0.0.1:9/v1/realtime?intent=transcription');
    const e = sttProviderForType('elevenlabs', env);
    expect((e as ElevenLabsStt).realtimeUrl(16000)).toMatch(/^wss:\/\/eu\.residency\.example\/v1\/speech-to-text\/realtime\?model_id=scribe_v2_realtime&/);
    const c = sttProviderForType('cartesia', env);
    expect((c as CartesiaStt).websocketUrl(16000)).toMatch(/^wss:\/\/api\.cartesia\.ai\/stt\/websocket\?/);
  });

  it('registers the keys as secrets', () => {
    sttProviderForType('deepgram', env);
    // Every key of the environment is redacted, not only the selected provider's.
    for (const key of [env.DEEPGRAM_API_KEY, env.OPENAI_API_KEY, env.ELEVENLABS_API_KEY, env.CARTESIA_API_KEY]) expect(redact(`x ${key} y`)).toBe('x [redacted] y');
  });

  it('a missing key is a ProviderError missing_api_key naming the variable, never a key', () => {
    const err = thrown(() => sttProviderForType('elevenlabs', { DEEPGRAM_API_KEY: 'dg-type-key-0123456789', ELEVENLABS_API_KEY: '  ' }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'stt', provider: 'elevenlabs', code: 'missing_api_key' });
    expect(err.message).toContain('ELEVENLABS_API_KEY');
    expect(err.message).not.toContain('dg-type-key-0123456789');
    for (const [type, variable] of [
      ['deepgram', 'DEEPGRAM_API_KEY'],
      ['openai', 'OPENAI_API_KEY'],
      ['cartesia', 'CARTESIA_API_KEY'],
    ]) {
      expect(thrown(() => sttProviderForType(type, {}))).toMatchObject({ code: 'missing_api_key', message: expect.stringContaining(variable) });
    }
  });

  it('a type without an adapter is unsupported_provider (google is a valid stt_type with no adapter)', () => {
    for (const type of ['google', 'whisper', '']) {
      const err = thrown(() => sttProviderForType(type, env));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.code).toBe('unsupported_provider');
      expect(err.message).toMatch(/supported: deepgram, openai, elevenlabs, cartesia/);
    }
  });
});
