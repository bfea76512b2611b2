/**
 * A small stand-in for VoIPBIN's media_stream WebSocket endpoint on 127.0.0.1 (test helper, not a
 * test file). `GET /v1.0/calls/{id}/media_stream?encapsulation=...` with `Authorization: Bearer
 * <key>` (or `?token=`) upgrades; on open it sends a known tone (and, for audiosocket, a UUID and a
 * DTMF packet in one message), then echoes every audio frame it receives. Handshake failures answer
 * with VoIPBIN's JSON error envelope.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { AudioSocketCodec, createEncapsulationCodec, isEncapsulation } from '../../streams/protocols/index.js';
import type { Encapsulation } from '../../streams/protocols/index.js';

/** The tone the server sends first: `TONE_FRAMES` frames of 440 Hz at 8 kHz. */
export const TONE_FRAMES = 3;
export const TONE: Int16Array = Int16Array.from({ length: TONE_FRAMES * 160 }, (_, i) =>
  Math.round(12000 * Math.sin((2 * Math.PI * 440 * i) / 8000)),
);
export const STREAM_UUID = '6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b';

/** What the server saw of one connection. */
export interface ServerConnection {
  callId: string;
  encapsulation: Encapsulation;
  authorization: string | undefined;
  url: string;
  socket: WebSocket;
  /** Every binary message received, copied. */
  received: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
}

export interface FakeMediaStreamServer {
  /** `http://127.0.0.1:port/v1.0` */
  api: string;
  connections: ServerConnection[];
  /** Resolves with the next connection (or the latest one if it already arrived). */
  nextConnection(): Promise<ServerConnection>;
  close(): Promise<void>;
}

function reject(socket: Socket, status: number, statusText: string, reason: string, message: string): void {
  const body = JSON.stringify({ error: { status: statusText, reason, message, request_id: 'req_test_0001' } });
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Starts the server. `accessKey` is required as a bearer header or `token=` query. A call id of
 * `ended` answers 409 CALL_STATE_INVALID, `missing` answers 404 CALL_NOT_FOUND.
 */
export async function startFakeMediaStreamServer(accessKey: string): Promise<FakeMediaStreamServer> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const connections: ServerConnection[] = [];
  const waiters: Array<(c: ServerConnection) => void> = [];
  let taken = 0;

  const http: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/v1\.0\/calls\/([^/]+)\/media_stream$/.exec(url.pathname);
    if (!m) return reject(socket, 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'no such route');
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${accessKey}` && url.searchParams.get('token') !== accessKey) {
      return reject(socket, 401, 'UNAUTHENTICATED', 'AUTHENTICATION_REQUIRED', 'authentication required');
    }
    const callId = decodeURIComponent(m[1]);
    if (callId === 'missing') return reject(socket, 404, 'NOT_FOUND', 'CALL_NOT_FOUND', 'call not found');
    if (callId === 'ended') return reject(socket, 409, 'FAILED_PRECONDITION', 'CALL_STATE_INVALID', 'call is not progressing');
    const encapsulation = url.searchParams.get('encapsulation');
    if (!isEncapsulation(encapsulation)) return reject(socket, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'unsupported encapsulation');

    wss.handleUpgrade(req, socket, head, (ws) => {
      const codec = createEncapsulationCodec(encapsulation);
      let resolveClosed!: (v: { code: number; reason: string }) => void;
      const conn: ServerConnection = {
        callId,
        encapsulation,
        authorization: auth,
        url: req.url ?? '',
        socket: ws,
        received: [],
        closed: new Promise((r) => (resolveClosed = r)),
      };
      ws.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString() }));
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        const buf = Buffer.from(data as Buffer);
        conn.received.push(buf);
        for (const ev of codec.decode(buf)) {
          // A server sends unmasked frames: ws may queue the Buffer itself, so send a copy.
          if (ev.kind === 'audio') ws.send(Buffer.from(codec.encodeAudio(ev.samples)));
        }
      });
      // The known tone first (one frame per message), then audiosocket's control packets.
      if (encapsulation === 'audiosocket') {
        const as = codec as AudioSocketCodec;
        ws.send(Buffer.concat([as.encodeUuid(STREAM_UUID), as.encodeDtmf('7')]));
      }
      for (let f = 0; f < TONE_FRAMES; f++) ws.send(Buffer.from(codec.encodeAudio(TONE.subarray(f * 160, (f + 1) * 160))));
      connections.push(conn);
      const w = waiters.shift();
      if (w) {
        taken++;
        w(conn);
      }
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    api: `http://127.0.0.1:${port}/v1.0`,
    connections,
    nextConnection() {
      if (taken < connections.length) return Promise.resolve(connections[taken++]);
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
