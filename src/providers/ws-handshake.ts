/**
 * The opening of a provider's WebSocket (Deepgram live STT, ElevenLabs stream-input TTS): resolves
 * once it is open; rejects with a {@link ProviderError} on a refused handshake (`refused` builds it
 * from the HTTP response and the first {@link MAX_REFUSAL_BODY_BYTES} of its body), a network error
 * or the connect timeout, and with `signal.reason` when
 * the caller aborts. The socket is terminated on every failure.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { ProviderError } from './errors.js';
import type { ProviderKind } from './errors.js';

export interface SocketOpenOptions {
  kind: ProviderKind;
  provider: string;
  /** Names the link in messages, e.g. `deepgram STT`. */
  what: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Removes the key from a message. */
  scrub(text: string): string;
  /** The error of a refused handshake, from its response and (the start of) its body. */
  refused(res: IncomingMessage, body: string): ProviderError;
}

/** Most of a refused handshake's body that is read (the provider's error JSON fits). */
export const MAX_REFUSAL_BODY_BYTES = 16 * 1024;

/** Reads at most {@link MAX_REFUSAL_BODY_BYTES} of a refused handshake's body; never rejects. */
function readRefusalBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (): void => resolve(Buffer.concat(parts).subarray(0, MAX_REFUSAL_BODY_BYTES).toString('utf8'));
    res.on('data', (c: Buffer) => {
      if (size >= MAX_REFUSAL_BODY_BYTES) return;
      parts.push(c);
      size += c.length;
      if (size >= MAX_REFUSAL_BODY_BYTES) done();
    });
    res.once('end', done);
    res.once('close', done);
    res.once('error', done);
  });
}

export function awaitSocketOpen(ws: WebSocket, o: SocketOpenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new ProviderError(o.kind, o.provider, `${o.what} connection timed out after ${o.timeoutMs} ms`, { code: 'timeout' })), o.timeoutMs);
    const onAbort = (): void => fail(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    function fail(err: unknown): void {
      if (!finish()) return;
      ws.terminate();
      reject(err);
    }
    // Stays attached: terminate() during the handshake reports through 'error' afterwards.
    ws.on('error', (err) => fail(new ProviderError(o.kind, o.provider, `${o.what} connection failed: ${o.scrub(err.message)}`, { code: 'network' })));
    ws.once('unexpected-response', (_req, res) => void readRefusalBody(res).then((body) => fail(o.refused(res, body))));
    ws.once('open', () => {
      if (finish()) resolve();
    });
  });
}
