/**
 * A scripted agent: an {@link AgentFactory} whose sessions run a fixed script of steps (tool
 * calls, speech, barge-ins, events, pauses, hooks) through the real {@link AgentHost} (agent
 * interface v2), standing in for a model so a flow test can drive the AI tools end to end. Every
 * session, tool result, clear report and barge-in is recorded on the factory.
 *
 *   fs.useAgent(scriptedAgent([{ tool: 'set_variables', args: {...} }, { tool: 'stop_service' }]));   // test/flows/helpers.ts
 *   new AgentRegistry().register(() => true, scriptedAgent([...]));                          // any registry
 *
 * Speech: a `say` step sends its audio (in the session's `output` format) tagged with a response
 * id (`resp_1`, `resp_2`, ... unless given) and keeps its text pending. The text is stored as the
 * assistant's transcript when the script goes on to a step after it (a tool call, more speech, a
 * transcript line, the end; not a pause, an event or a hook), when the session stops, or, at a
 * barge-in, cut to what
 * the caller heard: the host clears the playout, and the text is cut in proportion to
 * playedMs / queuedMs of the response, at a word boundary.
 *
 * A barge-in happens on an `{ interrupt: true }` step (the agent's own decision, optionally once
 * the response played `afterPlayedMs`), on an `{ interruptOn: 'audio' }` step (the caller's audio
 * gets loud, like an engine's VAD), or when the host calls `interrupt()`.
 */
import type {
  AgentAudio,
  AgentAudioFormat,
  AgentEvent,
  AgentFactory,
  AgentHost,
  AgentSession,
  AgentStartOptions,
  AgentToolResult,
  ClearReport,
} from '../../streams/agents/agent.js';
import { audioMs, pcm16 } from '../../streams/agents/agent.js';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE } from '../../streams/audio/g711.js';

/** What a step's callbacks see: the session's start options and what it got so far. */
export interface StepContext {
  options: AgentStartOptions;
  results: AgentToolResult[];
  host: AgentHost;
  /** This session's record (e.g. to wait for caller audio in a `run` step). */
  session: ScriptedSession;
}

export type ScriptStep =
  /** Calls a tool; `args` may be an object, raw JSON text (as a model sends it), or built from the context. */
  | { tool: string; args?: Record<string, unknown> | string | ((ctx: StepContext) => Record<string, unknown> | string); id?: string }
  /**
   * Speaks `say` (in the session's `output` format) as one response (`responseId`, default
   * `resp_N`); `text` (if any) becomes the assistant's transcript, cut at a barge-in.
   */
  | { say: AgentAudio; text?: string; responseId?: string }
  /** Stores a transcript line without audio (`final: false`: an interim line, not stored). */
  | { transcript: string; role?: 'user' | 'assistant'; final?: boolean }
  /** Emits agent events (metrics, VAD, errors) through `host.event`. */
  | { events: AgentEvent[] }
  /** A barge-in decided by the agent, now or once the current response played `afterPlayedMs`. */
  | { interrupt: true; afterPlayedMs?: number }
  /** Waits for the caller's audio to reach `peak` (default 2000) in a frame, then barges in. */
  | { interruptOn: 'audio'; peak?: number }
  /** Pauses (pacing only: the tests never rely on it for correctness). */
  | { waitMs: number }
  /** Runs a hook (e.g. a REST check between tool calls); the script waits for it. */
  | { run: (ctx: StepContext) => unknown }
  /** The agent ends its own session. */
  | { end: string };

/** A barge-in the session handled. */
export interface ScriptedBargeIn {
  /** What the host's clearAudio() returned. */
  report: ClearReport;
  /** The response cut (the one speaking), if any. */
  responseId: string | undefined;
  /** Of that response: heard and sent (ms). */
  playedMs: number;
  queuedMs: number;
  /** Its full text, and the text stored (cut to what was heard). */
  text: string;
  storedText: string;
  /** What started it. */
  by: 'script' | 'audio' | 'host';
}

/** One scripted session, as recorded. */
export interface ScriptedSession {
  readonly options: AgentStartOptions;
  readonly input: AgentAudioFormat;
  readonly output: AgentAudioFormat;
  /** Tool results in the order received. */
  readonly results: AgentToolResult[];
  /** Frames of caller audio the agent received. */
  framesIn: number;
  /** Copies of those frames, in the session's input format (only with `recordAudioIn`). */
  readonly audioIn: AgentAudio[];
  /** DTMF digits received. */
  readonly dtmf: string[];
  /** Barge-ins handled, in order. */
  readonly bargeIns: ScriptedBargeIn[];
  /** Indexes of the steps that ran (a step counts once it started). */
  readonly stepsRun: number[];
  /** Set when the host stopped the session (`stop(reason)`). */
  stopReason: string | undefined;
  /** An error thrown by a step (a script bug), if any. */
  error: unknown;
  /** Resolves when the script has run to its end, or stopped. */
  readonly scriptDone: Promise<void>;
}

export interface ScriptedAgentOptions {
  /** The format of `audioIn` (default pcm16 at `inputSampleRateHz`). */
  input?: AgentAudioFormat;
  /** The format of the `say` audio (default pcm16 at `outputSampleRateHz`). */
  output?: AgentAudioFormat;
  /** Shorthand for `input: pcm16(rate)` (default 8000: no resampling). */
  inputSampleRateHz?: number;
  /** Shorthand for `output: pcm16(rate)` (default 8000). */
  outputSampleRateHz?: number;
  /** Keep a copy of every caller frame in `audioIn` (default false: only counted). */
  recordAudioIn?: boolean;
}

export type ScriptedAgentFactory = AgentFactory & {
  /** Every session created, in order. */
  readonly sessions: ScriptedSession[];
  /** The first session's results (the common case of one AI action per test). */
  readonly results: AgentToolResult[];
};

/**
 * `text` cut to the `fraction` of it heard: the words that end at or before that share of its
 * characters ('' for nothing, all of it for 1 or more).
 */
export function cutToHeard(text: string, fraction: number): string {
  if (!(fraction > 0)) return '';
  if (fraction >= 1) return text;
  const at = Math.floor(text.length * fraction);
  // A word counts as heard when it ends at the cut (the cut falls on the space after it).
  if (at < text.length && /\s/.test(text[at]!)) return text.slice(0, at).trimEnd();
  const space = text.lastIndexOf(' ', at);
  return space <= 0 ? '' : text.slice(0, space).trimEnd();
}

/** The loudest sample of a frame in `format`. */
function peakOf(audio: AgentAudio, format: AgentAudioFormat): number {
  const table = format.encoding === 'pcmu' ? MULAW_DECODE_TABLE : format.encoding === 'pcma' ? ALAW_DECODE_TABLE : undefined;
  let peak = 0;
  for (let i = 0; i < audio.length; i++) {
    const v = table ? table[audio[i]!]! : audio[i]!;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  return peak;
}

/** A response spoken by a `say` step. */
interface Spoken {
  id: string;
  text: string;
  ms: number;
  /** Its text was stored (or it was cut). */
  settled: boolean;
}

/**
 * An agent factory whose sessions run `script` (or a script chosen per session, e.g. by the AI
 * call id) once started, then idle like a model waiting for the caller until the host stops them.
 */
export function scriptedAgent(
  script: ScriptStep[] | ((options: AgentStartOptions, index: number) => ScriptStep[]),
  agentOptions: ScriptedAgentOptions = {},
): ScriptedAgentFactory {
  const sessions: ScriptedSession[] = [];
  let toolCallCounter = 0;

  const factory = (options: AgentStartOptions, host: AgentHost): AgentSession => {
    const steps = typeof script === 'function' ? script(options, sessions.length) : script;
    const input = agentOptions.input ?? pcm16(agentOptions.inputSampleRateHz ?? 8000);
    const output = agentOptions.output ?? pcm16(agentOptions.outputSampleRateHz ?? 8000);
    let resolveDone: () => void = () => {};
    const record: ScriptedSession = {
      options,
      input,
      output,
      results: [],
      framesIn: 0,
      audioIn: [],
      dtmf: [],
      bargeIns: [],
      stepsRun: [],
      stopReason: undefined,
      error: undefined,
      scriptDone: new Promise<void>((res) => (resolveDone = res)),
    };
    sessions.push(record);
    const ctx: StepContext = { options, results: record.results, host, session: record };
    let responseCounter = 0;
    /** The last response spoken. */
    let current: Spoken | undefined;
    /** A pending `interruptOn: 'audio'` step: its loudness threshold and wake-up. */
    let audioWaiter: { peak: number; wake: () => void } | undefined;
    let stopWaiter: () => void = () => {};
    const stopped = new Promise<void>((res) => (stopWaiter = res));

    /** Stores the pending text of the current response in full (the script went on past it). */
    const settle = (status: 'completed' | 'cancelled' = 'completed') => {
      if (!current || current.settled) return;
      current.settled = true;
      if (current.text) host.transcript('assistant', current.text, { responseId: current.id });
      host.event({ type: 'response_done', responseId: current.id, status });
    };

    const bargeIn = (by: ScriptedBargeIn['by']) => {
      const report = host.clearAudio();
      const spoken = current;
      let playedMs = 0;
      let queuedMs = 0;
      let storedText = '';
      if (spoken) {
        const heard = report.responses.find((r) => r.responseId === spoken.id);
        playedMs = heard ? heard.playedMs : host.playedMs(spoken.id);
        queuedMs = heard ? heard.queuedMs : spoken.ms;
        if (!spoken.settled) {
          spoken.settled = true;
          storedText = cutToHeard(spoken.text, queuedMs > 0 ? playedMs / queuedMs : 1);
          if (storedText) host.transcript('assistant', storedText, { responseId: spoken.id });
          host.event({ type: 'response_done', responseId: spoken.id, status: 'cancelled' });
        }
      }
      record.bargeIns.push({ report, responseId: spoken?.id, playedMs, queuedMs, text: spoken?.text ?? '', storedText, by });
      host.event({ type: 'barge_in', ...(spoken ? { responseId: spoken.id } : {}), heardMs: playedMs });
    };

    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

    const say = (step: Extract<ScriptStep, { say: AgentAudio }>) => {
      settle();
      const id = step.responseId ?? `resp_${++responseCounter}`;
      current = { id, text: step.text ?? '', ms: audioMs(step.say, output), settled: false };
      host.event({ type: 'response_started', responseId: id });
      host.audioOut(step.say, id);
    };

    const runScript = async (): Promise<void> => {
      try {
        for (let i = 0; i < steps.length; i++) {
          if (record.stopReason !== undefined) return;
          const step = steps[i]!;
          record.stepsRun.push(i);
          if ('tool' in step) {
            settle();
            const args = typeof step.args === 'function' ? step.args(ctx) : (step.args ?? {});
            const out = await host.toolCall({ id: step.id ?? `call_scripted_${++toolCallCounter}`, name: step.tool, arguments: args });
            record.results.push(out);
          } else if ('say' in step) {
            say(step);
          } else if ('transcript' in step) {
            settle();
            host.transcript(step.role ?? 'assistant', step.transcript, step.final === false ? { final: false } : undefined);
          } else if ('events' in step) {
            for (const ev of step.events) host.event(ev);
          } else if ('interrupt' in step) {
            if (step.afterPlayedMs !== undefined) {
              const spoken = current;
              while (spoken && !spoken.settled && record.stopReason === undefined && host.playedMs(spoken.id) < step.afterPlayedMs) await sleep(5);
            }
            if (record.stopReason === undefined) bargeIn('script');
          } else if ('interruptOn' in step) {
            await Promise.race([new Promise<void>((wake) => (audioWaiter = { peak: step.peak ?? 2000, wake })), stopped]);
            audioWaiter = undefined;
            // Like an engine with its own VAD: it hears the caller start, then barges in.
            if (record.stopReason === undefined) {
              host.event({ type: 'speech_started' });
              bargeIn('audio');
            }
          } else if ('waitMs' in step) {
            await sleep(step.waitMs);
          } else if ('run' in step) {
            await step.run(ctx);
          } else if ('end' in step) {
            settle();
            host.end(step.end);
          }
        }
      } catch (err) {
        record.error = err;
      } finally {
        resolveDone();
      }
    };

    return {
      input,
      output,
      async start() {
        // Like a model: the conversation runs on its own once the session is up.
        setImmediate(() => void runScript());
      },
      audioIn(audio) {
        record.framesIn++;
        if (agentOptions.recordAudioIn) record.audioIn.push(audio.slice());
        if (audioWaiter && peakOf(audio, input) >= audioWaiter.peak) {
          const w = audioWaiter;
          audioWaiter = undefined;
          w.wake();
        }
      },
      dtmf(digit) {
        record.dtmf.push(digit);
      },
      interrupt() {
        if (record.stopReason === undefined) bargeIn('host');
      },
      async stop(reason: string) {
        if (record.stopReason !== undefined) return;
        // What was said and not cut is stored in full: the host drains it after the stop.
        settle();
        record.stopReason = reason;
        stopWaiter();
      },
    };
  };

  // A getter, so `results` follows the first session once it exists (Object.assign would copy the value).
  Object.defineProperties(factory, {
    sessions: { value: sessions, enumerable: true },
    results: { get: (): AgentToolResult[] => sessions[0]?.results ?? [], enumerable: true },
  });
  return factory as ScriptedAgentFactory;
}
