/**
 * The ElevenLabs stream-input adapter against a loopback fake of the same WebSocket protocol:
 * text in pieces, audio before the end, the closing message, cancel, handshake and provider errors.
 */
import { describe, expect, it } from 'vitest';
import { createStreamingTtsProvider, ElevenLabsWsTts } from '../../src/providers/tts/index.js';
import { SAMPLES_PER_CHAR, startFakeElevenLabsWs } from './fake-elevenlabs-ws.js';
import { describeTtsWsContract, fakeForBlock } from './tts-ws-contract.js';

const CANARY = 'el-CANARY-123';

describe('elevenlabs stream-input websocket', () => {
  const fake = fakeForBlock(() => startFakeElevenLabsWs(CANARY));

  describeTtsWsContract({
    name: 'elevenlabs',
    Adapter: ElevenLabsWsTts,
    fake,
    reset: (f) => {
      f.behavior = {};
      f.connections.length = 0;
      f.refused.length = 0;
    },
    // The fake names the failure's code `error`.
    behave: (f, { failAfterTexts, ...same }) =>
      Object.assign(f.behavior, same, failAfterTexts ? { failAfterTexts: { count: failAfterTexts.count, error: failAfterTexts.code, message: failAfterTexts.message } } : {}),
    stream: {
      open: { language: 'ja-JP', gender: 'male' },
      pieces: ['Hello ', 'there, ', '', 'how are you?'],
      last: ' Fine.',
      ended: (conn) => JSON.stringify(conn.messages.at(-1)) === JSON.stringify({ text: '' }),
      headers: (key) => ({ 'xi-api-key': key }),
      query: { model_id: 'eleven_flash_v2_5', output_format: 'pcm_16000', inactivity_timeout: '20', language_code: 'ja' },
      more: (conn) => {
        expect(conn.voiceId).toBe('Mv8AjrYZCBkdsmDHNwcB');
        expect(conn.messages[0]).toEqual({ text: ' ', generation_config: { chunk_length_schedule: [50, 120, 160, 250] } });
        expect(conn.messages.slice(1)).toEqual([
          { text: 'Hello ' },
          { text: 'there, ' },
          { text: 'how are you?' },
          { text: ' ', flush: true },
          { text: ' Fine.' },
          { text: '' },
        ]);
        expect(conn.generations).toEqual(['Hello there, how are you? ', ' Fine.']);
      },
      samples: 'Hellothere,howareyou?Fine.'.length * SAMPLES_PER_CHAR,
    },
    cancel: { text: 'x'.repeat(400), flush: true, samples: 400 * SAMPLES_PER_CHAR },
    refused: { wrong: 'el-CANARY-wrong-456', code: 'invalid_api_key', message: 'Invalid API key' },
    failure: {
      code: 'quota_exceeded',
      message: (key) => `Quota exceeded for ${key}`,
      // The flush is the second text message (the config message is not counted).
      pieces: ['Hello there. '],
      flush: true,
      contains: ['Quota exceeded'],
    },
  });

  it('maps the base URL to ws(s) and is created by the factory', () => {
    const a = createStreamingTtsProvider('ElevenLabs', { apiKey: 'xi-123456', baseUrl: 'https://example.test/v1/' }) as ElevenLabsWsTts;
    expect(a.streamInputUrl({ voiceId: 'v' })).toMatch(/^wss:\/\/example\.test\/v1\/text-to-speech\/v\/stream-input\?/);
    expect(() => createStreamingTtsProvider('openai', { apiKey: 'sk-123456' })).toThrow(/elevenlabs/);
  });
});
