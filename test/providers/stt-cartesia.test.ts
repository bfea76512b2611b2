import { describe, expect, it } from 'vitest';
import { CartesiaStt, CARTESIA_STT_API_VERSION } from '../../src/providers/stt/index.js';
import { startFakeCartesiaStt } from './fake-stt-servers.js';
import { describeSttContract, fakePerTest } from './stt-contract.js';

const RATE = 16000;

const fake = fakePerTest(startFakeCartesiaStt);

describeSttContract({
  name: 'cartesia',
  Adapter: CartesiaStt,
  fake,
  rate: RATE,
  handshake: {
    open: { sampleRateHz: RATE, language: 'de-DE' },
    path: '/stt/websocket',
    query: { model: 'ink-whisper', language: 'de', encoding: 'pcm_s16le', sample_rate: '16000' },
    headers: (key) => ({ 'x-api-key': key, 'cartesia-version': CARTESIA_STT_API_VERSION, authorization: undefined }),
  },
  frames: {
    rate: 8000,
    more: (conn) => {
      expect(conn.messages).toEqual(['finalize', 'done']);
      expect(conn.sent.map((m) => m.type).slice(-2)).toEqual(['flush_done', 'done']);
    },
  },
  transcripts: {
    // Word-timing offsets.
    expected: [
      'I first 0-100',
      'F first utterance 0-500',
      'I second 1000-1100',
      'F second utterance 1000-1500',
      'I word3 2000-2100', // the script ran out
      'F word3 2000-2300',
    ],
  },
  closeFinalizes: {
    // Finalize, then wait for done.
    expected: ['I cut 0-100', 'F cut short 0-400'],
    more: (f) => expect(f.connections[0].audio.length).toBe(0.4 * RATE * 2), // nothing after close
  },
  refused: { canary: 'sk_car_CANARY-0a1b2c3d4e5f', code: 'invalid_api_key', requestId: 'ca-fake-req-0001', message: 'Invalid API key' },
  errorMessage: {
    text: 'internal transcription error',
    match: { code: 'fake_error', status: 500, requestId: 'ca-fake-stream-0001' },
    contains: 'internal transcription error',
  },
  serverClose: { code: 1011, reason: 'server error', contains: ['1011'] },
  abort: {
    expected: ['I word1 0-100'],
    endMessages: (f) => f.connections[0].messages, // no finalize
  },
  fromEnv: { rate: 8000, expected: ['F from the env 0-300'] },
});

describe('cartesia STT: wire protocol', () => {
  it('maps the base URL and passes the VAD tuning', () => {
    const p = new CartesiaStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/', model: 'ink-whisper-2025-06-04' }, { minVolume: 0.1, maxSilenceDurationSecs: 0.6 });
    expect(p.websocketUrl(8000, 'en-US')).toBe(
      'ws://127.0.0.1:9/stt/websocket?model=ink-whisper-2025-06-04&language=en&encoding=pcm_s16le&sample_rate=8000&min_volume=0.1&max_silence_duration_secs=0.6',
    );
    expect(new CartesiaStt({ apiKey: 'k-123456' }).websocketUrl(16000)).toMatch(/^wss:\/\/api\.cartesia\.ai\/stt\/websocket\?model=ink-whisper&/);
    expect(() => new CartesiaStt({ apiKey: 'k-123456' }, { minVolume: 2 })).toThrow(/minVolume/);
  });
});
