/**
 * A fake VoIPBIN cloud (it stands for api.voipbin.net, an external service) on a real `node:http`
 * server at 127.0.0.1, so the real client code runs over real HTTP.
 *
 * It speaks VoIPBIN's wire protocol: `/v1.0` paths, Bearer auth, the error envelope
 * `{error:{status, reason, message, request_id}}`, list envelopes `{result, next_page_token}`
 * (newest first, cursor = last item's `tm_create`), and whatever a test scripts (statuses,
 * `Retry-After`, delays, dropped connections). Every request is recorded.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { canonicalStatus } from '../../src/api/errors.js';
import { createEncapsulationCodec, isEncapsulation } from '../../streams/protocols/index.js';
import type { Encapsulation } from '../../streams/protocols/index.js';
import { nowTimestamp, TM_NEVER } from '../../src/util/time.js';

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Raw request target, e.g. `/v1.0/ais?page_size=10`. */
  url: string;
  /** Path without the `/v1.0` prefix and without the query, e.g. `/ais`. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
  /** `Date.now()` when the request arrived. */
  atMs: number;
}

/** A scripted answer; consumed once, in order, for its method and path. */
export interface ScriptedResponse {
  status?: number;
  /** JSON body. */
  body?: unknown;
  /** Raw body text (wins over `body`), e.g. an HTML error page or an empty string. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (the client may time out meanwhile). */
  delayMs?: number;
  /** Destroy the socket without answering (connection reset). */
  hangUp?: boolean;
}

/**
 * One media_stream connection the fake accepted (`GET /v1.0/calls/{id}/media_stream`, a call it
 * holds): it serves the caller's audio as a continuous 50 frames/s stream and records every frame
 * the client sends, with its arrival time.
 */
export interface FakeMediaStream {
  callId: string;
  encapsulation: Encapsulation;
  /** The request target (to prove no key travels in it). */
  url: string;
  socket: WebSocket;
  /** Decoded 8 kHz audio frames received from the client, in order (copies). */
  received: Int16Array[];
  /** `performance.now()` at the arrival of each received frame. */
  receivedAtMs: number[];
  /** Frames of caller audio sent so far. */
  sentFrames: number;
  /** Resolves once the socket closed. */
  closed: Promise<{ code: number; reason: string }>;
  isClosed: boolean;
}

export interface FakeVoipbinOptions {
  /** When set, requests must carry `Authorization: Bearer <accessKey>`. */
  accessKey?: string;
  /**
   * The caller's audio of every media stream: frame `n` (160 samples at 8 kHz) or undefined for
   * silence. Default: a 440 Hz tone of amplitude 8000.
   */
  callerAudio?: (frame: number) => Int16Array | undefined;
  /** Page size when the request has none (VoIPBIN's default is 10). */
  defaultPageSize?: number;
  /**
   * `GET /ais/{id}` also answers the AI's stored `engine_key`, as VoIPBIN's own server does for the
   * key's owner (the gateway then uses it). Default false: write-only, never returned.
   */
  returnEngineKey?: boolean;
}

type Item = Record<string, unknown> & { id: string; tm_create: string };

/** Collections the fake serves, with the reason prefix of their 404s. */
const COLLECTIONS: Record<string, string> = {
  ais: 'AI',
  aicalls: 'AICALL',
  aimessages: 'AIMESSAGE',
  aisummaries: 'AISUMMARY',
  calls: 'CALL',
  activeflows: 'ACTIVEFLOW',
  flows: 'FLOW',
  messages: 'MESSAGE',
  emails: 'EMAIL',
  numbers: 'NUMBER',
  accesskeys: 'ACCESSKEY',
  billing_accounts: 'BILLING_ACCOUNT',
};

/** Fields a create may never echo back: write-only secrets. */
const WRITE_ONLY = ['engine_key'];

export const FAKE_CUSTOMER_ID = '5e4a0680-804e-11ec-8477-2fea5968d85b';

/** The fake VoIPBIN cloud. */
export class FakeVoipbin {
  /** Requests in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Base URL for the client, `http://127.0.0.1:<port>/v1.0`. */
  readonly baseUrl: string;
  readonly port: number;

  readonly #server: Server;
  readonly #options: FakeVoipbinOptions;
  readonly #scripts = new Map<string, ScriptedResponse[]>();
  readonly #store = new Map<string, Map<string, Item>>();
  /** Write-only values kept aside, never returned (proves the fake honours the contract too). */
  readonly #secrets = new Map<string, Record<string, unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #streamWaiters: Array<(s: FakeMediaStream) => void> = [];
  #streamsTaken = 0;
  #requestSeq = 0;
  /** Media stream connections in arrival order. */
  readonly mediaStreams: FakeMediaStream[] = [];

  private constructor(server: Server, options: FakeVoipbinOptions) {
    this.#server = server;
    this.#options = options;
    this.port = (server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${this.port}/v1.0`;
  }

  /** Starts a fake on 127.0.0.1 on a free port. */
  static async start(options: FakeVoipbinOptions = {}): Promise<FakeVoipbin> {
    let fake: FakeVoipbin | undefined;
    const server = createServer((req, res) => {
      fake!.#handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake = new FakeVoipbin(server, options);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => fake!.#upgrade(req, socket, head));
    return fake;
  }

  /** Stops the server and drops open connections. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const c of this.#wss.clients) c.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Resolves with the next media stream connection (or one that arrived and was not taken yet). */
  nextMediaStream(): Promise<FakeMediaStream> {
    if (this.#streamsTaken < this.mediaStreams.length) return Promise.resolve(this.mediaStreams[this.#streamsTaken++]!);
    return new Promise((resolve) => this.#streamWaiters.push(resolve));
  }

  /** `GET /v1.0/calls/{id}/media_stream?encapsulation=`: VoIPBIN's auth and 404s, then the stream. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: number, reason: string, message: string): void => {
      const body = JSON.stringify(this.#err(status, reason, message).body);
      socket.end(
        `HTTP/1.1 ${status} ${canonicalStatus(status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    this.requests.push({
      method: 'GET',
      url: req.url ?? '/',
      path: url.pathname.replace(/^\/v1\.0(?=\/|$)/, '') || '/',
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody: '',
      body: undefined,
      atMs: Date.now(),
    });
    const m = /^\/v1\.0\/calls\/([^/]+)\/media_stream$/.exec(url.pathname);
    if (!m) return refuse(404, 'ROUTE_NOT_FOUND', `no route for ${url.pathname}`);
    if (this.#options.accessKey !== undefined && req.headers.authorization !== `Bearer ${this.#options.accessKey}`) {
      return refuse(401, 'AUTHENTICATION_REQUIRED', 'authentication required');
    }
    const callId = decodeURIComponent(m[1]!);
    const call = this.#collection('calls').get(callId);
    if (!call) return refuse(404, 'CALL_NOT_FOUND', 'call not found');
    if (call.status === 'hangup') return refuse(409, 'CALL_STATE_INVALID', 'call is not progressing');
    const encapsulation = url.searchParams.get('encapsulation');
    if (!isEncapsulation(encapsulation)) return refuse(400, 'INVALID_ARGUMENT', 'unsupported encapsulation');
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const codec = createEncapsulationCodec(encapsulation);
      let resolveClosed!: (v: { code: number; reason: string }) => void;
      const conn: FakeMediaStream = {
        callId,
        encapsulation,
        url: req.url ?? '',
        socket: ws,
        received: [],
        receivedAtMs: [],
        sentFrames: 0,
        closed: new Promise((r) => (resolveClosed = r)),
        isClosed: false,
      };
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        for (const ev of codec.decode(Buffer.from(data as Buffer))) {
          if (ev.kind !== 'audio') continue;
          conn.received.push(ev.samples.slice());
          conn.receivedAtMs.push(performance.now());
        }
      });
      // The caller's audio: one frame per 20 ms, timers aimed at absolute times.
      const audio = this.#options.callerAudio ?? defaultCallerAudio;
      const silence = new Int16Array(160);
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const tick = (): void => {
        while (conn.sentFrames * 20 <= performance.now() - t0 && ws.readyState === ws.OPEN) {
          ws.send(Buffer.from(codec.encodeAudio(audio(conn.sentFrames) ?? silence)));
          conn.sentFrames++;
        }
        timer = setTimeout(tick, Math.max(0, t0 + conn.sentFrames * 20 - performance.now()));
      };
      tick();
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        conn.isClosed = true;
        resolveClosed({ code, reason: reason.toString() });
      });
      this.mediaStreams.push(conn);
      const w = this.#streamWaiters.shift();
      if (w) {
        this.#streamsTaken++;
        w(conn);
      }
    });
  }

  /** Queues answers for `METHOD /path` (path without `/v1.0` and query); the fake's own behaviour resumes after them. */
  script(method: string, path: string, ...responses: ScriptedResponse[]): this {
    const key = `${method.toUpperCase()} ${path}`;
    const queue = this.#scripts.get(key) ?? [];
    queue.push(...responses);
    this.#scripts.set(key, queue);
    return this;
  }

  /** Requests received for `METHOD /path`. */
  requestsFor(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method.toUpperCase() && r.path === path);
  }

  /** Stores items in a collection as if they had been created one after another. */
  seed(collection: string, items: Record<string, unknown>[]): Item[] {
    return items.map((item) => this.#create(collection, item));
  }

  /** A VoIPBIN error answer with a fresh request id. */
  static error(status: number, reason: string, message: string, extra: ScriptedResponse = {}): ScriptedResponse {
    return {
      status,
      body: { error: { status: canonicalStatus(status), reason, message, request_id: `req_${randomUUID().replace(/-/g, '')}` } },
      ...extra,
    };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: unknown;
      let bodyIsJson = true;
      if (rawBody !== '') {
        try {
          body = JSON.parse(rawBody);
        } catch {
          bodyIsJson = false;
        }
      }
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: url.pathname.replace(/^\/v1\.0(?=\/|$)/, '') || '/',
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        rawBody,
        body,
        atMs: Date.now(),
      };
      this.requests.push(recorded);

      const scripted = this.#scripts.get(`${recorded.method} ${recorded.path}`)?.shift();
      if (scripted) {
        this.#answerScripted(req, res, scripted);
        return;
      }
      const answer = this.#route(recorded, url.pathname, bodyIsJson);
      this.#send(res, answer.status ?? 200, answer);
    });
  }

  #answerScripted(req: IncomingMessage, res: ServerResponse, scripted: ScriptedResponse): void {
    const act = (): void => {
      if (scripted.hangUp) {
        req.socket.destroy();
        return;
      }
      if (res.destroyed || res.writableEnded) return; // the client gave up (timeout)
      const status = scripted.status ?? 200;
      this.#send(res, status, scripted);
    };
    if (scripted.delayMs) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        act();
      }, scripted.delayMs);
      this.#timers.add(timer);
    } else {
      act();
    }
  }

  #send(res: ServerResponse, status: number, answer: ScriptedResponse): void {
    const text = answer.rawBody ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
    const headers: Record<string, string> = { ...(answer.headers ?? {}) };
    if (answer.rawBody === undefined && answer.body !== undefined && !hasHeader(headers, 'content-type')) {
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    res.writeHead(status, headers);
    res.end(text);
  }

  #err(status: number, reason: string, message: string): ScriptedResponse {
    this.#requestSeq += 1;
    return {
      status,
      body: {
        error: {
          status: canonicalStatus(status),
          reason,
          message,
          request_id: `req_fake${String(this.#requestSeq).padStart(8, '0')}`,
        },
      },
    };
  }

  /** VoIPBIN-like default behaviour. */
  #route(r: RecordedRequest, rawPath: string, bodyIsJson: boolean): ScriptedResponse {
    if (!/^\/v1\.0(\/|$)/.test(rawPath)) return this.#err(404, 'ROUTE_NOT_FOUND', `no route for ${rawPath}`);
    if (this.#options.accessKey !== undefined) {
      const auth = r.headers.authorization;
      if (!auth) return this.#err(401, 'AUTHENTICATION_REQUIRED', 'authentication required');
      if (auth !== `Bearer ${this.#options.accessKey}`) return this.#err(401, 'INVALID_CREDENTIALS', 'invalid credentials');
    }
    if (!bodyIsJson) return this.#err(400, 'INVALID_JSON_BODY', 'request body is not valid JSON');

    const segments = r.path.split('/').filter(Boolean);
    const [collection, id, action] = segments;
    if (collection === 'customer' && segments.length === 1 && r.method === 'GET') return { body: this.#customer() };
    if (!collection || !(collection in COLLECTIONS) || segments.length > 3) {
      return this.#err(404, 'ROUTE_NOT_FOUND', `no route for ${r.method} ${r.path}`);
    }
    const notFound = (): ScriptedResponse =>
      this.#err(404, `${COLLECTIONS[collection]}_NOT_FOUND`, `${collection.replace(/s$/, '')} not found`);

    if (id === undefined) {
      if (r.method === 'GET') return { body: this.#list(collection, r.query) };
      if (r.method === 'POST') {
        if (typeof r.body !== 'object' || r.body === null) return this.#err(400, 'INVALID_ARGUMENT', 'a JSON object body is required');
        return { body: this.#createFromRequest(collection, r.body as Record<string, unknown>) };
      }
      return this.#err(404, 'ROUTE_NOT_FOUND', `no route for ${r.method} ${r.path}`);
    }

    const item = this.#collection(collection).get(id);
    if (!item) return notFound();
    if (action === undefined) {
      if (r.method === 'GET' && collection === 'ais' && this.#options.returnEngineKey) {
        const key = this.#secrets.get(id)?.engine_key;
        return { body: key === undefined ? item : { ...item, engine_key: key } };
      }
      if (r.method === 'GET') return { body: item };
      if (r.method === 'PUT') {
        const { kept, secrets } = splitSecrets((r.body ?? {}) as Record<string, unknown>);
        if (Object.keys(secrets).length) this.#secrets.set(id, { ...this.#secrets.get(id), ...secrets });
        Object.assign(item, kept, { tm_update: nowTimestamp() });
        assignActionIds(item);
        return { body: item };
      }
      if (r.method === 'DELETE') {
        this.#collection(collection).delete(id);
        item.tm_delete = nowTimestamp();
        return { body: item };
      }
    }
    if (r.method === 'POST') {
      const transitions: Record<string, [string, string, string]> = {
        hangup: ['calls', 'status', 'hangup'],
        terminate: ['aicalls', 'status', 'terminated'],
        stop: ['activeflows', 'status', 'ended'],
      };
      const t = action ? transitions[action] : undefined;
      if (t && t[0] === collection) {
        item[t[1]] = t[2];
        item.tm_update = nowTimestamp();
        return { body: item };
      }
    }
    return this.#err(404, 'ROUTE_NOT_FOUND', `no route for ${r.method} ${r.path}`);
  }

  #collection(name: string): Map<string, Item> {
    let c = this.#store.get(name);
    if (!c) {
      c = new Map();
      this.#store.set(name, c);
    }
    return c;
  }

  #list(collection: string, query: Record<string, string>): { result: Item[]; next_page_token: string } {
    const pageSize = Number(query.page_size ?? this.#options.defaultPageSize ?? 10);
    const token = query.page_token;
    let items = [...this.#collection(collection).values()];
    if (collection === 'aimessages' && query.aicall_id) items = items.filter((m) => m.aicall_id === query.aicall_id);
    items.sort((a, b) => (a.tm_create < b.tm_create ? 1 : a.tm_create > b.tm_create ? -1 : 0));
    if (token) items = items.filter((i) => i.tm_create < token);
    const result = items.slice(0, pageSize);
    // Like VoIPBIN: the cursor is the last item's tm_create whenever the page is not empty.
    return { result, next_page_token: result.length ? result[result.length - 1]!.tm_create : '' };
  }

  /** POST /<collection>: special shapes for calls, messages and emails, a stored copy for the rest. */
  #createFromRequest(collection: string, body: Record<string, unknown>): unknown {
    if (collection === 'calls') {
      const destinations = Array.isArray(body.destinations) ? (body.destinations as Record<string, unknown>[]) : [];
      const calls = destinations.map((destination) =>
        this.#create('calls', {
          source: body.source,
          destination,
          status: 'dialing',
          direction: 'outgoing',
          type: 'flow',
          flow_id: typeof body.flow_id === 'string' ? body.flow_id : randomUUID(),
          activeflow_id: randomUUID(),
        }),
      );
      return { calls, groupcalls: [] };
    }
    if (collection === 'messages') {
      const destinations = Array.isArray(body.destinations) ? (body.destinations as Record<string, unknown>[]) : [];
      return this.#create('messages', {
        type: 'sms',
        source: body.source,
        text: body.text,
        direction: 'outbound',
        targets: destinations.map((destination) => ({ destination, status: 'queued', parts: 1, tm_update: nowTimestamp() })),
      });
    }
    if (collection === 'emails') {
      return this.#create('emails', {
        source: { type: 'email', target: 'service@voipbin.net' },
        destinations: body.destinations ?? [],
        status: 'initiated',
        subject: body.subject ?? '',
        content: body.content ?? '',
        attachments: body.attachments ?? [],
      });
    }
    return this.#create(collection, body);
  }

  #create(collection: string, fields: Record<string, unknown>): Item {
    const { kept, secrets } = splitSecrets(fields);
    const now = nowTimestamp();
    const item: Item = {
      ...defaultsFor(collection),
      ...kept,
      id: typeof kept.id === 'string' ? kept.id : randomUUID(),
      customer_id: FAKE_CUSTOMER_ID,
      tm_create: now,
      tm_update: now,
      tm_delete: TM_NEVER,
    };
    assignActionIds(item);
    if (Object.keys(secrets).length) this.#secrets.set(item.id, secrets);
    this.#collection(collection).set(item.id, item);
    return item;
  }

  #customer(): Record<string, unknown> {
    return {
      id: FAKE_CUSTOMER_ID,
      name: 'fake customer',
      detail: '',
      email: 'owner@example.com',
      status: 'active',
      tm_create: '2026-01-15T09:30:00.000000Z',
      tm_update: '2026-01-15T09:30:00.000000Z',
      tm_delete: TM_NEVER,
    };
  }
}

/** 440 Hz at amplitude 8000, continuous across frames. */
function defaultCallerAudio(frame: number): Int16Array {
  const out = new Int16Array(160);
  for (let i = 0; i < 160; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (frame * 160 + i)) / 8000));
  return out;
}

function defaultsFor(collection: string): Record<string, unknown> {
  if (collection === 'ais') return { type: 'normal', is_insight_active: false, tool_names: [] };
  if (collection === 'aicalls') return { status: 'progressing' };
  if (collection === 'flows') return { type: 'flow' };
  if (collection === 'numbers') return { status: 'active', type: 'normal' };
  if (collection === 'aisummaries') return { status: 'progressing' };
  return {};
}

/** VoIPBIN assigns an id to every flow action it stores. */
function assignActionIds(item: Record<string, unknown>): void {
  if (Array.isArray(item.actions)) {
    item.actions = (item.actions as Record<string, unknown>[]).map((a) => ({ id: randomUUID(), ...a }));
  }
}

function splitSecrets(fields: Record<string, unknown>): { kept: Record<string, unknown>; secrets: Record<string, unknown> } {
  const kept: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) (WRITE_ONLY.includes(k) ? secrets : kept)[k] = v;
  return { kept, secrets };
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}
