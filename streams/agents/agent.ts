/**
 * The one agent interface (v2). Every agent (the built-in VAD → STT → LLM → TTS pipeline, OpenAI
 * Realtime, an external engine over the agent WebSocket protocol, a scripted test agent) is an
 * {@link AgentSession} created by an {@link AgentFactory}; the call side is an {@link AgentHost},
 * implemented by the session runner (streams/session/).
 *
 * Audio crosses this boundary in the formats the session declares: 16-bit PCM at a rate of its
 * choice (the host resamples from and to the call's 8 kHz with one stateful resampler per
 * direction), or G.711 (`pcmu` / `pcma`, 8 kHz) so an engine that takes G.711 (OpenAI Realtime
 * `audio/pcmu`) gets it without a resampler. Agent audio carries the id of the response it
 * belongs to, so a barge-in can report how much of each response the caller actually heard.
 */

import type { AgentToolCall, AgentToolResult } from '../../tools/results.js';
import type { ToolDescriptor } from '../../tools/types.js';

// The tool call and result types belong to tools/ (streams/ depends on tools/, never the reverse).
export type { AgentToolCall, AgentToolResult, ToolResult } from '../../tools/results.js';

/** The AI configuration an agent runs with (an AI resource, or a flow action's inline options). */
export interface AgentConfig {
  ai_id: string;
  engine_model: string;
  /** The LLM provider key; write-only elsewhere, handed only to the agent that needs it. */
  engine_key: string;
  init_prompt: string;
  tts_type: string;
  tts_voice_id: string;
  stt_type: string;
  stt_language: string;
  language: string;
  tool_names: string[];
  vad_config: Record<string, number>;
  parameter: Record<string, unknown>;
  /**
   * The flow action: `ai_talk` (realtime, the caller may interrupt) or `ai` (request-response:
   * the caller's turn ends, the AI answers, no interruption). Default `ai_talk`.
   */
  mode?: 'ai' | 'ai_talk';
}

/** What an agent is started with. */
export interface AgentStartOptions {
  aicall: { id: string; customer_id: string; activeflow_id: string; reference_id: string };
  config: AgentConfig;
  /** The tools the agent may call, as JSON Schemas (export them to the model's format). */
  tools: ToolDescriptor[];
  /** Flow variables at start (e.g. `voipbin.call.id`), already substituted into the prompt by the host. */
  variables: Record<string, string>;
  /**
   * What this agent kind's {@link AgentFactory.prewarm} opened while the call was ringing; the
   * factory takes it over (and disposes of what it does not use).
   */
  warmup?: AgentWarmup;
}

/** Connections an agent opened before the call was answered (see {@link AgentFactory.prewarm}). */
export interface AgentWarmup {
  /** Closes what was opened; a no-op once the factory took it over. Idempotent. */
  dispose(): void;
}

/**
 * An audio format at the agent boundary. `pcm16`: Int16Array samples at `sampleRateHz`. `pcmu` /
 * `pcma`: G.711 bytes (Uint8Array) at 8 kHz, one byte per sample.
 */
export type AgentAudioFormat =
  | { readonly encoding: 'pcm16'; readonly sampleRateHz: number }
  | { readonly encoding: 'pcmu' | 'pcma'; readonly sampleRateHz: 8000 };

/** Audio in an {@link AgentAudioFormat}: Int16Array for `pcm16`, Uint8Array for G.711. */
export type AgentAudio = Int16Array | Uint8Array;

/** How much of one response the caller heard, as reported when the host clears the playout. */
export interface HeardResponse {
  /** The id the agent passed with that response's audio. */
  responseId: string;
  /** Milliseconds of it played to the caller (heard), from the response's first sample. */
  playedMs: number;
  /** Milliseconds of it the agent had sent in all (played + dropped). */
  queuedMs: number;
}

/** What a clear found: the audio actually heard per response, and what was dropped unplayed. */
export interface ClearReport {
  /** Every response that still had audio queued at the clear, oldest first. */
  responses: HeardResponse[];
  /** Milliseconds of queued audio dropped in all. */
  droppedMs: number;
}

/** Options of a transcript line. */
export interface TranscriptOptions {
  /** `false` for an interim hypothesis (shown live, not stored); default `true`. */
  final?: boolean;
  /** The response an assistant line belongs to. */
  responseId?: string;
}

/**
 * Things that happen in a conversation, for metrics, logs and monitors. The host timestamps them
 * on arrival, so an agent emits them when they happen.
 */
export type AgentEvent =
  /** The engine heard the caller start speaking (its VAD). */
  | { type: 'speech_started' }
  /** The engine heard the caller stop speaking: the turn's latency counts from here. */
  | { type: 'speech_stopped' }
  /** A response began (its audio will carry `responseId`). */
  | { type: 'response_started'; responseId: string }
  /** A response ended: `completed`, `cancelled` (barge-in), `failed`. */
  | { type: 'response_done'; responseId: string; status: 'completed' | 'cancelled' | 'failed' }
  /** The agent handled a barge-in (it cleared the playout and cancelled the response). */
  | { type: 'barge_in'; responseId?: string; heardMs: number }
  /** A recoverable problem (a rate limit, a reconnect); `fatal` ones end the session via `end`. */
  | { type: 'error'; message: string; code?: string }
  /** A value the agent measured itself (e.g. the engine's own latency), in ms unless named. */
  | { type: 'metric'; name: string; value: number };

/** The call side of an agent session. */
export interface AgentHost {
  /**
   * Audio the agent speaks, in the session's `output` format, any chunk size, tagged with the id
   * of the response it belongs to. The host re-frames and paces it to the call. The array may be
   * a view the agent reuses: the host consumes or copies it before returning.
   */
  audioOut(audio: AgentAudio, responseId: string): void;
  /**
   * Drops the agent's audio not yet played (barge-in) and reports, per response, how much the
   * caller actually heard, so the agent can cut its context to it.
   */
  clearAudio(): ClearReport;
  /** Milliseconds of `responseId` played to the caller so far (0 when unknown). */
  playedMs(responseId: string): number;
  /** Runs a tool; never rejects (a failure is a `failed` result). */
  toolCall(call: AgentToolCall): Promise<AgentToolResult>;
  /**
   * A transcript line. Final lines are stored as AI call messages, in order with the tool calls;
   * an assistant line must be the text as heard (cut at a barge-in).
   */
  transcript(role: 'user' | 'assistant', text: string, opts?: TranscriptOptions): void;
  /** Something happened (see {@link AgentEvent}). */
  event(ev: AgentEvent): void;
  /** The agent ends its own session (a fatal error, or it decided the conversation is over). */
  end(reason: string): void;
}

/** One agent conversation on one call. */
export interface AgentSession {
  /** The format `audioIn` receives (the host converts the call's 8 kHz audio to it). */
  readonly input: AgentAudioFormat;
  /** The format passed to `host.audioOut`. */
  readonly output: AgentAudioFormat;
  /**
   * Starts the conversation (the greeting, if the agent speaks first). The factory may already
   * have connected to the engine (pre-warm): `start()` is what the caller hears begin.
   */
  start(): Promise<void>;
  /** The caller's audio, 20 ms chunks in the `input` format (a view: copy to keep). */
  audioIn(audio: AgentAudio): void;
  /** A DTMF digit the caller pressed. */
  dtmf?(digit: string): void;
  /**
   * The host detected a barge-in (its own VAD, or the carrier): stop speaking, cancel the response
   * in progress and cut it to what was heard. Engines with their own VAD also do this themselves.
   */
  interrupt(): void;
  /** Ends the session (stop_service, stop_flow, hangup). Idempotent. */
  stop(reason: string): Promise<void>;
}

/** Creates agent sessions; the registry picks a factory per AI configuration. */
export interface AgentFactory {
  (options: AgentStartOptions, host: AgentHost): AgentSession | Promise<AgentSession>;
  /**
   * Opens, while the call rings, what a session of `config` will need (provider connections,
   * models), so the AI is ready the moment it is answered. The result is handed back to the
   * factory as {@link AgentStartOptions.warmup}, or disposed when the call ends unanswered.
   */
  prewarm?(config: AgentConfig): AgentWarmup;
}

/** 16-bit PCM at `rateHz`. */
export function pcm16(rateHz: number): AgentAudioFormat {
  return { encoding: 'pcm16', sampleRateHz: rateHz };
}

/** G.711 mu-law at 8 kHz (OpenAI Realtime `audio/pcmu`, Twilio). */
export const PCMU: AgentAudioFormat = { encoding: 'pcmu', sampleRateHz: 8000 };

/** Milliseconds of `audio` in `format`. */
export function audioMs(audio: AgentAudio, format: AgentAudioFormat): number {
  return (audio.length / format.sampleRateHz) * 1000;
}
