import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { MAX_PHONE_AUDIO_BYTES, PHONE_PATH } from '../local/ws/phone-protocol.js';
import { int16ToL16Le, l16LeAsInt16 } from '../../streams/audio/l16.js';
import type { PhoneAddress, PhoneClientMessage, PhoneServerMessage } from '../local/ws/phone-protocol.js';

/** Socket error codes that mean "nothing answers at that address" (as opposed to a refusal). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'ECONNRESET']);

/**
 * True when `err` (from `fetch`, whose socket error is in `cause`, or from `ws`, whose error is
 * the socket's own; both may wrap several attempts in an AggregateError) says the server could
 * not be reached at all.
 */
export function isUnreachableError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnreachableError(x, depth + 1))) return true;
  return isUnreachableError(e.cause, depth + 1);
}

/**
 * The local VoIPBIN could not be used: nothing listens at `baseUrl` (`unreachable`), or it
 * answered with an HTTP error (`status`, 401 when the access key was refused). The message says
 * what to do; callers that know where the key came from may add to it.
 */
export class LocalServerError extends Error {
  readonly baseUrl: string;
  readonly unreachable: boolean;
  readonly status?: number;
  constructor(baseUrl: string, detail: { unreachable: true; cause?: unknown } | { status: number; reason?: string; what: string }) {
    const message =
      'unreachable' in detail
        ? `cannot reach ${baseUrl}: is \`voipbin-ai serve\` running?`
        : detail.status === 401
          ? 'the access key was refused (HTTP 401)'
          : `${detail.what}: HTTP ${detail.status}${detail.reason ? `: ${detail.reason}` : ''}`;
    super(message, 'cause' in detail ? { cause: detail.cause } : undefined);
    this.name = 'LocalServerError';
    this.baseUrl = baseUrl;
    this.unreachable = 'unreachable' in detail;
    this.status = 'status' in detail ? detail.status : undefined;
  }
}

/** `http://host:port` of a base URL given with or without `/v1.0` and trailing slashes. */
export function serverOrigin(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1\.0$/, '');
}

/** Events of {@link LocalPhoneClient}. */
export interface LocalPhoneEvents {
  message: [PhoneServerMessage];
  /** What the phone hears: 8 kHz slin, one 20 ms frame per message (a view: copy to keep). */
  audio: [Int16Array];
  close: [number, string];
}

/**
 * A softphone client of the local phone protocol (see `src/local/ws/phone-protocol.ts`): used
 * by `voipbin-ai call`, tests and anyone scripting calls against the local VoIPBIN.
 */
export class LocalPhoneClient extends EventEmitter<LocalPhoneEvents> {
  private readonly ws: WebSocket;
  private readonly out = Buffer.alloc(4096);
  private readonly scratch = new Int16Array(MAX_PHONE_AUDIO_BYTES / 2);

  private constructor(ws: WebSocket) {
    super();
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (data.length % 2 === 0 && data.length <= MAX_PHONE_AUDIO_BYTES) this.emit('audio', l16LeAsInt16(data, this.scratch));
        return;
      }
      try {
        this.emit('message', JSON.parse(data.toString('utf8')) as PhoneServerMessage);
      } catch {
        /* the server only sends JSON */
      }
    });
    ws.on('close', (code, reason) => this.emit('close', code, reason.toString()));
  }

  /**
   * Connects to `baseUrl` (`http://127.0.0.1:8080`) with an access key. Rejects with a
   * {@link LocalServerError} when nothing listens there or the server refuses the connection.
   */
  static connect(baseUrl: string, accessKey: string): Promise<LocalPhoneClient> {
    const origin = serverOrigin(baseUrl);
    const url = origin.replace(/^http/, 'ws') + PHONE_PATH;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${accessKey}` } });
      ws.once('open', () => resolve(new LocalPhoneClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          let reason = '';
          try {
            reason = (JSON.parse(body) as { error?: { reason?: string; message?: string } }).error?.message ?? '';
          } catch {
            /* not JSON */
          }
          reject(new LocalServerError(origin, { status: res.statusCode ?? 0, reason, what: 'phone connection refused' }));
        });
      });
      ws.once('error', (err) => reject(isUnreachableError(err) ? new LocalServerError(origin, { unreachable: true, cause: err }) : err));
    });
  }

  send(msg: PhoneClientMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Sends 8 kHz slin: normally one 20 ms frame (160 samples), at most 2048 samples a message. */
  sendAudio(samples: Int16Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (samples.length > 2048) throw new RangeError('send at most 2048 samples (256 ms) per message');
    const bytes = int16ToL16Le(samples, this.out);
    // ws masks client frames into a new buffer, so reusing `out` is safe here.
    this.ws.send(this.out.subarray(0, bytes), { binary: true });
  }

  /** Resolves with the first server message of `type` (rejects if the socket closes first). */
  waitFor<T extends PhoneServerMessage['type']>(type: T, timeoutMs = 60_000): Promise<Extract<PhoneServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for "${type}"`)), timeoutMs);
      const onMsg = (m: PhoneServerMessage) => {
        if (m.type === type) done(undefined, m as Extract<PhoneServerMessage, { type: T }>);
      };
      const onClose = (code: number, reason: string) => done(new Error(`phone socket closed (${code} ${reason}) waiting for "${type}"`));
      const done = (err?: Error, m?: Extract<PhoneServerMessage, { type: T }>) => {
        clearTimeout(timer);
        this.off('message', onMsg);
        this.off('close', onClose);
        if (err) reject(err);
        else resolve(m!);
      };
      this.on('message', onMsg);
      this.on('close', onClose);
    });
  }

  /** Registers as a local number or extension. */
  async register(address: PhoneAddress): Promise<PhoneAddress> {
    const registered = this.waitFor('registered', 10_000);
    this.send({ type: 'register', address });
    return (await registered).address;
  }

  close(): void {
    this.ws.close(1000, 'bye');
  }
}
