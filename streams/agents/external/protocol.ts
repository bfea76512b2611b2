/**
 * The external-agent WebSocket protocol, version 1: the wire format only (no sockets, no state).
 * Incoming agent messages are parsed and checked here into typed {@link AgentMessage}s (a bad one
 * is a {@link ProtocolError} carrying the close code and a reason naming the field); outgoing
 * gateway messages are built here from internal values. The session (session.ts) owns the order
 * rules and the socket. The spec, with a JSON Schema per message: docs/external-agent-protocol.md.
 *
 * Text frames are JSON objects with a `type`; binary frames are audio (caller audio from the
 * gateway in the accepted `input` format; agent audio in the accepted `output` format, belonging
 * to the response opened by the last `response_start`).
 */
import type { AgentAudioFormat, ClearReport, ToolResult } from '../agent.js';
import type { ToolDescriptor } from '../../../tools/types.js';

export const PROTOCOL_VERSION = 1;

/** Close codes the gateway uses (RFC 6455). */
export const CLOSE = {
  normal: 1000,
  /** An unknown message type. */
  unsupported: 1003,
  /** A message that is not valid: bad JSON, a missing or wrong field, odd-sized pcm16 audio. */
  invalid: 1007,
  /** A valid message at the wrong time (audio before `begin`, a second `accept`, no `accept` in time). */
  policy: 1008,
  /** A message over the size limit. */
  tooBig: 1009,
} as const;

/** Audio formats a session may accept, as they are named on the wire. */
export const AUDIO_FORMATS = ['pcmu/8000', 'pcma/8000', 'pcm16/8000', 'pcm16/16000', 'pcm16/24000'] as const;
export type AudioFormatName = (typeof AUDIO_FORMATS)[number];

/** The formats the gateway offers by default (all of them). */
export const DEFAULT_OFFER: readonly AudioFormatName[] = ['pcm16/16000', 'pcm16/24000', 'pcm16/8000', 'pcmu/8000', 'pcma/8000'];

/** The agent-interface format of a wire format name. */
export function audioFormat(name: AudioFormatName): AgentAudioFormat {
  const [enc, rate] = name.split('/') as [string, string];
  if (enc === 'pcmu' || enc === 'pcma') return { encoding: enc, sampleRateHz: 8000 };
  return { encoding: 'pcm16', sampleRateHz: Number(rate) };
}

/** The wire name of an agent-interface format (undefined when the protocol has none). */
export function audioFormatName(f: AgentAudioFormat): AudioFormatName | undefined {
  const name = `${f.encoding}/${f.sampleRateHz}`;
  return (AUDIO_FORMATS as readonly string[]).includes(name) ? (name as AudioFormatName) : undefined;
}

/** A message that breaks the protocol: the socket is closed with `code` and `reason`. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'ProtocolError';
  }
}

// ---------------------------------------------------------------------------------------------
// agent -> gateway

export type AgentEventName = 'speech_started' | 'speech_stopped' | 'error' | 'metric';

/** A message from the agent, checked. */
export type AgentMessage =
  | { type: 'accept'; protocol: 1; audio: { input: AudioFormatName; output: AudioFormatName } }
  | { type: 'response_start'; response_id: string }
  | { type: 'response_end'; response_id: string; status: 'completed' | 'cancelled' | 'failed' }
  | { type: 'clear' }
  | { type: 'mark'; name: string }
  | { type: 'transcript'; role: 'user' | 'assistant'; text: string; final: boolean; response_id?: string }
  | { type: 'tool_call'; id: string; name: string; arguments: string | Record<string, unknown> }
  | { type: 'event'; event: 'speech_started' | 'speech_stopped' }
  | { type: 'event'; event: 'error'; message: string; code?: string }
  | { type: 'event'; event: 'metric'; name: string; value: number }
  | { type: 'end'; reason: string };

export const AGENT_MESSAGE_TYPES = [
  'accept', 'response_start', 'response_end', 'clear', 'mark', 'transcript', 'tool_call', 'event', 'end',
] as const;

/** Longest id, name or reason accepted (characters). */
const MAX_ID = 256;
/** Longest transcript text or tool arguments (characters). */
const MAX_TEXT = 64 * 1024;

type Obj = Record<string, unknown>;

function bad(field: string, what: string): ProtocolError {
  return new ProtocolError(CLOSE.invalid, `${field}: ${what}`);
}

function str(m: Obj, type: string, key: string, opts: { optional?: boolean; max?: number; empty?: boolean } = {}): string | undefined {
  const v = m[key];
  if (v === undefined && opts.optional) return undefined;
  const max = opts.max ?? MAX_ID;
  if (typeof v !== 'string' || (!opts.empty && v === '')) throw bad(`${type}.${key}`, `required ${opts.empty ? '' : 'non-empty '}string`);
  if (v.length > max) throw bad(`${type}.${key}`, `longer than ${max} characters`);
  return v;
}

function oneOf<T extends string>(m: Obj, type: string, key: string, allowed: readonly T[], dflt?: T): T {
  const v = m[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw bad(`${type}.${key}`, `must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

/**
 * Parses one text frame from the agent. Throws {@link ProtocolError}: 1007 for what is not valid
 * (naming the field), 1003 for an unknown `type`. Unknown fields are ignored (forward compatible).
 */
export function parseAgentMessage(text: string): AgentMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError(CLOSE.invalid, 'invalid JSON: a text frame must be one JSON object');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError(CLOSE.invalid, 'a text frame must be a JSON object');
  const m = raw as Obj;
  if (typeof m.type !== 'string' || m.type === '') throw bad('type', 'required string');
  const type = m.type;
  switch (type) {
    case 'accept': {
      if (m.protocol !== PROTOCOL_VERSION) throw bad('accept.protocol', `must be ${PROTOCOL_VERSION}`);
      const audio = m.audio;
      if (typeof audio !== 'object' || audio === null || Array.isArray(audio)) throw bad('accept.audio', 'required object {input, output}');
      const a = audio as Obj;
      return {
        type,
        protocol: 1,
        audio: { input: oneOf(a, 'accept.audio', 'input', AUDIO_FORMATS), output: oneOf(a, 'accept.audio', 'output', AUDIO_FORMATS) },
      };
    }
    case 'response_start':
      return { type, response_id: str(m, type, 'response_id')! };
    case 'response_end':
      return { type, response_id: str(m, type, 'response_id')!, status: oneOf(m, type, 'status', ['completed', 'cancelled', 'failed'] as const, 'completed') };
    case 'clear':
      return { type };
    case 'mark':
      return { type, name: str(m, type, 'name')! };
    case 'transcript': {
      const role = oneOf(m, type, 'role', ['user', 'assistant'] as const);
      const text = str(m, type, 'text', { max: MAX_TEXT, empty: true })!;
      if (m.final !== undefined && typeof m.final !== 'boolean') throw bad('transcript.final', 'must be true or false');
      const responseId = str(m, type, 'response_id', { optional: true });
      return { type, role, text, final: m.final !== false, ...(responseId !== undefined ? { response_id: responseId } : {}) };
    }
    case 'tool_call': {
      const id = str(m, type, 'id')!;
      const name = str(m, type, 'name')!;
      const args = m.arguments;
      if (args === undefined) return { type, id, name, arguments: {} };
      if (typeof args === 'string') {
        if (args.length > MAX_TEXT) throw bad('tool_call.arguments', `longer than ${MAX_TEXT} characters`);
        return { type, id, name, arguments: args };
      }
      if (typeof args !== 'object' || args === null || Array.isArray(args)) throw bad('tool_call.arguments', 'must be an object or a JSON string of one');
      return { type, id, name, arguments: args as Record<string, unknown> };
    }
    case 'event': {
      const event = oneOf(m, type, 'event', ['speech_started', 'speech_stopped', 'error', 'metric'] as const);
      if (event === 'error') {
        const code = str(m, 'event', 'code', { optional: true });
        return { type, event, message: str(m, 'event', 'message', { max: 4096 })!, ...(code !== undefined ? { code } : {}) };
      }
      if (event === 'metric') {
        if (typeof m.value !== 'number' || !Number.isFinite(m.value)) throw bad('event.value', 'required finite number');
        return { type, event, name: str(m, 'event', 'name')!, value: m.value };
      }
      return { type, event };
    }
    case 'end':
      return { type, reason: str(m, type, 'reason', { max: 1024 })! };
    default:
      throw new ProtocolError(CLOSE.unsupported, `type ${JSON.stringify(type.slice(0, 40))} is unknown; use one of ${AGENT_MESSAGE_TYPES.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// gateway -> agent

/** What `start` tells the agent about the call and the AI. */
export interface StartInfo {
  aicall: { id: string; customer_id: string; activeflow_id: string; reference_id: string };
  ai_id: string;
  variables: Record<string, string>;
  config: {
    engine_model: string;
    init_prompt: string;
    language: string;
    tts_type: string;
    tts_voice_id: string;
    stt_type: string;
    stt_language: string;
    vad_config: Record<string, number>;
    parameter: Record<string, unknown>;
  };
  tools: ToolDescriptor[];
  offered: readonly AudioFormatName[];
}

export function startMessage(s: StartInfo): string {
  return JSON.stringify({
    type: 'start',
    protocol: PROTOCOL_VERSION,
    aicall_id: s.aicall.id,
    call_id: s.aicall.reference_id,
    customer_id: s.aicall.customer_id,
    activeflow_id: s.aicall.activeflow_id,
    ai_id: s.ai_id,
    variables: s.variables,
    config: s.config,
    tools: s.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
    audio: { offered: s.offered, frame_ms: 20 },
  });
}

export function beginMessage(): string {
  return '{"type":"begin"}';
}

export function dtmfMessage(digit: string): string {
  return JSON.stringify({ type: 'dtmf', digit });
}

export function toolResultMessage(r: ToolResult, runLlm: boolean): string {
  return JSON.stringify({
    type: 'tool_result',
    tool_call_id: r.tool_call_id,
    result: r.result,
    message: r.message,
    resource_type: r.resource_type,
    resource_id: r.resource_id,
    run_llm: runLlm,
  });
}

/** `cause`: `clear` answers the agent's `clear`; `barge_in` is the gateway's own barge-in. */
export function clearedMessage(cause: 'clear' | 'barge_in', report: ClearReport): string {
  return JSON.stringify({
    type: 'cleared',
    cause,
    responses: report.responses.map((r) => ({ response_id: r.responseId, played_ms: Math.round(r.playedMs), queued_ms: Math.round(r.queuedMs) })),
    dropped_ms: Math.round(report.droppedMs),
  });
}

export function markMessage(name: string, played: boolean): string {
  return JSON.stringify({ type: 'mark', name, played });
}

export function hangupMessage(): string {
  return '{"type":"hangup"}';
}

export function stopMessage(reason: string): string {
  return JSON.stringify({ type: 'stop', reason });
}

/** A close reason fits 123 bytes (RFC 6455): longer ones are cut on a character boundary. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let r = reason.slice(0, 120);
  while (Buffer.byteLength(r + '...') > 123) r = r.slice(0, -1);
  return r + '...';
}
