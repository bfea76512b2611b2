/**
 * The gateway's side of a VoIPBIN-compatible media stream: dials
 * `{base}/calls/{id}/media_stream?encapsulation=rtp|sln|audiosocket` (api.voipbin.net or the
 * local VoIPBIN, same wire protocol), turns incoming binary messages into events through the
 * encapsulation codec, and sends 8 kHz slin back as exact 20 ms frames.
 *
 * Authentication: the access key goes in an `Authorization: Bearer` header. VoIPBIN's docs also
 * show `?token=` in the URL; a caller who puts `token=`/`accesskey=` in `url` gets it sent as is.
 * The key never appears in an error message or a log line (URLs are logged through `redact`).
 *
 * Failed handshakes reject with the REST client's typed errors: a VoIPBIN error envelope in a
 * 401/404/409/... response becomes `AuthenticationError`/`NotFoundError`/`ConflictError`/...
 * carrying `status` and `reason`; no response at all is an `APIConnectionError` (`APITimeoutError`
 * after `handshakeTimeoutMs`); an aborted `signal` is an `APIUserAbortError`.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { APIConnectionError, APITimeoutError, APIUserAbortError, VoipbinError } from '../src/client/errors.js';
import { redact, registerSecret } from '../src/util/logger.js';
import type { Logger } from '../src/util/logger.js';
import { Framer } from './audio/framer.js';
import { createEncapsulationCodec, isEncapsulation } from './protocols/encapsulation.js';
import type { Encapsulation, EncapsulationCodec, MediaEvent } from './protocols/encapsulation.js';
import { MediaProtocolError, unsupportedData } from './protocols/errors.js';
import { FRAME_SAMPLES, MEDIA_STREAM_SAMPLE_RATE_HZ } from './protocols/slin.js';

/** Default time allowed for the TCP/TLS connect + HTTP upgrade. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Largest WebSocket message accepted from the server; `ws` closes with 1009 above it. */
export const MEDIA_STREAM_MAX_MESSAGE_BYTES = 65_536;
/** Most of an error response body read to find VoIPBIN's envelope. */
const MAX_ERROR_BODY_BYTES = 16_384;

/** Options of {@link connectMediaStream}. */
export interface ConnectMediaStreamOptions {
  /**
   * The media_stream URL (`wss://api.voipbin.net/v1.0/calls/{id}/media_stream`), or, with
   * `callId`, the API base (`https://api.voipbin.net/v1.0`). `http(s):` becomes `ws(s):`.
   * Its query is kept; `encapsulation` is set from the option below.
   */
  url: string;
  /** When given, `/calls/{callId}/media_stream` is appended to `url`. */
  callId?: string;
  encapsulation: Encapsulation;
  /** Sent as `Authorization: Bearer <accessKey>`; never logged. */
  accessKey?: string;
  /** Aborts the handshake (rejecting with APIUserAbortError); after open, closes the stream. */
  signal?: AbortSignal;
  /** Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  handshakeTimeoutMs?: number;
  /** RTP only: the SSRC to send (default random). */
  ssrc?: number;
  /** Connection-level logging (open, close, protocol errors); nothing per frame. */
  logger?: Logger;
}

/** Events of a {@link MediaStreamClient}. */
export interface MediaStreamClientEvents {
  /**
   * One received frame of 8 kHz slin (normally 160 samples). The array is a view into the
   * received message or the codec's arena, valid only during the listener: copy it to keep it.
   */
  audio: [samples: Int16Array];
  /** A DTMF digit (audiosocket). */
  dtmf: [digit: string];
  /** The stream's UUID (audiosocket). */
  uuid: [id: string];
  /** The far end signalled hangup (audiosocket); the close follows from the server. */
  hangup: [];
  /** The far end reported an error code (audiosocket kind 0xff). */
  remoteError: [code: number];
  /**
   * A protocol or socket error. Emitted only when an `error` listener exists (never throws); a
   * malformed message ({@link MediaProtocolError}) also closes the stream with its close code.
   */
  error: [error: Error];
  /** The stream closed (emitted once). */
  close: [code: number, reason: string];
}

/**
 * Builds the WebSocket URL of a media stream. Throws a TypeError (without echoing the URL, which
 * may hold a token) when it is not an http(s)/ws(s) URL.
 */
export function mediaStreamUrl(url: string, encapsulation: Encapsulation, callId?: string): URL {
  if (!isEncapsulation(encapsulation)) throw new TypeError('media stream: encapsulation must be rtp, sln or audiosocket');
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new TypeError('media stream: url is not a valid URL');
  }
  if (target.protocol === 'http:') target.protocol = 'ws:';
  else if (target.protocol === 'https:') target.protocol = 'wss:';
  else if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new TypeError(`media stream: url scheme ${target.protocol} is not http(s) or ws(s)`);
  }
  if (callId !== undefined) {
    if (callId === '') throw new TypeError('media stream: callId is empty');
    target.pathname = `${target.pathname.replace(/\/+$/, '')}/calls/${encodeURIComponent(callId)}/media_stream`;
  }
  target.searchParams.set('encapsulation', encapsulation);
  return target;
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * An open media stream. Create it with {@link connectMediaStream}; attach listeners right after
 * the `await` (delivery of received audio starts on the next macrotask).
 */
export class MediaStreamClient extends EventEmitter<MediaStreamClientEvents> {
  readonly encapsulation: Encapsulation;
  /** The codec of this stream (e.g. an `RtpCodec`, for its `ssrc` and `lastHeader`). */
  readonly codec: EncapsulationCodec;
  private readonly ws: WebSocket;
  private readonly framer: Framer<Int16Array>;
  private readonly logger: Logger | undefined;
  private closed = false;
  private detachSignal: (() => void) | undefined;

  /** @internal Use {@link connectMediaStream}. */
  constructor(ws: WebSocket, codec: EncapsulationCodec, logger?: Logger) {
    super();
    this.ws = ws;
    this.codec = codec;
    this.encapsulation = codec.name;
    this.logger = logger;
    this.framer = new Framer<Int16Array>(
      { sampleRateHz: MEDIA_STREAM_SAMPLE_RATE_HZ, frameMs: 20, capacitySamples: 2 * FRAME_SAMPLES },
      (frame) => this.ws.send(this.codec.encodeAudio(frame)),
    );
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.emitError(err));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  /** True while audio can be sent. */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket but not yet sent (backpressure indicator). */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Samples held back because they do not yet make a whole 20 ms frame. */
  get pendingSamples(): number {
    return this.framer.bufferedSamples;
  }

  /**
   * Sends 8 kHz slin as 20 ms frames: any multiple of 160 samples goes out at once, one message
   * per frame; a remainder waits in a small carry buffer for the next call (or
   * {@link flushAudio}). Pacing is the caller's job. Returns false (and drops the audio) when
   * the stream is not open.
   */
  sendAudio(samples: Int16Array): boolean {
    if (!this.isOpen) return false;
    this.framer.push(samples);
    return true;
  }

  /** Sends a held-back partial frame padded with silence. Returns false when not open. */
  flushAudio(): boolean {
    if (!this.isOpen) return false;
    this.framer.flush();
    return true;
  }

  /** Drops a held-back partial frame (barge-in). */
  clearAudio(): void {
    this.framer.clear();
  }

  /**
   * Sends the encapsulation's hangup packet (audiosocket kind 0x00). Returns false when the
   * encapsulation has none (rtp, sln) or the stream is not open.
   */
  sendHangup(): boolean {
    const packet = this.codec.encodeHangup();
    if (packet === null || !this.isOpen) return false;
    this.ws.send(packet);
    return true;
  }

  /** Starts the closing handshake (the `close` event follows). Idempotent. */
  close(code = 1000, reason = ''): void {
    this.framer.clear();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  /** @internal Called by connectMediaStream: closes the stream when `signal` aborts. */
  bindSignal(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const onAbort = (): void => this.close(1000, 'aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    this.detachSignal = () => signal.removeEventListener('abort', onAbort);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closed) return;
    let events: MediaEvent[];
    try {
      if (!isBinary) throw unsupportedData('text messages are not part of a media stream');
      events = this.codec.decode(toBuffer(data));
    } catch (err) {
      // Never let a bad message throw out of the socket's event handler (it would crash the process).
      const error = err instanceof Error ? err : new Error(String(err));
      const code = error instanceof MediaProtocolError ? error.closeCode : 1011;
      const reason = error instanceof MediaProtocolError ? error.message : 'internal error';
      this.logger?.warn('media stream protocol error', { encapsulation: this.encapsulation, closeCode: code, reason: error.message });
      this.emitError(error);
      this.close(code, reason);
      return;
    }
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      switch (ev.kind) {
        case 'audio':
          this.emit('audio', ev.samples);
          break;
        case 'dtmf':
          this.emit('dtmf', ev.digit);
          break;
        case 'uuid':
          this.emit('uuid', ev.id);
          break;
        case 'hangup':
          this.emit('hangup');
          break;
        case 'error':
          this.emit('remoteError', ev.code);
          break;
      }
    }
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.framer.clear();
    this.detachSignal?.();
    this.logger?.debug('media stream closed', { encapsulation: this.encapsulation, code, reason });
    this.emit('close', code, reason);
  }
}

/** Reads at most MAX_ERROR_BODY_BYTES of an error response. */
function readErrorBody(res: IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done(Buffer.concat(chunks).toString('utf8'));
  };
  res.on('data', (chunk: Buffer) => {
    if (size >= MAX_ERROR_BODY_BYTES) return;
    chunks.push(chunk.subarray(0, MAX_ERROR_BODY_BYTES - size));
    size += Math.min(chunk.length, MAX_ERROR_BODY_BYTES - size);
    if (size >= MAX_ERROR_BODY_BYTES) finish();
  });
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', finish);
}

/**
 * Dials a VoIPBIN-compatible media stream and resolves once the WebSocket is open.
 * Rejects with a {@link VoipbinError} subclass (see the module comment) when it cannot open.
 */
export function connectMediaStream(options: ConnectMediaStreamOptions): Promise<MediaStreamClient> {
  const { encapsulation, accessKey, signal, logger } = options;
  let target: URL;
  let codec: EncapsulationCodec;
  try {
    target = mediaStreamUrl(options.url, encapsulation, options.callId);
    codec = createEncapsulationCodec(encapsulation, { ssrc: options.ssrc });
  } catch (err) {
    return Promise.reject(err);
  }
  if (signal?.aborted) return Promise.reject(new APIUserAbortError({ message: 'media stream connect aborted' }));
  registerSecret(accessKey);
  for (const name of ['token', 'accesskey']) registerSecret(target.searchParams.get(name));
  const safeUrl = redact(target.toString());
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;

  return new Promise<MediaStreamClient>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (accessKey) headers.authorization = `Bearer ${accessKey}`;
    const ws = new WebSocket(target, {
      headers,
      handshakeTimeout: handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: MEDIA_STREAM_MAX_MESSAGE_BYTES,
      followRedirects: false,
    });
    let settled = false;
    /** Set once an HTTP error response arrived, so a later socket error still reports it. */
    let httpError: { status: number; headers: IncomingMessage['headers'] } | undefined;

    const onAbort = (): void => {
      fail(new APIUserAbortError({ message: 'media stream connect aborted' }));
      ws.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    function settle(): boolean {
      if (settled) return false;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      return true;
    }

    function fail(err: Error): void {
      if (!settle()) return;
      logger?.debug('media stream connect failed', { url: safeUrl, error: err.message });
      reject(err);
    }

    ws.on('unexpected-response', (_req, res) => {
      httpError = { status: res.statusCode ?? 0, headers: res.headers };
      readErrorBody(res, (body) => {
        fail(VoipbinError.fromResponse(res.statusCode ?? 0, body, res.headers));
        ws.terminate();
      });
    });

    ws.on('error', (err) => {
      if (settled) return;
      if (httpError) fail(VoipbinError.fromResponse(httpError.status, '', httpError.headers));
      else if (/handshake has timed out/i.test(err.message)) {
        fail(new APITimeoutError({ message: `media stream handshake timed out after ${handshakeTimeoutMs} ms`, cause: err }));
      } else fail(new APIConnectionError({ message: `media stream connection failed: ${redact(err.message)}`, cause: err }));
    });

    ws.on('close', () => fail(new APIConnectionError({ message: 'media stream closed before it opened' })));

    ws.once('open', () => {
      if (!settle()) {
        ws.terminate();
        return;
      }
      const client = new MediaStreamClient(ws, codec, logger);
      client.bindSignal(signal);
      logger?.debug('media stream open', { url: safeUrl, encapsulation });
      // Hold incoming data until the caller's `await` continuation has attached listeners: the
      // first frames may arrive in the same TCP read as the 101 response.
      ws.pause();
      setImmediate(() => ws.resume());
      resolve(client);
    });
  });
}
