/**
 * Test helpers for the external agent: a fake {@link AgentHost} (records everything; the playout
 * is a ledger the test moves with `play`), a scripted agent server on loopback, and the JSON
 * Schemas of docs/external-agent-protocol/ compiled with ajv (tests only).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import type { AgentAudio, AgentEvent, AgentHost, AgentStartOptions, AgentToolCall, AgentToolResult, ClearReport } from '../../streams/agents/agent.js';
import { selectToolDefinitions } from '../../tools/selection.js';

export interface FakeHost extends AgentHost {
  audio: { responseId: string; bytes: number; samples: number }[];
  queuedMs: Map<string, number>;
  played: Map<string, number>;
  events: AgentEvent[];
  transcripts: { role: string; text: string; final?: boolean; responseId?: string }[];
  toolCalls: AgentToolCall[];
  clears: ClearReport[];
  ends: string[];
  /** Marks `ms` more of `responseId` as played. */
  play(responseId: string, ms: number): void;
  /** How tool calls are answered (default: success, run_llm false). */
  toolHandler: (call: AgentToolCall) => Promise<AgentToolResult>;
  /** Milliseconds per sample of the session's output (set by the test after negotiation). */
  msPerSample: number;
}

export function fakeHost(): FakeHost {
  const h: FakeHost = {
    audio: [],
    queuedMs: new Map(),
    played: new Map(),
    events: [],
    transcripts: [],
    toolCalls: [],
    clears: [],
    ends: [],
    msPerSample: 1000 / 16000,
    toolHandler: async (call) => ({
      result: { tool_call_id: call.id, result: 'success', message: `${call.name} done`, resource_type: '', resource_id: '' },
      runLlm: false,
    }),
    audioOut(audio: AgentAudio, responseId: string) {
      h.audio.push({ responseId, bytes: audio.byteLength, samples: audio.length });
      h.queuedMs.set(responseId, (h.queuedMs.get(responseId) ?? 0) + audio.length * h.msPerSample);
    },
    clearAudio() {
      const responses = [];
      let droppedMs = 0;
      for (const [responseId, queuedMs] of h.queuedMs) {
        const playedMs = Math.min(queuedMs, h.played.get(responseId) ?? 0);
        if (queuedMs > playedMs) {
          responses.push({ responseId, playedMs, queuedMs });
          droppedMs += queuedMs - playedMs;
        }
      }
      h.queuedMs.clear();
      const report = { responses, droppedMs };
      h.clears.push(report);
      return report;
    },
    playedMs(responseId: string) {
      return h.played.get(responseId) ?? 0;
    },
    async toolCall(call) {
      h.toolCalls.push(call);
      return h.toolHandler(call);
    },
    transcript(role, text, opts) {
      h.transcripts.push({ role, text, ...opts });
    },
    event(ev) {
      h.events.push(ev);
    },
    end(reason) {
      h.ends.push(reason);
    },
    play(responseId, ms) {
      h.played.set(responseId, (h.played.get(responseId) ?? 0) + ms);
    },
  };
  return h;
}

/** Start options of an external AI at `url`. */
export function startOptions(url: string, over: { engine_key?: string; tool_names?: string[]; parameter?: Record<string, unknown> } = {}): AgentStartOptions {
  const toolNames = over.tool_names ?? ['set_variables', 'stop_service'];
  return {
    aicall: { id: 'aicall-1', customer_id: 'cust-1', activeflow_id: 'af-1', reference_id: 'call-1' },
    config: {
      ai_id: 'ai-1',
      engine_model: 'external.echo',
      engine_key: over.engine_key ?? 'vbx_test_key_123',
      init_prompt: 'You are an echo.',
      tts_type: 'elevenlabs',
      tts_voice_id: 'v',
      stt_type: 'deepgram',
      stt_language: 'en-US',
      language: 'en-US',
      tool_names: toolNames,
      vad_config: {},
      parameter: { agent_url: url, ...over.parameter },
    },
    tools: selectToolDefinitions(toolNames).map((d) => ({ name: d.name, description: d.description, parameters: d.parameters })),
    variables: { 'voipbin.call.id': 'call-1' },
  };
}

/** One agent connection as the scripted server sees it. */
export interface AgentConn {
  ws: WebSocket;
  req: IncomingMessage;
  /** Parsed text messages received from the gateway. */
  texts: Record<string, unknown>[];
  binaries: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  send(msg: Record<string, unknown>): void;
  /** Resolves with the next text message of `type` (or one already received and not yet taken). */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** A scripted agent server on 127.0.0.1; `onConnection` drives each connection. */
export async function agentServer(onConnection: (c: AgentConn) => void | Promise<void> = () => {}): Promise<{ url: string; conns: AgentConn[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const conns: AgentConn[] = [];
  wss.on('connection', (ws, req) => {
    const taken = new Set<number>();
    const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
    const texts: Record<string, unknown>[] = [];
    const c: AgentConn = {
      ws,
      req,
      texts,
      binaries: [],
      closed: new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() }))),
      send: (m) => ws.send(JSON.stringify(m)),
      next(type, timeoutMs = 3000) {
        const i = texts.findIndex((m, k) => !taken.has(k) && m.type === type);
        if (i >= 0) {
          taken.add(i);
          return Promise.resolve(texts[i]);
        }
        return new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${texts.map((m) => m.type).join(', ')}`)), timeoutMs);
          waiters.push({ type, resolve: (m) => (clearTimeout(t), resolve(m)) });
        });
      },
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void c.binaries.push(data as Buffer);
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      texts.push(m);
      const w = waiters.findIndex((x) => x.type === m.type);
      if (w >= 0) {
        taken.add(texts.length - 1);
        waiters.splice(w, 1)[0].resolve(m);
      }
    });
    conns.push(c);
    void onConnection(c);
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/agent`,
    conns,
    close: () =>
      new Promise<void>((res) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => res());
      }),
  };
}

// ---- JSON Schemas ------------------------------------------------------------------------------

const SCHEMA_DIR = join(import.meta.dirname, '../../docs/external-agent-protocol');
let compiled: { gateway: ValidateFunction; agent: ValidateFunction; byName: Map<string, ValidateFunction> } | undefined;

export function schemas() {
  if (compiled) return compiled;
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  const byName = new Map<string, ValidateFunction>();
  const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
  for (const f of files) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')));
  for (const f of files) {
    const s = JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as { $id: string };
    byName.set(f.replace('.schema.json', ''), ajv.getSchema(s.$id)!);
  }
  compiled = { gateway: byName.get('gateway-message')!, agent: byName.get('agent-message')!, byName };
  return compiled;
}

/** Throws when `text` (a message of `direction`) does not validate against the protocol's schemas. */
export function assertValid(direction: 'to_agent' | 'from_agent', text: string): void {
  const s = schemas();
  const msg = JSON.parse(text) as { type?: string };
  const v = direction === 'to_agent' ? s.gateway : s.agent;
  if (!v(msg)) throw new Error(`${direction} ${text.slice(0, 200)} does not match the schema: ${JSON.stringify(v.errors?.slice(0, 3))}`);
  const own = s.byName.get(`${direction === 'to_agent' ? 'gateway' : 'agent'}.${msg.type}`);
  if (!own || !own(msg)) throw new Error(`${direction} ${msg.type}: no schema, or invalid: ${JSON.stringify(own?.errors)}`);
}

/** Resolves once `cond()` holds (polling), or rejects after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
