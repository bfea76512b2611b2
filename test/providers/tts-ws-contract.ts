/**
 * The behaviour every text-streaming (WebSocket) TTS adapter shares, as one parameterised
 * contract: each adapter's test file calls {@link describeTtsWsContract} inside its describe block
 * (whose beforeAll starts the fake) with its adapter class, its fake and what its protocol sends,
 * and keeps only its protocol's own tests.
 *
 * Checked for every adapter: the key on the handshake (never in the URL or a message), the text
 * pieces in order with flush and the closing message, audio before end(), cancel (at once, once,
 * no more audio, no more text), a refused key (ProviderError 401 without the key), a provider
 * error mid-stream (from the audio iteration, scrubbed) and the connect timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/providers/tts/index.js';
import type { StreamingTtsProvider, TtsTextStreamRequest } from '../../src/providers/tts/index.js';
import { readAudio, toneSample } from './fake-tts-ws-servers.js';
import type { FakeTtsWsBehavior, FakeTtsWsConnection } from './fake-tts-ws-servers.js';
import { waitFor } from './helpers.js';

/** What the contract asks of a fake's connection records (ElevenLabs' fake counts no chunks). */
export type TtsWsContractConnection = Pick<FakeTtsWsConnection, 'url' | 'query' | 'headers' | 'messages' | 'samplesSent' | 'closed'> &
  Partial<Pick<FakeTtsWsConnection, 'chunksSent'>>;

/** What the contract asks of a fake. */
export interface TtsWsContractFake {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly connections: TtsWsContractConnection[];
  readonly refused: number[];
  readonly behavior: object;
  reset?(): void;
}

/** The fake behaviours the contract uses, by the Cartesia and Deepgram fakes' names. */
export type TtsWsContractBehavior = Pick<FakeTtsWsBehavior, 'chunkDelayMs' | 'hangHandshake' | 'echoKeyInErrors' | 'failAfterTexts'>;

export interface TtsWsContract<F extends TtsWsContractFake> {
  name: 'cartesia' | 'deepgram' | 'elevenlabs';
  Adapter: new (opts: { apiKey: string; baseUrl?: string; connectTimeoutMs?: number }) => StreamingTtsProvider;
  /** The fake (started by the caller's beforeAll with the key the contract checks for). */
  fake: () => F;
  /** Forgets the fake's connections, refusals and behaviour (default: `fake.reset()`). */
  reset?: (fake: F) => void;
  /** Sets behaviours on the fake (default: merged into `fake.behavior`, whose names they are). */
  behave?: (fake: F, b: TtsWsContractBehavior) => void;

  stream: {
    open: TtsTextStreamRequest;
    /** Pushed before a flush (one empty, which must not be sent), then `last` before end(). */
    pieces: string[];
    last: string;
    /** True once the closing message went out (it must not, while the text is open). */
    ended: (conn: F['connections'][number]) => boolean;
    headers: (key: string) => Record<string, string>;
    query: Record<string, string>;
    /** The messages, what was spoken, ... */
    more: (conn: F['connections'][number]) => void;
    samples: number;
  };
  cancel: {
    text: string;
    flush: boolean;
    /** Samples of the whole text: cancel must stop short of them. */
    samples: number;
    /** What the protocol sends on cancel. */
    more?: (conn: F['connections'][number]) => void;
  };
  refused: {
    wrong: string;
    code: string;
    message: string;
    more?: (err: ProviderError) => void;
  };
  failure: {
    /** The fake's mid-stream failure, after two text messages; `key` is the fake's. */
    code: string;
    message: (key: string) => string;
    /** The text pieces pushed, then a flush when `flush`: two text messages in all. */
    pieces: string[];
    flush?: boolean;
    status?: number;
    contains: string[];
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the fake before the block's tests and closes it after them; returns it. */
export function fakeForBlock<F extends { close(): unknown }>(start: () => Promise<F>): () => F {
  let fake: F | undefined;
  beforeAll(async () => {
    fake = await start();
  });
  afterAll(() => fake?.close());
  return () => fake!;
}

/** The contract's tests for one adapter, in a describe block of its own. */
export function describeTtsWsContract<F extends TtsWsContractFake>(c: TtsWsContract<F>): void {
  const fresh = (b: TtsWsContractBehavior = {}): F => {
    const fake = c.fake();
    if (c.reset) c.reset(fake);
    else fake.reset!();
    if (c.behave) c.behave(fake, b);
    else Object.assign(fake.behavior, b);
    return fake;
  };
  const tts = (opts: { apiKey?: string; connectTimeoutMs?: number } = {}): StreamingTtsProvider =>
    new c.Adapter({ apiKey: c.fake().apiKey, baseUrl: c.fake().baseUrl, ...opts });

  describe(`${c.name} tts websocket: contract`, () => {
    it('sends the key on the handshake only, the pieces in order, flush and the closing message; audio streams before end()', async () => {
      const s = c.stream;
      const fake = fresh();
      const stream = await tts().openTextStream(s.open);
      const audio = readAudio(stream);
      for (const piece of s.pieces) stream.pushText(piece);
      stream.flush();
      await waitFor(() => audio.samples.length > 0, 10_000);
      const conn = fake.connections[0];
      // Audio is flowing although the text is still open.
      expect(s.ended(conn)).toBe(false);
      stream.pushText(s.last);
      stream.end();
      expect(await audio.done).toBeUndefined();
      await waitFor(() => conn.closed);

      for (const [header, value] of Object.entries(s.headers(fake.apiKey))) expect(conn.headers[header]).toBe(value);
      expect(conn.query).toEqual(s.query);
      expect(conn.url).not.toContain(fake.apiKey);
      expect(JSON.stringify(conn.messages)).not.toContain(fake.apiKey);
      s.more(conn);
      expect(audio.samples.length).toBe(s.samples);
      expect(audio.samples.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, n) => toneSample(n)));
    });

    it('cancel() stops the audio at once (idempotent), tells the provider, closes the socket and refuses more text', async () => {
      const x = c.cancel;
      const fake = fresh({ chunkDelayMs: 30 });
      const stream = await tts().openTextStream({});
      stream.pushText(x.text);
      if (x.flush) stream.flush();
      const it = stream.audio[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      stream.cancel();
      stream.cancel();
      expect((await it.next()).done).toBe(true);
      const conn = fake.connections[0];
      await waitFor(() => conn.closed, 10_000);
      x.more?.(conn);
      const { chunksSent, samplesSent } = conn;
      await sleep(150);
      expect(conn.chunksSent).toBe(chunksSent);
      expect(conn.samplesSent).toBe(samplesSent);
      expect(conn.samplesSent).toBeLessThan(x.samples);
      expect(() => stream.pushText('more')).toThrow(/after end/);
    });

    it('a wrong key is refused with 401 as a ProviderError without the key in it', async () => {
      const r = c.refused;
      const fake = fresh({ echoKeyInErrors: true });
      const err = await tts({ apiKey: r.wrong })
        .openTextStream({})
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ProviderError);
      const pe = err as ProviderError;
      expect(pe.status).toBe(401);
      expect(pe.code).toBe(r.code);
      expect(pe.provider).toBe(c.name);
      r.more?.(pe);
      expect(pe.message).toContain(r.message);
      expect(pe.message).not.toContain(r.wrong);
      expect(fake.refused).toEqual([401]);
    });

    it('a provider error mid-stream surfaces from the audio iteration as a ProviderError, scrubbed', async () => {
      const f = c.failure;
      const key = c.fake().apiKey;
      fresh({ failAfterTexts: { count: 2, code: f.code, message: f.message(key) } });
      const stream = await tts().openTextStream({});
      const audio = readAudio(stream);
      for (const piece of f.pieces) stream.pushText(piece);
      if (f.flush) stream.flush();
      const err = (await audio.done) as ProviderError;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.kind).toBe('tts');
      expect(err.code).toBe(f.code);
      if (f.status !== undefined) expect(err.status).toBe(f.status);
      for (const text of f.contains) expect(err.message).toContain(text);
      expect(err.message).not.toContain(key);
    });

    it('times out a handshake that never completes', async () => {
      fresh({ hangHandshake: true });
      const err = await tts({ connectTimeoutMs: 200 })
        .openTextStream({})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).code).toBe('timeout');
    });
  });
}
