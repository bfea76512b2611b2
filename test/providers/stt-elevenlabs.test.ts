import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ElevenLabsStt, ProviderError, sttProviderForType } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { waitFor } from './helpers.js';
import { briefStt, closedPort, le16, rejectionOf, startFakeElevenLabsStt, watchStt, writeFrames } from './fake-stt-servers.js';
import type { FakeSttServer } from './fake-stt-servers.js';

const LOUD = 8000;
const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

let fake: FakeSttServer;
beforeEach(async () => {
  fake = await startFakeElevenLabsStt();
});
afterEach(async () => {
  await fake.close();
});

const stt = (tuning = {}): ElevenLabsStt => new ElevenLabsStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }, tuning);

/** Client messages of one message_type, the closing commit apart from audio. */
const chunks = (): Array<Record<string, any>> => fake.connections[0].messages as Array<Record<string, any>>;
const commits = (): Array<Record<string, any>> => chunks().filter((m) => m.commit === true);

/** Interims have estimated offsets (Scribe sends no timing for partials): compare their start only. */
const shape = (t: { text: string; isFinal: boolean; startMs: number; endMs: number }): string =>
  t.isFinal ? briefStt(t) : `I ${t.text} ${t.startMs}-`;

describe('elevenlabs realtime STT: wire protocol', () => {
  it('connects to /v1/speech-to-text/realtime with model, format, VAD commits, timestamps and the xi-api-key header', async () => {
    const stream = await stt().open({ sampleRateHz: RATE, language: 'ja-JP' });
    const conn = fake.connections[0];
    expect(conn.path).toBe('/v1/speech-to-text/realtime');
    expect(conn.query).toEqual({
      model_id: 'scribe_v2_realtime',
      audio_format: 'pcm_16000',
      commit_strategy: 'vad',
      include_timestamps: 'true',
      language_code: 'ja',
    });
    expect(conn.headers['xi-api-key']).toBe(fake.apiKey);
    expect(conn.sent[0]).toMatchObject({ message_type: 'session_started' }); // open() waited for it
    await stream.close();
  });

  it('maps the base URL and takes the tuning', () => {
    const p = new ElevenLabsStt({ apiKey: 'k-123456', baseUrl: 'http://127.0.0.1:9/v1/', model: 'scribe_v3_realtime' }, { vadSilenceThresholdSecs: 0.8 });
    expect(p.realtimeUrl(8000)).toBe(
      'ws://127.0.0.1:9/v1/speech-to-text/realtime?model_id=scribe_v3_realtime&audio_format=pcm_8000&commit_strategy=vad&vad_silence_threshold_secs=0.8&include_timestamps=true&language_code=en',
    );
    expect(new ElevenLabsStt({ apiKey: 'k-123456' }).realtimeUrl(16000)).toMatch(/^wss:\/\/api\.elevenlabs\.io\/v1\/speech-to-text\/realtime\?/);
    expect(() => new ElevenLabsStt({ apiKey: 'k-123456' }, { vadSilenceThresholdSecs: 0.2 })).toThrow(/vadSilenceThresholdSecs/);
  });

  it('sends input_audio_chunk messages of base64 PCM at the stream rate, byte-exact, in the chunks written', async () => {
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
    await waitFor(() => fake.connections[0].closed);
    const conn = fake.connections[0];
    expect(conn.frameSizes).toEqual(written);
    expect(conn.audio.equals(le16(audio))).toBe(true);
    const audioChunks = chunks().slice(0, -1);
    for (const m of audioChunks) {
      expect(Object.keys(m).sort()).toEqual(['audio_base_64', 'commit', 'message_type', 'sample_rate']);
      expect(m).toMatchObject({ message_type: 'input_audio_chunk', commit: false, sample_rate: 8000 });
    }
    // Loud samples not yet reported: a closing commit, answered with an empty transcript.
    expect(chunks().at(-1)).toEqual({ message_type: 'input_audio_chunk', audio_base_64: '', commit: true, sample_rate: 8000 });
    expect(conn.closeCode).toBe(1000);
  });

  it('rejects rates the API has no format for', async () => {
    await expect(stt().open({ sampleRateHz: 11025 })).rejects.toThrow(/unsupported sampleRateHz 11025/);
  });
});

describe('elevenlabs realtime STT: transcripts', () => {
  it('delivers partials then committed transcripts in order, finals with word-timestamp offsets, for scripted utterances', async () => {
    fake.script(['first utterance', 'second utterance']);
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    const speech = (s: number): Int16Array => tone(RATE, s, LOUD);
    const quiet = (s: number): Int16Array => tone(RATE, s, 0);
    writeFrames(stream, concatPcm(speech(0.5), quiet(0.5), speech(0.5), quiet(0.5), speech(0.3), quiet(0.4)), FRAME);
    await waitFor(() => seen.transcripts.filter((t) => t.isFinal).length === 3);
    expect(seen.transcripts.map(shape)).toEqual([
      'I first 0-',
      'F first utterance 0-500',
      'I second 500-', // a partial starts where the last final ended
      'F second utterance 1000-1500',
      'I word3 1500-', // the script ran out
      'F word3 2000-2300',
    ]);
    for (const t of seen.transcripts) expect(t.endMs).toBeGreaterThanOrEqual(t.startMs);
    // The server sent both committed forms; only the timestamped one became the final.
    expect(fake.connections[0].sent.filter((m) => m.message_type === 'committed_transcript')).toHaveLength(3);
    await stream.close();
    expect(seen.errors).toEqual([]);
    expect(commits()).toEqual([]); // only silence after the last commit: nothing to commit at the end
  });

  it('a committed transcript whose timestamped twin never comes is delivered after timestampWaitMs, offsets estimated', async () => {
    fake.behavior.omitTimestamps = true;
    fake.script(['no timing']);
    const stream = await stt({ timestampWaitMs: 150 }).open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(RATE, 0.3, LOUD), tone(RATE, 0.4, 0)), FRAME);
    await waitFor(() => seen.transcripts.some((t) => t.isFinal));
    const final = seen.transcripts.find((t) => t.isFinal)!;
    // From the end of the last final (none: 0) to the audio written when it was delivered.
    expect(final).toEqual({ text: 'no timing', isFinal: true, startMs: 0, endMs: 700 });
    await stream.close();
    expect(seen.errors).toEqual([]);
  });

  it('close() commits speech still open and waits for its committed transcript', async () => {
    fake.script(['cut short']);
    fake.behavior.finalDelayMs = 250;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    writeFrames(stream, tone(RATE, 0.4, LOUD), FRAME); // no trailing quiet: the VAD never commits it
    const closing = stream.close();
    expect(stream.close()).toBe(closing);
    await closing;
    expect(commits()).toEqual([{ message_type: 'input_audio_chunk', audio_base_64: '', commit: true, sample_rate: RATE }]);
    expect(seen.transcripts.map(shape)).toEqual(['I cut 0-', 'F cut short 0-400']);
    expect(seen.errors).toEqual([]);
    expect(() => stream.write(tone(RATE, 0.1, LOUD))).not.toThrow();
    await waitFor(() => fake.connections[0].closed);
    expect(fake.connections[0].closeCode).toBe(1000);
  });

  it('bounds the close wait when the server never answers the commit', async () => {
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

describe('elevenlabs realtime STT: failures', () => {
  it('a refused key is a ProviderError with status 401, and the key (echoed by the server) never appears', async () => {
    fake.behavior.echoKeyInErrors = true;
    const canary = 'el-CANARY-5d4c3b2a1f0e-presented';
    const err = await rejectionOf(new ElevenLabsStt({ apiKey: canary, baseUrl: fake.baseUrl }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'stt', provider: 'elevenlabs', status: 401, code: 'invalid_api_key', requestId: 'el-fake-req-0001' });
    expect(err.message).toContain('Invalid API key');
    for (const text of [err.message, String(err), String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(canary);
    expect(fake.refused).toEqual([401]);

    const port = await closedPort();
    const net = await rejectionOf(new ElevenLabsStt({ apiKey: canary, baseUrl: `http://127.0.0.1:${port}` }).open({ sampleRateHz: RATE }));
    expect(net).toMatchObject({ code: 'network' });
    expect(net.message).not.toContain(canary);
  });

  it('an auth_error message after the upgrade also rejects open() with status 401', async () => {
    fake.behavior.authErrorAfterUpgrade = true;
    fake.behavior.echoKeyInErrors = true;
    const canary = 'el-CANARY-after-upgrade-99887766';
    const err = await rejectionOf(new ElevenLabsStt({ apiKey: canary, baseUrl: fake.baseUrl }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'elevenlabs', status: 401, code: 'auth_error' });
    expect(err.message).toContain('Invalid API key');
    expect(err.message).not.toContain(canary);
  });

  it('reports an error message mid-stream through onError (scrubbed) and keeps the stream', async () => {
    fake.behavior.errorOnAudio = 'transcription failed';
    fake.behavior.echoKeyInErrors = true;
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, 0));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toBeInstanceOf(ProviderError);
    expect(seen.errors[0]).toMatchObject({ provider: 'elevenlabs', code: 'transcriber_error' });
    expect(seen.errors[0].message).toContain('transcription failed');
    expect(seen.errors[0].message).not.toContain(fake.apiKey);
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('reports a server close mid-stream through onError', async () => {
    fake.behavior.closeOnAudio = { code: 1008, reason: 'quota_exceeded' };
    const stream = await stt().open({ sampleRateHz: RATE });
    const seen = watchStt(stream);
    stream.write(tone(RATE, 0.02, LOUD));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toMatchObject({ provider: 'elevenlabs', code: 'closed' });
    expect(seen.errors[0].message).toContain('1008');
    await stream.close();
  });

  it('times out a handshake that never completes', async () => {
    fake.behavior.hangHandshake = true;
    const err = await rejectionOf(new ElevenLabsStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, connectTimeoutMs: 150 }).open({ sampleRateHz: RATE }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
  });
});

describe('elevenlabs realtime STT: abort', () => {
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

  it('drops an open stream on abort: no commit, no more results, close() resolves at once', async () => {
    fake.behavior.finalDelayMs = 300;
    const ac = new AbortController();
    const stream = await stt().open({ sampleRateHz: RATE, signal: ac.signal });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(RATE, 0.3, LOUD), tone(RATE, 0.4, 0)), FRAME);
    await waitFor(() => seen.transcripts.length === 1); // the partial; the final is 300 ms away
    ac.abort();
    await waitFor(() => fake.connections[0].closed);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(500); // at once: nothing is waited for
    await new Promise((r) => setTimeout(r, 350));
    expect(seen.transcripts.map(shape)).toEqual(['I word1 0-']);
    expect(seen.errors).toEqual([]);
    expect(commits()).toEqual([]);
  });
});

describe('elevenlabs realtime STT: from the environment', () => {
  it("sttProviderForType('elevenlabs') builds the adapter from ELEVENLABS_API_KEY / ELEVENLABS_BASE_URL", async () => {
    fake.script(['from the env']);
    const provider = sttProviderForType('ElevenLabs', { ELEVENLABS_API_KEY: fake.apiKey, ELEVENLABS_BASE_URL: fake.baseUrl });
    expect(provider).toBeInstanceOf(ElevenLabsStt);
    const stream = await provider.open({ sampleRateHz: 8000 });
    const seen = watchStt(stream);
    writeFrames(stream, concatPcm(tone(8000, 0.3, LOUD), tone(8000, 0.4, 0)), 160);
    await waitFor(() => seen.transcripts.some((t) => t.isFinal));
    await stream.close();
    expect(seen.transcripts.filter((t) => t.isFinal).map(briefStt)).toEqual(['F from the env 0-300']);
  });
});
