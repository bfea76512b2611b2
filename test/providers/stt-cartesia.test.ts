import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CartesiaStt, CARTESIA_STT_API_VERSION, ProviderError, sttProviderForType } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { waitFor } from './helpers.js';
import { briefStt, closedPort, le16, rejectionOf, startFakeCartesiaStt, watchStt, writeFrames } from './fake-stt-servers.js';
import type { FakeSttServer } from './fake-stt-servers.js';

const LOUD = 8000;
const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

let fake: FakeSttServer;
beforeEach(async () => {
  fake = await startFakeCartesiaStt();
});
afterEach(async () => {
  await fake.close();
});

const stt = (tuning = {}): CartesiaStt => new CartesiaStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }, tuning);

describe('cartesia STT: wire protocol', () => {
  it('connects to /stt/websocket with model, language, encoding and rate, the X-API-Key and Cartesia-Version headers', async () => {
    const stream = await stt().open({ sampleRateHz: RATE, language: 'de-DE' });
    const conn = fake.connections[0];
    expect(conn.path).toBe('/stt/websocket');
    expect(conn.query).toEqual({ model: 'ink-whisper', language: 'de', encoding: 'pcm_s16le', sample_rate: '16000' });
    expect(conn.headers['x-api-key']).toBe(fake.apiKey);
    expect(conn.headers['cartesia-version']).toBe(CARTESIA_STT_API_VERSION);
    expect(conn.headers.authorization).toBeUndefined();
    await stream.close();
  });

  it('maps the base URL and passes the VAD tuning', () => {
    const p = new CartesiaStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/', model: 'ink-whisper-2025-06-04' }, { minVolume: 0.1, maxSilenceDurationSecs: 0.6 });
    expect(p.websocketUrl(8000, 'en-US')).toBe(
      'ws://127.0.0.1:9/stt/websocket?model=ink-whisper-2025-06-04&language=en&encoding=pcm_s16le&sample_rate=8000&min_volume=0.1&max_silence_duration_secs=0.6',
    );
    expect(new CartesiaStt({ apiKey: 'k-123456' }).websocketUrl(16000)).toMatch(/^wss:\/\/api\.cartesia\.ai\/stt\/websocket\?model=ink-whisper&/);
    expect(() => new CartesiaStt({ apiKey: 'k-123456' }, { minVolume: 2 })).toThrow(/minVolume/);
  });

  it('sends binary frames of exact LE PCM in the chunks written, then finalize and done', async () => {
    const stream = await stt().open({ sampleRateHz: 8000 });
    const edges = Int16Array.from([32767, -32768, -1, 0, 1, 255, 256, -256, 0x1234, -0x1234]);
    const audio = concatPcm(edges, tone(8000, 0.05, 100));
    const sizes = [1, 7, 0, 160, 333, 2];
    const written: number[] = [];
    for (let i = 0, off = 0; off < audio.length; i++) {
      const n = Math.min(sizes[i % sizes.length], audio.length - off);
      stream.write(audio.subarray(off, off + n));
      if (n > 0) written.push(n * 2);
      off += n;
    }
    await stream.close();
    const conn = fake.connections[0];
    expect(conn.frameSizes).toEqual(written); // no empty frames
    expect(conn.audio.equals(le16(audio))).toBe(true);
    expect(conn.messages).toEqual(['finalize', 'done']);
    expect(conn.sent.map((m) => m.type).slice(-2)).toEqual(['flush_done', 'done']);
    await waitFor(() => conn.closed);
    expect(conn.closeCode).toBe(1000);
  });
});

describe('cartesia STT: transcripts', () => {
  it('delivers interims then finals in order with their word-timing offsets, for scripted utterances', async () => {
    fake.script(['first utterance', 'second utterance']);
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    const speech = (s: number): Int16Array => tone(RATE, s, LOUD);
    const quiet = (s: number): Int16Array => tone(RATE, s, 0);
    writeFrames(stream, concatPcm(speech(0.5), quiet(0.5), speech(0.5), quiet(0.5), speech(0.3), quiet(0.4)), FRAME);
    await waitFor(() => seen.transcripts.filter((t) => t.isFinal).length === 3);
    expect(seen.transcripts.map(briefStt)).toEqual([
      'I first 0-100',
      'F first utterance 0-500',
      'I second 1000-1100',
      'F second utterance 1000-1500',
      'I word3 2000-2100', // the script ran out
      'F word3 2000-2300',
    ]);
    await stream.close();
    expect(seen.errors).toEqual([]);
  });

  it('close() finalizes speech still open and waits for done', async () => {
    fake.script(['cut short']);
    fake.behavior.finalDelayMs = 250;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.4, LOUD), FRAME);
    const closing = stream.close();
    expect(stream.close()).toBe(closing);
    await closing;
    expect(seen.transcripts.map(briefStt)).toEqual(['I cut 0-100', 'F cut short 0-400']);
    expect(seen.errors).toEqual([]);
    expect(() => stream.write(tone(RATE, 0.1, LOUD))).not.toThrow();
    expect(fake.connections[0].audio.length).toBe(0.4 * RATE * 2); // nothing after close
    await waitFor(() => fake.connections[0].closed);
    expect(fake.connections[0].closeCode).toBe(1000);
  });

  it('bounds the close wait when the server never answers finalize / done', async () => {
    fake.behavior.ignoreEnd = true;
    const stream = await stt({ closeTimeoutMs: 200 }).open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.3, LOUD), FRAME);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(seen.errors.map((e) => e.code)).toEqual(['timeout']);
    await waitFor(() => fake.connections[0].closed);
  });
});

describe('cartesia STT: failures', () => {
  it('a refused key is a ProviderError with status 401, and the key (echoed by the server) never appears', async () => {
    fake.behavior.echoKeyInErrors = true;
    const canary = 'sk_car_CANARY-0a1b2c3d4e5f';
    const err = await rejectionOf(new CartesiaStt({ apiKey: canary, baseUrl: fake.baseUrl }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'stt', provider: 'cartesia', status: 401, code: 'invalid_api_key', requestId: 'ca-fake-req-0001' });
    expect(err.message).toContain('Invalid API key');
    for (const text of [err.message, String(err), String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(canary);
    expect(fake.refused).toEqual([401]);

    const port = await closedPort();
    const net = await rejectionOf(new CartesiaStt({ apiKey: canary, baseUrl: `http://127.0.0.1:${port}` }).open({ sampleRateHz: RATE }));
    expect(net).toMatchObject({ code: 'network' });
    expect(net.message).not.toContain(canary);
  });

  it('reports an error message mid-stream through onError (scrubbed, with its status) and keeps the stream', async () => {
    fake.behavior.errorOnAudio = 'internal transcription error';
    fake.behavior.echoKeyInErrors = true;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, 0));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toBeInstanceOf(ProviderError);
    expect(seen.errors[0]).toMatchObject({ provider: 'cartesia', code: 'fake_error', status: 500, requestId: 'ca-fake-stream-0001' });
    expect(seen.errors[0].message).toContain('internal transcription error');
    expect(seen.errors[0].message).not.toContain(fake.apiKey);
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('reports a server close mid-stream through onError; close() then resolves at once', async () => {
    fake.behavior.closeOnAudio = { code: 1011, reason: 'server error' };
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, LOUD));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toMatchObject({ provider: 'cartesia', code: 'closed' });
    expect(seen.errors[0].message).toContain('1011');
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('times out a handshake that never completes', async () => {
    fake.behavior.hangHandshake = true;
    const err = await rejectionOf(new CartesiaStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, connectTimeoutMs: 150 }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
  });
});

describe('cartesia STT: abort', () => {
  it('rejects with the reason when aborted before or while connecting', async () => {
    const reason = new Error('caller hung up');
    expect(await rejectionOf(stt().open({ sampleRateHz: RATE, signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(fake.connections).toHaveLength(0);

    fake.behavior.hangHandshake = true;
    const ac = new AbortController();
    const opening = stt().open({ sampleRateHz: RATE, signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    const t0 = Date.now();
    expect(await rejectionOf(opening)).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('drops an open stream on abort: no finalize, no more results, close() resolves at once', async () => {
    fake.behavior.finalDelayMs = 300;
    const ac = new AbortController();
    const stream = await stt().open({ sampleRateHz: RATE, signal: ac.signal });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(RATE, 0.3, LOUD), tone(RATE, 0.4, 0)), FRAME);
    await waitFor(() => seen.transcripts.length === 1); // the interim; the final is 300 ms away
    ac.abort();
    await waitFor(() => fake.connections[0].closed);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(500); // at once: nothing is waited for
    await new Promise((r) => setTimeout(r, 350));
    expect(seen.transcripts.map(briefStt)).toEqual(['I word1 0-100']);
    expect(seen.errors).toEqual([]);
    expect(fake.connections[0].messages).toEqual([]);
  });
});

describe('cartesia STT: from the environment', () => {
  it("sttProviderForType('cartesia') builds the adapter from CARTESIA_API_KEY / CARTESIA_BASE_URL", async () => {
    fake.script(['from the env']);
    const provider = sttProviderForType('cartesia', { CARTESIA_API_KEY: fake.apiKey, CARTESIA_BASE_URL: fake.baseUrl });
    expect(provider).toBeInstanceOf(CartesiaStt);
    const stream = await provider.open({ sampleRateHz: 8000 });
    const seen = watchStt(stream);
    writeFrames(stream, tone(8000, 0.3, LOUD), 160);
    await stream.close();
    expect(seen.transcripts.filter((t) => t.isFinal).map(briefStt)).toEqual(['F from the env 0-300']);
  });
});
