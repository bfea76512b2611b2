import { describe, expect, it } from 'vitest';
import { DeepgramStt, createSttProvider, sttProviderFromEnv } from '../../src/providers/stt/index.js';

describe('STT provider selection', () => {
  it('creates deepgram by name and rejects unknown names and bad keys', () => {
    expect(createSttProvider(' Deepgram ', { apiKey: 'k-123456' })).toBeInstanceOf(DeepgramStt);
    expect(() => createSttProvider('whisper', { apiKey: 'k-123456' })).toThrow(/unknown STT provider/);
    expect(() => createSttProvider('deepgram', { apiKey: ' ' })).toThrow(/API key is required/);
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

  it('the default endpoint is Deepgram over wss', () => {
    expect(new DeepgramStt({ apiKey: 'k-123456' }).listenUrl(8000, 'ja')).toMatch(/^wss:\/\/api\.deepgram\.com\/v1\/listen\?model=nova-3&.*sample_rate=8000.*language=ja/);
  });
});
