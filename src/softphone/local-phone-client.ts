import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { MAX_PHONE_AUDIO_BYTES, PHONE_PATH } from '../local/ws/phone-protocol.js';
import { int16ToL16Le, l16LeAsInt16 } from '../../streams/audio/l16.js';
import type { PhoneAddress, PhoneClientMessage, PhoneServerMessage } from '../local/ws/phone-protocol.js';

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

  /** Connects to `baseUrl` (`http://127.0.0.1:8080`) with an access key. */
  static connect(baseUrl: string, accessKey: string): Promise<LocalPhoneClient> {
    const url = baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '').replace(/\/v1\.0$/, '') + PHONE_PATH;
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
          reject(new Error(`phone connection refused: HTTP ${res.statusCode}${reason ? `: ${reason}` : ''}`));
        });
      });
      ws.once('error', reject);
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
