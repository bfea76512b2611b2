/**
 * Loopback fakes of two text-streaming TTS WebSockets: Cartesia's `/tts/websocket` and Deepgram
 * Aura's `/v1/speak`.
 *
 * Each checks the path, query and authentication of the handshake the way the real service does
 * and refuses a bad one with an HTTP status and the provider's error JSON (echoing the presented
 * key when asked, to prove clients scrub it), records every message per connection, and answers
 * text with deterministic PCM: {@link samplesPerChar} samples (60 ms) of a 440 Hz tone per
 * non-blank character, in {@link CHUNK_MS} ms chunks, streamed while more text may still come.
 *
 *  - Cartesia speaks each transcript as it arrives (custom buffering), answers `flush` with
 *    `flush_done`, `continue: false` with `done`, and stops a context on `cancel`. Every request
 *    of a context must repeat the first one's fields, as the real API demands.
 *  - Deepgram buffers `Speak` text and speaks it on `Flush` (then `Flushed`), drops it on `Clear`
 *    (then `Cleared`), closes at once on `Close`, warns past 20 flushes a minute, and reports
 *    errors as a close frame (`1008 DATA-0000 ...`).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { TtsTextStream } from '../../src/providers/tts/index.js';

/** Audio per character (60 ms) at `rateHz`. */
export const samplesPerChar = (rateHz: number): number => Math.round(rateHz * 0.06);
/** Audio per chunk, ms. */
export const CHUNK_MS = 100;

/** Sample `n` of the tone every connection speaks (continuous across its generations). */
export const toneSample = (n: number, rateHz = 16000): number => Math.round(8000 * Math.sin((2 * Math.PI * 440 * n) / rateHz));

/** Samples the fakes speak for `text` at `rateHz`. */
export const samplesFor = (text: string, rateHz = 16000): number => text.replace(/\s/g, '').length * samplesPerChar(rateHz);

export interface FakeTtsWsBehavior {
  /** Pause between two audio chunks, ms (default 1). */
  chunkDelayMs?: number;
  /** Never answer the upgrade. */
  hangHandshake?: boolean;
  /** Put the presented key into the 401 message (to prove the client scrubs it). */
  echoKeyInErrors?: boolean;
  /** After this many text messages, fail the way the provider does mid-stream, with this message. */
  failAfterTexts?: { count: number; message: string; code: string };
}

export interface FakeTtsWsConnection {
  /** The request URL as the fake saw it (path and query). */
  url: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Every text message received, parsed, in order. */
  messages: Array<Record<string, unknown>>;
  /** The texts received, joined in order (what the provider would speak). */
  textReceived: string;
  /** Texts generated into audio, in order. */
  generations: string[];
  samplesSent: number;
  chunksSent: number;
  closed: boolean;
  closeCode?: number;
}

export interface FakeTtsWs {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly connections: FakeTtsWsConnection[];
  /** HTTP statuses of refused handshakes. */
  readonly refused: number[];
  behavior: FakeTtsWsBehavior;
  /** Forgets connections, refusals and behavior (between tests). */
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function refuse(socket: Socket, status: number, reason: string, json: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(json);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
  );
}

/** What an upgrade handler decides: refuse with a status, or accept and serve the socket. */
type Upgrade =
  | { refuse: { status: number; reason: string; json: unknown; headers?: Record<string, string> } }
  | { serve: (ws: WebSocket, conn: FakeTtsWsConnection) => void };

/** The HTTP/WebSocket plumbing both fakes share. */
async function startWsFake(apiKey: string, decide: (req: IncomingMessage, url: URL, fake: FakeTtsWs) => Upgrade): Promise<FakeTtsWs> {
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  const fake: FakeTtsWs = {
    baseUrl: '',
    apiKey,
    connections: [],
    refused: [],
    behavior: {},
    reset() {
      this.connections.length = 0;
      this.refused.length = 0;
      this.behavior = {};
    },
    close: async () => {},
  };
  // Upgrade sockets leave the HTTP server's bookkeeping: close() destroys them itself.
  const sockets = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (fake.behavior.hangHandshake) return;
    const url = new URL(req.url ?? '/', 'http://fake');
    const d = decide(req, url, fake);
    if ('refuse' in d) {
      fake.refused.push(d.refuse.status);
      return refuse(socket, d.refuse.status, d.refuse.reason, d.refuse.json, d.refuse.headers);
    }
    const conn: FakeTtsWsConnection = {
      url: req.url ?? '',
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      messages: [],
      textReceived: '',
      generations: [],
      samplesSent: 0,
      chunksSent: 0,
      closed: false,
    };
    fake.connections.push(conn);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('close', (code) => {
        conn.closed = true;
        conn.closeCode = code;
      });
      d.serve(ws, conn);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  (fake as { baseUrl: string }).baseUrl = `http://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/**
 * Streams the tone for `text` in {@link CHUNK_MS} chunks through `send`, stopping as soon as
 * `stopped()` turns true (cancel, clear, closed socket).
 */
async function speak(
  fake: FakeTtsWs,
  conn: FakeTtsWsConnection,
  text: string,
  rateHz: number,
  stopped: () => boolean,
  send: (pcm: Buffer) => void,
): Promise<void> {
  if (!text.trim()) return;
  conn.generations.push(text);
  const total = samplesFor(text, rateHz);
  const per = Math.round((rateHz * CHUNK_MS) / 1000);
  for (let off = 0; off < total; off += per) {
    if (stopped() || conn.closed) return;
    const n = Math.min(per, total - off);
    const buf = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) buf.writeInt16LE(toneSample(conn.samplesSent + i, rateHz), i * 2);
    conn.samplesSent += n;
    conn.chunksSent++;
    send(buf);
    await sleep(fake.behavior.chunkDelayMs ?? 1);
  }
}

function parseJson(data: RawData): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(data.toString());
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Cartesia

export const CARTESIA_FAKE_RATES = [8000, 16000, 22050, 24000, 44100, 48000];

/** The presented Cartesia credential: `X-API-Key`, `Authorization: Bearer`, or `?api_key=` (browsers). */
function cartesiaKey(req: IncomingMessage, url: URL): string {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  return url.searchParams.get('api_key') ?? '';
}

/** The fields that must stay the same across a context's requests (all but these). */
const CARTESIA_PER_INPUT = new Set(['transcript', 'continue', 'flush', 'duration']);

function invalidCartesiaRequest(msg: Record<string, unknown>): string | undefined {
  if (typeof msg.model_id !== 'string' || !msg.model_id) return 'model_id is required';
  if (typeof msg.transcript !== 'string') return 'transcript is required';
  if (typeof msg.context_id !== 'string' || !msg.context_id) return 'context_id is required';
  const voice = msg.voice as { mode?: unknown; id?: unknown } | undefined;
  if (!voice || voice.mode !== 'id' || typeof voice.id !== 'string' || !voice.id) return 'voice must be {mode: "id", id}';
  const f = msg.output_format as { container?: unknown; encoding?: unknown; sample_rate?: unknown } | undefined;
  if (!f || f.container !== 'raw') return 'output_format.container must be raw';
  if (f.encoding !== 'pcm_s16le') return 'this fake speaks pcm_s16le only';
  if (typeof f.sample_rate !== 'number' || !CARTESIA_FAKE_RATES.includes(f.sample_rate)) return 'invalid sample rate';
  return undefined;
}

/** Starts the Cartesia fake; `fake.baseUrl` is its `http://` root (the adapter maps it to `ws://`). */
export async function startFakeCartesiaWs(apiKey = 'sk_car_test_0123456789'): Promise<FakeTtsWs> {
  return startWsFake(apiKey, (req, url, fake) => {
    if (url.pathname !== '/tts/websocket') return { refuse: { status: 404, reason: 'Not Found', json: { error: 'Not Found' } } };
    const presented = cartesiaKey(req, url);
    if (presented !== fake.apiKey) {
      const message = fake.behavior.echoKeyInErrors ? `Invalid API key: ${presented}` : 'Invalid API key';
      return { refuse: { status: 401, reason: 'Unauthorized', json: { title: 'Unauthorized', message, error_code: 'invalid_api_key' } } };
    }
    const version = url.searchParams.get('cartesia_version') ?? req.headers['cartesia-version'];
    if (typeof version !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      return { refuse: { status: 400, reason: 'Bad Request', json: { title: 'Bad Request', message: 'cartesia_version is required', error_code: 'missing_version' } } };
    }
    return { serve: (ws, conn) => serveCartesia(fake, conn, ws) };
  });
}

function serveCartesia(fake: FakeTtsWs, conn: FakeTtsWsConnection, ws: WebSocket): void {
  const contexts = new Map<string, { first: Record<string, unknown>; cancelled: boolean; closed: boolean; flushes: number }>();
  let texts = 0;
  // Answers go out in order, each after the previous one's audio.
  let chain = Promise.resolve();
  const reply = (msg: Record<string, unknown>): void => {
    if (!conn.closed) ws.send(JSON.stringify(msg));
  };
  const error = (contextId: unknown, message: string, code = 'invalid_request', status = 400): void => {
    chain = chain.then(() => reply({ type: 'error', done: true, status_code: status, title: 'Invalid request', message, error_code: code, context_id: contextId }));
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const msg = isBinary ? undefined : parseJson(data);
    if (!msg) return error(undefined, 'messages must be JSON objects');
    conn.messages.push(msg);
    if (msg.cancel === true) {
      const ctx = typeof msg.context_id === 'string' ? contexts.get(msg.context_id) : undefined;
      if (ctx) ctx.cancelled = true;
      return;
    }
    const bad = invalidCartesiaRequest(msg);
    if (bad) return error(msg.context_id, bad);
    const id = msg.context_id as string;
    let ctx = contexts.get(id);
    if (!ctx) contexts.set(id, (ctx = { first: msg, cancelled: false, closed: false, flushes: 0 }));
    else {
      const same = (m: Record<string, unknown>) => JSON.stringify(Object.entries(m).filter(([k]) => !CARTESIA_PER_INPUT.has(k)).sort());
      if (same(msg) !== same(ctx.first)) return error(id, 'inputs on a context must keep the same fields');
      if (ctx.closed) return error(id, 'the context is closed');
    }
    const c = ctx;
    const transcript = msg.transcript as string;
    conn.textReceived += transcript;
    const fail = fake.behavior.failAfterTexts;
    if (transcript && fail && ++texts >= fail.count) return error(id, fail.message, fail.code, 500);
    const rate = (msg.output_format as { sample_rate: number }).sample_rate;
    chain = chain.then(() =>
      speak(fake, conn, transcript, rate, () => c.cancelled, (pcm) =>
        reply({ type: 'chunk', data: pcm.toString('base64'), done: false, status_code: 206, step_time: 1, context_id: id }),
      ),
    );
    if (msg.flush === true) {
      chain = chain.then(() => {
        if (!c.cancelled) reply({ type: 'flush_done', done: false, flush_done: true, flush_id: ++c.flushes, status_code: 206, context_id: id });
      });
    }
    if (msg.continue !== true) {
      c.closed = true;
      chain = chain.then(() => {
        if (!c.cancelled) reply({ type: 'done', done: true, status_code: 206, context_id: id });
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Deepgram

export const DEEPGRAM_FAKE_RATES = ['8000', '16000', '24000', '32000', '48000'];

function deepgramRefusal(status: number, reason: string, errCode: string, errMsg: string): Upgrade {
  const requestId = randomUUID();
  const json = { err_code: errCode, err_msg: errMsg, request_id: requestId };
  return { refuse: { status, reason, json, headers: { 'dg-error': JSON.stringify(json), 'dg-request-id': requestId } } };
}

/** Starts the Deepgram fake; `fake.baseUrl` is its `http://` root (the adapter maps it to `ws://`). */
export async function startFakeDeepgramWs(apiKey = 'dg-test-speak-0123456789'): Promise<FakeTtsWs> {
  return startWsFake(apiKey, (req, url, fake) => {
    if (url.pathname !== '/v1/speak') return deepgramRefusal(404, 'Not Found', 'NOT_FOUND', 'Not Found');
    const auth = String(req.headers.authorization ?? '');
    const presented = auth.startsWith('Token ') ? auth.slice(6) : auth;
    if (presented !== fake.apiKey) {
      const msg = fake.behavior.echoKeyInErrors ? `Invalid credentials: ${presented}` : 'Invalid credentials.';
      return deepgramRefusal(401, 'Unauthorized', 'INVALID_AUTH', msg);
    }
    const model = url.searchParams.get('model') ?? '';
    if (!/^aura-/.test(model)) return deepgramRefusal(400, 'Bad Request', 'INVALID_QUERY_PARAMETER', `unknown model ${model}`);
    if ((url.searchParams.get('encoding') ?? 'linear16') !== 'linear16') return deepgramRefusal(400, 'Bad Request', 'INVALID_QUERY_PARAMETER', 'this fake speaks linear16 only');
    const rate = url.searchParams.get('sample_rate') ?? '24000';
    if (!DEEPGRAM_FAKE_RATES.includes(rate)) return deepgramRefusal(400, 'Bad Request', 'INVALID_QUERY_PARAMETER', `invalid sample_rate ${rate}`);
    return { serve: (ws, conn) => serveDeepgram(fake, conn, ws, model, Number(rate)) };
  });
}

function serveDeepgram(fake: FakeTtsWs, conn: FakeTtsWsConnection, ws: WebSocket, model: string, rateHz: number): void {
  let buffer = '';
  let sequence = 0;
  let texts = 0;
  /** Bumped by Clear: generations of an older epoch stop. */
  let epoch = 0;
  const flushTimes: number[] = [];
  let chain = Promise.resolve();
  const reply = (msg: Record<string, unknown>): void => {
    if (!conn.closed) ws.send(JSON.stringify(msg));
  };
  const protocolError = (reason: string): void => {
    chain = chain.then(() => {
      if (!conn.closed) ws.close(1008, `DATA-0000 ${reason}`);
    });
  };
  reply({ type: 'Metadata', request_id: randomUUID(), model_name: model, model_version: '2025-01-01.0', model_uuid: randomUUID() });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const msg = isBinary ? undefined : parseJson(data);
    if (!msg) return protocolError('messages must be JSON text');
    conn.messages.push(msg);
    switch (msg.type) {
      case 'Speak': {
        if (typeof msg.text !== 'string') return protocolError('Speak needs text');
        buffer += msg.text;
        conn.textReceived += msg.text;
        const fail = fake.behavior.failAfterTexts;
        if (fail && ++texts >= fail.count) {
          chain = chain.then(() => {
            if (!conn.closed) ws.close(1008, `${fail.code} ${fail.message}`);
          });
        }
        return;
      }
      case 'Flush': {
        const now = Date.now();
        while (flushTimes.length && now - flushTimes[0] >= 60_000) flushTimes.shift();
        if (flushTimes.length >= 20) {
          reply({ type: 'Warning', description: 'Flush rate limit exceeded: 20 per minute', code: 'FLUSH_LIMIT_EXCEEDED' });
          return;
        }
        flushTimes.push(now);
        const text = buffer;
        buffer = '';
        const mine = epoch;
        chain = chain
          .then(() => speak(fake, conn, text, rateHz, () => epoch !== mine, (pcm) => !conn.closed && ws.send(pcm)))
          .then(() => {
            if (epoch === mine) reply({ type: 'Flushed', sequence_id: sequence++ });
          });
        return;
      }
      case 'Clear':
        buffer = '';
        epoch++;
        // Answered at once, ahead of the audio that Clear stopped.
        reply({ type: 'Cleared', sequence_id: sequence++ });
        return;
      case 'Close':
        // Deepgram's docs: Close closes the connection immediately.
        epoch++;
        ws.close(1000);
        return;
      default:
        return protocolError(`unknown message type ${String(msg.type)}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------

/** Reads a stream's audio in the background: `samples` and `chunks` grow as audio arrives. */
export function readAudio(stream: TtsTextStream): { samples: number[]; chunks: number; done: Promise<unknown> } {
  const out = { samples: [] as number[], chunks: 0, done: Promise.resolve<unknown>(undefined) };
  out.done = (async () => {
    for await (const chunk of stream.audio) {
      out.chunks++;
      for (const s of chunk) out.samples.push(s);
    }
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  return out;
}
