/**
 * Shared helpers of the media tests (not a test file): signals and their analysis, raw
 * WebSockets with recorded messages and close codes, local phones that answer, and calls kept up
 * by a flow so a media stream can attach to them.
 */
import { WebSocket } from 'ws';
import { expect } from 'vitest';
import { LocalPhoneClient } from '../../src/softphone/local-phone-client.js';
import type { PhoneServerMessage } from '../../src/local/ws/phone-protocol.js';
import { connectMediaStream } from '../../streams/media-stream-client.js';
import type { MediaStreamClient } from '../../streams/media-stream-client.js';
import type { Encapsulation } from '../../streams/protocols/encapsulation.js';
import type { TestServer } from '../helpers/server.js';

export const RATE = 8000;
export const FRAME = 160;

// ---------------------------------------------------------------- signals

/** A sine of `freqHz` (Int16, rounded) starting at sample index `offset` of a continuous tone. */
export function tone(samples: number, freqHz: number, amplitude: number, rateHz = RATE, offset = 0): Int16Array {
  const out = new Int16Array(samples);
  const w = (2 * Math.PI * freqHz) / rateHz;
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin(w * (i + offset)));
  return out;
}

/**
 * A probe: a 1 kHz tone whose amplitude steps with every 20 ms frame (`base + step * frame`),
 * so an exact comparison also catches a dropped, repeated or reordered frame.
 */
export function probe(frames: number, base = 4000, step = 37): Int16Array {
  const out = new Int16Array(frames * FRAME);
  for (let f = 0; f < frames; f++) out.set(tone(FRAME, 1000, base + step * f, RATE, f * FRAME), f * FRAME);
  return out;
}

/** `samples` cut into 20 ms frames (copies). */
export function framesOf(samples: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i < samples.length; i += FRAME) out.push(samples.slice(i, i + FRAME));
  return out;
}

export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function isSilent(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (frame[i] !== 0) return false;
  return true;
}

/** The frames that carry sound (the mixer sends silence frames while nothing plays), joined. */
export function audible(frames: Int16Array[]): Int16Array {
  return concat(frames.filter((f) => !isSilent(f)));
}

export function rms(x: ArrayLike<number>, start = 0, end = x.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, end - start));
}

/** Goertzel: the amplitude of the `freqHz` component of x[start..end) (a pure tone of amplitude A gives ~A). */
export function goertzel(x: ArrayLike<number>, freqHz: number, rateHz = RATE, start = 0, end = x.length): number {
  const n = end - start;
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    const s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / n;
}

/** The frequency (10 Hz grid, 100..3500 Hz) with the strongest Goertzel response. */
export function dominantFrequency(x: ArrayLike<number>, rateHz = RATE, start = 0, end = x.length): number {
  let best = 0;
  let bestAmp = -1;
  for (let f = 100; f <= 3500; f += 10) {
    const a = goertzel(x, f, rateHz, start, end);
    if (a > bestAmp) {
      bestAmp = a;
      best = f;
    }
  }
  return best;
}

/** Asserts `got` holds exactly `want` (with a readable message on the first difference). */
export function expectSamples(got: Int16Array, want: Int16Array): void {
  let firstDiff = -1;
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) {
      firstDiff = i;
      break;
    }
  }
  expect({ length: got.length, firstDiff }).toEqual({ length: want.length, firstDiff: -1 });
}

// ---------------------------------------------------------------- waiting

/** Polls `cond` every 10 ms until it holds; fails with `what` after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- raw sockets

export function wsBase(server: TestServer): string {
  return server.url.replace(/^http/, 'ws');
}

/**
 * A raw WebSocket client that records everything: text messages (parsed when JSON), binary
 * messages, and the close code/reason. Opened with {@link openRaw}.
 */
export class RawSocket {
  readonly texts: string[] = [];
  readonly binaries: Buffer[] = [];
  closeInfo: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.binaries.push(Buffer.from(data));
      else this.texts.push(data.toString('utf8'));
    });
    ws.on('error', () => {
      /* a close follows; its code is what the tests check */
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
      });
    });
  }

  get jsons(): any[] {
    return this.texts.map((t) => JSON.parse(t));
  }

  send(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: typeof data !== 'string' });
  }

  sendJson(value: unknown): void {
    this.send(JSON.stringify(value));
  }

  /** Waits for the close (failing after `timeoutMs`). */
  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.closed,
      delay(timeoutMs).then(() => {
        throw new Error(`socket not closed after ${timeoutMs} ms`);
      }),
    ]);
  }

  /** Waits for a JSON text message matching `pred`, looking at those already received too. */
  async waitJson(pred: (m: any) => boolean, what: string, timeoutMs = 10_000): Promise<any> {
    let found: any;
    await until(() => {
      found = this.jsons.find(pred);
      return found !== undefined || this.closeInfo !== undefined;
    }, what, timeoutMs);
    if (found === undefined) throw new Error(`socket closed (${this.closeInfo?.code} ${this.closeInfo?.reason}) waiting for ${what}`);
    return found;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'bye');
  }
}

/** Opens a raw WebSocket (rejects on a failed handshake). */
export function openRaw(url: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const raw = new RawSocket(ws);
    ws.once('open', () => resolve(raw));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The HTTP response of an upgrade the server refuses: status and parsed body (VoIPBIN's envelope). */
export function upgradeRejection(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on('error', () => {
      /* the rejection is reported through unexpected-response */
    });
  });
}

/** Asserts a VoIPBIN error envelope `{error:{status, reason, message, request_id}}`. */
export function expectEnvelope(body: any, status: string, reason: string): void {
  expect(body).toMatchObject({ error: { status, reason } });
  expect(typeof body.error.message).toBe('string');
  expect(body.error.request_id).toMatch(/^req_/);
}

// ---------------------------------------------------------------- phones and calls

/** Creates local numbers for the server's customer. */
export async function addNumbers(server: TestServer, numbers: string[], key = server.key): Promise<void> {
  for (const number of numbers) {
    const res = await server.call('POST', '/numbers', { number }, key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

/** A local phone with every server message and every heard frame recorded. */
export class TestPhone {
  readonly messages: PhoneServerMessage[] = [];
  readonly heard: Int16Array[] = [];
  closeInfo: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly client: LocalPhoneClient) {
    client.on('message', (m) => this.messages.push(m));
    client.on('audio', (f) => this.heard.push(f.slice()));
    this.closed = new Promise((resolve) =>
      client.on('close', (code, reason) => {
        this.closeInfo = { code, reason };
        resolve(this.closeInfo);
      }),
    );
  }

  static async connect(server: TestServer, key = server.key): Promise<TestPhone> {
    return new TestPhone(await LocalPhoneClient.connect(server.url, key));
  }

  /** Connects and registers as `number` (a tel address) or `ext:name`. */
  static async register(server: TestServer, address: string, key = server.key): Promise<TestPhone> {
    const p = await TestPhone.connect(server, key);
    await p.client.register(address.startsWith('ext:') ? { type: 'extension', target: address.slice(4) } : { type: 'tel', target: address });
    return p;
  }

  /** Answers every incoming call. */
  autoAnswer(): this {
    this.client.on('message', (m) => {
      if (m.type === 'incoming') this.client.send({ type: 'answer' });
    });
    return this;
  }

  /** Waits for a message of `type` (already received ones count) matching `pred`. */
  async waitFor<T extends PhoneServerMessage['type']>(
    type: T,
    pred: (m: Extract<PhoneServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<PhoneServerMessage, { type: T }>> {
    let found: Extract<PhoneServerMessage, { type: T }> | undefined;
    await until(() => {
      found = this.messages.find((m): m is Extract<PhoneServerMessage, { type: T }> => m.type === type && pred(m as never));
      return found !== undefined || this.closeInfo !== undefined;
    }, `phone message "${type}"`, timeoutMs);
    if (!found) throw new Error(`phone closed (${this.closeInfo?.code} ${this.closeInfo?.reason}) waiting for "${type}"`);
    return found;
  }

  /** Sends audio as 20 ms frames (all at once: the receiving side paces it). */
  sendAll(samples: Int16Array): void {
    for (const f of framesOf(samples)) this.client.sendAudio(f);
  }

  /** What this phone heard so far, silence frames dropped. */
  audible(): Int16Array {
    return audible(this.heard);
  }

  close(): void {
    this.client.close();
  }
}

/**
 * `POST /calls` to `destination` (a number, or an extension name) with a flow that answers and sleeps 30 s (the call stays up);
 * `phone` (registered at the destination, auto-answering) picks up. Resolves once answered.
 */
export async function keptUpCall(server: TestServer, phone: TestPhone, destination: string, key = server.key): Promise<string> {
  const res = await server.call(
    'POST',
    '/calls',
    {
      // An extension of the account: a tel source must be a number the account owns.
      source: { type: 'extension', target: 'test-dialer' },
      destinations: [destination.startsWith('+') ? { type: 'tel', target: destination } : { type: 'extension', target: destination }],
      actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
    },
    key,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const id = res.body.calls[0].id as string;
  await phone.waitFor('answered', (m) => m.call_id === id);
  await until(() => server.engine.getLive(id)?.answered === true, 'the call answered');
  return id;
}

/** A media_stream client on a call, recording what it hears (copies). */
export async function mediaStream(
  server: TestServer,
  callId: string,
  encapsulation: Encapsulation,
  key = server.key,
): Promise<{ client: MediaStreamClient; heard: Int16Array[]; closed: Promise<[number, string]>; events: string[] }> {
  const client = await connectMediaStream({ url: server.api, callId, encapsulation, accessKey: key });
  const heard: Int16Array[] = [];
  const events: string[] = [];
  client.on('audio', (s) => heard.push(s.slice()));
  client.on('hangup', () => events.push('hangup'));
  client.on('error', () => events.push('error'));
  const closed = new Promise<[number, string]>((resolve) =>
    client.on('close', (code, reason) => {
      events.push(`close:${code}`);
      resolve([code, reason]);
    }),
  );
  return { client, heard, closed, events };
}

/** Polls GET /calls/{id} until `pred` holds on the row; returns the row. */
export async function waitCall(server: TestServer, id: string, pred: (row: any) => boolean, what: string, key = server.key): Promise<any> {
  let row: any;
  await until(async () => {
    const res = await server.call('GET', `/calls/${id}`, undefined, key);
    row = res.body;
    return res.status === 200 && pred(row);
  }, `call ${id}: ${what}`);
  return row;
}

/** Every call id of the customer (first 100). */
export async function callIds(server: TestServer, key = server.key): Promise<string[]> {
  const res = await server.call('GET', '/calls?page_size=100', undefined, key);
  expect(res.status).toBe(200);
  return (res.body.result as { id: string }[]).map((c) => c.id);
}
