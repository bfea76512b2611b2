/**
 * A loopback fake of Deepgram's live transcription WebSocket (`/v1/listen`).
 *
 * It checks the path, the query (`encoding=linear16`, `sample_rate`, `channels=1`, ...) and
 * `Authorization: Token <key>` the way the real API does, refusing the handshake with an HTTP
 * error, a JSON body `{"err_code","err_msg","request_id"}` and the `dg-error` / `dg-request-id`
 * headers. After the upgrade it "recognises" audio deterministically: every complete 0.5 s window
 * of received PCM whose RMS is above {@link VOICE_RMS} becomes an interim then (after
 * `finalDelayMs`) a final `Results` message with transcript `word<N>` (N counts voiced windows
 * from 1) and the window's start/duration; a silent window yields a final with an empty
 * transcript, as Deepgram does. `SpeechStarted` precedes each voiced window and `UtteranceEnd`
 * follows it. On `{"type":"CloseStream"}` it recognises the partial tail window, waits for the
 * pending finals, sends a `Metadata` summary and closes with 1000.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

/** RMS above which a window counts as speech. */
export const VOICE_RMS = 1000;
export const WINDOW_SEC = 0.5;

export interface FakeDeepgramBehavior {
  /** Delay of each final after its interim, ms (default 0). */
  finalDelayMs?: number;
  /** Ignore CloseStream (to prove the client's close wait is bounded). */
  ignoreCloseStream?: boolean;
  /** Put the presented key verbatim into auth errors (to prove clients scrub it). */
  echoKeyInErrors?: boolean;
  /** Close the connection with this code and reason on the first audio frame (Deepgram's error closes). */
  failOnAudio?: { code: number; reason: string };
  /** Never answer the upgrade (to test connect timeouts and aborts while connecting). */
  hangHandshake?: boolean;
  /**
   * Scripted recognition (the voice pipeline's tests): each stretch of speech (100 ms windows
   * above {@link VOICE_RMS}) followed by {@link FakeDeepgramBehavior.quietMs} of quiet becomes
   * one utterance whose text is the next entry (shifted off, shared by all connections; `word<N>`
   * when none is left): an interim with its first word once speech is heard, then a final with
   * `speech_final: true` and an `UtteranceEnd` at the quiet. Without it, every 0.5 s window is
   * recognised on its own (see the file comment).
   */
  script?: string[];
  /** Quiet that ends a scripted utterance, ms (default 300). */
  quietMs?: number;
}

export interface FakeDeepgramConnection {
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Every binary frame's size, in bytes. */
  frameSizes: number[];
  /** All received audio bytes, concatenated. */
  audio: Buffer;
  /** Text frames received (KeepAlive, CloseStream, ...). */
  texts: string[];
  /** Messages sent to the client, parsed. */
  sent: Array<Record<string, unknown>>;
  /** Close code seen by the server, once closed. */
  closeCode?: number;
  closed: boolean;
}

export interface FakeDeepgramLive {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly connections: FakeDeepgramConnection[];
  /** Refused handshakes: their status. */
  readonly refused: number[];
  behavior: FakeDeepgramBehavior;
  close(): Promise<void>;
}

function refuse(socket: Socket, status: number, reason: string, errCode: string, errMsg: string): void {
  const requestId = 'fake-req-0001';
  const body = JSON.stringify({ err_code: errCode, err_msg: errMsg, request_id: requestId });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `dg-request-id: ${requestId}\r\n` +
      `dg-error: ${body}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}

function send(conn: FakeDeepgramConnection, ws: WebSocket, msg: Record<string, unknown>): void {
  if (ws.readyState !== ws.OPEN) return;
  conn.sent.push(msg);
  ws.send(JSON.stringify(msg));
}

function results(transcript: string, startSec: number, durationSec: number, isFinal: boolean): Record<string, unknown> {
  return {
    type: 'Results',
    channel_index: [0, 1],
    duration: durationSec,
    start: startSec,
    is_final: isFinal,
    speech_final: isFinal,
    channel: { alternatives: [{ transcript, confidence: 0.99, words: [] }] },
    metadata: { request_id: 'fake-req-0001', model_info: { name: 'nova-3', version: 'fake', arch: 'fake' } },
    from_finalize: false,
  };
}

export async function startFakeDeepgramLive(apiKey = 'dg-test-key-0123456789abcdef'): Promise<FakeDeepgramLive> {
  const connections: FakeDeepgramConnection[] = [];
  const refused: number[] = [];
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  const fake: FakeDeepgramLive = {
    baseUrl: '',
    apiKey,
    connections,
    refused,
    behavior: {},
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  server.on('upgrade', (req, socket: Socket, head) => {
    if (fake.behavior.hangHandshake) return;
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const auth = req.headers.authorization ?? '';
    if (url.pathname !== '/v1/listen') {
      refused.push(404);
      return refuse(socket, 404, 'Not Found', 'NOT_FOUND', 'Not found.');
    }
    if (auth !== `Token ${apiKey}`) {
      refused.push(401);
      const presented = auth.replace(/^Token\s+/i, '');
      const msg = fake.behavior.echoKeyInErrors ? `Invalid credentials: ${presented}` : 'Invalid credentials.';
      return refuse(socket, 401, 'Unauthorized', 'INVALID_AUTH', msg);
    }
    const rate = Number(query.sample_rate);
    if (query.encoding !== 'linear16' || !Number.isInteger(rate) || rate <= 0 || query.channels !== '1') {
      refused.push(400);
      return refuse(socket, 400, 'Bad Request', 'Bad Request', 'encoding, sample_rate and channels are required for raw audio.');
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, rate, { path: url.pathname, query, headers: req.headers }));
  });

  function serve(ws: WebSocket, rate: number, init: Pick<FakeDeepgramConnection, 'path' | 'query' | 'headers'>): void {
    const conn: FakeDeepgramConnection = { ...init, frameSizes: [], audio: Buffer.alloc(0), texts: [], sent: [], closed: false };
    connections.push(conn);
    const windowBytes = Math.round(rate * (fake.behavior.script ? 0.1 : WINDOW_SEC)) * 2;
    let consumed = 0; // bytes already recognised
    let voiced = 0;
    let flushing = false;
    const pending = new Set<Promise<void>>();

    // Scripted mode's state: the utterance being heard (its start, its text) and the quiet after it.
    let utterance: { startSec: number; text: string } | undefined;
    let quietSec = 0;
    const scripted = (bytes: Buffer, startSec: number): void => {
      const n = bytes.length >> 1;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += bytes.readInt16LE(i * 2) ** 2;
      const voicedNow = n > 0 && Math.sqrt(sum / n) > VOICE_RMS;
      const dur = n / rate;
      if (voicedNow) {
        quietSec = 0;
        if (!utterance) {
          const text = fake.behavior.script?.shift() ?? `word${++voiced}`;
          utterance = { startSec, text };
          send(conn, ws, { type: 'SpeechStarted', channel: [0, 1], timestamp: startSec });
          send(conn, ws, results(text.split(/\s+/)[0]!, startSec, dur, false));
        }
        return;
      }
      if (!utterance) return;
      quietSec += dur;
      if (quietSec * 1000 < (fake.behavior.quietMs ?? 300)) return;
      const u = utterance;
      utterance = undefined;
      const end = startSec + dur - quietSec;
      const final = (): void => {
        send(conn, ws, results(u.text, u.startSec, end - u.startSec, true));
        send(conn, ws, { type: 'UtteranceEnd', channel: [0, 1], last_word_end: end });
      };
      const delay = fake.behavior.finalDelayMs ?? 0;
      if (delay <= 0) return final();
      const p = new Promise<void>((r) => setTimeout(r, delay)).then(final);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };

    const recognise = (bytes: Buffer, startSec: number): void => {
      if (fake.behavior.script) return scripted(bytes, startSec);
      const n = bytes.length >> 1;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += bytes.readInt16LE(i * 2) ** 2;
      const rms = n > 0 ? Math.sqrt(sum / n) : 0;
      const dur = n / rate;
      if (rms <= VOICE_RMS) {
        send(conn, ws, results('', startSec, dur, true));
        return;
      }
      const word = `word${++voiced}`;
      send(conn, ws, { type: 'SpeechStarted', channel: [0, 1], timestamp: startSec });
      send(conn, ws, results(word, startSec, dur, false));
      const final = (): void => {
        send(conn, ws, results(word, startSec, dur, true));
        send(conn, ws, { type: 'UtteranceEnd', channel: [0, 1], last_word_end: startSec + dur });
      };
      const delay = fake.behavior.finalDelayMs ?? 0;
      if (delay <= 0) return final();
      const p = new Promise<void>((r) => setTimeout(r, delay)).then(final);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (flushing) return;
        const fail = fake.behavior.failOnAudio;
        if (fail) return ws.close(fail.code, fail.reason);
        conn.frameSizes.push(data.length);
        conn.audio = Buffer.concat([conn.audio, data]);
        while (conn.audio.length - consumed >= windowBytes) {
          recognise(conn.audio.subarray(consumed, consumed + windowBytes), consumed / 2 / rate);
          consumed += windowBytes;
        }
        return;
      }
      const text = data.toString('utf8');
      conn.texts.push(text);
      let msg: { type?: string } = {};
      try {
        msg = JSON.parse(text);
      } catch {
        return ws.close(1008, 'DATA-0000: invalid JSON');
      }
      if (msg.type === 'CloseStream' && !flushing && !fake.behavior.ignoreCloseStream) {
        flushing = true;
        const tailBytes = (conn.audio.length - consumed) & ~1;
        if (tailBytes > 0) recognise(conn.audio.subarray(consumed, consumed + tailBytes), consumed / 2 / rate);
        consumed += tailBytes;
        void Promise.all(pending).then(() => {
          send(conn, ws, { type: 'Metadata', request_id: 'fake-req-0001', duration: conn.audio.length / 2 / rate, channels: 1 });
          ws.close(1000);
        });
      }
    });
    ws.on('close', (code) => {
      conn.closed = true;
      conn.closeCode = code;
    });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  (fake as { baseUrl: string }).baseUrl = `http://127.0.0.1:${port}`;
  return fake;
}

/** `seconds` of PCM at `rate`: a 300 Hz tone at `amplitude` (0 = silence). */
export function tone(rate: number, seconds: number, amplitude: number): Int16Array {
  const n = Math.round(rate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 300 * i) / rate));
  return out;
}

/** Concatenates PCM pieces. */
export function concatPcm(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
