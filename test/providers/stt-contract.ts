/**
 * The behaviour every streaming STT adapter shares, as one parameterised contract: each adapter's
 * test file calls {@link describeSttContract} with its adapter class, its loopback fake and the
 * values its protocol gives (path, query, auth header, the transcripts its fake sends for the
 * contract's audio), and keeps only its protocol's own tests.
 *
 * Checked for every adapter: the handshake (path, query, key), exact PCM in the chunks written,
 * interim then final transcripts in order, close() finalizing speech still open, a bounded close
 * wait, a refused key (ProviderError 401, the echoed key never shown, nor in network errors),
 * provider error messages and server closes mid-stream through onError, the connect timeout,
 * aborts while connecting and while open, and the adapter built from the environment.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, STT_PROVIDER_ENV, sttProviderForType } from '../../src/providers/stt/index.js';
import type { SttProvider, SttProviderName, SttProviderOptions, SttStream, SttStreamOptions } from '../../src/providers/stt/index.js';
import { concatPcm, tone } from './fake-deepgram-live.js';
import { briefStt, closedPort, le16, rejectionOf, watchStt, writeFrames } from './fake-stt-servers.js';
import type { FakeSttBehavior, FakeSttConnection, SttSeen } from './fake-stt-servers.js';
import { waitFor } from './helpers.js';

/** The amplitude of speech in the contract's audio (silence is 0). */
export const LOUD = 8000;

/** Samples in 20 ms at `rate`: the frames the contract writes. */
export const frameOf = (rate: number): number => (rate * 20) / 1000;

/** Full-scale edges and sign changes, for byte-exactness. */
export const EDGE_SAMPLES = Int16Array.from([32767, -32768, -1, 0, 1, 255, 256, -256, 0x1234, -0x1234]);

/**
 * Writes `audio` in chunks of the `sizes` (cycled; 0 is an empty write) as views the adapter must
 * copy, and returns the byte size of each non-empty chunk: the frames the server must see.
 */
export function writeOddChunks(stream: SttStream, audio: Int16Array, sizes: readonly number[]): number[] {
  const written: number[] = [];
  for (let i = 0, off = 0; off < audio.length; i++) {
    const n = Math.min(sizes[i % sizes.length], audio.length - off);
    stream.write(audio.subarray(off, off + n));
    if (n > 0) written.push(n * 2);
    off += n;
  }
  return written;
}

type Transcript = SttSeen['transcripts'][number];

/** Starts a fresh fake before each test and closes it after it; returns the current one. */
export function fakePerTest<F extends { close(): Promise<void> }>(start: () => Promise<F>): () => F {
  let fake: F | undefined;
  beforeEach(async () => {
    fake = await start();
  });
  afterEach(async () => {
    await fake?.close();
  });
  return () => fake!;
}

/** What the contract asks of a fake's connection records. */
export type SttContractConnection = Pick<FakeSttConnection, 'path' | 'query' | 'headers' | 'audio' | 'frameSizes' | 'sent' | 'closed' | 'closeCode'>;

/** What the contract asks of a fake. */
export interface SttContractFake {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly connections: SttContractConnection[];
  readonly refused: number[];
  readonly behavior: object;
  /** Texts of the next utterances (fakes with scripted recognition). */
  script?(texts: string[]): void;
}

/** The fake behaviours the contract uses, by the STT fakes' names. */
export type SttContractBehavior = Pick<FakeSttBehavior, 'hangHandshake' | 'echoKeyInErrors' | 'ignoreEnd' | 'finalDelayMs' | 'errorOnAudio' | 'closeOnAudio'>;

export interface SttContract<F extends SttContractFake> {
  name: SttProviderName;
  /** The adapter class: `new Adapter({ apiKey, baseUrl, connectTimeoutMs }, { closeTimeoutMs })`. */
  Adapter: new (opts: SttProviderOptions, tuning?: { closeTimeoutMs?: number }) => SttProvider;
  /** The current test's fake (the file starts a fresh one for each test). */
  fake: () => F;
  /** Sets behaviours on the fake (default: merged into `fake.behavior`, whose names they are). */
  behave?: (fake: F, b: SttContractBehavior) => void;
  /** The stream rate the contract opens at. */
  rate: number;
  /** Appended to `http://127.0.0.1:<port>` for the network error (OpenAI's base URL ends in /v1). */
  apiPath?: string;
  /** How transcripts are compared (default {@link briefStt}). */
  brief?: (t: Transcript) => string;

  /** Omitted where the adapter's file checks its handshake with its audio in one test. */
  handshake?: {
    open: SttStreamOptions;
    path: string;
    query: Record<string, string>;
    /** Headers of the upgrade (undefined: absent), given the key; the key's header first. */
    headers: (key: string) => Record<string, string | undefined>;
    more?: (conn: F['connections'][number]) => void;
  };
  /** Exact PCM in odd chunks at `rate`, then the protocol's end of audio (checked by `more`). */
  frames?: {
    rate: number;
    more: (conn: F['connections'][number]) => void;
  };
  transcripts: {
    /** Default: two scripted utterances and a third past the script, each followed by quiet. */
    audio?: Int16Array;
    expected: string[];
    more?: (fake: F, seen: SttSeen) => void;
  };
  closeFinalizes: {
    /** Default: 0.4 s of speech scripted 'cut short', no quiet after it, in 20 ms frames. */
    rate?: number;
    audio?: Int16Array;
    /** Samples per write (default 20 ms). */
    frame?: number;
    /** Compare the finals only. */
    finalsOnly?: boolean;
    expected: string[];
    more?: (fake: F, stream: SttStream, seen: SttSeen) => void | Promise<void>;
  };
  closeWait?: {
    /** Close without writing audio first. */
    silent?: boolean;
    /** Wait for this before closing. */
    ready?: (fake: F) => boolean;
  };
  refused: {
    canary: string;
    code: string;
    requestId: string;
    message: string;
  };
  /** The provider's error message mid-stream (omitted where the protocol reports errors only as closes). */
  errorMessage?: {
    text: string;
    match: Record<string, unknown>;
    contains: string;
  };
  serverClose: {
    code: number;
    reason: string;
    contains: string[];
  };
  abort: {
    /** Default: 0.3 s of speech then 0.4 s of quiet, in 20 ms frames. */
    audio?: Int16Array;
    /** Abort once this holds (default: the first transcript came). */
    heard?: (fake: F, seen: SttSeen) => boolean;
    expected: string[];
    /** How fast close() must resolve after the abort (default 500 ms). */
    closeWithinMs?: number;
    /** The client's end-of-audio messages on the first connection (none may go out). */
    endMessages: (fake: F) => unknown[];
  };
  /** sttProviderForType from the provider's env variables, on 0.3 s of speech. */
  fromEnv?: {
    /** As the AI spells it (default: the name). */
    type?: string;
    rate: number;
    /** Default: the speech alone. */
    audio?: Int16Array;
    /** Wait for a final before closing. */
    settle?: boolean;
    brief?: (t: Transcript) => string;
    expected: string[];
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The contract's tests for one adapter, in a describe block of its own. */
export function describeSttContract<F extends SttContractFake>(c: SttContract<F>): void {
  const { name, Adapter, rate } = c;
  const frame = frameOf(rate);
  const brief = c.brief ?? briefStt;
  const behave = (b: SttContractBehavior): void => (c.behave ? c.behave(c.fake(), b) : void Object.assign(c.fake().behavior, b));
  const adapter = (opts: Partial<SttProviderOptions> = {}, tuning: { closeTimeoutMs?: number } = {}): SttProvider =>
    new Adapter({ apiKey: c.fake().apiKey, baseUrl: c.fake().baseUrl, ...opts }, tuning);
  const conn0 = (): F['connections'][number] => c.fake().connections[0];

  describe(`${name} STT: contract`, () => {
    const h = c.handshake;
    if (h) {
      it(`connects to ${h.path} with its query and the key in the ${Object.keys(h.headers(''))[0]} header`, async () => {
        const stream = await adapter().open(h.open);
        const conn = conn0();
        expect(conn.path).toBe(h.path);
        expect(conn.query).toEqual(h.query);
        for (const [header, value] of Object.entries(h.headers(c.fake().apiKey))) expect(conn.headers[header]).toBe(value);
        h.more?.(conn);
        await stream.close();
      });
    }

    const f = c.frames;
    if (f) {
      it('sends exact LE PCM in the chunks written (no empty frames), then ends the audio and closes with 1000', async () => {
        const stream = await adapter().open({ sampleRateHz: f.rate });
        const audio = concatPcm(EDGE_SAMPLES, tone(f.rate, 0.05, 100));
        const written = writeOddChunks(stream, audio, [1, 7, 0, 160, 333, 2]);
        await stream.close();
        await waitFor(() => conn0().closed);
        const conn = conn0();
        expect(conn.frameSizes).toEqual(written);
        expect(conn.audio.equals(le16(audio))).toBe(true);
        f.more(conn);
        expect(conn.closeCode).toBe(1000);
      });
    }

    it('delivers interims then finals in order with their stream offsets', async () => {
      const t = c.transcripts;
      let audio = t.audio;
      if (!audio) {
        c.fake().script?.(['first utterance', 'second utterance']);
        const speech = (s: number): Int16Array => tone(rate, s, LOUD);
        const quiet = (s: number): Int16Array => tone(rate, s, 0);
        audio = concatPcm(speech(0.5), quiet(0.5), speech(0.5), quiet(0.5), speech(0.3), quiet(0.4));
      }
      const stream = await adapter().open({ sampleRateHz: rate });
      const seen = watchStt(stream);
      writeFrames(stream, audio, frame);
      const finals = t.expected.filter((s) => s.startsWith('F ')).length;
      await waitFor(() => seen.transcripts.filter((x) => x.isFinal).length === finals);
      await stream.close();
      expect(seen.transcripts.map(brief)).toEqual(t.expected);
      expect(seen.errors).toEqual([]);
      t.more?.(c.fake(), seen);
    });

    it('close() finalizes speech still open and waits for its final, is idempotent and drops later writes', async () => {
      const cf = c.closeFinalizes;
      const r = cf.rate ?? rate;
      if (!cf.audio) c.fake().script?.(['cut short']);
      behave({ finalDelayMs: 250 });
      const stream = await adapter().open({ sampleRateHz: r });
      const seen = watchStt(stream);
      writeFrames(stream, cf.audio ?? tone(r, 0.4, LOUD), cf.frame ?? frameOf(r)); // no trailing quiet: only the close ends it
      const closing = stream.close();
      expect(stream.close()).toBe(closing);
      await closing;
      expect(seen.transcripts.filter((x) => !cf.finalsOnly || x.isFinal).map(brief)).toEqual(cf.expected);
      expect(seen.errors).toEqual([]);
      expect(() => stream.write(tone(r, 0.1, LOUD))).not.toThrow();
      await waitFor(() => conn0().closed);
      expect(conn0().closeCode).toBe(1000);
      await cf.more?.(c.fake(), stream, seen);
    });

    it('bounds the close wait when the server never answers the end of audio', async () => {
      const w = c.closeWait ?? {};
      behave({ ignoreEnd: true });
      const stream = await adapter({}, { closeTimeoutMs: 200 }).open({ sampleRateHz: rate });
      const seen = watchStt(stream);
      if (!w.silent) writeFrames(stream, tone(rate, 0.3, LOUD), frame);
      if (w.ready) await waitFor(() => w.ready!(c.fake()));
      const t0 = Date.now();
      await stream.close();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(seen.errors.map((e) => e.code)).toEqual(['timeout']);
      await waitFor(() => conn0().closed);
    });
  });

  describe(`${name} STT: contract failures`, () => {
    it('a refused key is a ProviderError with status 401, and the key (echoed by the server) never appears, nor in network errors', async () => {
      const r = c.refused;
      behave({ echoKeyInErrors: true });
      const err = await rejectionOf(adapter({ apiKey: r.canary }).open({ sampleRateHz: rate }));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'stt', provider: name, status: 401, code: r.code, requestId: r.requestId });
      expect(err.message).toContain(r.message);
      for (const text of [err.message, String(err), String(err.stack), JSON.stringify(err)]) expect(text).not.toContain(r.canary);
      expect(c.fake().refused).toEqual([401]);

      const port = await closedPort();
      const net = await rejectionOf(adapter({ apiKey: r.canary, baseUrl: `http://127.0.0.1:${port}${c.apiPath ?? ''}` }).open({ sampleRateHz: rate }));
      expect(net).toMatchObject({ code: 'network' });
      expect(net.message).not.toContain(r.canary);
    });

    const m = c.errorMessage;
    if (m) {
      it('reports an error message mid-stream through onError (scrubbed) and keeps the stream', async () => {
        behave({ errorOnAudio: m.text, echoKeyInErrors: true });
        const stream = await adapter().open({ sampleRateHz: rate });
        const seen = watchStt(stream);
        stream.write(tone(rate, 0.02, 0));
        await waitFor(() => seen.errors.length > 0);
        expect(seen.errors[0]).toBeInstanceOf(ProviderError);
        expect(seen.errors[0]).toMatchObject({ provider: name, ...m.match });
        expect(seen.errors[0].message).toContain(m.contains);
        expect(seen.errors[0].message).not.toContain(c.fake().apiKey);
        await stream.close();
        expect(seen.errors).toHaveLength(1);
      });
    }

    it('reports a server close mid-stream through onError; close() then resolves at once', async () => {
      const s = c.serverClose;
      behave({ closeOnAudio: { code: s.code, reason: s.reason } });
      const stream = await adapter().open({ sampleRateHz: rate });
      const seen = watchStt(stream);
      stream.write(tone(rate, 0.02, LOUD));
      await waitFor(() => seen.errors.length > 0);
      expect(seen.errors[0]).toMatchObject({ provider: name, code: 'closed' });
      for (const text of s.contains) expect(seen.errors[0].message).toContain(text);
      await stream.close();
      expect(seen.errors).toHaveLength(1);
    });

    it('times out a handshake that never completes', async () => {
      behave({ hangHandshake: true });
      const err = await rejectionOf(adapter({ connectTimeoutMs: 150 }).open({ sampleRateHz: rate }));
      expect(err).toBeInstanceOf(ProviderError);
      expect(err.code).toBe('timeout');
    });
  });

  describe(`${name} STT: contract abort`, () => {
    it('rejects with the reason when aborted before or while connecting', async () => {
      const reason = new Error('caller hung up');
      expect(await rejectionOf(adapter().open({ sampleRateHz: rate, signal: AbortSignal.abort(reason) }))).toBe(reason);
      expect(c.fake().connections).toHaveLength(0);

      behave({ hangHandshake: true });
      const ac = new AbortController();
      const opening = adapter().open({ sampleRateHz: rate, signal: ac.signal });
      setTimeout(() => ac.abort(reason), 50);
      const t0 = Date.now();
      expect(await rejectionOf(opening)).toBe(reason);
      expect(Date.now() - t0).toBeLessThan(1000);
    });

    it('drops an open stream on abort: no end of audio, no more results, close() resolves at once', async () => {
      const a = c.abort;
      behave({ finalDelayMs: 300 });
      const ac = new AbortController();
      const stream = await adapter().open({ sampleRateHz: rate, signal: ac.signal });
      const seen = watchStt(stream);
      writeFrames(stream, a.audio ?? concatPcm(tone(rate, 0.3, LOUD), tone(rate, 0.4, 0)), frame);
      await waitFor(() => (a.heard ? a.heard(c.fake(), seen) : seen.transcripts.length === 1)); // the final is 300 ms away
      ac.abort();
      await waitFor(() => conn0().closed);
      const t0 = Date.now();
      await stream.close();
      expect(Date.now() - t0).toBeLessThan(a.closeWithinMs ?? 500); // at once: nothing is waited for
      expect(() => stream.write(tone(rate, 0.1, LOUD))).not.toThrow();
      await sleep(350);
      expect(seen.transcripts.map(brief)).toEqual(a.expected);
      expect(seen.errors).toEqual([]);
      expect(a.endMessages(c.fake())).toEqual([]);
    });
  });

  const e = c.fromEnv;
  if (e) {
    const vars = STT_PROVIDER_ENV[name];
    describe(`${name} STT: contract from the environment`, () => {
      it(`sttProviderForType('${e.type ?? name}') builds the adapter from ${vars.key} / ${vars.baseUrl}`, async () => {
        c.fake().script?.(['from the env']);
        const provider = sttProviderForType(e.type ?? name, { [vars.key]: c.fake().apiKey, [vars.baseUrl]: c.fake().baseUrl });
        expect(provider).toBeInstanceOf(Adapter);
        const stream = await provider.open({ sampleRateHz: e.rate });
        const seen = watchStt(stream);
        writeFrames(stream, e.audio ?? tone(e.rate, 0.3, LOUD), frameOf(e.rate));
        if (e.settle) await waitFor(() => seen.transcripts.some((t) => t.isFinal));
        await stream.close();
        expect(seen.transcripts.filter((t) => t.isFinal).map(e.brief ?? briefStt)).toEqual(e.expected);
      });
    });
  }
}
