/**
 * Loopback fakes of the three TTS providers' REST protocols (OpenAI, ElevenLabs, Deepgram).
 *
 * Each checks authentication, method, path, query and JSON body the way the real API does,
 * answers errors in the provider's own JSON shape, records every request, and streams a known
 * PCM signal with chunked transfer encoding, split at odd byte offsets so samples straddle
 * chunk boundaries. Knobs in {@link FakeBehavior} make it stall, delay or fail.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeProvider = 'openai' | 'elevenlabs' | 'deepgram';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or undefined when it was not JSON. */
  body: unknown;
  /** HTTP status the fake answered. */
  status?: number;
  /** Set when the client went away before the response ended (abort, cancel, timeout). */
  closedEarly: boolean;
}

export interface FakeBehavior {
  /** Byte sizes of the successive writes, cycled. Odd sizes split samples across chunks. */
  chunkSizes?: number[];
  /** Pause between two writes, ms (default 2, so writes arrive as separate chunks). */
  chunkDelayMs?: number;
  /** Wait this long before answering, ms. */
  headerDelayMs?: number;
  /** Send this many audio bytes, then hang until the client goes away. */
  stallAfterBytes?: number;
  /** Append one stray byte after the audio (half a sample). */
  trailingOddByte?: boolean;
  /** Answer with this status and body instead of audio (a string body goes as text/plain, anything else as JSON). */
  failWith?: { status: number; body: unknown };
  /** Put the presented key verbatim into auth error messages (to prove clients scrub it). */
  echoKeyInErrors?: boolean;
  /**
   * The audio of a request's text at `rateHz` (e.g. espeak-ng speech, for the voice pipeline's
   * tests) instead of {@link knownPcm}.
   */
  speech?: (text: string, rateHz: number) => Int16Array | Promise<Int16Array>;
}

export interface FakeTtsServer {
  readonly provider: FakeProvider;
  /** Base URL to configure the adapter with (OpenAI's includes `/v1`, like the real default). */
  readonly baseUrl: string;
  /** The API key the fake accepts. */
  readonly apiKey: string;
  readonly requests: RecordedRequest[];
  behavior: FakeBehavior;
  close(): Promise<void>;
}

/** Odd write sizes: 1, 3, 7 and 13 bytes split samples; the larger ones keep the test short. */
export const ODD_CHUNK_SIZES = [1, 3, 7, 13, 255, 511, 97];

/**
 * The known signal every fake speaks at `rateHz`: edge values that catch byte-order and sign
 * bugs, then 40 ms of a 440 Hz tone.
 */
export function knownPcm(rateHz: number): Int16Array {
  const edges = [32767, -32768, -1, 0, 1, 255, 256, -256, 0x1234, -0x1234];
  const toneSamples = Math.round(rateHz * 0.04);
  const out = new Int16Array(edges.length + toneSamples);
  out.set(edges);
  for (let n = 0; n < toneSamples; n++) {
    out[edges.length + n] = Math.round(12000 * Math.sin((2 * Math.PI * 440 * n) / rateHz));
  }
  return out;
}

/** Explicit little-endian bytes of `pcm` (independent of the host byte order). */
export function pcmBytes(pcm: Int16Array): Buffer {
  const buf = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) buf.writeInt16LE(pcm[i], i * 2);
  return buf;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Handler = (
  fake: FakeTtsServer,
  rec: RecordedRequest,
) => { status: number; json: unknown; headers?: Record<string, string> } | { audioRateHz: number; headers?: Record<string, string> };

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function streamAudio(fake: FakeTtsServer, rec: RecordedRequest, res: ServerResponse, rateHz: number): Promise<void> {
  const b = fake.behavior;
  const body = (rec.body ?? {}) as { input?: unknown; text?: unknown };
  const text = typeof body.input === 'string' ? body.input : typeof body.text === 'string' ? body.text : '';
  const audio = pcmBytes(b.speech ? await b.speech(text, rateHz) : knownPcm(rateHz));
  const bytes = b.trailingOddByte ? Buffer.concat([audio, Buffer.from([0x7f])]) : audio;
  const sizes = b.chunkSizes ?? ODD_CHUNK_SIZES;
  const end = b.stallAfterBytes !== undefined ? Math.min(b.stallAfterBytes, bytes.length) : bytes.length;
  let off = 0;
  for (let i = 0; off < end; i++) {
    if (rec.closedEarly) return;
    const size = Math.min(sizes[i % sizes.length], end - off);
    res.write(bytes.subarray(off, off + size));
    off += size;
    await sleep(b.chunkDelayMs ?? 2);
  }
  if (b.stallAfterBytes !== undefined) return; // hang: the client must give up
  res.end();
}

async function startFake(provider: FakeProvider, apiKey: string, basePath: string, handle: Handler): Promise<FakeTtsServer> {
  const requests: RecordedRequest[] = [];
  const fake: FakeTtsServer = {
    provider,
    apiKey,
    requests,
    behavior: {},
    baseUrl: '',
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    res.socket?.setNoDelay(true);
    const url = new URL(req.url ?? '/', 'http://fake');
    const rawBody = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody,
      body,
      closedEarly: false,
    };
    requests.push(rec);
    res.on('close', () => {
      if (!res.writableFinished) rec.closedEarly = true;
    });
    if (fake.behavior.headerDelayMs) await sleep(fake.behavior.headerDelayMs);
    if (rec.closedEarly) return;
    const fail = fake.behavior.failWith;
    if (fail && typeof fail.body === 'string') {
      rec.status = fail.status;
      res.writeHead(fail.status, { 'content-type': 'text/plain' });
      res.end(fail.body);
      return;
    }
    const answer = fail ? { status: fail.status, json: fail.body } : handle(fake, rec);
    if ('json' in answer) {
      rec.status = answer.status;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.json));
      return;
    }
    rec.status = 200;
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...answer.headers });
    await streamAudio(fake, rec, res, answer.audioRateHz);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  (fake as { baseUrl: string }).baseUrl = `http://127.0.0.1:${port}${basePath}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/** `sk-te****1234`, like OpenAI's masked key in its 401 message. */
function maskKey(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '***';
}

const openAiError = (status: number, message: string, code: string | null, param: string | null = null) => ({
  status,
  json: { error: { message, type: 'invalid_request_error', param, code } },
});

/**
 * OpenAI `POST /v1/audio/speech` with `Authorization: Bearer <key>` and a JSON body
 * `{model, input, voice, response_format}`; answers 24 kHz PCM for `response_format: "pcm"`.
 */
export function startFakeOpenAi(apiKey = 'sk-test-openai-0123456789abcdef'): Promise<FakeTtsServer> {
  return startFake('openai', apiKey, '/v1', (fake, rec) => {
    if (rec.method !== 'POST' || rec.path !== '/v1/audio/speech') {
      return openAiError(404, `Invalid URL (${rec.method} ${rec.path})`, null);
    }
    const auth = rec.headers.authorization ?? '';
    const presented = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (presented !== fake.apiKey) {
      const shown = fake.behavior.echoKeyInErrors ? presented : maskKey(presented);
      return openAiError(
        401,
        `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_api_key',
      );
    }
    if (!String(rec.headers['content-type']).startsWith('application/json')) {
      return openAiError(400, 'We could not parse the JSON body of your request.', null);
    }
    const b = (rec.body ?? {}) as Record<string, unknown>;
    if (typeof b.model !== 'string' || !b.model) return openAiError(400, "Missing required parameter: 'model'.", 'missing_required_parameter', 'model');
    if (typeof b.input !== 'string' || !b.input) return openAiError(400, "Missing required parameter: 'input'.", 'missing_required_parameter', 'input');
    if (typeof b.voice !== 'string' || !b.voice) return openAiError(400, "Missing required parameter: 'voice'.", 'missing_required_parameter', 'voice');
    if (b.response_format !== 'pcm') {
      return openAiError(400, `This fake only speaks response_format 'pcm', got ${JSON.stringify(b.response_format)}.`, null, 'response_format');
    }
    return { audioRateHz: 24000, headers: { 'x-request-id': `req_${fake.requests.length}` } };
  });
}

const ELEVENLABS_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

/**
 * ElevenLabs `POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_<rate>` with
 * `xi-api-key` and a JSON body `{text, model_id, language_code?}`.
 */
export function startFakeElevenLabs(apiKey = 'xi-test-elevenlabs-0123456789'): Promise<FakeTtsServer> {
  return startFake('elevenlabs', apiKey, '', (fake, rec) => {
    const m = /^\/v1\/text-to-speech\/([^/]+)\/stream$/.exec(rec.path);
    if (rec.method !== 'POST' || !m) return { status: 404, json: { detail: 'Not Found' } };
    const presented = String(rec.headers['xi-api-key'] ?? '');
    if (presented !== fake.apiKey) {
      const message = fake.behavior.echoKeyInErrors ? `Invalid API key: ${presented}` : 'Invalid API key';
      return { status: 401, json: { detail: { status: 'invalid_api_key', message } } };
    }
    const voice = decodeURIComponent(m[1]);
    if (voice === 'missing-voice') {
      return { status: 404, json: { detail: { status: 'voice_not_found', message: `A voice with the voice_id ${voice} was not found.` } } };
    }
    const b = rec.body as Record<string, unknown> | undefined;
    if (!String(rec.headers['content-type']).startsWith('application/json') || !b || typeof b.text !== 'string') {
      return {
        status: 422,
        json: { detail: [{ type: 'missing', loc: ['body', 'text'], msg: 'Field required', input: b ?? null }] },
      };
    }
    const fmt = /^pcm_(\d+)$/.exec(rec.query.output_format ?? '');
    const rate = fmt ? Number(fmt[1]) : NaN;
    if (!ELEVENLABS_RATES.includes(rate)) {
      return {
        status: 400,
        json: { detail: { status: 'invalid_output_format', message: `This fake only speaks pcm_<rate>, got ${rec.query.output_format ?? '(none)'}` } },
      };
    }
    return { audioRateHz: rate, headers: { 'request-id': `req_${fake.requests.length}` } };
  });
}

const DEEPGRAM_RATES = [8000, 16000, 24000, 32000, 48000];

/**
 * Deepgram `POST /v1/speak?model=...&encoding=linear16&sample_rate=...&container=none` with
 * `Authorization: Token <key>` and a JSON body `{text}`.
 */
export function startFakeDeepgram(apiKey = 'dg-test-deepgram-0123456789'): Promise<FakeTtsServer> {
  return startFake('deepgram', apiKey, '', (fake, rec) => {
    const requestId = `00000000-0000-4000-8000-${String(fake.requests.length).padStart(12, '0')}`;
    const err = (status: number, code: string, msg: string) => ({
      status,
      json: { err_code: code, err_msg: msg, request_id: requestId },
      headers: { 'dg-request-id': requestId },
    });
    if (rec.method !== 'POST' || rec.path !== '/v1/speak') return err(404, 'NOT_FOUND', 'Not found.');
    const auth = String(rec.headers.authorization ?? '');
    const presented = /^token /i.test(auth) ? auth.slice(6) : '';
    if (presented !== fake.apiKey) {
      return err(401, 'INVALID_AUTH', fake.behavior.echoKeyInErrors ? `Invalid credentials: ${presented}` : 'Invalid credentials.');
    }
    const b = rec.body as Record<string, unknown> | undefined;
    if (!String(rec.headers['content-type']).startsWith('application/json') || !b || typeof b.text !== 'string' || !b.text) {
      return err(400, 'Bad Request', 'Content-type was application/json, but we could not process the JSON payload.');
    }
    const q = rec.query;
    if (q.encoding !== 'linear16' || q.container !== 'none') {
      return err(400, 'UNSUPPORTED_AUDIO_FORMAT', `This fake only speaks encoding=linear16&container=none, got ${q.encoding}/${q.container}.`);
    }
    const rate = Number(q.sample_rate);
    if (!DEEPGRAM_RATES.includes(rate)) return err(400, 'UNSUPPORTED_AUDIO_FORMAT', `Unsupported sample_rate ${q.sample_rate}.`);
    if (q.model === 'aura-2-nobody-en') return err(400, 'INVALID_QUERY_PARAMETER', `No such model/voice: ${q.model}`);
    return { audioRateHz: rate, headers: { 'dg-request-id': requestId } };
  });
}

/** Starts the fake for `provider`. */
export function startFakeTts(provider: FakeProvider): Promise<FakeTtsServer> {
  return provider === 'openai' ? startFakeOpenAi() : provider === 'elevenlabs' ? startFakeElevenLabs() : startFakeDeepgram();
}
