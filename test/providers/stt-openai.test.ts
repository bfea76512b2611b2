import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenAiStt, ProviderError, sttProviderForType } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { waitFor } from './helpers.js';
import { briefStt, closedPort, le16, rejectionOf, startFakeOpenAiStt, watchStt, writeFrames } from './fake-stt-servers.js';
import type { FakeSttServer } from './fake-stt-servers.js';

const LOUD = 8000;
const RATE = 24000;

let fake: FakeSttServer;
beforeEach(async () => {
  fake = await startFakeOpenAiStt();
});
afterEach(async () => {
  await fake.close();
});

const stt = (tuning = {}): OpenAiStt => new OpenAiStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }, tuning);

/** Messages of one type the fake received. */
const received = (type: string): Array<Record<string, any>> =>
  fake.connections[0].messages.filter((m): m is Record<string, any> => (m as { type?: string })?.type === type);

/** Zero crossings of a 16-bit LE buffer. */
function zeroCrossings(bytes: Buffer): number {
  let n = 0;
  for (let i = 2; i + 1 < bytes.length; i += 2) if (bytes.readInt16LE(i - 2) < 0 !== bytes.readInt16LE(i) < 0) n++;
  return n;
}

describe('openai realtime STT: wire protocol', () => {
  it('connects with intent=transcription and Bearer auth, then configures a transcription session', async () => {
    const stream = await stt().open({ sampleRateHz: RATE, language: 'en-US' });
    const conn = fake.connections[0];
    expect(conn.path).toBe('/v1/realtime');
    expect(conn.query).toEqual({ intent: 'transcription' });
    expect(conn.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
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
    await stream.close();
  });

  it('maps the base URL (OPENAI_BASE_URL style, .../v1) to the realtime URL', () => {
    expect(new OpenAiStt({ apiKey: 'k-123456' }).realtimeUrl()).toBe('wss://api.openai.com/v1/realtime?intent=transcription');
    expect(new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'https://proxy.example:8443/v1/' }).realtimeUrl()).toBe('wss://proxy.example:8443/v1/realtime?intent=transcription');
    expect(new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/v1' }).realtimeUrl()).toBe('ws://127.0.0.1:9/v1/realtime?intent=transcription');
    expect(() => new OpenAiStt({ apiKey: 'k-123456', baseUrl: 'ftp://x' })).toThrow(/http/);
    expect(new OpenAiStt({ apiKey: 'k-123456', model: 'gpt-4o-mini-transcribe' }).sessionUpdate('ja').session).toMatchObject({
      audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe', language: 'ja' } } },
    });
  });

  it('sends 24 kHz PCM as base64 input_audio_buffer.append events, byte-exact, in the chunks written', async () => {
    const stream = await stt().open({ sampleRateHz: RATE });
    const edges = Int16Array.from([32767, -32768, -1, 0, 1, 255, 256, -256, 0x1234, -0x1234]);
    const audio = concatPcm(edges, tone(RATE, 0.05, 100));
    const sizes = [1, 7, 0, 160, 333, 2];
    const written: number[] = [];
    for (let i = 0, off = 0; off < audio.length; i++) {
      const n = Math.min(sizes[i % sizes.length], audio.length - off);
      stream.write(audio.subarray(off, off + n)); // a view the adapter must copy
      if (n > 0) written.push(n * 2);
      off += n;
    }
    await stream.close();
    const conn = fake.connections[0];
    expect(conn.frameSizes).toEqual(written); // no empty appends
    expect(conn.audio.equals(le16(audio))).toBe(true);
    expect(received('input_audio_buffer.append').every((m) => typeof m.audio === 'string' && Object.keys(m).length === 2)).toBe(true);
    // Loud samples and no speech_started yet: a closing commit. It found under 100 ms in the
    // buffer; that error ended the stream quietly.
    expect(received('input_audio_buffer.commit')).toHaveLength(1);
    expect(conn.sent.at(-1)).toMatchObject({ type: 'error', error: { code: 'input_audio_buffer_commit_empty' } });
    await waitFor(() => conn.closed);
    expect(conn.closeCode).toBe(1000);
  });

  it('resamples an 8 kHz stream to the 24 kHz the API takes (stateful: same tone, 3x the samples)', async () => {
    const p = stt();
    expect(p.preferredSampleRateHz).toBe(24000);
    const stream = await p.open({ sampleRateHz: 8000 });
    writeFrames(stream, tone(8000, 1, LOUD), 160); // 1 s of a 300 Hz tone in 20 ms frames
    await stream.close();
    await waitFor(() => fake.connections[0].closed);
    const audio = fake.connections[0].audio;
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
  it('delivers deltas as interims then the completed transcript, with the VAD offsets, for scripted utterances', async () => {
    fake.script(['first utterance', 'second utterance']);
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    const speech = (s: number): Int16Array => tone(RATE, s, LOUD);
    const quiet = (s: number): Int16Array => tone(RATE, s, 0);
    writeFrames(stream, concatPcm(speech(0.5), quiet(0.5), speech(0.5), quiet(0.5), speech(0.3), quiet(0.4)), 480);
    await waitFor(() => seen.transcripts.filter((t) => t.isFinal).length === 3);
    expect(seen.transcripts.map(briefStt)).toEqual([
      'I first 0-500',
      'I first utterance 0-500',
      'F first utterance 0-500',
      'I second 1000-1500',
      'I second utterance 1000-1500',
      'F second utterance 1000-1500',
      'I word3 2000-2300', // the script ran out
      'F word3 2000-2300',
    ]);
    await stream.close();
    expect(seen.errors).toEqual([]);
    expect(seen.transcripts).toHaveLength(8);
    // Every turn was ended by the VAD and only silence followed: no closing commit (its
    // transcription would cost, and whisper-style models hallucinate on silence).
    expect(received('input_audio_buffer.commit')).toEqual([]);
  });

  it('offsets stay in stream milliseconds through the 8 kHz -> 24 kHz conversion', async () => {
    fake.script(['hello there']);
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

  it('close() commits speech still open, waits for its transcription, then ends', async () => {
    fake.script(['cut short']);
    fake.behavior.finalDelayMs = 250;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.4, LOUD), 480); // no trailing quiet: the VAD never ends it
    const closing = stream.close();
    expect(stream.close()).toBe(closing);
    await closing;
    expect(received('input_audio_buffer.commit')).toHaveLength(1);
    expect(seen.transcripts.map(briefStt)).toEqual(['I cut 0-400', 'I cut short 0-400', 'F cut short 0-400']);
    expect(seen.errors).toEqual([]);
    expect(() => stream.write(tone(RATE, 0.1, LOUD))).not.toThrow();
    await waitFor(() => fake.connections[0].closed);
    expect(fake.connections[0].closeCode).toBe(1000);
  });

  it('bounds the close wait when the server never answers the commit', async () => {
    fake.behavior.ignoreEnd = true;
    const stream = await stt({ closeTimeoutMs: 200 }).open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.3, LOUD), 480);
    await waitFor(() => fake.connections[0].sent.some((m) => m.type === 'input_audio_buffer.speech_started'));
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(seen.errors.map((e) => e.code)).toEqual(['timeout']);
    await waitFor(() => fake.connections[0].closed);
  });
});

describe('openai realtime STT: failures', () => {
  it('a refused key is a ProviderError with status 401, and the key (echoed by the server) never appears', async () => {
    fake.behavior.echoKeyInErrors = true;
    const canary = 'sk-CANARY-openai-7f3e9a1b2c4d';
    const err = await rejectionOf(new OpenAiStt({ apiKey: canary, baseUrl: fake.baseUrl }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'stt', provider: 'openai', status: 401, code: 'invalid_api_key', requestId: 'req_fake_0001' });
    expect(err.message).toContain('Incorrect API key provided');
    for (const text of [err.message, String(err), String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(canary);
    expect(fake.refused).toEqual([401]);

    const port = await closedPort();
    const net = await rejectionOf(new OpenAiStt({ apiKey: canary, baseUrl: `http://127.0.0.1:${port}/v1` }).open({ sampleRateHz: RATE }));
    expect(net).toMatchObject({ code: 'network' });
    expect(net.message).not.toContain(canary);
  });

  it('reports an error event mid-stream through onError (scrubbed) and keeps the stream', async () => {
    fake.behavior.errorOnAudio = 'The server had an error while processing your request';
    fake.behavior.echoKeyInErrors = true;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, 0));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toBeInstanceOf(ProviderError);
    expect(seen.errors[0]).toMatchObject({ provider: 'openai', code: 'fake_error' });
    expect(seen.errors[0].message).toContain('The server had an error');
    expect(seen.errors[0].message).not.toContain(fake.apiKey);
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('reports a server close mid-stream through onError; close() then resolves at once', async () => {
    fake.behavior.closeOnAudio = { code: 1011, reason: 'internal error' };
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, LOUD));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toMatchObject({ provider: 'openai', code: 'closed' });
    expect(seen.errors[0].message).toContain('1011');
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('times out a handshake that never completes', async () => {
    fake.behavior.hangHandshake = true;
    const err = await rejectionOf(new OpenAiStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, connectTimeoutMs: 150 }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
  });
});

describe('openai realtime STT: abort', () => {
  it('rejects with the reason when aborted before or while connecting', async () => {
    const reason = new Error('caller hung up');
    expect(await rejectionOf(stt().open({ sampleRateHz: 8000, signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(fake.connections).toHaveLength(0);

    fake.behavior.hangHandshake = true;
    const ac = new AbortController();
    const opening = stt().open({ sampleRateHz: 8000, signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    const t0 = Date.now();
    expect(await rejectionOf(opening)).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('drops an open stream on abort: no commit, no more results, close() resolves at once', async () => {
    fake.behavior.finalDelayMs = 300;
    const ac = new AbortController();
    const stream = await stt().open({ sampleRateHz: RATE, signal: ac.signal });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(RATE, 0.3, LOUD), tone(RATE, 0.4, 0)), 480);
    await waitFor(() => fake.connections[0].sent.some((m) => m.type === 'input_audio_buffer.committed'));
    ac.abort();
    await waitFor(() => fake.connections[0].closed);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(500); // at once: nothing is waited for
    await new Promise((r) => setTimeout(r, 350));
    expect(seen.transcripts).toEqual([]); // the deltas were 300 ms away
    expect(seen.errors).toEqual([]);
    expect(received('input_audio_buffer.commit')).toEqual([]);
  });
});

describe('openai realtime STT: from the environment', () => {
  it("sttProviderForType('openai') builds the adapter from OPENAI_API_KEY / OPENAI_BASE_URL", async () => {
    fake.script(['from the env']);
    const provider = sttProviderForType('openai', { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl });
    expect(provider).toBeInstanceOf(OpenAiStt);
    const stream = await provider.open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.3, LOUD), 480);
    await stream.close();
    expect(seen.transcripts.filter((t) => t.isFinal).map((t) => t.text)).toEqual(['from the env']);
  });
});
