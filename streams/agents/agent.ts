/**
 * The one agent interface. Every agent (the built-in VAD → STT → LLM → TTS pipeline, OpenAI
 * Realtime, an external engine over the agent WebSocket protocol, a scripted test agent) is an
 * {@link AgentSession} created by an {@link AgentFactory}; the call side is an {@link AgentHost}.
 * Audio crosses this boundary as 16-bit PCM at the agent's declared rates; the host converts
 * to and from the call's 8 kHz with one stateful resampler per direction.
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
}

/** What an agent is started with. */
export interface AgentStartOptions {
  aicall: { id: string; customer_id: string; activeflow_id: string; reference_id: string };
  config: AgentConfig;
  /** The tools the agent may call, as JSON Schemas (export them to the model's format). */
  tools: ToolDescriptor[];
  /** Flow variables at start (e.g. `voipbin.call.id`), already substituted into the prompt by the host. */
  variables: Record<string, string>;
}

/** The call side of an agent session. */
export interface AgentHost {
  /** Audio the agent speaks, at the session's `outputSampleRateHz`, any chunk size. */
  audioOut(samples: Int16Array): void;
  /** Drops the agent's audio not yet played (barge-in); returns the ms dropped. */
  clearAudio(): number;
  /** Runs a tool; never rejects (a failure is a `failed` result). */
  toolCall(call: AgentToolCall): Promise<AgentToolResult>;
  /** A finished utterance, stored as an AI call message. */
  transcript(role: 'user' | 'assistant', text: string): void;
  /** The agent ends its own session (error, or it decided the conversation is over). */
  end(reason: string): void;
}

/** One agent conversation on one call. */
export interface AgentSession {
  /** Rate of the audio `audioIn` receives (the host resamples from 8 kHz). */
  readonly inputSampleRateHz: number;
  /** Rate of the audio passed to `host.audioOut`. */
  readonly outputSampleRateHz: number;
  /** Connects to the engine and starts the conversation (a greeting, if configured). */
  start(): Promise<void>;
  /** The caller's audio, 20 ms frames at `inputSampleRateHz` (a view: copy to keep). */
  audioIn(samples: Int16Array): void;
  /** The caller barged in: stop speaking, cancel the response in progress. */
  interrupt(): void;
  /** Ends the session (stop_service, stop_flow, hangup). Idempotent. */
  stop(reason: string): Promise<void>;
}

/** Creates agent sessions; the gateway picks a factory per AI configuration. */
export type AgentFactory = (options: AgentStartOptions, host: AgentHost) => AgentSession | Promise<AgentSession>;
