import { describe, expect, it } from 'vitest';
import { DeepgramStt, deepgramWsBase, parseDeepgramResults } from '../../src/providers/stt/deepgram.js';
import { ProviderError } from '../../src/providers/stt/index.js';
import { concatPcm, startFakeDeepgramLive, tone } from './fake-deepgram-live.js';
import { le16, rejectionOf } from './fake-stt-servers.js';
import { waitFor } from './helpers.js';
import { describeSttContract, fakePerTest, EDGE_SAMPLES, LOUD, writeOddChunks } from './stt-contract.js';

const fake = fakePerTest(startFakeDeepgramLive);

describeSttContract({
  name: 'deepgram',
  Adapter: DeepgramStt,
  fake,
  // The fake's names for the contract's behaviours.
  behave: (f, { ignoreEnd, closeOnAudio, ...same }) =>
    Object.assign(f.behavior, same, ignoreEnd === undefined ? {} : { ignoreCloseStream: ignoreEnd }, closeOnAudio ? { failOnAudio: closeOnAudio } : {}),
  rate: 16000,
  // Its handshake and frames: the first test below. The fake recognises each 0.5 s window.
  transcripts: {
    // speech 0-0.5 s, silence 0.5-1.0 s, speech 1.0-2.0 s
    audio: concatPcm(tone(16000, 0.5, LOUD), tone(16000, 0.5, 0), tone(16000, 1, LOUD)),
    expected: ['I word1 0-500', 'F word1 0-500', 'I word2 1000-1500', 'F word2 1000-1500', 'I word3 1500-2000', 'F word3 1500-2000'],
    // The fake did send the empty final, SpeechStarted, UtteranceEnd and Metadata the adapter skipped.
    more: (f) => expect(new Set(f.connections[0].sent.map((m) => m.type))).toEqual(new Set(['Results', 'SpeechStarted', 'UtteranceEnd', 'Metadata'])),
  },
  closeFinalizes: {
    // CloseStream flushes the last finals: three full windows and a 0.2 s tail, in one write.
    rate: 8000,
    audio: tone(8000, 1.7, LOUD),
    frame: 8000 * 1.7,
    finalsOnly: true,
    expected: ['F word1 0-500', 'F word2 500-1000', 'F word3 1000-1500', 'F word4 1500-1700'],
    more: async (_f, stream, seen) => {
      await stream.close();
      expect(seen.transcripts.length).toBe(8);
    },
  },
  closeWait: { silent: true },
  refused: { canary: 'dg-SECRET-9f8e7d6c5b4a-presented', code: 'INVALID_AUTH', requestId: 'fake-req-0001', message: 'Invalid credentials' },
  // Deepgram reports errors as close frames only.
  serverClose: { code: 1011, reason: 'NET-0001: no audio received', contains: ['1011', 'NET-0001'] },
  abort: {
    audio: tone(16000, 0.5, LOUD),
    expected: ['I word1 0-500'], // the interim; the final was 300 ms away
    closeWithinMs: 50,
    endMessages: (f) => f.connections[0].texts, // no CloseStream
  },
});

describe('deepgram live STT: wire protocol', () => {
  it('connects to /v1/listen with the documented query and Token auth, and sends exact LE PCM in the chunks written', async () => {
    const stt = new DeepgramStt({ apiKey: fake().apiKey, baseUrl: fake().baseUrl });
    const stream = await stt.open({ sampleRateHz: 16000 });
    const conn = fake().connections[0];
    expect(conn.path).toBe('/v1/listen');
    expect(conn.query).toEqual({
      model: 'nova-3',
      encoding: 'linear16',
      sample_rate: '16000',
      channels: '1',
      language: 'en',
      interim_results: 'true',
      punctuate: 'true',
    });
    expect(conn.headers.authorization).toBe(`Token ${fake().apiKey}`);

    const audio = concatPcm(EDGE_SAMPLES, tone(16000, 0.3, LOUD));
    // Views into a larger buffer, reused after the call: the adapter must copy.
    const written = writeOddChunks(stream, audio, [1, 7, 0, 160, 333, 2, 4000]);
    await stream.close();
    expect(conn.frameSizes).toEqual(written); // no empty frame (Deepgram's legacy end-of-stream)
    expect(conn.audio.equals(le16(audio))).toBe(true);
    expect(conn.texts).toEqual([JSON.stringify({ type: 'CloseStream' })]);
    await waitFor(() => conn.closed);
    expect(conn.closeCode).toBe(1000);
  });

  it('maps the base URL to ws(s) and passes model, rate and language', async () => {
    expect(deepgramWsBase(undefined)).toBe('wss://api.deepgram.com');
    expect(deepgramWsBase('https://api.deepgram.com/v1/')).toBe('wss://api.deepgram.com');
    expect(deepgramWsBase('http://127.0.0.1:9/proxy')).toBe('ws://127.0.0.1:9/proxy');
    expect(() => deepgramWsBase('ftp://x')).toThrow(/http/);
    const stt = new DeepgramStt({ apiKey: fake().apiKey, baseUrl: `${fake().baseUrl}/v1`, model: 'nova-2-phonecall' });
    const stream = await stt.open({ sampleRateHz: 8000, language: 'es' });
    expect(fake().connections[0].query).toMatchObject({ model: 'nova-2-phonecall', sample_rate: '8000', language: 'es' });
    await stream.close();
  });

  it('parses Results and ignores empty transcripts and other message types', () => {
    const r = (transcript: string, extra: object = {}) => ({ type: 'Results', start: 1.25, duration: 0.5, is_final: true, channel: { alternatives: [{ transcript }] }, ...extra });
    expect(parseDeepgramResults(r(' hello there '))).toEqual({ text: 'hello there', isFinal: true, startMs: 1250, endMs: 1750 });
    expect(parseDeepgramResults(r('hi', { is_final: false }))?.isFinal).toBe(false);
    expect(parseDeepgramResults(r(''))).toBeUndefined();
    for (const type of ['Metadata', 'SpeechStarted', 'UtteranceEnd']) expect(parseDeepgramResults({ ...r('x'), type })).toBeUndefined();
  });

  it('sends KeepAlive text frames while idle', async () => {
    const stt = new DeepgramStt({ apiKey: fake().apiKey, baseUrl: fake().baseUrl }, { keepAliveMs: 60 });
    const stream = await stt.open({ sampleRateHz: 16000 });
    await waitFor(() => fake().connections[0].texts.length >= 2);
    expect(new Set(fake().connections[0].texts)).toEqual(new Set([JSON.stringify({ type: 'KeepAlive' })]));
    await stream.close();
  });
});

describe('deepgram live STT: failures', () => {
  it('rejects open() with the status and err_msg of a refused handshake', async () => {
    const stt = new DeepgramStt({ apiKey: 'wrong-key-but-long-enough', baseUrl: fake().baseUrl });
    const err = await rejectionOf(stt.open({ sampleRateHz: 16000 }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'deepgram', status: 401, code: 'INVALID_AUTH', requestId: 'fake-req-0001' });
    expect(err.message).toContain('Invalid credentials.');
    expect(fake().refused).toEqual([401]);
  });
});
