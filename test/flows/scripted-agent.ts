/**
 * A scripted agent: an {@link AgentFactory} whose sessions run a fixed script of steps (tool
 * calls, speech, pauses, hooks) through the real {@link AgentHost}, standing in for a model so a
 * flow test can drive the AI tools end to end. Every session and every tool result it got is
 * recorded on the factory.
 *
 *   fs.useAgent(scriptedAgent([{ tool: 'set_variables', args: {...} }, { tool: 'stop_service' }]));   // test/flows/helpers.ts
 *   new AgentRegistry().register(() => true, scriptedAgent([...]));                          // any registry
 */
import type {
  AgentFactory,
  AgentHost,
  AgentSession,
  AgentStartOptions,
  AgentToolResult,
} from '../../streams/agents/agent.js';

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
  /** Speaks: the samples at the session's output rate; `text` (if any) is stored as the assistant's transcript. */
  | { say: Int16Array; text?: string }
  /** Stores a transcript line without audio. */
  | { transcript: string; role?: 'user' | 'assistant' }
  /** Pauses (pacing only: the tests never rely on it for correctness). */
  | { waitMs: number }
  /** Runs a hook (e.g. a REST check between tool calls); the script waits for it. */
  | { run: (ctx: StepContext) => unknown }
  /** The agent ends its own session. */
  | { end: string };

/** One scripted session, as recorded. */
export interface ScriptedSession {
  readonly options: AgentStartOptions;
  /** Tool results in the order received. */
  readonly results: AgentToolResult[];
  /** Frames of caller audio the agent received. */
  framesIn: number;
  /** Copies of those frames, at the session's input rate (only with `recordAudioIn`). */
  readonly audioIn: Int16Array[];
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
  /** Rate of `audioIn` (default 8000: no resampling). */
  inputSampleRateHz?: number;
  /** Rate of the `say` samples (default 8000). */
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
    let resolveDone: () => void = () => {};
    const record: ScriptedSession = {
      options,
      results: [],
      framesIn: 0,
      audioIn: [],
      stepsRun: [],
      stopReason: undefined,
      error: undefined,
      scriptDone: new Promise<void>((res) => (resolveDone = res)),
    };
    sessions.push(record);
    const ctx: StepContext = { options, results: record.results, host, session: record };

    const runScript = async (): Promise<void> => {
      try {
        for (let i = 0; i < steps.length; i++) {
          if (record.stopReason !== undefined) return;
          const step = steps[i]!;
          record.stepsRun.push(i);
          if ('tool' in step) {
            const args = typeof step.args === 'function' ? step.args(ctx) : (step.args ?? {});
            const out = await host.toolCall({ id: step.id ?? `call_scripted_${++toolCallCounter}`, name: step.tool, arguments: args });
            record.results.push(out);
          } else if ('say' in step) {
            host.audioOut(step.say);
            if (step.text) host.transcript('assistant', step.text);
          } else if ('transcript' in step) {
            host.transcript(step.role ?? 'assistant', step.transcript);
          } else if ('waitMs' in step) {
            await new Promise((r) => setTimeout(r, step.waitMs));
          } else if ('run' in step) {
            await step.run(ctx);
          } else if ('end' in step) {
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
      inputSampleRateHz: agentOptions.inputSampleRateHz ?? 8000,
      outputSampleRateHz: agentOptions.outputSampleRateHz ?? 8000,
      async start() {
        // Like a model: the conversation runs on its own once the session is up.
        setImmediate(() => void runScript());
      },
      audioIn(samples) {
        record.framesIn++;
        if (agentOptions.recordAudioIn) record.audioIn.push(samples.slice());
      },
      interrupt() {
        /* nothing is generated, so nothing to cancel */
      },
      async stop(reason: string) {
        if (record.stopReason === undefined) record.stopReason = reason;
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
