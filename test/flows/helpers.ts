/**
 * Helpers of the flow tests (not a test file): a server per file, local phones that record what
 * they get, flows reached by dialing a number, and polling waits on the REST API (never fixed
 * sleeps: the tests run on a busy 2-core machine).
 */
import { join } from 'node:path';
import type { EngineOptions } from '../../src/local/engine/engine.js';
import { expect } from 'vitest';
import { LocalPhoneClient } from '../../src/softphone/local-phone-client.js';
import type { PhoneServerMessage } from '../../src/local/ws/phone-protocol.js';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import type { AgentFactory } from '../../streams/agents/agent.js';

export const RATE = 8000;
export const FRAME = 160;
/** Default wait for a state: generous, the machine may be busy. */
export const WAIT_MS = 20_000;

// ---------------------------------------------------------------- server

export interface FlowServer {
  s: TestServer;
  /** The agent registry the server's engine was constructed with. */
  agents: AgentRegistry;
  /**
   * The agent the next AI actions of this server run (undefined: no agent matches, so they end
   * with NO_AGENT_REASON). The tests of one file share a server, so the registry's catch-all
   * entry hands each AI configuration to the agent the current test chose.
   */
  useAgent(factory: AgentFactory | undefined): void;
  close(): Promise<void>;
}

export async function startFlowServer(env: Record<string, string> = {}, engine: Omit<EngineOptions, 'agents'> = {}): Promise<FlowServer> {
  const t = tempDir('voipbin-ai-flows-');
  let current: AgentFactory | undefined;
  const agents = new AgentRegistry().register(
    () => current !== undefined,
    (options, host) => current!(options, host),
  );
  const s = await startTestServer(join(t.dir, 'db.sqlite'), env, { engine: { ...engine, agents } });
  return {
    s,
    agents,
    useAgent(factory) {
      current = factory;
    },
    async close() {
      current = undefined;
      await s.close();
      t.cleanup();
    },
  };
}

/** A REST call that must succeed (200); returns the body. */
export async function ok(s: TestServer, method: string, path: string, body?: unknown, key = s.key): Promise<any> {
  const res = await s.call(method, path, body, key);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

// ---------------------------------------------------------------- waiting

/** Polls `cond` every 10 ms until it is truthy and returns it; fails naming `what` after `timeoutMs`. */
export async function until<T>(cond: () => T | Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------- signals

/** A sine of `freqHz` at `rateHz`. */
export function tone(samples: number, freqHz: number, amplitude: number, rateHz = RATE): Int16Array {
  const out = new Int16Array(samples);
  const w = (2 * Math.PI * freqHz) / rateHz;
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin(w * i));
  return out;
}

/** Goertzel: the amplitude of the `freqHz` component of `x` (a pure tone of amplitude A gives ~A). */
export function goertzel(x: ArrayLike<number>, freqHz: number, rateHz = RATE): number {
  const coeff = 2 * Math.cos((2 * Math.PI * freqHz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2))) / Math.max(1, x.length);
}

function isSilent(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (frame[i] !== 0) return false;
  return true;
}

/** The frames that carry sound, joined (the mixer sends silence while nothing plays). */
export function audible(frames: Int16Array[]): Int16Array {
  const loud = frames.filter((f) => !isSilent(f));
  const out = new Int16Array(loud.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of loud) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

// ---------------------------------------------------------------- numbers, flows, AIs

let numberSeq = 0;

/** A number no other test of this process uses. */
export function freshNumber(): string {
  numberSeq++;
  return `+1555${String(process.pid % 1000).padStart(3, '0')}${String(numberSeq).padStart(4, '0')}`;
}

export async function createNumber(s: TestServer, number: string, callFlowId?: string): Promise<void> {
  await ok(s, 'POST', '/numbers', { number, ...(callFlowId ? { call_flow_id: callFlowId } : {}) });
}

export async function createFlow(s: TestServer, actions: unknown[]): Promise<string> {
  return (await ok(s, 'POST', '/flows', { name: 'flow test', actions })).id as string;
}

/** An AI through POST /ais (all tools by default). */
export async function createAi(s: TestServer, overrides: Record<string, unknown> = {}): Promise<string> {
  const ai = await ok(s, 'POST', '/ais', {
    name: 'scripted',
    engine_model: 'openai.gpt-4o',
    engine_key: 'sk-test-not-a-real-key',
    init_prompt: 'You are a scripted test agent for ${voipbin.call.source.target}.',
    tts_type: 'elevenlabs',
    stt_type: 'deepgram',
    tool_names: ['all'],
    ...overrides,
  });
  return ai.id as string;
}

// ---------------------------------------------------------------- phones

type Msg<T extends PhoneServerMessage['type']> = Extract<PhoneServerMessage, { type: T }>;

/** A local phone recording every server message and every frame it hears. */
export class Phone {
  readonly messages: PhoneServerMessage[] = [];
  readonly heard: Int16Array[] = [];
  closed = false;

  private constructor(
    readonly client: LocalPhoneClient,
    readonly number: string,
  ) {
    client.on('message', (m) => this.messages.push(m));
    client.on('audio', (f) => this.heard.push(f.slice()));
    client.on('close', () => (this.closed = true));
  }

  /** Creates `number` for the server's customer (unless `create` is false) and registers a phone on it. */
  static async register(s: TestServer, number = freshNumber(), create = true): Promise<Phone> {
    if (create) await createNumber(s, number);
    const p = new Phone(await LocalPhoneClient.connect(s.url, s.key), number);
    await p.client.register({ type: 'tel', target: number });
    return p;
  }

  /** Answers every incoming call. */
  autoAnswer(): this {
    this.client.on('message', (m) => {
      if (m.type === 'incoming') this.client.send({ type: 'answer' });
    });
    return this;
  }

  /** A message of `type` matching `pred` (received earlier ones count). */
  async waitFor<T extends PhoneServerMessage['type']>(type: T, pred: (m: Msg<T>) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Msg<T>> {
    return until(() => {
      if (this.closed) throw new Error(`phone ${this.number} closed waiting for "${type}"`);
      return this.messages.find((m): m is Msg<T> => m.type === type && pred(m as Msg<T>));
    }, `phone ${this.number}: "${type}"`, timeoutMs);
  }

  /** The id of the first call this phone got a message about. */
  async firstCallId(): Promise<string> {
    const m = await until(
      () => this.messages.find((x) => 'call_id' in x) as { call_id: string } | undefined,
      `phone ${this.number}: a call id`,
    );
    return m.call_id;
  }

  /** Sends audio as 20 ms frames. */
  sendAll(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i += FRAME) this.client.sendAudio(samples.subarray(i, i + FRAME));
  }

  close(): void {
    this.client.close();
  }
}

// ---------------------------------------------------------------- calls through a flow

export interface FlowCall {
  /** The caller's phone. */
  phone: Phone;
  callId: string;
  flowId: string;
  /** The number dialed (it routes to the flow). */
  flowNumber: string;
}

/** Creates a flow of `actions` behind a new number; a new phone dials it. */
export async function dialFlow(s: TestServer, actions: unknown[]): Promise<FlowCall> {
  const flowId = await createFlow(s, actions);
  const flowNumber = freshNumber();
  await createNumber(s, flowNumber, flowId);
  const phone = await Phone.register(s);
  phone.client.send({ type: 'dial', to: flowNumber });
  const callId = await phone.firstCallId();
  return { phone, callId, flowId, flowNumber };
}

/** Polls GET /calls/{id} until `pred` holds. */
export async function waitCall(s: TestServer, callId: string, pred: (row: any) => boolean, what: string): Promise<any> {
  return until(async () => {
    const res = await s.call('GET', `/calls/${callId}`);
    return res.status === 200 && pred(res.body) ? res.body : undefined;
  }, `call ${callId}: ${what}`);
}

/** The activeflow of a call (once the flow started). */
export async function activeflowOf(s: TestServer, callId: string): Promise<any> {
  const call = await waitCall(s, callId, (c) => Boolean(c.activeflow_id), 'an activeflow');
  return ok(s, 'GET', `/activeflows/${call.activeflow_id}`);
}

/** Polls the call's activeflow until `pred` holds. */
export async function waitActiveflow(s: TestServer, callId: string, pred: (af: any) => boolean, what: string): Promise<any> {
  return until(async () => {
    const af = await activeflowOf(s, callId);
    return pred(af) ? af : undefined;
  }, `activeflow of call ${callId}: ${what}`);
}

/** The executed actions of the call's activeflow as `{type, option}`. */
export function executed(af: any): { type: string; option: Record<string, unknown> }[] {
  return (af.executed_actions as any[]).map((a) => ({ type: a.type, option: a.option }));
}

/** The AI calls of a call (GET /aicalls, filtered on reference_id), oldest first. */
export async function aicallsOf(s: TestServer, callId: string): Promise<any[]> {
  const list = await ok(s, 'GET', '/aicalls?page_size=100');
  return (list.result as any[]).filter((a) => a.reference_id === callId).reverse();
}

/** Polls until the call has an AI call matching `pred`. */
export async function waitAicall(s: TestServer, callId: string, pred: (a: any) => boolean, what: string): Promise<any> {
  return until(async () => (await aicallsOf(s, callId)).find(pred), `aicall of call ${callId}: ${what}`);
}

/** The messages of an AI call, oldest first. */
export async function aimessagesOf(s: TestServer, aicallId: string, key = s.key): Promise<any[]> {
  const list = await ok(s, 'GET', `/aimessages?aicall_id=${aicallId}&page_size=100`, undefined, key);
  return (list.result as any[]).reverse();
}

/** The local customer's balance in credits. */
export async function balance(s: TestServer): Promise<number> {
  const list = await ok(s, 'GET', '/billing_accounts');
  return list.result[0].balance_credit as number;
}
