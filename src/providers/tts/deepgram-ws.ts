/**
 * Deepgram Aura text-to-speech with streamed text input, over its WebSocket API:
 *
 *   GET {base}/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000   (upgraded)
 *   Authorization: Token <key>
 *
 * Client messages: `{"type": "Speak", "text": "..."}` pieces, `{"type": "Flush"}` to speak what is
 * buffered, `{"type": "Clear"}` to drop buffered text and audio, `{"type": "Close"}` to leave.
 * Server messages: binary frames of raw 16-bit little-endian PCM (no container on the socket),
 * `{"type": "Metadata", "request_id", "model_name", ...}` on connect, `{"type": "Flushed",
 * "sequence_id"}` after a flush's audio, `{"type": "Cleared", "sequence_id"}`, and
 * `{"type": "Warning", "description", "code"}` (older: `warn_code`, `warn_msg`). A refused
 * handshake is an HTTP error with `{"err_code", "err_msg", "request_id"}`; errors after the upgrade
 * arrive as a close frame (1008 `DATA-0000 ...`, 1011 `NET-0001 ...`).
 *
 * Deepgram's docs say `Close` closes at once, so the end of an utterance is a `Flush`, then the
 * `Flushed` of every flush sent, then `Close`. Deepgram allows 20 flushes a minute; mid-stream
 * flushes past that budget are skipped (the server still speaks its buffer as text arrives) so the
 * final one always fits.
 */
import type { IncomingMessage } from 'node:http';
import type { RawData } from 'ws';
import { registerSecret } from '../../util/logger.js';
import { DEEPGRAM_DEFAULT_BASE_URL, DEEPGRAM_LINEAR16_RATES, deepgramVoiceFor, parseDeepgramError } from './deepgram.js';
import { checkApiKey, checkRate, httpError, resolveBaseUrl, timeoutOf } from './stream.js';
import type { ParsedError } from './stream.js';
import type { ProviderError } from './types.js';
import type { StreamingTtsProvider, StreamingTtsProviderOptions, TtsTextStream, TtsTextStreamRequest } from './types.js';
import { frameBytes, openTtsSocket, parseJsonMessage, WsTextStream } from './ws-text-stream.js';
import type { TtsServerEvent, TtsWireMessage } from './ws-text-stream.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Deepgram's limit: 20 `Flush` messages per 60 s on a connection. */
export const DEEPGRAM_FLUSHES_PER_MINUTE = 20;
const FLUSH_WINDOW_MS = 60_000;

export type DeepgramWsOptions = StreamingTtsProviderOptions;

/** The ProviderError of a refused handshake, from the JSON body or the `dg-error` header. */
function handshakeError(apiKey: string, res: IncomingMessage, body: string): ProviderError {
  let parsed: ParsedError = {};
  for (const text of [body, String(res.headers['dg-error'] ?? '')]) {
    try {
      parsed = parseDeepgramError(JSON.parse(text));
      if (parsed.message || parsed.code) break;
    } catch {
      /* not JSON: try the next source */
    }
  }
  if (!parsed.message && body.trim() && !body.trimStart().startsWith('{')) parsed.message = body;
  const rid = res.headers['dg-request-id'];
  if (!parsed.requestId && typeof rid === 'string') parsed.requestId = rid;
  return httpError('deepgram', apiKey, res.statusCode ?? 0, parsed, res.statusMessage ?? '');
}

/** Deepgram Aura TTS that takes its text as a stream ({@link StreamingTtsProvider}). */
export class DeepgramWsTts implements StreamingTtsProvider {
  readonly name = 'deepgram' as const;
  readonly sampleRateHz: number;
  private readonly apiKey: string;
  private readonly wsBase: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(opts: DeepgramWsOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('deepgram', opts.apiKey);
    registerSecret(this.apiKey);
    this.wsBase = resolveBaseUrl('deepgram', opts.baseUrl, DEEPGRAM_DEFAULT_BASE_URL).replace(/\/v1$/, '').replace(/^http/, 'ws');
    // Deepgram's model *is* the voice: `model` acts as the default voice.
    this.defaultVoiceId = opts.defaultVoiceId?.trim() || opts.model?.trim() || undefined;
    this.sampleRateHz = checkRate('deepgram', opts.sampleRateHz ?? 16000, DEEPGRAM_LINEAR16_RATES);
    this.idleTimeoutMs = timeoutOf('deepgram', opts.timeoutMs);
    this.connectTimeoutMs = timeoutOf('deepgram', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  }

  /** The speak URL for a request (no secret in it: the key goes in a header). */
  speakUrl(req: TtsTextStreamRequest): string {
    const url = new URL(`${this.wsBase}/v1/speak`);
    url.searchParams.set('model', deepgramVoiceFor(req, this.defaultVoiceId));
    url.searchParams.set('encoding', 'linear16');
    url.searchParams.set('sample_rate', String(this.sampleRateHz));
    return url.toString();
  }

  async openTextStream(req: TtsTextStreamRequest): Promise<TtsTextStream> {
    const signal = req.signal;
    signal?.throwIfAborted();
    const apiKey = this.apiKey;
    const ws = await openTtsSocket({
      provider: 'deepgram',
      apiKey,
      url: this.speakUrl(req),
      headers: { authorization: `Token ${apiKey}` },
      timeoutMs: this.connectTimeoutMs,
      signal,
      refused: (res, body) => handshakeError(apiKey, res, body),
    });
    return new DeepgramTextStream({ ws, provider: 'deepgram', apiKey, signal, idleTimeoutMs: this.idleTimeoutMs });
  }
}

/** The speak protocol; {@link WsTextStream} runs the stream and counts the flushes. */
class DeepgramTextStream extends WsTextStream {
  /** When each recent flush went out, for Deepgram's per-minute budget. */
  private readonly flushTimesMs: number[] = [];

  protected override textMessage(text: string): TtsWireMessage {
    return { type: 'Speak', text };
  }

  protected override flushMessage(final: boolean): TtsWireMessage | undefined {
    if (!this.unflushed) return undefined;
    if (!final) {
      // Keep one flush of the budget for end(): without its Flushed the utterance cannot finish.
      const now = Date.now();
      while (this.flushTimesMs.length && now - this.flushTimesMs[0] >= FLUSH_WINDOW_MS) this.flushTimesMs.shift();
      if (this.flushTimesMs.length >= DEEPGRAM_FLUSHES_PER_MINUTE - 1) return undefined;
    }
    this.flushTimesMs.push(Date.now());
    return { type: 'Flush' };
  }

  protected override endInput(): boolean {
    // The end is a final flush: the utterance is over once every flush has its Flushed.
    if (this.unflushed) this.sendFlush(true);
    return this.flushesSettled;
  }

  protected override cancelMessage(): TtsWireMessage {
    // Clear stops the generation at Deepgram at once; Close then ends the connection.
    return { type: 'Clear' };
  }

  protected override closeMessage(): TtsWireMessage {
    return { type: 'Close' };
  }

  protected override closeCode(reason: string): string {
    // Deepgram's close reasons start with its error code (`DATA-0000`, `NET-0001`).
    return /^([A-Z]+-\d{4})\b/.exec(reason)?.[1] ?? 'closed';
  }

  protected override parse(data: RawData, isBinary: boolean): readonly TtsServerEvent[] {
    if (isBinary) return [{ type: 'audio', pcm: frameBytes(data) }];
    const msg = parseJsonMessage(data);
    if (!msg) return [{ type: 'malformed' }];
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
    switch (msg.type) {
      case 'Metadata':
        return [{ type: 'metadata', requestId: str(msg.request_id) }];
      case 'Flushed':
        return [{ type: 'flushed' }];
      case 'Error':
        return [{ type: 'error', error: this.providerFailure(str(msg.err_msg) ?? str(msg.description) ?? str(msg.message), str(msg.err_code) ?? str(msg.code)) }];
      default:
        // Cleared (after our Clear), Warning (e.g. a flush over the limit) and unknown types: nothing to do.
        return [];
    }
  }
}
