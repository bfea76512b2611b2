import { describe, expect, it } from 'vitest';
import { OpenAiStt } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { waitFor } from './helpers.js';
import { startFakeOpenAiStt, watchStt, writeFrames } from './fake-stt-servers.js';
import { describeSttContract, fakePerTest, LOUD } from './stt-contract.js';

const RATE = 24000;

const fake = fakePerTest(startFakeOpenAiStt);

const stt = (tuning = {}): OpenAiStt => new OpenAiStt({ apiKey: fake().apiKey, baseUrl: fake().baseUrl }, tuning);

/** Messages of one type the fake received. */
const received = (type: string): Array<Record<string, any>> =>
  fake().connections[0].messages.filter((m): m is Record<string, any> => (m as { type?: string })?.type === type);

/** Messages of one type the fake sent. */
const sent = (type: string): boolean => fake().connections[0].sent.some((m) => m.type === type);

/** Zero crossings of a 16-bit LE buffer. */
function zeroCrossings(bytes: Buffer): number {
  let n = 0;
  for (let i = 2; i + 1 < bytes.length; i += 2) if (bytes.readInt16LE(i - 2) < 0 !== bytes.readInt16LE(i) < 0) n++;
  return n;
}

describeSttContract({
  name: 'openai',
  Adapter: OpenAiStt,
  fake,
  rate: RATE,
  apiPath: '/v1',
  handshake: {
    // intent=transcription and Bearer auth, then a transcription session.
    open: { sampleRateHz: RATE, language: 'en-US' },
    path: '/v1/realtime',
    query: { intent: 'transcription' },
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    more: (conn) => {
      expect(conn.messages[0]).toEqual({
        type: 'session.update',
        session: {
          type: 'transcription',
          audio: {
            input: {
              format: { type: 'audio/pcm', rate: 24000 },
              transcription: { model: 'gpt-4o-transcribe', language: 'en' },
              turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 },
            },
          },
        },
      });
      // open() resolved only after the server confirmed the session.
      expect(conn.sent.map((m) => m.type)).toEqual(['session.created', 'session.updated']);
    },
  },
  frames: {
    // 24 kHz PCM as base64 input_audio_buffer.append events.
    rate: RATE,
    more: (conn) => {
      expect(received('input_audio_buffer.append').every((m) => typeof m.audio === 'string' && Object.keys(m).length === 2)).toBe(true);
      // Loud samples and no speech_started yet: a closing commit. It found under 100 ms in the
      // buffer; that error ended the stream quietly.
      expect(received('input_audio_buffer.commit')).toHaveLength(1);
      expect(conn.sent.at(-1)).toMatchObject({ type: 'error', error: { code: 'input_audio_buffer_commit_empty' } });
    },
  },
  transcripts: {
    // Deltas as interims, then the completed transcript, with the VAD offsets.
    expected: [
      'I first 0-500',
      'I first utterance 0-500',
      'F first utterance 0-500',
      'I second 1000-1500',
      'I second utterance 1000-1500',
      'F second utterance 1000-1500',
      'I word3 2000-2300', // the script ran out
      'F word3 2000-2300',
    ],
    more: (_f, seen) => {
      expect(seen.transcripts).toHaveLength(8);
      // Every turn was ended by the VAD and only silence followed: no closing commit (its
      // transcription would cost, and whisper-style models hallucinate on silence).
      expect(received('input_audio_buffer.commit')).toEqual([]);
    },
  },
  closeFinalizes: {
    // close() commits speech still open, waits for its transcription, then ends.
    expected: ['I cut 0-400', 'I cut short 0-400', 'F cut short 0-400'],
    more: () => expect(received('input_audio_buffer.commit')).toHaveLength(1),
  },
  closeWait: { ready: () => sent('input_audio_buffer.speech_started') },
  refused: { canary: 'sk-CANARY-openai-7f3e9a1b2c4d', code: 'invalid_api_key', requestId: 'req_fake_0001', message: 'Incorrect API key provided' },
  errorMessage: {
    text: 'The server had an error while processing your request',
    match: { code: 'fake_error' },
    contains: 'The server had an error',
  },
  serverClose: { code: 1011, reason: 'internal error', contains: ['1011'] },
  abort: {
    heard: () => sent('input_audio_buffer.committed'),
    expected: [], // the deltas were 300 ms away
    endMessages: () => received('input_audio_buffer.commit'), // no commit
  },
  fromEnv: { rate: RATE, brief: (t) => t.text, expected: ['from the env'] },
});

describe('openai realtime STT: wire protocol', () => {
  it('maps the base URL (OPENAI_BASE_URL style, .../v1) to the realtime URL', () => {
    expect(new OpenAiStt({ apiKey: 'k-123456' }).realtimeUrl()).toBe('wss://api.openai.com/v1/realtime?intent=transcription');
    expect(new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'https://proxy.example:8443/v1/' }).realtimeUrl()).toBe('wss://proxy.example:8443/v1/realtime?intent=transcription');
    expect(new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/v1' }).realtimeUrl()).toBe('ws://127.0.0.1:9/v1/realtime?intent=transcription');
    expect(() => new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'ftp://x' })).toThrow(/http/);
    expect(new OpenAiStt({ apiKey: 'k-123456', model: 'gpt-4o-mini-transcribe' }).sessionUpdate('ja').session).toMatchObject({
      audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', language: 'ja' } } },
    });
  });

  it('resamples an 8 kHz stream to the 24 kHz the API takes (stateful: same tone, 3x the samples)', async () => {
    const p = stt();
    expect(p.preferredSampleRateHz).toBe(24000);
    const stream = await p.open({ sampleRateHz: 8000 });
    writeFrames(stream, tone(8000, 1, LOUD), 160); // 1 s of a 300 Hz tone in 20 ms frames
    await stream.close();
    await waitFor(() => fake().connections[0].closed);
    const audio = fake().connections[0].audio;
    // 3x the samples, plus the filter's delay (72 samples, 3 ms) flushed at close.
    expect(audio.length / 2).toBeGreaterThanOrEqual(24000);
    expect(audio.length / 2).toBeLessThanOrEqual(24000 + 100);
    // 300 Hz makes 600 zero crossings a second: over 0.9 s of the middle, 540. A wrong rate
    // (or chunk-edge glitches of a stateless resampler) would change the count.
    expect(Math.abs(zeroCrossings(audio.subarray(1200 * 2, 22800 * 2)) - 540)).toBeLessThanOrEqual(3);
    let peak = 0;
    for (let i = 0; i < audio.length; i += 2) peak = Math.max(peak, Math.abs(audio.readInt16LE(i)));
    expect(peak).toBeGreaterThan(LOUD * 0.9);
    expect(peak).toBeLessThan(LOUD * 1.1);
  });

  it('rejects sample rates it cannot take', async () => {
    await expect(stt().open({ sampleRateHz: 7000 })).rejects.toThrow(/unsupported sampleRateHz/);
  });
});

describe('openai realtime STT: transcripts', () => {
  it('offsets stay in stream milliseconds through the 8 kHz -> 24 kHz conversion', async () => {
    fake().script(['hello there']);
    const stream = await stt().open({ sampleRateHz: 8000 });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(8000, 0.4, 0), tone(8000, 0.6, LOUD), tone(8000, 0.5, 0)), 160);
    await waitFor(() => seen.transcripts.some((t) => t.isFinal));
    const final = seen.transcripts.find((t) => t.isFinal)!;
    expect(final.text).toBe('hello there');
    // One 20 ms VAD frame of slack for the resampler's filter delay.
    expect(Math.abs(final.startMs - 400)).toBeLessThanOrEqual(20);
    expect(Math.abs(final.endMs - 1000)).toBeLessThanOrEqual(20);
    await stream.close();
  });
});
