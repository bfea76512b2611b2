import type { SessionEventRecord } from '../../streams/session/events.js';
import type { SessionMetricsSink } from '../../streams/session/metrics.js';

/** A conversation: a greeting, two turns (one with a pause), a barge-in, two tool calls, drops. */
export const CONVERSATION: SessionEventRecord[] = [
  { atMs: 1000, event: { type: 'session_started', aicallId: 'a1' } },
  { atMs: 1100, event: { type: 'response_started', responseId: 'r0' } },
  { atMs: 1300, event: { type: 'first_audio', responseId: 'r0' } }, // greeting: not a turn
  { atMs: 2000, event: { type: 'response_done', responseId: 'r0', status: 'completed' } },
  { atMs: 3000, event: { type: 'speech_started' } }, // nothing playing (the greeting ended and was not cleared)
  { atMs: 4000, event: { type: 'speech_stopped' } },
  { atMs: 4100, event: { type: 'tool_call', name: 'get_variables', ms: 40, result: 'success' } },
  { atMs: 4500, event: { type: 'first_audio', responseId: 'r1' } }, // turn 1: 500 ms, 1 tool call
  { atMs: 5000, event: { type: 'speech_started' } }, // the caller talks over r1
  { atMs: 5150, event: { type: 'playout_cleared', droppedMs: 1200 } }, // barge-in: 150 ms
  { atMs: 5160, event: { type: 'barge_in', responseId: 'r1', heardMs: 600 } },
  { atMs: 5200, event: { type: 'response_done', responseId: 'r1', status: 'cancelled' } },
  { atMs: 5500, event: { type: 'speech_stopped' } }, // a pause ...
  { atMs: 5600, event: { type: 'speech_started' } }, // ... and the caller goes on
  { atMs: 6000, event: { type: 'speech_stopped' } },
  { atMs: 6700, event: { type: 'first_audio', responseId: 'r2' } }, // turn 2: 700 ms from the last stop
  { atMs: 6800, event: { type: 'tool_call', name: 'send_message', ms: 110, result: 'failed' } }, // after the answer began
  { atMs: 6900, event: { type: 'frames_dropped', count: 3, direction: 'in' } },
  { atMs: 7000, event: { type: 'frames_dropped', count: 5, direction: 'out' } },
  { atMs: 7050, event: { type: 'frames_dropped', count: 2, direction: 'out' } },
  { atMs: 7100, event: { type: 'speech_started' } },
  { atMs: 7200, event: { type: 'playout_cleared', droppedMs: 0 } }, // nothing was playing: no barge-in
  { atMs: 7300, event: { type: 'error', message: 'rate limited' } },
  { atMs: 7400, event: { type: 'metric', name: 'engine_ms', value: 12 } },
  { atMs: 10000, event: { type: 'session_ended', reason: 'hangup' } },
];

/** Records every sink call. */
export class SpySink implements SessionMetricsSink {
  calls: string[] = [];
  sessionStarted() {
    this.calls.push('started');
  }
  sessionEnded() {
    this.calls.push('ended');
  }
  turnLatency(ms: number) {
    this.calls.push(`turn ${ms}`);
  }
  bargeIn(ms: number) {
    this.calls.push(`barge ${ms}`);
  }
  toolCall(name: string, result: string, ms: number) {
    this.calls.push(`tool ${name} ${result} ${ms}`);
  }
  framesDropped(direction: string, count: number) {
    this.calls.push(`drop ${direction} ${count}`);
  }
}
