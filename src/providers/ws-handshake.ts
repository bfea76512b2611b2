/**
 * The opening of a provider's WebSocket (Deepgram live STT, ElevenLabs stream-input TTS): resolves
 * once it is open; rejects with a {@link ProviderError} on a refused handshake (`refused` builds it
 * from the HTTP response), a network error or the connect timeout, and with `signal.reason` when
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
  /** The error of a refused handshake, from its response. */
  refused(res: IncomingMessage): Promise<ProviderError>;
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
    ws.once('unexpected-response', (_req, res) => void o.refused(res).then(fail));
    ws.once('open', () => {
      if (finish()) resolve();
    });
  });
}
