import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DeepgramStt, deepgramWsBase, parseDeepgramResults } from '../../src/providers/stt/deepgram.js';
import { ProviderError } from '../../src/providers/stt/index.js';
import type { ProviderError as SttErrorType, SttStream, SttTranscript } from '../../src/providers/stt/index.js';
import { concatPcm, startFakeDeepgramLive, tone } from './fake-deepgram-live.js';
import type { FakeDeepgramLive } from './fake-deepgram-live.js';

const LOUD = 8000;

/** Explicit little-endian bytes (independent of host byte order). */
function le(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i], i * 2);
  return b;
}

function watch(stream: SttStream): { transcripts: SttTranscript[]; errors: SttErrorType[] } {
  const out = { transcripts: [] as SttTranscript[], errors: [] as SttErrorType[] };
  stream.onTranscript((t) => out.transcripts.push(t));
  stream.onError((e) => out.errors.push(e));
  return out;
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const brief = (t: SttTranscript): string => `${t.isFinal ? 'F' : 'I'} ${t.text} ${t.startMs}-${t.endMs}`;

let fake: FakeDeepgramLive;
beforeEach(async () => {
  fake = await startFakeDeepgramLive();
});
afterEach(async () => {
  await fake.close();
});

describe('deepgram live STT: wire protocol', () => {
  it('connects to /v1/listen with the documented query and Token auth, and sends exact LE PCM in the chunks written', async () => {
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    const stream = await stt.open({ sampleRateHz: 16000 });
    const conn = fake.connections[0];
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
    expect(conn.headers.authorization).toBe(`Token ${fake.apiKey}`);

    const edges = Int16Array.from([32767, -32768, -1, 0, 1, 255, 256, -256, 0x1234, -0x1234]);
    const audio = concatPcm(edges, tone(16000, 0.3, LOUD));
    const sizes = [1, 7, 0, 160, 333, 2, 4000];
    let off = 0;
    const written: number[] = [];
    for (let i = 0; off < audio.length; i++) {
      const n = Math.min(sizes[i % sizes.length], audio.length - off);
      // A view into a larger buffer, reused after the call: the adapter must copy.
      const view = audio.subarray(off, off + n);
      stream.write(view);
      if (n > 0) written.push(n * 2);
      off += n;
    }
    await stream.close();
    expect(conn.frameSizes).toEqual(written); // no empty frame (Deepgram's legacy end-of-stream)
    expect(conn.audio.equals(le(audio))).toBe(true);
    expect(conn.texts).toEqual([JSON.stringify({ type: 'CloseStream' })]);
    await waitFor(() => conn.closed);
    expect(conn.closeCode).toBe(1000);
  });

  it('maps the base URL to ws(s) and passes model, rate and language', async () => {
    expect(deepgramWsBase(undefined)).toBe('wss://api.deepgram.com');
    expect(deepgramWsBase('https://api.deepgram.com/v1/')).toBe('wss://api.deepgram.com');
    expect(deepgramWsBase('http://127.0.0.1:9/proxy')).toBe('ws://127.0.0.1:9/proxy');
    expect(() => deepgramWsBase('ftp://x')).toThrow(/http/);
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: `${fake.baseUrl}/v1`, model: 'nova-2-phonecall' });
    const stream = await stt.open({ sampleRateHz: 8000, language: 'es' });
    expect(fake.connections[0].query).toMatchObject({ model: 'nova-2-phonecall', sample_rate: '8000', language: 'es' });
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
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }, { keepAliveMs: 60 });
    const stream = await stt.open({ sampleRateHz: 16000 });
    await waitFor(() => fake.connections[0].texts.length >= 2);
    expect(new Set(fake.connections[0].texts)).toEqual(new Set([JSON.stringify({ type: 'KeepAlive' })]));
    await stream.close();
  });
});

describe('deepgram live STT: transcripts', () => {
  it('delivers interim then final results in order with their stream offsets', async () => {
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    const stream = await stt.open({ sampleRateHz: 16000 });
    const seen = watch(stream);
    // speech 0-0.5 s, silence 0.5-1.0 s, speech 1.0-2.0 s, in 20 ms frames
    const audio = concatPcm(tone(16000, 0.5, LOUD), tone(16000, 0.5, 0), tone(16000, 1, LOUD));
    for (let off = 0; off < audio.length; off += 320) stream.write(audio.subarray(off, off + 320));
    await stream.close();
    expect(seen.transcripts.map(brief)).toEqual([
      'I word1 0-500',
      'F word1 0-500',
      'I word2 1000-1500',
      'F word2 1000-1500',
      'I word3 1500-2000',
      'F word3 1500-2000',
    ]);
    expect(seen.errors).toEqual([]);
    // The fake did send the empty final, SpeechStarted, UtteranceEnd and Metadata the adapter skipped.
    expect(new Set(fake.connections[0].sent.map((m) => m.type))).toEqual(new Set(['Results', 'SpeechStarted', 'UtteranceEnd', 'Metadata']));
  });

  it('close() flushes and waits for the last finals, then is idempotent and drops later writes', async () => {
    fake.behavior.finalDelayMs = 250;
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    const stream = await stt.open({ sampleRateHz: 8000 });
    const seen = watch(stream);
    stream.write(tone(8000, 1.7, LOUD)); // three full windows and a 0.2 s tail
    const closing = stream.close();
    expect(stream.close()).toBe(closing);
    await closing;
    expect(seen.transcripts.filter((t) => t.isFinal).map(brief)).toEqual([
      'F word1 0-500',
      'F word2 500-1000',
      'F word3 1000-1500',
      'F word4 1500-1700',
    ]);
    expect(seen.errors).toEqual([]);
    await waitFor(() => fake.connections[0].closed);
    expect(fake.connections[0].closeCode).toBe(1000);
    expect(() => stream.write(tone(8000, 0.5, LOUD))).not.toThrow();
    await stream.close();
    expect(seen.transcripts.length).toBe(8);
  });

  it('bounds the close wait when the server never closes', async () => {
    fake.behavior.ignoreCloseStream = true;
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }, { closeTimeoutMs: 200 });
    const stream = await stt.open({ sampleRateHz: 16000 });
    const seen = watch(stream);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(seen.errors.map((e) => e.code)).toEqual(['timeout']);
    await waitFor(() => fake.connections[0].closed);
  });
});

describe('deepgram live STT: failures', () => {
  it('rejects open() with the status and err_msg of a refused handshake', async () => {
    const stt = new DeepgramStt({ apiKey: 'wrong-key-but-long-enough', baseUrl: fake.baseUrl });
    const err = await rejection(stt.open({ sampleRateHz: 16000 }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: 'deepgram', status: 401, code: 'INVALID_AUTH', requestId: 'fake-req-0001' });
    expect(err.message).toContain('Invalid credentials.');
    expect(fake.refused).toEqual([401]);
  });

  it('never puts the key in an error message, even when the server echoes it', async () => {
    fake.behavior.echoKeyInErrors = true;
    const key = 'dg-SECRET-9f8e7d6c5b4a-presented';
    const err = await rejection(new DeepgramStt({ apiKey: key, baseUrl: fake.baseUrl }).open({ sampleRateHz: 16000 }));
    expect(err.status).toBe(401);
    expect(err.message).toContain('Invalid credentials');
    for (const text of [err.message, String(err), String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(key);

    // and not in network errors either
    const port = await closedPort();
    const net = await rejection(new DeepgramStt({ apiKey: key, baseUrl: `http://127.0.0.1:${port}` }).open({ sampleRateHz: 16000 }));
    expect(net).toMatchObject({ code: 'network' });
    expect(net.message).not.toContain(key);
  });

  it('reports a server error close through onError; close() then resolves at once', async () => {
    fake.behavior.failOnAudio = { code: 1011, reason: 'NET-0001: no audio received' };
    const stream = await new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl }).open({ sampleRateHz: 16000 });
    const seen = watch(stream);
    stream.write(tone(16000, 0.1, LOUD));
    await waitFor(() => seen.errors.length > 0);
    expect(seen.errors[0]).toMatchObject({ provider: 'deepgram', code: 'closed' });
    expect(seen.errors[0].message).toContain('1011');
    expect(seen.errors[0].message).toContain('NET-0001');
    await stream.close();
    expect(seen.errors).toHaveLength(1);
  });

  it('times out a handshake that never completes', async () => {
    fake.behavior.hangHandshake = true;
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, connectTimeoutMs: 150 });
    const err = await rejection(stt.open({ sampleRateHz: 16000 }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('timeout');
  });
});

describe('deepgram live STT: abort', () => {
  it('rejects at once with the reason when aborted before or during the handshake', async () => {
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    const reason = new Error('caller hung up');
    expect(await rejection(stt.open({ sampleRateHz: 16000, signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(fake.connections).toHaveLength(0);

    fake.behavior.hangHandshake = true;
    const ac = new AbortController();
    const opening = stt.open({ sampleRateHz: 16000, signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    const t0 = Date.now();
    expect(await rejection(opening)).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('drops an open stream on abort: no flush, no more results, close() resolves at once', async () => {
    fake.behavior.finalDelayMs = 300;
    const stt = new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.baseUrl });
    const ac = new AbortController();
    const stream = await stt.open({ sampleRateHz: 16000, signal: ac.signal });
    const seen = watch(stream);
    stream.write(tone(16000, 0.5, LOUD));
    await waitFor(() => seen.transcripts.length === 1); // the interim; the final is 300 ms away
    ac.abort();
    await waitFor(() => fake.connections[0].closed);
    const t0 = Date.now();
    await stream.close();
    expect(Date.now() - t0).toBeLessThan(50);
    expect(() => stream.write(tone(16000, 0.1, LOUD))).not.toThrow();
    await new Promise((r) => setTimeout(r, 350));
    expect(seen.transcripts.map(brief)).toEqual(['I word1 0-500']);
    expect(seen.errors).toEqual([]);
    expect(fake.connections[0].texts).toEqual([]); // no CloseStream
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
