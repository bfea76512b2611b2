/**
 * What a session runner reports while a conversation runs: the agent's own events plus what only
 * the host sees (the first audio of a response reaching the playout, clears, tool calls, drops).
 * Metrics (per turn and per call, Prometheus), logs and the coming web monitor consume the same
 * records, so each measurement is taken in one place.
 */
import type { AgentEvent } from '../agents/agent.js';

/** Host-side happenings of a conversation. */
export type HostEvent =
  /** The agent session exists and caller audio flows to it. */
  | { type: 'session_started'; aicallId: string }
  /** The first audio of a response was queued for the caller (turn latency ends here). */
  | { type: 'first_audio'; responseId: string }
  /** The playout was cleared (barge-in); `droppedMs` of queued audio never reached the caller. */
  | { type: 'playout_cleared'; droppedMs: number }
  /** A tool call ran through the executor in `ms`. */
  | { type: 'tool_call'; name: string; ms: number; result: 'success' | 'failed' }
  /** Frames lost on the way (a full buffer, a stalled socket), since the last report. */
  | { type: 'frames_dropped'; count: number; direction: 'in' | 'out' }
  /** The conversation ended. */
  | { type: 'session_ended'; reason: string }
  /**
   * A transcript line as the agent gave it: `final` ones are also stored as AI call messages;
   * interim ones (`final: false`) reach only the observer (live captions, a monitor).
   */
  | { type: 'transcript'; role: 'user' | 'assistant'; text: string; final: boolean; responseId?: string };

/** One record: an event and when the host saw it (`performance.now()` ms). */
export interface SessionEventRecord {
  atMs: number;
  event: AgentEvent | HostEvent;
}

/** Receives a session's records, in order. Must not throw and must not block (it runs on the audio path). */
export type SessionObserver = (record: SessionEventRecord) => void;
