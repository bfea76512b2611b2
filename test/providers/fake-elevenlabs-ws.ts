/**
 * A loopback fake of ElevenLabs' stream-input WebSocket (`/v1/text-to-speech/{voice}/stream-input`).
 *
 * It refuses the upgrade with 401 and `{"detail":{"status":"invalid_api_key",...}}` when the
 * `xi-api-key` header is wrong, records every message, buffers text like the real server (a
 * generation when the buffer reaches the `chunk_length_schedule` step, on `flush` or
 * `try_trigger_generation`, and on the closing `{"text": ""}`) and answers each generation with
 * base64 PCM: {@link SAMPLES_PER_CHAR} samples of a tone per non-blank character, in
 * {@link CHUNKS_PER_GENERATION} messages, then `{"isFinal": true}` after the closing text.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

export const SAMPLES_PER_CHAR = 40;
export const CHUNKS_PER_GENERATION = 4;

export interface FakeElevenLabsWsBehavior {
  /** Pause between two audio messages, ms (default 1). */
  chunkDelayMs?: number;
  /** Never answer the upgrade. */
  hangHandshake?: boolean;
  /** Put the presented key into the 401 message (to prove the client scrubs it). */
  echoKeyInErrors?: boolean;
  /** After this many text messages (the first config message not counted), send this error and close 1008. */
  failAfterTexts?: { count: number; message: string; error: string };
  /** The 16 kHz audio of a generation's text (e.g. espeak-ng speech) instead of the tone. */
  speech?: (text: string, rateHz: number) => Int16Array | Promise<Int16Array>;
}

export interface FakeElevenLabsWsConnection {
  /** The request URL as the fake saw it (path and query). */
  url: string;
  voiceId: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Every message received, parsed, the config message first. */
  messages: Array<Record<string, unknown>>;
  /** Texts generated into audio, in order. */
  generations: string[];
  /** Audio samples sent. */
  samplesSent: number;
  closed: boolean;
  closeCode?: number;
}

export interface FakeElevenLabsWs {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly connections: FakeElevenLabsWsConnection[];
  readonly refused: number[];
  behavior: FakeElevenLabsWsBehavior;
  close(): Promise<void>;
}

/** Sample `n` of the tone every generation speaks. */
export const toneSample = (n: number): number => Math.round(8000 * Math.sin((2 * Math.PI * 440 * n) / 16000));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function refuse(socket: Socket, status: number, reason: string, json: unknown): void {
  const body = JSON.stringify(json);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export async function startFakeElevenLabsWs(apiKey = 'xi-test-elevenlabs-ws-0123456789'): Promise<FakeElevenLabsWs> {
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  const fake: FakeElevenLabsWs = { baseUrl: '', apiKey, connections: [], refused: [], behavior: {}, close: async () => {} };
  // Upgrade sockets leave the HTTP server's bookkeeping: close() destroys them itself.
  const sockets = new Set<Socket>();
  server.on('upgrade', (req, socket: Socket, head) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (fake.behavior.hangHandshake) return;
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/v1\/text-to-speech\/([^/]+)\/stream-input$/.exec(url.pathname);
    if (!m) {
      fake.refused.push(404);
      return refuse(socket, 404, 'Not Found', { detail: 'Not Found' });
    }
    const presented = String(req.headers['xi-api-key'] ?? '');
    if (presented !== fake.apiKey) {
      fake.refused.push(401);
      const message = fake.behavior.echoKeyInErrors ? `Invalid API key: ${presented}` : 'Invalid API key';
      return refuse(socket, 401, 'Unauthorized', { detail: { status: 'invalid_api_key', message } });
    }
    if (url.searchParams.get('output_format') !== 'pcm_16000') {
      fake.refused.push(400);
      return refuse(socket, 400, 'Bad Request', { detail: { status: 'invalid_output_format', message: 'this fake speaks pcm_16000 only' } });
    }
    const conn: FakeElevenLabsWsConnection = {
      url: req.url ?? '',
      voiceId: decodeURIComponent(m[1]),
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      messages: [],
      generations: [],
      samplesSent: 0,
      closed: false,
    };
    fake.connections.push(conn);
    wss.handleUpgrade(req, socket, head, (ws) => serve(fake, conn, ws));
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

function serve(fake: FakeElevenLabsWs, conn: FakeElevenLabsWsConnection, ws: WebSocket): void {
  let buffer = '';
  let schedule = [120, 160, 250, 290];
  let step = 0;
  let texts = 0;
  // Generations go out in order, each after the previous one's audio.
  let chain = Promise.resolve();
  ws.on('close', (code) => {
    conn.closed = true;
    conn.closeCode = code;
  });
  const generate = (text: string): void => {
    if (!text.trim()) return;
    conn.generations.push(text);
    const speech = fake.behavior.speech;
    chain = chain.then(async () => {
      const spoken = speech ? await speech(text, 16000) : undefined;
      const total = spoken ? spoken.length : text.replace(/\s/g, '').length * SAMPLES_PER_CHAR;
      // Real speech streams in ~100 ms messages; the tone in CHUNKS_PER_GENERATION pieces.
      const per = spoken ? 1600 : Math.ceil(total / CHUNKS_PER_GENERATION);
      for (let off = 0; off < total; off += per) {
        if (conn.closed) return;
        const n = Math.min(per, total - off);
        const buf = Buffer.alloc(n * 2);
        for (let i = 0; i < n; i++) buf.writeInt16LE(spoken ? spoken[off + i]! : toneSample(conn.samplesSent + i), i * 2);
        conn.samplesSent += n;
        ws.send(JSON.stringify({ audio: buf.toString('base64'), isFinal: null, normalizedAlignment: { chars: [...text], charStartTimesMs: [], charDurationsMs: [] } }));
        await sleep(fake.behavior.chunkDelayMs ?? 1);
      }
    });
  };
  ws.on('message', (data) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data.toString()) as Record<string, unknown>;
    } catch {
      ws.close(1008, 'invalid JSON');
      return;
    }
    conn.messages.push(msg);
    if (conn.messages.length === 1) {
      if (msg.text !== ' ') ws.close(1008, 'the first message must have text " "');
      const s = (msg.generation_config as { chunk_length_schedule?: number[] } | undefined)?.chunk_length_schedule;
      if (Array.isArray(s) && s.length) schedule = s;
      return;
    }
    if (typeof msg.text !== 'string') return void ws.close(1008, 'text is required');
    const fail = fake.behavior.failAfterTexts;
    if (fail && ++texts >= fail.count) {
      chain = chain.then(() => {
        ws.send(JSON.stringify({ message: fail.message, error: fail.error, code: 1008 }));
        ws.close(1008, fail.error);
      });
      return;
    }
    if (msg.text === '') {
      generate(buffer);
      buffer = '';
      chain = chain.then(() => {
        if (conn.closed) return;
        ws.send(JSON.stringify({ isFinal: true }));
        ws.close(1000);
      });
      return;
    }
    buffer += msg.text;
    if (msg.flush === true || msg.try_trigger_generation === true || buffer.length >= schedule[Math.min(step, schedule.length - 1)]) {
      generate(buffer);
      buffer = '';
      step++;
    }
  });
}
