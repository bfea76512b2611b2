/**
 * A fake of the OpenAI Realtime API (GA protocol) on loopback, for tests.
 *
 * - `https` + `ws` on 127.0.0.1, port 0, at `/v1/realtime?model=...` (the URL `OpenAIRealtimeWS`
 *   builds from a base URL `https://127.0.0.1:<port>/v1`). TLS is required: the client only dials
 *   `wss:`. The certificate comes from {@link testTls}; trust it with the client's `ca` option
 *   in-process, or `NODE_EXTRA_CA_CERTS` for a spawned process (see `tls.ts`).
 * - Checks `Authorization: Bearer <key>` (every key it got is recorded in `authKeys`); a wrong
 *   key gets HTTP 401 with OpenAI's `invalid_api_key` body, before the WebSocket upgrade.
 * - Every event, in and out, is typed with the `openai` package's own `RealtimeClientEvent` /
 *   `RealtimeServerEvent`, so a field-name mistake here is a compile error.
 *
 * Behaviour (GA event names; see the `openai` 6.x types in `resources/realtime/realtime.d.ts`):
 * - connect → `session.created` (the real defaults: `audio/pcm` 24 kHz in and out, server VAD).
 * - `session.update` → `session.updated` with the merged, effective session; rejects a session
 *   without `type: "realtime"` and unknown (e.g. beta-era) session fields with `unknown_parameter`.
 * - `input_audio_buffer.append` → counted per input format (`appendedBytes`), kept in `appended`.
 * - `conversation.item.create` → `conversation.item.added` + `conversation.item.done` (GA; the
 *   beta `conversation.item.created` is not sent).
 * - `response.create` → the next scripted response (or a default one): `response.created`,
 *   `response.output_item.added`, `conversation.item.added`, `response.content_part.added`,
 *   alternating `response.output_audio.delta` / `response.output_audio_transcript.delta`, then
 *   `response.output_audio.done`, `response.output_audio_transcript.done`,
 *   `response.content_part.done`, `response.output_item.done`, `conversation.item.done`, then any
 *   scripted function calls (`response.output_item.added`, `response.function_call_arguments.delta`
 *   / `.done`, `response.output_item.done` with a `function_call` item), then `response.done`.
 *   A second `response.create` while one is active (also while it is being cancelled) gets the
 *   real `conversation_already_has_active_response` error.
 * - `response.cancel` → (scripted late deltas) → `response.output_item.done` (status
 *   `incomplete`) → `response.done` with status `cancelled`; with no active response, the real
 *   `response_cancel_not_active` error.
 * - `conversation.item.truncate` → `conversation.item.truncated`; an error if `audio_end_ms` is past
 *   the audio the item has ("Audio content of Xms is already shorter than Yms", as the real API
 *   says), or the item is not an assistant audio message.
 * - The test pushes server events: VAD start/stop, input transcription, errors,
 *   `rate_limits.updated`, server-initiated responses, and drops the socket.
 */

import { EventEmitter } from 'node:events';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type {
  ConversationItem,
  RateLimitsUpdatedEvent,
  RealtimeAudioFormats,
  RealtimeClientEvent,
  RealtimeConversationItemAssistantMessage,
  RealtimeConversationItemFunctionCall,
  RealtimeError,
  RealtimeResponse,
  RealtimeServerEvent,
  RealtimeSessionCreateRequest,
} from 'openai/resources/realtime/realtime';
import { testTls } from './tls.js';
import type { TestTls } from './tls.js';

/** A server event before the fake stamps its `event_id`. */
type WithoutEventId<E> = E extends unknown ? Omit<E, 'event_id'> : never;
export type OutgoingServerEvent = WithoutEventId<RealtimeServerEvent>;
type ClientEventOf<T extends RealtimeClientEvent['type']> = Extract<RealtimeClientEvent, { type: T }>;

export type AudioFormatType = 'audio/pcm' | 'audio/pcmu' | 'audio/pcma';

/** Bytes per millisecond of each Realtime audio format (pcm is 24 kHz 16-bit mono). */
export const BYTES_PER_MS: Record<AudioFormatType, number> = { 'audio/pcm': 48, 'audio/pcmu': 8, 'audio/pcma': 8 };

export interface ScriptedFunctionCall {
  name: string;
  /** JSON text, or an object (stringified). */
  arguments: string | Record<string, unknown>;
  /** Default: a generated `call_...` id. */
  call_id?: string;
}

/** What one response does. Every field is optional; `{}` is the default response. */
export interface ScriptedResponse {
  /**
   * Raw audio chunks in the session's output format, one `response.output_audio.delta` each.
   * Default: 5 chunks of 20 ms, chunk i filled with byte `0x20 + i`.
   */
  audio?: Buffer[];
  /** Transcript deltas; delta i follows audio chunk i. Default: one word per chunk. */
  transcript?: string[];
  /** No assistant audio message at all (a function-call-only response). */
  noAudio?: boolean;
  /** Function calls, emitted as `function_call` output items after the message. */
  functionCalls?: ScriptedFunctionCall[];
  /** Pause before each streamed event, ms (default 2). */
  intervalMs?: number;
  /** After the last audio delta, stay active until cancelled or `finishResponse()`. */
  hold?: boolean;
  /**
   * Audio deltas that still arrive after the client's `response.cancel`, before the cancelled
   * `response.done` (as in-flight deltas do on the real API). Default 0.
   */
  lateDeltasAfterCancel?: number;
  /** After a `response.cancel`, how long the response stays active (being cancelled) before its `response.done`, ms. Default 0. */
  cancelDelayMs?: number;
  /** `response.done` status when not cancelled (default `completed`). */
  status?: 'completed' | 'failed' | 'incomplete';
}

interface ItemRecord {
  item: ConversationItem;
  /** Output audio bytes sent for this item (assistant audio messages). */
  audioBytes: number;
  audioFormat?: AudioFormatType;
  truncatedAtMs?: number;
}

interface ActiveResponse {
  id: string;
  script: ScriptedResponse;
  /** Set by `response.cancel`; the response stays active until its `response.done`. */
  cancelRequested: boolean;
  /** Set by `finishResponse()` for a held response. */
  released: boolean;
  wake: (() => void) | null;
  output: ConversationItem[];
}

let idCounter = 0;
function nextId(prefix: string): string {
  idCounter += 1;
  return `${prefix}_fake${process.pid.toString(36)}${idCounter.toString(36).padStart(6, '0')}`;
}

/** Session fields the GA `session.update` accepts (RealtimeSessionCreateRequest). */
const SESSION_FIELDS = new Set([
  'type', 'audio', 'include', 'instructions', 'max_output_tokens', 'model', 'output_modalities',
  'parallel_tool_calls', 'prompt', 'reasoning', 'tool_choice', 'tools', 'tracing', 'truncation',
]);

function formatType(f: RealtimeAudioFormats | undefined): AudioFormatType {
  return f?.type ?? 'audio/pcm';
}

function defaultSession(model: string): RealtimeSessionCreateRequest {
  return {
    type: 'realtime',
    model,
    output_modalities: ['audio'],
    instructions: '',
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        turn_detection: {
          type: 'server_vad',
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 500,
          create_response: true,
          interrupt_response: true,
        },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
    },
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    truncation: 'auto',
  };
}

/** One client connection to the fake. */
export class FakeRealtimeConnection {
  readonly id = nextId('sess');
  /** Every client event, in arrival order (unparseable frames are kept as `{type:'<invalid>'}`). */
  readonly clientEvents: RealtimeClientEvent[] = [];
  /** Every server event sent, in order. */
  readonly serverEvents: RealtimeServerEvent[] = [];
  /** Bytes appended with `input_audio_buffer.append`, per input format in effect at the time. */
  readonly appendedBytes: Record<AudioFormatType, number> = { 'audio/pcm': 0, 'audio/pcmu': 0, 'audio/pcma': 0 };
  /** The appended audio chunks, decoded. */
  readonly appended: Buffer[] = [];
  /** Conversation items by id. */
  readonly items = new Map<string, ItemRecord>();
  /** The effective session. */
  session: RealtimeSessionCreateRequest;
  /** The active response, if any (also while a cancel is pending). */
  active: ActiveResponse | null = null;
  /** Scripts for this connection's next responses (before the server-wide queue). */
  readonly scripts: ScriptedResponse[] = [];
  /** Resolves when the socket closes, with the code the fake saw. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly emitter = new EventEmitter();
  private lastItemId: string | null = null;
  private readonly conversationId = nextId('conv');

  constructor(
    readonly ws: WebSocket,
    readonly model: string,
    readonly apiKey: string,
    private readonly nextScript: () => ScriptedResponse | undefined,
  ) {
    this.session = defaultSession(model);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        if (this.active) this.wakeActive();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', () => {
      /* the close that follows is what tests look at */
    });
    this.send({ type: 'session.created', session: this.wireSession() });
  }

  // ---- what a test calls --------------------------------------------------------------------

  /** Sends any server event (the fake stamps `event_id`). */
  send(event: OutgoingServerEvent): RealtimeServerEvent {
    const full = { ...event, event_id: nextId('event') } as RealtimeServerEvent;
    this.serverEvents.push(full);
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(full));
    return full;
  }

  /** Client events of one type, in order. */
  eventsOf<T extends RealtimeClientEvent['type']>(type: T): ClientEventOf<T>[] {
    return this.clientEvents.filter((e): e is ClientEventOf<T> => e.type === type);
  }

  /** Resolves with the first client event of `type` matching `pred` (already received, or next). */
  waitForClientEvent<T extends RealtimeClientEvent['type']>(
    type: T,
    pred: (e: ClientEventOf<T>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ClientEventOf<T>> {
    const found = this.eventsOf(type).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onEvent = (e: RealtimeClientEvent): void => {
        if (e.type === type && pred(e as ClientEventOf<T>)) {
          clearTimeout(timer);
          this.emitter.off('client', onEvent);
          resolve(e as ClientEventOf<T>);
        }
      };
      const timer = setTimeout(() => {
        this.emitter.off('client', onEvent);
        reject(new Error(`fake realtime: no client event ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.emitter.on('client', onEvent);
    });
  }

  /** Queues scripts for this connection's next responses. */
  script(...scripts: ScriptedResponse[]): this {
    this.scripts.push(...scripts);
    return this;
  }

  /** `input_audio_buffer.speech_started` (server VAD heard the caller). Returns the user item id. */
  speechStarted(opts: { audio_start_ms?: number; item_id?: string } = {}): string {
    const item_id = opts.item_id ?? nextId('item');
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: opts.audio_start_ms ?? this.inputMs(), item_id });
    return item_id;
  }

  /** `input_audio_buffer.speech_stopped`. */
  speechStopped(item_id: string, opts: { audio_end_ms?: number } = {}): void {
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: opts.audio_end_ms ?? this.inputMs(), item_id });
  }

  /** `conversation.item.input_audio_transcription.completed` with `transcript`. */
  inputTranscriptionCompleted(transcript: string, item_id: string = nextId('item')): void {
    this.send({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id,
      content_index: 0,
      transcript,
      usage: { type: 'duration', seconds: 1 },
    });
  }

  /** An `error` event. */
  sendError(error: RealtimeError): void {
    this.send({ type: 'error', error });
  }

  /** `rate_limits.updated`. */
  rateLimits(rate_limits: RateLimitsUpdatedEvent.RateLimit[]): void {
    this.send({ type: 'rate_limits.updated', rate_limits });
  }

  /** A response the server starts on its own (as server VAD with `create_response` does). */
  startResponse(script?: ScriptedResponse): string | null {
    return this.beginResponse(script ?? this.takeScript(), undefined);
  }

  /** Lets a held response finish normally. */
  finishResponse(): void {
    if (!this.active) return;
    this.active.released = true;
    this.wakeActive();
  }

  /** Drops the TCP connection without a close frame (the client sees 1006). */
  drop(): void {
    this.ws.terminate();
  }

  /** Closes with a close frame. */
  closeWith(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }

  // ---- protocol -----------------------------------------------------------------------------

  private wireSession(): RealtimeSessionCreateRequest {
    // The real session object also carries id/object/expires_at (not in the request type).
    const wire = { ...structuredClone(this.session), id: this.id, object: 'realtime.session', expires_at: 0 };
    return wire;
  }

  private inputMs(): number {
    const f = formatType(this.session.audio?.input?.format);
    return Math.floor(this.appendedBytes[f] / BYTES_PER_MS[f]);
  }

  private outputFormat(): AudioFormatType {
    return formatType(this.session.audio?.output?.format);
  }

  private takeScript(): ScriptedResponse {
    return this.scripts.shift() ?? this.nextScript() ?? {};
  }

  private error(e: { code: string | null; message: string; param?: string | null; type?: string }, client?: RealtimeClientEvent): void {
    this.sendError({
      type: e.type ?? 'invalid_request_error',
      code: e.code,
      message: e.message,
      param: e.param ?? null,
      event_id: client?.event_id ?? null,
    });
  }

  private onMessage(text: string): void {
    let event: RealtimeClientEvent;
    try {
      event = JSON.parse(text) as RealtimeClientEvent;
    } catch {
      this.clientEvents.push({ type: '<invalid>' } as unknown as RealtimeClientEvent);
      this.error({ code: 'invalid_json', message: "The server could not parse the event: it is not valid JSON." });
      return;
    }
    this.clientEvents.push(event);
    this.handle(event);
    // After handling, so a waiter sees the event's effect (appended bytes, a started response).
    this.emitter.emit('client', event);
  }

  private handle(event: RealtimeClientEvent): void {
    switch (event.type) {
      case 'session.update':
        return this.onSessionUpdate(event);
      case 'input_audio_buffer.append': {
        const bytes = Buffer.from(event.audio, 'base64');
        this.appendedBytes[formatType(this.session.audio?.input?.format)] += bytes.length;
        this.appended.push(bytes);
        return;
      }
      case 'input_audio_buffer.commit': {
        const item_id = nextId('item');
        this.send({ type: 'input_audio_buffer.committed', item_id, previous_item_id: this.lastItemId });
        return;
      }
      case 'input_audio_buffer.clear':
        this.send({ type: 'input_audio_buffer.cleared' });
        return;
      case 'conversation.item.create':
        return this.onItemCreate(event);
      case 'conversation.item.truncate':
        return this.onTruncate(event);
      case 'conversation.item.delete':
        if (!this.items.delete(event.item_id)) {
          this.error({ code: 'item_not_found', message: `Item with item_id not found: ${event.item_id}`, param: 'item_id' }, event);
          return;
        }
        this.send({ type: 'conversation.item.deleted', item_id: event.item_id });
        return;
      case 'response.create':
        if (this.active) {
          this.error(
            {
              code: 'conversation_already_has_active_response',
              message: `Conversation already has an active response in progress: ${this.active.id}. Wait until the response is finished before creating a new one.`,
            },
            event,
          );
          return;
        }
        this.beginResponse(this.takeScript(), event);
        return;
      case 'response.cancel':
        if (!this.active || this.active.cancelRequested || (event.response_id && event.response_id !== this.active.id)) {
          this.error({ code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found' }, event);
          return;
        }
        this.active.cancelRequested = true;
        this.wakeActive();
        return;
      default:
        this.error({ code: 'invalid_event', message: `Invalid value: '${(event as { type: string }).type}'. Unsupported event type.`, param: 'type' }, event);
    }
  }

  private onSessionUpdate(event: ClientEventOf<'session.update'>): void {
    const s = event.session as unknown as Record<string, unknown>;
    if (s?.type !== 'realtime') {
      this.error({ code: 'missing_required_parameter', message: "Missing required parameter: 'session.type'.", param: 'session.type' }, event);
      return;
    }
    for (const k of Object.keys(s)) {
      if (!SESSION_FIELDS.has(k)) {
        this.error({ code: 'unknown_parameter', message: `Unknown parameter: 'session.${k}'.`, param: `session.${k}` }, event);
        return;
      }
    }
    const upd = event.session as RealtimeSessionCreateRequest;
    const cur = this.session;
    this.session = {
      ...cur,
      ...upd,
      audio: {
        input: { ...cur.audio?.input, ...upd.audio?.input },
        output: { ...cur.audio?.output, ...upd.audio?.output },
      },
    };
    this.send({ type: 'session.updated', session: this.wireSession() });
  }

  private onItemCreate(event: ClientEventOf<'conversation.item.create'>): void {
    const item = { ...event.item, id: event.item.id ?? nextId('item'), object: 'realtime.item', status: 'completed' } as ConversationItem;
    this.addItem(item, { audioBytes: 0 });
    this.send({ type: 'conversation.item.added', item, previous_item_id: event.previous_item_id ?? this.lastItemId });
    this.send({ type: 'conversation.item.done', item, previous_item_id: event.previous_item_id ?? this.lastItemId });
    this.lastItemId = item.id!;
  }

  private addItem(item: ConversationItem, rec: Omit<ItemRecord, 'item'>): ItemRecord {
    const r: ItemRecord = { item, ...rec };
    this.items.set(item.id!, r);
    return r;
  }

  private onTruncate(event: ClientEventOf<'conversation.item.truncate'>): void {
    const rec = this.items.get(event.item_id);
    if (!rec) {
      this.error({ code: 'item_not_found', message: `Item with item_id not found: ${event.item_id}`, param: 'item_id' }, event);
      return;
    }
    if (rec.item.type !== 'message' || rec.item.role !== 'assistant' || !rec.audioFormat) {
      this.error({ code: 'unsupported_content_type', message: 'Only model output audio messages can be truncated' }, event);
      return;
    }
    const audioMs = rec.audioBytes / BYTES_PER_MS[rec.audioFormat];
    if (event.audio_end_ms > audioMs) {
      this.error(
        { code: 'invalid_value', message: `Audio content of ${Math.floor(audioMs)}ms is already shorter than ${event.audio_end_ms}ms`, param: 'audio_end_ms' },
        event,
      );
      return;
    }
    rec.truncatedAtMs = event.audio_end_ms;
    this.send({ type: 'conversation.item.truncated', item_id: event.item_id, content_index: event.content_index, audio_end_ms: event.audio_end_ms });
  }

  private wakeActive(): void {
    const w = this.active?.wake;
    if (w) {
      this.active!.wake = null;
      w();
    }
  }

  /** Waits `ms`, or less if the response is cancelled/released or the socket closes. */
  private pause(r: ActiveResponse, ms: number, untilWoken = false): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    if (!untilWoken && (r.cancelRequested || ms <= 0)) return Promise.resolve();
    if (untilWoken && (r.cancelRequested || r.released)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = untilWoken ? undefined : setTimeout(done, ms);
      function done(): void {
        if (timer) clearTimeout(timer);
        r.wake = null;
        resolve();
      }
      r.wake = done;
    });
  }

  private beginResponse(script: ScriptedResponse, client: ClientEventOf<'response.create'> | undefined): string | null {
    if (this.active) return null;
    const r: ActiveResponse = { id: nextId('resp'), script, cancelRequested: false, released: false, wake: null, output: [] };
    this.active = r;
    void client;
    void this.runResponse(r).finally(() => {
      if (this.active === r) this.active = null;
    });
    return r.id;
  }

  private responseObject(r: ActiveResponse, status: RealtimeResponse['status']): RealtimeResponse {
    const format = this.session.audio?.output?.format ?? { type: 'audio/pcm', rate: 24000 };
    const voice = this.session.audio?.output?.voice;
    const base: RealtimeResponse = {
      id: r.id,
      object: 'realtime.response',
      status,
      conversation_id: this.conversationId,
      output: structuredClone(r.output),
      output_modalities: ['audio'],
      audio: { output: { format, voice: typeof voice === 'string' ? voice : undefined } },
      max_output_tokens: 'inf',
      metadata: null,
    };
    if (status === 'cancelled') base.status_details = { type: 'cancelled', reason: 'client_cancelled' };
    else if (status !== 'in_progress') base.status_details = { type: status ?? 'completed' };
    return base;
  }

  private open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  private async runResponse(r: ActiveResponse): Promise<void> {
    const s = r.script;
    const interval = s.intervalMs ?? 2;
    const format = this.outputFormat();
    const chunkBytes = 20 * BYTES_PER_MS[format];
    const audio = s.noAudio ? [] : (s.audio ?? Array.from({ length: 5 }, (_, i) => Buffer.alloc(chunkBytes, 0x20 + i)));
    const words = s.transcript ?? ['Hello', ' from', ' the', ' fake', ' agent.'].slice(0, audio.length);
    this.send({ type: 'response.created', response: this.responseObject(r, 'in_progress') });

    let outputIndex = 0;
    let cancelled = false;
    let late = s.lateDeltasAfterCancel ?? 0;

    if (!s.noAudio) {
      const itemId = nextId('item');
      const item: RealtimeConversationItemAssistantMessage = { id: itemId, object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] };
      const rec = this.addItem(item, { audioBytes: 0, audioFormat: format });
      const base = { response_id: r.id, item_id: itemId, output_index: outputIndex, content_index: 0 };
      await this.pause(r, interval);
      this.send({ type: 'response.output_item.added', response_id: r.id, output_index: outputIndex, item: structuredClone(item) });
      this.send({ type: 'conversation.item.added', item: structuredClone(item), previous_item_id: this.lastItemId });
      this.lastItemId = itemId;
      this.send({ type: 'response.content_part.added', ...base, part: { type: 'audio', transcript: '' } });
      let transcript = '';
      const n = Math.max(audio.length, words.length);
      for (let i = 0; i < n && this.open(); i++) {
        await this.pause(r, interval);
        if (r.cancelRequested) {
          if (late <= 0) {
            cancelled = true;
            break;
          }
          late -= 1;
        }
        const chunk = audio[i];
        if (chunk) {
          rec.audioBytes += chunk.length;
          this.send({ type: 'response.output_audio.delta', ...base, delta: chunk.toString('base64') });
        }
        const word = words[i];
        if (word !== undefined) {
          transcript += word;
          this.send({ type: 'response.output_audio_transcript.delta', ...base, delta: word });
        }
      }
      if (!cancelled && r.cancelRequested) cancelled = true;
      if (!cancelled && s.hold) {
        await this.pause(r, 0, true);
        cancelled = r.cancelRequested;
      }
      if (!this.open()) return;
      if (cancelled) {
        if (s.cancelDelayMs) {
          await new Promise((resolve) => setTimeout(resolve, s.cancelDelayMs));
          if (!this.open()) return;
        }
        // Late deltas beyond the script's chunks are synthesised (in-flight audio after a cancel).
        for (; late > 0; late--) {
          const chunk = Buffer.alloc(chunkBytes, 0x7e);
          rec.audioBytes += chunk.length;
          this.send({ type: 'response.output_audio.delta', ...base, delta: chunk.toString('base64') });
        }
        const done: RealtimeConversationItemAssistantMessage = { ...item, status: 'incomplete', content: [{ type: 'output_audio', transcript }] };
        rec.item = done;
        r.output.push(done);
        this.send({ type: 'response.output_item.done', response_id: r.id, output_index: outputIndex, item: structuredClone(done) });
        this.send({ type: 'response.done', response: this.responseObject(r, 'cancelled') });
        return;
      }
      this.send({ type: 'response.output_audio.done', ...base });
      this.send({ type: 'response.output_audio_transcript.done', ...base, transcript });
      this.send({ type: 'response.content_part.done', ...base, part: { type: 'audio', transcript } });
      const done: RealtimeConversationItemAssistantMessage = { ...item, status: 'completed', content: [{ type: 'output_audio', transcript }] };
      rec.item = done;
      r.output.push(done);
      this.send({ type: 'response.output_item.done', response_id: r.id, output_index: outputIndex, item: structuredClone(done) });
      this.send({ type: 'conversation.item.done', item: structuredClone(done), previous_item_id: null });
      outputIndex += 1;
    }

    for (const fc of s.functionCalls ?? []) {
      await this.pause(r, interval);
      if (!this.open()) return;
      if (r.cancelRequested) {
        this.send({ type: 'response.done', response: this.responseObject(r, 'cancelled') });
        return;
      }
      const args = typeof fc.arguments === 'string' ? fc.arguments : JSON.stringify(fc.arguments);
      const call_id = fc.call_id ?? nextId('call');
      const itemId = nextId('item');
      const started: RealtimeConversationItemFunctionCall = { id: itemId, object: 'realtime.item', type: 'function_call', status: 'in_progress', name: fc.name, call_id, arguments: '' };
      this.addItem(started, { audioBytes: 0 });
      this.send({ type: 'response.output_item.added', response_id: r.id, output_index: outputIndex, item: structuredClone(started) });
      this.send({ type: 'conversation.item.added', item: structuredClone(started), previous_item_id: this.lastItemId });
      this.lastItemId = itemId;
      this.send({ type: 'response.function_call_arguments.delta', response_id: r.id, item_id: itemId, output_index: outputIndex, call_id, delta: args });
      this.send({ type: 'response.function_call_arguments.done', response_id: r.id, item_id: itemId, output_index: outputIndex, call_id, name: fc.name, arguments: args });
      const done: RealtimeConversationItemFunctionCall = { ...started, status: 'completed', arguments: args };
      this.items.get(itemId)!.item = done;
      r.output.push(done);
      this.send({ type: 'response.output_item.done', response_id: r.id, output_index: outputIndex, item: structuredClone(done) });
      this.send({ type: 'conversation.item.done', item: structuredClone(done), previous_item_id: null });
      outputIndex += 1;
    }
    if (!this.open()) return;
    this.send({ type: 'response.done', response: this.responseObject(r, s.status ?? 'completed') });
  }
}

export interface FakeRealtimeOptions {
  /** The key clients must send as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Default: {@link testTls}(). */
  tls?: TestTls;
}

/** The fake server. */
export class FakeOpenAIRealtime {
  /** Every bearer key presented, right or wrong, in order. */
  readonly authKeys: string[] = [];
  /** Models requested in `?model=`, in order. */
  readonly models: string[] = [];
  readonly connections: FakeRealtimeConnection[] = [];
  /** Upgrades refused (wrong key, wrong path, no model). */
  rejected = 0;
  /** Scripts for the next responses of any connection. */
  readonly scripts: ScriptedResponse[] = [];
  readonly tls: TestTls;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly emitter = new EventEmitter();
  private port = 0;

  private constructor(private readonly opts: FakeRealtimeOptions) {
    this.tls = opts.tls ?? testTls();
    this.server = createServer({ key: this.tls.key, cert: this.tls.cert }, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', code: null, param: null } }));
    });
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  static async start(opts: FakeRealtimeOptions): Promise<FakeOpenAIRealtime> {
    const fake = new FakeOpenAIRealtime(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** `https://127.0.0.1:<port>/v1`: the value for `OPENAI_BASE_URL`. */
  get baseUrl(): string {
    return `https://127.0.0.1:${this.port}/v1`;
  }

  /** Queues scripts for the next responses (any connection). */
  script(...scripts: ScriptedResponse[]): this {
    this.scripts.push(...scripts);
    return this;
  }

  /** Resolves with the `n`-th connection (0-based), now or when it arrives. */
  waitForConnection(n = 0, timeoutMs = 5000): Promise<FakeRealtimeConnection> {
    const have = this.connections[n];
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const on = (): void => {
        const c = this.connections[n];
        if (c) {
          clearTimeout(timer);
          this.emitter.off('connection', on);
          resolve(c);
        }
      };
      const timer = setTimeout(() => {
        this.emitter.off('connection', on);
        reject(new Error(`fake realtime: no connection #${n} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.emitter.on('connection', on);
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private reject(socket: Duplex, status: number, reason: string, error: { message: string; code: string | null }): void {
    this.rejected += 1;
    const body = JSON.stringify({ error: { message: error.message, type: 'invalid_request_error', code: error.code, param: null } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.pathname !== '/v1/realtime') {
      this.reject(socket, 404, 'Not Found', { message: `Invalid URL (GET ${url.pathname})`, code: null });
      return;
    }
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(auth);
    const key = m?.[1] ?? '';
    if (m) this.authKeys.push(key);
    if (key !== this.opts.apiKey) {
      // Like the real API, the message shows only a masked key.
      const masked = key.length > 8 ? `${key.slice(0, 3)}*****${key.slice(-4)}` : '*****';
      this.reject(socket, 401, 'Unauthorized', {
        message: m ? `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.` : "You didn't provide an API key.",
        code: m ? 'invalid_api_key' : null,
      });
      return;
    }
    const model = url.searchParams.get('model');
    if (!model) {
      this.reject(socket, 400, 'Bad Request', { message: "Missing required parameter: 'model'.", code: 'missing_required_parameter' });
      return;
    }
    this.models.push(model);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new FakeRealtimeConnection(ws, model, key, () => this.scripts.shift());
      this.connections.push(conn);
      this.emitter.emit('connection', conn);
    });
  }
}
