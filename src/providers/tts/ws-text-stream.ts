/**
 * The machinery the text-streaming TTS adapters (ElevenLabs, Cartesia, Deepgram WebSockets)
 * share: the provider socket and its handshake, and {@link WsTextStream}, the stream lifecycle
 * (audio queue and its async iterator, end / cancel / close, flush bookkeeping, idle timeout,
 * abort, errors). Each adapter module keeps only its wire protocol, as a subclass that turns the
 * stream's requests into messages and server messages into {@link TtsServerEvent}s.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import type { ProviderErrorInit } from '../errors.js';
import { awaitSocketOpen } from '../ws-handshake.js';
import { httpError, Pcm16leDecoder, scrub } from './stream.js';
import type { ParsedError } from './stream.js';
import { ProviderError } from './types.js';
import type { TtsProviderName, TtsTextStream } from './types.js';

/** A JSON message to the provider. */
export type TtsWireMessage = Record<string, unknown>;

/** What one server message means to the stream (a message may carry several, e.g. audio and the end). */
export type TtsServerEvent =
  /** PCM bytes (16-bit little-endian; a chunk may split a sample). */
  | { type: 'audio'; pcm: Uint8Array }
  /** The audio of one flush is all out (a protocol whose end of input is a flush: Deepgram). */
  | { type: 'flushed' }
  /** The provider's last audio of the utterance is out. */
  | { type: 'done' }
  /** The provider reported a failure. */
  | { type: 'error'; error: ProviderError }
  /** A text message that is not JSON. */
  | { type: 'malformed' }
  /** The provider's request id (Deepgram's Metadata): later errors carry it. */
  | { type: 'metadata'; requestId: string | undefined };

export interface TtsSocketOptions {
  provider: TtsProviderName;
  apiKey: string;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** The error of a refused handshake, from the provider's error JSON. */
  refused(res: IncomingMessage, body: string): ProviderError;
}

/**
 * Opens the provider's WebSocket and resolves once it is up; rejects with a {@link ProviderError}
 * (refused, network, timeout) or `signal.reason`.
 */
export async function openTtsSocket(o: TtsSocketOptions): Promise<WebSocket> {
  const ws = new WebSocket(o.url, {
    headers: o.headers,
    // A redirect would resend the key header to wherever it points.
    followRedirects: false,
    perMessageDeflate: false,
  });
  await awaitSocketOpen(ws, {
    kind: 'tts',
    provider: o.provider,
    what: `${o.provider} TTS`,
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    scrub: (text) => scrub(text, o.apiKey),
    refused: o.refused,
  });
  return ws;
}

/**
 * The ProviderError of a refused handshake whose body is the provider's error JSON (read by
 * `parse`) or plain text; `requestIdHeader` names a header whose id wins over the body's.
 */
export function refusedHandshakeError(
  provider: TtsProviderName,
  apiKey: string,
  res: IncomingMessage,
  body: string,
  parse: (json: unknown) => ParsedError,
  requestIdHeader?: string,
): ProviderError {
  let parsed: ParsedError = {};
  try {
    parsed = parse(JSON.parse(body));
  } catch {
    if (body.trim()) parsed = { message: body };
  }
  const rid = requestIdHeader ? res.headers[requestIdHeader] : undefined;
  if (typeof rid === 'string') parsed.requestId = rid;
  return httpError(provider, apiKey, res.statusCode ?? 0, parsed, res.statusMessage ?? '');
}

/** A text frame as a JSON object: undefined when it is not JSON, `{}` for JSON that is no object. */
export function parseJsonMessage(data: RawData): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString());
  } catch {
    return undefined;
  }
  return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
}

/** The bytes of a binary frame, whichever of ws's shapes it arrived in. */
export function frameBytes(data: RawData): Uint8Array {
  return Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** What a {@link WsTextStream} needs from its adapter. */
export interface WsTextStreamInit {
  /** An open socket ({@link openTtsSocket}). */
  ws: WebSocket;
  provider: TtsProviderName;
  apiKey: string;
  signal: AbortSignal | undefined;
  /** Longest wait for data once all text is in, ms. */
  idleTimeoutMs: number;
}

/**
 * The lifecycle every WebSocket text stream shares; a subclass supplies the protocol:
 * {@link textMessage}, {@link flushMessage}, {@link endInput} and {@link parse}, and where the
 * provider has them {@link cancelMessage}, {@link closeMessage} and {@link leaveCancelled}.
 *
 * - `pushText()` throws after `end()` and never sends an empty piece; `flush()` and `end()` do
 *   nothing after `end()`; `cancel()` is idempotent and stops the audio at once.
 * - The utterance is over on a `done` event, or (once the input has ended) when every flush
 *   sent has been answered by a `flushed` event; then the stream leaves with a clean close.
 * - A close before that, a socket error, a provider error, a message that is not JSON, the idle
 *   timeout (armed only once all text is in) and an abort fail the audio iteration.
 */
export abstract class WsTextStream implements TtsTextStream {
  readonly audio: AsyncIterable<Int16Array>;
  protected readonly ws: WebSocket;
  protected readonly provider: TtsProviderName;
  protected readonly apiKey: string;
  private readonly signal: AbortSignal | undefined;
  private readonly idleTimeoutMs: number;
  private readonly queue: Int16Array[] = [];
  private readonly decoder = new Pcm16leDecoder();
  private wake: (() => void) | undefined;
  /** end() was called (or cancel()): no more text. */
  protected ended = false;
  /** No more audio will come (done, cancelled, failed). */
  protected done = false;
  private cancelled = false;
  private error: unknown;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Some text went out (Cartesia: the context exists at the provider). */
  protected textSent = false;
  /** Text went out since the last flush. */
  protected unflushed = false;
  private flushesSent = 0;
  private flushesAnswered = 0;
  /** The provider's request id, once it sent one: the provider's later errors carry it. */
  private requestId: string | undefined;
  private readonly onAbort = (): void => this.fail(this.signal?.reason);

  constructor(init: WsTextStreamInit) {
    this.ws = init.ws;
    this.provider = init.provider;
    this.apiKey = init.apiKey;
    this.signal = init.signal;
    this.idleTimeoutMs = init.idleTimeoutMs;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.ws.on('message', (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    this.ws.on('close', (code: number, reason: Buffer) => {
      if (this.done) return this.cleanup();
      const why = scrub(reason.toString('utf8'), this.apiKey);
      this.fail(this.failure(`connection closed before the end of the audio (${code}${why ? ` ${why}` : ''})`, { code: this.closeCode(why), requestId: this.requestId }));
    });
    this.ws.on('error', (err: Error) => this.fail(this.failure(`connection error: ${scrub(err.message, this.apiKey)}`, { code: 'network' })));
    this.audio = { [Symbol.asyncIterator]: () => this.iterate() };
  }

  pushText(text: string): void {
    if (this.ended) throw new Error(`${this.provider} TTS: pushText() after end()`);
    // An empty piece means "end of input" to some protocols (ElevenLabs, Cartesia): never send one by accident.
    if (typeof text !== 'string' || text.length === 0) return;
    this.textSent = true;
    this.unflushed = true;
    this.send(this.textMessage(text));
  }

  flush(): void {
    if (this.ended) return;
    this.sendFlush(false);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.endInput()) return this.finish();
    this.armIdle();
  }

  cancel(): void {
    if (this.done && this.cancelled) return;
    const wasDone = this.done;
    this.cancelled = true;
    this.ended = true;
    this.queue.length = 0;
    this.settle();
    // Tell the provider to stop generating (it bills what it generates), then leave.
    const stop = wasDone ? undefined : this.cancelMessage();
    if (stop) this.rawSend(stop);
    this.leaveCancelled();
  }

  /** The message that speaks `text` (a non-empty piece). */
  protected abstract textMessage(text: string): TtsWireMessage;
  /**
   * The message that asks for the buffered text now, or undefined to send none. `final` is
   * the flush that {@link endInput} sends to end a protocol whose end is a flush.
   */
  protected abstract flushMessage(final: boolean): TtsWireMessage | undefined;
  /**
   * Sends the protocol's end of input ({@link send}, {@link sendFlush}). True when no audio is
   * owed any more (the stream finishes at once); false to wait for a `done` event or, after
   * flushes, for every `flushed`.
   */
  protected abstract endInput(): boolean;
  /** The events of one server message; undefined for a message that is not this stream's (ignored, even by the idle timer). */
  protected abstract parse(data: RawData, isBinary: boolean): readonly TtsServerEvent[] | undefined;
  /** Sent on cancel() while audio is still owed: stops the generation at the provider. */
  protected cancelMessage(): TtsWireMessage | undefined {
    return undefined;
  }
  /** Sent right before our close frame (Deepgram's `Close`). */
  protected closeMessage(): TtsWireMessage | undefined {
    return undefined;
  }
  /** How cancel() leaves: a clean close, so the {@link cancelMessage} goes out first. */
  protected leaveCancelled(): void {
    this.leave();
  }
  /** The error code of a close before the end of the audio, from its (scrubbed) reason. */
  protected closeCode(_reason: string): string {
    return 'closed';
  }

  /** True once every flush sent has been answered. */
  protected get flushesSettled(): boolean {
    return this.flushesAnswered >= this.flushesSent;
  }

  /** Sends a flush when the protocol has one to send now. */
  protected sendFlush(final: boolean): void {
    const msg = this.flushMessage(final);
    if (!msg) return;
    this.unflushed = false;
    this.flushesSent++;
    this.send(msg);
  }

  /** Sends while audio is still owed. */
  protected send(msg: TtsWireMessage): void {
    if (this.done) return;
    this.rawSend(msg);
  }

  /** Sends whenever the socket is open (a cancel goes out after the stream is settled). */
  protected rawSend(msg: TtsWireMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(msg));
  }

  /** A {@link ProviderError} of this provider: `<provider> TTS <message>` (`message` already scrubbed). */
  protected failure(message: string, init: ProviderErrorInit = {}): ProviderError {
    return new ProviderError('tts', this.provider, `${this.provider} TTS ${message}`, init);
  }

  /** The error the provider reported: `<provider> TTS failed [(status)] [code]: <message>`, scrubbed. */
  protected providerFailure(message: string | undefined, code: string | undefined, status?: number): ProviderError {
    const safeCode = code ? scrub(code, this.apiKey) : undefined;
    const text = scrub(message ?? 'no error message', this.apiKey);
    return this.failure(`failed${status ? ` (${status})` : ''}${safeCode ? ` ${safeCode}` : ''}: ${text}`, { code: safeCode, status, requestId: this.requestId });
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.done) return;
    const events = this.parse(data, isBinary);
    if (!events) return;
    if (this.ended) this.armIdle();
    for (const ev of events) {
      if (this.done) return;
      switch (ev.type) {
        case 'audio': {
          const samples = this.decoder.decode(ev.pcm);
          if (samples.length > 0) {
            this.queue.push(samples);
            this.wakeUp();
          }
          break;
        }
        case 'flushed':
          this.flushesAnswered++;
          if (this.ended && this.flushesSettled) this.finish();
          break;
        case 'done':
          this.finish();
          break;
        case 'error':
          this.fail(ev.error);
          break;
        case 'malformed':
          this.fail(this.failure('sent a message that is not JSON', { code: 'protocol' }));
          break;
        case 'metadata':
          this.requestId = ev.requestId;
          break;
      }
    }
  }

  /** The utterance is over: the audio ends once the queue is drained, and the socket closes. */
  private finish(): void {
    this.settle();
    this.leave();
  }

  /** Closes cleanly: queued messages (a cancel, the close message) go out before the close frame. */
  private leave(): void {
    const bye = this.closeMessage();
    if (bye) this.rawSend(bye);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  /** Only runs once all text is in: before that, a gap in audio is the caller's own pace. */
  private armIdle(): void {
    if (this.done) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.fail(this.failure(`timed out: no data for ${this.idleTimeoutMs} ms`, { code: 'timeout', requestId: this.requestId })),
      this.idleTimeoutMs,
    );
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.error = err;
    this.settle();
    this.ws.terminate();
  }

  private settle(): void {
    this.done = true;
    this.cleanup();
    this.wakeUp();
  }

  private cleanup(): void {
    clearTimeout(this.idleTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async *iterate(): AsyncGenerator<Int16Array, void, undefined> {
    let finished = false;
    try {
      for (;;) {
        if (this.cancelled) break;
        const next = this.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.done) {
          if (this.error !== undefined && !this.cancelled) throw this.error;
          break;
        }
        await new Promise<void>((r) => (this.wake = r));
      }
      finished = true;
    } finally {
      if (!finished || !this.done) this.cancel();
    }
  }
}
