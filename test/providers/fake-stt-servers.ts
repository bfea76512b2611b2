/**
 * Loopback fakes of three streaming speech-to-text WebSocket APIs, each speaking the real
 * service's protocol: OpenAI realtime transcription (`/v1/realtime?intent=transcription`),
 * ElevenLabs Scribe realtime (`/v1/speech-to-text/realtime`) and Cartesia Ink
 * (`/stt/websocket`).
 *
 * Each checks the path, the query and the auth header the way its service does, refusing the
 * handshake with the service's HTTP status and error JSON (the presented key echoed in it when
 * `behavior.echoKeyInErrors` is set, to prove clients scrub it). After the upgrade it
 * "recognises" audio deterministically with {@link Recogniser}: 20 ms frames whose RMS is above
 * {@link VOICE_RMS} are speech; a stretch of speech followed by {@link QUIET_END_MS} of quiet is
 * one utterance. Its text is the next scripted text (`fake.script([...])`, shared by the fake's
 * connections) or `word<N>` (N counts the connection's utterances from 1); while the speech goes
 * on (after {@link INTERIM_AFTER_MS}) the fake sends an interim with the first word, and at the
 * end of the utterance a final with the whole text, each in its provider's message shapes.
 *
 * Every connection records its request, the audio bytes it decoded (in the rate and encoding the
 * protocol fixes), the size of every audio message, every client text message and every message
 * it sent. All server messages of a connection go out through one serial queue, so a delayed
 * final (`behavior.finalDelayMs`) never overtakes or is overtaken.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type {
  ConversationItemInputAudioTranscriptionCompletedEvent,
  ConversationItemInputAudioTranscriptionDeltaEvent,
  InputAudioBufferCommittedEvent,
  InputAudioBufferSpeechStartedEvent,
  InputAudioBufferSpeechStoppedEvent,
  RealtimeErrorEvent,
  RealtimeTranscriptionSessionCreateRequest,
} from 'openai/resources/realtime/realtime';

/** RMS above which a 20 ms frame counts as speech (like fake-deepgram-live's). */
export const VOICE_RMS = 1000;
export const FRAME_MS = 20;
/** Quiet after speech that ends an utterance. */
export const QUIET_END_MS = 300;
/** Speech after which the interim (first word) is sent. */
export const INTERIM_AFTER_MS = 100;

export type FakeSttProvider = 'openai' | 'elevenlabs' | 'cartesia';

export interface FakeSttBehavior {
  /** Never answer the upgrade (connect timeouts, aborts while connecting). */
  hangHandshake?: boolean;
  /** Put the presented key verbatim into auth errors and `errorOnAudio` messages. */
  echoKeyInErrors?: boolean;
  /** Ignore the client's end of audio (OpenAI commit, ElevenLabs commit, Cartesia finalize/done). */
  ignoreEnd?: boolean;
  /** Delay of each final after the utterance ends, ms (default 0). */
  finalDelayMs?: number;
  /** On the first audio message, send the provider's error message with this text (the stream stays open). */
  errorOnAudio?: string;
  /** On the first audio message, close the connection with this code and reason. */
  closeOnAudio?: { code: number; reason: string };
  /** ElevenLabs only: accept the upgrade with a bad key, then send `auth_error` and close (instead of HTTP 401). */
  authErrorAfterUpgrade?: boolean;
  /** ElevenLabs only: never send `committed_transcript_with_timestamps`, even when asked for timestamps. */
  omitTimestamps?: boolean;
}

export interface FakeSttConnection {
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The rate the recogniser runs at (OpenAI: 24000; else the query's). */
  sampleRateHz: number;
  /** All audio bytes received (16-bit LE PCM), decoded from base64 where the protocol uses it. */
  audio: Buffer;
  /** Bytes of audio in each audio message. */
  frameSizes: number[];
  /** Client text messages, parsed when JSON (else the raw string). */
  messages: unknown[];
  /** Messages sent to the client, parsed. */
  sent: Array<Record<string, unknown>>;
  closed: boolean;
  closeCode?: number;
}

export interface FakeSttServer {
  readonly provider: FakeSttProvider;
  /** What the adapter's `baseUrl` is set to (OpenAI: `.../v1`). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly connections: FakeSttConnection[];
  /** Refused handshakes: their HTTP status. */
  readonly refused: number[];
  behavior: FakeSttBehavior;
  /** Texts of the next utterances, in order (shared by all connections); `word<N>` when used up. */
  script(texts: string[]): void;
  close(): Promise<void>;
}

/** One utterance as the recogniser saw it. */
export interface Utterance {
  /** 1-based, per connection. */
  index: number;
  text: string;
  startMs: number;
  /** The end of speech (the start of the quiet that ended it, or where a flush cut it). */
  endMs: number;
}

interface RecogniserEvents {
  start(u: Utterance): void;
  interim(u: Utterance, nowMs: number): void;
  end(u: Utterance): void;
}

/**
 * Voice activity on 20 ms frames with scripted text (see the module comment). `flush()` ends an
 * open utterance where the audio stops (the client's commit / finalize).
 */
export class Recogniser {
  private readonly frameBytes: number;
  private pending = Buffer.alloc(0);
  private frames = 0;
  private utterances = 0;
  private current: (Utterance & { voicedMs: number; quietMs: number; interimSent: boolean }) | undefined;

  constructor(
    private readonly rateHz: number,
    private readonly nextText: (index: number) => string,
    private readonly on: RecogniserEvents,
  ) {
    this.frameBytes = Math.round((rateHz * FRAME_MS) / 1000) * 2;
  }

  /** Position of the audio seen so far, ms. */
  get positionMs(): number {
    return Math.round(((this.frames * this.frameBytes + this.pending.length) / 2 / this.rateHz) * 1000);
  }

  get speaking(): boolean {
    return this.current !== undefined;
  }

  push(bytes: Buffer): void {
    this.pending = Buffer.concat([this.pending, bytes]);
    while (this.pending.length >= this.frameBytes) {
      const frame = this.pending.subarray(0, this.frameBytes);
      this.pending = this.pending.subarray(this.frameBytes);
      this.frame(rms(frame), this.frames * FRAME_MS);
      this.frames++;
    }
  }

  /** Ends the open utterance now; returns it (undefined when there was none). */
  flush(): Utterance | undefined {
    const u = this.current;
    if (!u) return undefined;
    if (!u.interimSent) this.on.interim(u, this.positionMs);
    this.current = undefined;
    const done = { index: u.index, text: u.text, startMs: u.startMs, endMs: u.quietMs > 0 ? u.endMs : this.positionMs };
    this.on.end(done);
    return done;
  }

  private frame(level: number, atMs: number): void {
    const u = this.current;
    if (level > VOICE_RMS) {
      if (!u) {
        const index = ++this.utterances;
        const next = { index, text: this.nextText(index), startMs: atMs, endMs: atMs + FRAME_MS, voicedMs: FRAME_MS, quietMs: 0, interimSent: false };
        this.current = next;
        this.on.start(next);
        return;
      }
      u.voicedMs += FRAME_MS;
      u.quietMs = 0;
      u.endMs = atMs + FRAME_MS;
      if (!u.interimSent && u.voicedMs >= INTERIM_AFTER_MS) {
        u.interimSent = true;
        this.on.interim(u, atMs + FRAME_MS);
      }
      return;
    }
    if (!u) return;
    u.quietMs += FRAME_MS;
    if (u.quietMs >= QUIET_END_MS) {
      this.current = undefined;
      if (!u.interimSent) this.on.interim(u, u.endMs);
      this.on.end({ index: u.index, text: u.text, startMs: u.startMs, endMs: u.endMs });
    }
  }
}

function rms(bytes: Buffer): number {
  const n = bytes.length >> 1;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += bytes.readInt16LE(i * 2) ** 2;
  return n > 0 ? Math.sqrt(sum / n) : 0;
}

const firstWord = (text: string): string => text.split(/\s+/)[0] ?? text;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Words of `text` spread evenly over [startMs, endMs], in seconds. */
function spreadWords(text: string, startMs: number, endMs: number): Array<{ word: string; start: number; end: number }> {
  const words = text.split(/\s+/).filter(Boolean);
  const step = (endMs - startMs) / Math.max(1, words.length);
  return words.map((word, i) => ({ word, start: (startMs + i * step) / 1000, end: (startMs + (i + 1) * step) / 1000 }));
}

/** Writes a raw HTTP error response on the upgrade socket (the handshake is refused). */
function refuse(socket: Socket, status: number, reason: string, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(text)}\r\n` +
      extra +
      'connection: close\r\n\r\n' +
      text,
  );
}

/** A connection's serial output: messages leave in order, a delay holds back everything after it. */
class Outbox {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ws: WebSocket,
    private readonly conn: FakeSttConnection,
  ) {}

  send(msg: Record<string, unknown>, delayMs = 0): void {
    this.then(() => {
      if (this.ws.readyState !== this.ws.OPEN) return;
      this.conn.sent.push(msg);
      this.ws.send(JSON.stringify(msg));
    }, delayMs);
  }

  then(fn: () => void, delayMs = 0): void {
    this.chain = this.chain.then(async () => {
      if (delayMs > 0) await sleep(delayMs);
      fn();
    });
  }
}

interface Handshake {
  url: URL;
  query: Record<string, string>;
  req: IncomingMessage;
}

/** What a provider's upgrade check decides. */
type Verdict = { refuse: { status: number; reason: string; body: unknown; headers?: Record<string, string> } } | { accept: { sampleRateHz: number } };

interface ProviderSpec {
  provider: FakeSttProvider;
  /** Path prefix of `baseUrl` (`/v1` for OpenAI). */
  basePath: string;
  check(h: Handshake, fake: FakeSttServer): Verdict;
  serve(ws: WebSocket, conn: FakeSttConnection, h: Handshake, tools: ServeTools): void;
}

interface ServeTools {
  fake: FakeSttServer;
  out: Outbox;
  recogniser(events: RecogniserEvents): Recogniser;
  /** Records audio bytes and applies `errorOnAudio` / `closeOnAudio`; false when the audio must be dropped. */
  audio(bytes: Buffer, sendError: (message: string) => void): boolean;
}

async function startFake(spec: ProviderSpec, apiKey: string): Promise<FakeSttServer> {
  const connections: FakeSttConnection[] = [];
  const refused: number[] = [];
  const sockets = new Set<Socket>();
  const queue: string[] = [];
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  const fake: FakeSttServer = {
    provider: spec.provider,
    baseUrl: '',
    apiKey,
    connections,
    refused,
    behavior: {},
    script: (texts) => void queue.push(...texts),
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
    const h: Handshake = { url, query: Object.fromEntries(url.searchParams), req };
    const verdict = spec.check(h, fake);
    if ('refuse' in verdict) {
      refused.push(verdict.refuse.status);
      return refuse(socket, verdict.refuse.status, verdict.refuse.reason, verdict.refuse.body, verdict.refuse.headers);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: FakeSttConnection = {
        path: url.pathname,
        query: h.query,
        headers: req.headers,
        sampleRateHz: verdict.accept.sampleRateHz,
        audio: Buffer.alloc(0),
        frameSizes: [],
        messages: [],
        sent: [],
        closed: false,
      };
      connections.push(conn);
      ws.on('close', (code) => {
        conn.closed = true;
        conn.closeCode = code;
      });
      let audioSeen = false;
      const tools: ServeTools = {
        fake,
        out: new Outbox(ws, conn),
        recogniser: (events) => new Recogniser(conn.sampleRateHz, (n) => queue.shift() ?? `word${n}`, events),
        audio: (bytes, sendError) => {
          const first = !audioSeen;
          audioSeen = true;
          if (first && fake.behavior.closeOnAudio) {
            ws.close(fake.behavior.closeOnAudio.code, fake.behavior.closeOnAudio.reason);
            return false;
          }
          conn.frameSizes.push(bytes.length);
          conn.audio = Buffer.concat([conn.audio, bytes]);
          if (first && fake.behavior.errorOnAudio) {
            const echo = fake.behavior.echoKeyInErrors ? ` (key ${presentedKey(spec.provider, req, h.query)})` : '';
            sendError(`${fake.behavior.errorOnAudio}${echo}`);
          }
          return true;
        },
      };
      spec.serve(ws, conn, h, tools);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  (fake as { baseUrl: string }).baseUrl = `http://127.0.0.1:${port}${spec.basePath}`;
  return fake;
}

/** The key a client presented, as its provider reads it. */
function presentedKey(provider: FakeSttProvider, req: IncomingMessage, query: Record<string, string>): string {
  const header = (name: string): string => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  if (provider === 'openai') return header('authorization').replace(/^Bearer\s+/i, '');
  if (provider === 'elevenlabs') return header('xi-api-key');
  return header('x-api-key') || header('authorization').replace(/^Bearer\s+/i, '') || query.api_key || '';
}

function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return data.toString('utf8');
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI realtime transcription
// ---------------------------------------------------------------------------------------------

/** The rate of the Realtime API's `audio/pcm` (the only one it takes). */
export const OPENAI_FAKE_RATE_HZ = 24_000;

const openAiSpec: ProviderSpec = {
  provider: 'openai',
  basePath: '/v1',
  check({ url, query, req }, fake) {
    if (url.pathname !== '/v1/realtime') {
      return { refuse: { status: 404, reason: 'Not Found', body: { error: { message: 'Not found', type: 'invalid_request_error', code: null, param: null } } } };
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${fake.apiKey}`) {
      const presented = auth.replace(/^Bearer\s+/i, '');
      // The real message shows a masked key; the canary behaviour shows all of it.
      const shown = fake.behavior.echoKeyInErrors ? presented : `${presented.slice(0, 3)}***${presented.slice(-4)}`;
      return {
        refuse: {
          status: 401,
          reason: 'Unauthorized',
          body: { error: { message: `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
          headers: { 'x-request-id': 'req_fake_0001' },
        },
      };
    }
    if (query.intent !== 'transcription' || query.model) {
      return { refuse: { status: 400, reason: 'Bad Request', body: { error: { message: 'this fake serves transcription sessions only (intent=transcription, no model)', type: 'invalid_request_error', code: 'invalid_value', param: 'intent' } } } };
    }
    return { accept: { sampleRateHz: OPENAI_FAKE_RATE_HZ } };
  },
  serve(ws, conn, _h, { fake, out, recogniser, audio }) {
    let events = 0;
    let items = 0;
    let previousItem: string | null = null;
    let speechItem: string | undefined;
    /** The utterance is being ended by the client's commit, not by the VAD. */
    let manual = false;
    /** Bytes appended since the last commit (the input audio buffer). */
    let buffered = 0;
    const eventId = (): string => `event_fake_${++events}`;
    const newItem = (): string => `item_fake_${++items}`;
    const sendError = (code: string, message: string, type = 'invalid_request_error'): void => {
      const ev: RealtimeErrorEvent = { type: 'error', event_id: eventId(), error: { type, code, message, param: null, event_id: null } };
      out.send(ev as unknown as Record<string, unknown>);
    };
    const transcribe = (itemId: string, text: string): void => {
      const first = firstWord(text);
      const rest = text.slice(first.length);
      for (const delta of [first, rest].filter(Boolean)) {
        const ev: ConversationItemInputAudioTranscriptionDeltaEvent = { type: 'conversation.item.input_audio_transcription.delta', event_id: eventId(), item_id: itemId, content_index: 0, delta };
        out.send(ev as unknown as Record<string, unknown>, delta === first ? fake.behavior.finalDelayMs ?? 0 : 0);
      }
      const done: ConversationItemInputAudioTranscriptionCompletedEvent = {
        type: 'conversation.item.input_audio_transcription.completed',
        event_id: eventId(),
        item_id: itemId,
        content_index: 0,
        transcript: text,
        usage: { type: 'duration', seconds: 1 },
      };
      out.send(done as unknown as Record<string, unknown>);
    };
    const commit = (itemId: string): void => {
      const ev: InputAudioBufferCommittedEvent = { type: 'input_audio_buffer.committed', event_id: eventId(), item_id: itemId, previous_item_id: previousItem };
      previousItem = itemId;
      buffered = 0;
      out.send(ev as unknown as Record<string, unknown>);
    };
    const vad = recogniser({
      start(u) {
        speechItem = newItem();
        const ev: InputAudioBufferSpeechStartedEvent = { type: 'input_audio_buffer.speech_started', event_id: eventId(), item_id: speechItem, audio_start_ms: u.startMs };
        out.send(ev as unknown as Record<string, unknown>);
      },
      // gpt-4o-transcribe streams deltas only after the turn is committed: no interim during speech.
      interim() {},
      end(u) {
        // A commit during speech makes an item of its own (not the speech_started one) and no speech_stopped.
        const itemId = manual ? newItem() : speechItem ?? newItem();
        if (!manual) {
          const stopped: InputAudioBufferSpeechStoppedEvent = { type: 'input_audio_buffer.speech_stopped', event_id: eventId(), item_id: itemId, audio_end_ms: u.endMs };
          out.send(stopped as unknown as Record<string, unknown>);
        }
        speechItem = undefined;
        commit(itemId);
        transcribe(itemId, u.text);
      },
    });
    let session: RealtimeTranscriptionSessionCreateRequest = {
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 } } },
    };
    out.send({ type: 'session.created', event_id: eventId(), session: { object: 'realtime.transcription_session', id: 'sess_fake_0001', ...session } });

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return sendError('invalid_value', 'binary frames are not supported; send JSON events');
      const msg = parseJson(data) as { type?: string; audio?: string; session?: RealtimeTranscriptionSessionCreateRequest };
      conn.messages.push(msg);
      switch (msg?.type) {
        case 'session.update': {
          const s = msg.session;
          const format = s?.audio?.input?.format as { type?: string; rate?: number } | undefined;
          if (!s || s.type !== 'transcription') return sendError('invalid_value', "Invalid value: session.type must be 'transcription' on a transcription connection");
          if (format && (format.type !== 'audio/pcm' || format.rate !== 24000)) return sendError('invalid_value', 'Invalid audio format: audio/pcm supports rate 24000 only');
          session = { ...session, ...s, audio: { input: { ...session.audio?.input, ...s.audio?.input } } };
          out.send({ type: 'session.updated', event_id: eventId(), session: { object: 'realtime.transcription_session', id: 'sess_fake_0001', ...session } });
          return;
        }
        case 'input_audio_buffer.append': {
          if (typeof msg.audio !== 'string') return sendError('missing_required_parameter', "Missing required parameter: 'audio'");
          const bytes = Buffer.from(msg.audio, 'base64');
          if (!audio(bytes, (m) => sendError('fake_error', m, 'server_error'))) return;
          buffered += bytes.length;
          vad.push(bytes);
          return;
        }
        case 'input_audio_buffer.commit': {
          if (fake.behavior.ignoreEnd) return;
          // The real API refuses to commit less than 100 ms of audio.
          if (buffered < (OPENAI_FAKE_RATE_HZ / 10) * 2) {
            return sendError('input_audio_buffer_commit_empty', 'Error committing input audio buffer: buffer too small. Expected at least 100ms of audio.');
          }
          if (vad.speaking) {
            manual = true;
            vad.flush();
            manual = false;
            return;
          }
          const itemId = newItem();
          commit(itemId);
          transcribe(itemId, '');
          return;
        }
        default:
          return sendError('invalid_value', `Invalid value: '${String(msg?.type)}' is not a supported event type on this fake`);
      }
    });
  },
};

// ---------------------------------------------------------------------------------------------
// ElevenLabs Scribe realtime
// ---------------------------------------------------------------------------------------------

const ELEVENLABS_FORMATS: Record<string, number> = { pcm_8000: 8000, pcm_16000: 16000, pcm_22050: 22050, pcm_24000: 24000, pcm_44100: 44100, pcm_48000: 48000 };

const elevenLabsSpec: ProviderSpec = {
  provider: 'elevenlabs',
  basePath: '',
  check({ url, query, req }, fake) {
    if (url.pathname !== '/v1/speech-to-text/realtime') return { refuse: { status: 404, reason: 'Not Found', body: { detail: 'Not Found' } } };
    const key = req.headers['xi-api-key'];
    if (key !== fake.apiKey && !fake.behavior.authErrorAfterUpgrade) {
      const message = fake.behavior.echoKeyInErrors ? `Invalid API key: ${String(key)}` : 'Invalid API key';
      return { refuse: { status: 401, reason: 'Unauthorized', body: { detail: { status: 'invalid_api_key', message } }, headers: { 'request-id': 'el-fake-req-0001' } } };
    }
    const rate = ELEVENLABS_FORMATS[query.audio_format ?? 'pcm_16000'];
    if (!query.model_id || !rate) {
      return { refuse: { status: 400, reason: 'Bad Request', body: { detail: { status: 'invalid_request', message: 'model_id is required and audio_format must be pcm_<rate>' } } } };
    }
    return { accept: { sampleRateHz: rate } };
  },
  serve(ws, conn, { query, req }, { fake, out, recogniser, audio }) {
    if (fake.behavior.authErrorAfterUpgrade && req.headers['xi-api-key'] !== fake.apiKey) {
      const echo = fake.behavior.echoKeyInErrors ? `: ${String(req.headers['xi-api-key'])}` : '';
      out.send({ message_type: 'auth_error', error: `Invalid API key${echo}` });
      out.then(() => ws.close(1008, 'auth_error'));
      return;
    }
    const timestamps = query.include_timestamps === 'true';
    const committed = (text: string, startMs: number, endMs: number, delayMs: number): void => {
      out.send({ message_type: 'committed_transcript', text }, delayMs);
      if (!timestamps || fake.behavior.omitTimestamps) return;
      const words: Array<Record<string, unknown>> = [];
      for (const [i, w] of spreadWords(text, startMs, endMs).entries()) {
        if (i > 0) words.push({ text: ' ', start: w.start, end: w.start, type: 'spacing' });
        words.push({ text: w.word, start: w.start, end: w.end, type: 'word', logprob: -0.01 });
      }
      out.send({ message_type: 'committed_transcript_with_timestamps', text, language_code: query.language_code ?? 'en', words });
    };
    const vad = recogniser({
      start() {},
      interim(u) {
        out.send({ message_type: 'partial_transcript', text: firstWord(u.text) });
      },
      end(u) {
        committed(u.text, u.startMs, u.endMs, fake.behavior.finalDelayMs ?? 0);
      },
    });
    out.send({
      message_type: 'session_started',
      session_id: 'el-fake-session-0001',
      config: {
        sample_rate: conn.sampleRateHz,
        audio_format: query.audio_format ?? 'pcm_16000',
        language_code: query.language_code,
        model_id: query.model_id,
        commit_strategy: query.commit_strategy ?? 'manual',
        include_timestamps: timestamps,
      },
    });

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return out.send({ message_type: 'input_error', error: 'binary messages are not supported; send input_audio_chunk JSON' });
      const msg = parseJson(data) as { message_type?: string; audio_base_64?: string; commit?: boolean; sample_rate?: number };
      conn.messages.push(msg);
      const isCommit = msg?.message_type === 'commit' || (msg?.message_type === 'input_audio_chunk' && msg.commit === true);
      if (msg?.message_type === 'input_audio_chunk') {
        if (typeof msg.audio_base_64 !== 'string') return out.send({ message_type: 'input_error', error: 'audio_base_64 is required' });
        if (msg.sample_rate !== undefined && msg.sample_rate !== conn.sampleRateHz) {
          return out.send({ message_type: 'input_error', error: `sample_rate ${msg.sample_rate} does not match audio_format ${query.audio_format}` });
        }
        const bytes = Buffer.from(msg.audio_base_64, 'base64');
        if (bytes.length > 0) {
          if (!audio(bytes, (m) => out.send({ message_type: 'transcriber_error', error: m }))) return;
          vad.push(bytes);
        }
      } else if (!isCommit) {
        return out.send({ message_type: 'input_error', error: `unknown message_type ${String(msg?.message_type)}` });
      }
      if (isCommit && !fake.behavior.ignoreEnd) {
        if (!vad.flush()) committed('', vad.positionMs, vad.positionMs, 0);
      }
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Cartesia Ink
// ---------------------------------------------------------------------------------------------

const cartesiaSpec: ProviderSpec = {
  provider: 'cartesia',
  basePath: '',
  check({ url, query, req }, fake) {
    const requestId = 'ca-fake-req-0001';
    const error = (status: number, title: string, message: string, code: string) => ({
      refuse: { status, reason: title, body: { title, message, error_code: code, status_code: status, request_id: requestId, doc_url: 'https://docs.cartesia.ai' } },
    });
    if (url.pathname !== '/stt/websocket') return error(404, 'Not Found', 'Not found', 'not_found');
    const key = presentedKey('cartesia', req, query);
    if (key !== fake.apiKey) {
      return error(401, 'Unauthorized', fake.behavior.echoKeyInErrors ? `Invalid API key: ${key}` : 'Invalid API key', 'invalid_api_key');
    }
    if (!req.headers['cartesia-version'] && !query.cartesia_version) return error(400, 'Bad Request', 'Cartesia-Version header is required', 'missing_version');
    const rate = Number(query.sample_rate);
    if (!query.model || query.encoding !== 'pcm_s16le' || !Number.isInteger(rate) || rate <= 0) {
      return error(400, 'Bad Request', 'model, encoding=pcm_s16le and sample_rate are required by this fake', 'invalid_request');
    }
    return { accept: { sampleRateHz: rate } };
  },
  serve(ws, conn, { query }, { fake, out, recogniser, audio }) {
    const requestId = 'ca-fake-stream-0001';
    const language = query.language ?? 'en';
    const vad = recogniser({
      start() {},
      interim(u, nowMs) {
        const word = firstWord(u.text);
        out.send({ type: 'transcript', is_final: false, request_id: requestId, text: word, duration: (nowMs - u.startMs) / 1000, language, words: [{ word, start: u.startMs / 1000, end: nowMs / 1000 }] });
      },
      end(u) {
        out.send(
          { type: 'transcript', is_final: true, request_id: requestId, text: u.text, duration: (u.endMs - u.startMs) / 1000, language, words: spreadWords(u.text, u.startMs, u.endMs) },
          fake.behavior.finalDelayMs ?? 0,
        );
      },
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (!audio(data, (m) => out.send({ type: 'error', title: 'Transcription error', message: m, error_code: 'fake_error', status_code: 500, request_id: requestId }))) return;
        vad.push(data);
        return;
      }
      const text = data.toString('utf8');
      conn.messages.push(text);
      if (fake.behavior.ignoreEnd) return;
      if (text === 'finalize') {
        vad.flush();
        out.send({ type: 'flush_done', request_id: requestId });
      } else if (text === 'done' || text === 'close') {
        // `close` is the newer API versions' name for `done`.
        vad.flush();
        out.send({ type: 'done', request_id: requestId });
        out.then(() => ws.close(1000));
      } else {
        out.send({ type: 'error', title: 'Invalid command', message: `unknown command ${JSON.stringify(text.slice(0, 40))}`, error_code: 'invalid_command', status_code: 400, request_id: requestId });
      }
    });
  },
};

/** A fake of OpenAI realtime transcription; `baseUrl` ends in `/v1` like `OPENAI_BASE_URL`. */
export function startFakeOpenAiStt(apiKey = 'sk-fake-openai-stt-0123456789abcdef'): Promise<FakeSttServer> {
  return startFake(openAiSpec, apiKey);
}

/** A fake of ElevenLabs Scribe realtime STT. */
export function startFakeElevenLabsStt(apiKey = 'el-fake-stt-key-0123456789abcdef'): Promise<FakeSttServer> {
  return startFake(elevenLabsSpec, apiKey);
}

/** A fake of Cartesia Ink streaming STT. */
export function startFakeCartesiaStt(apiKey = 'sk_car_fake-stt-0123456789abcdef'): Promise<FakeSttServer> {
  return startFake(cartesiaSpec, apiKey);
}

// ---------------------------------------------------------------------------------------------
// Test utilities shared by the STT adapter tests
// ---------------------------------------------------------------------------------------------

/** What a stream delivered. */
export interface SttSeen {
  transcripts: Array<{ text: string; isFinal: boolean; startMs: number; endMs: number }>;
  errors: any[];
}

/** Collects a stream's transcripts and errors. */
export function watchStt(stream: { onTranscript(l: (t: SttSeen['transcripts'][number]) => void): void; onError(l: (e: any) => void): void }): SttSeen {
  const out: SttSeen = { transcripts: [], errors: [] };
  stream.onTranscript((t) => out.transcripts.push(t));
  stream.onError((e) => out.errors.push(e));
  return out;
}

/** `I text start-end` / `F text start-end`. */
export const briefStt = (t: SttSeen['transcripts'][number]): string => `${t.isFinal ? 'F' : 'I'} ${t.text} ${t.startMs}-${t.endMs}`;

/** The error `p` rejects with (throws when it resolves). */
export async function rejectionOf(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Explicit little-endian bytes (independent of host byte order). */
export function le16(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i], i * 2);
  return b;
}

/** Writes `pcm` in frames of `frameSamples`, synchronously. */
export function writeFrames(stream: { write(s: Int16Array): void }, pcm: Int16Array, frameSamples: number): void {
  for (let off = 0; off < pcm.length; off += frameSamples) stream.write(pcm.subarray(off, off + frameSamples));
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const { createServer: createNetServer } = await import('node:net');
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
