import type { Row } from '../../../db/store.js';
import { NIL_UUID, newId } from '../../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../../util/time.js';
import type { LiveCall } from './live-call.js';
import type { LocalCallEngine } from './engine.js';
import { runAiAction } from './ai-action.js';
import { newCallRow } from '../rows.js';
import { runTalkAction } from './talk-action.js';
import { runAiSummary, runTranscribeStart, runTranscribeStop } from './transcription-actions.js';

/** A flow action as stored. */
export interface FlowAction {
  id: string;
  next_id: string;
  type: string;
  option: Record<string, unknown>;
}

/** Runs one action; resolves when the flow may go on to the next one. */
export type ActionHandler = (runner: FlowRunner, action: FlowAction, signal: AbortSignal) => Promise<void>;

/** Most actions one activeflow may execute (a guard against `goto` loops). */
const MAX_EXECUTED_ACTIONS = 1000;

const VAR_RE = /\$\{([^}]+)\}/g;

/**
 * Executes a call's flow as an activeflow: actions in order, variables with `${...}`
 * substitution, and the hooks the AI tools act through (insert actions after the current one,
 * end the current action, stop the flow).
 */
export class FlowRunner {
  readonly engine: LocalCallEngine;
  readonly call: LiveCall;
  activeflow: Row;
  /** Flow variables; values are strings, as on VoIPBIN. */
  readonly variables = new Map<string, string>();
  private actions: FlowAction[] = [];
  private index = 0;
  private stopped = false;
  private currentAbort: AbortController | undefined;
  private readonly doneListeners: (() => void)[] = [];
  private doneFired = false;

  constructor(engine: LocalCallEngine, call: LiveCall, variables: Record<string, string>) {
    this.engine = engine;
    this.call = call;
    const now = nowTimestamp();
    this.activeflow = {
      id: newId(),
      customer_id: call.row.customer_id,
      flow_id: call.row.flow_id as string,
      status: 'running',
      reference_type: 'call',
      reference_id: call.id,
      reference_activeflow_id: NIL_UUID,
      on_complete_flow_id: NIL_UUID,
      webhook_uri: '',
      webhook_method: '',
      current_action: { id: NIL_UUID, next_id: NIL_UUID, type: '', option: {} },
      forward_action_id: NIL_UUID,
      executed_actions: [],
      tm_create: now,
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    };
    for (const [k, v] of Object.entries(variables)) this.variables.set(k, String(v));
  }

  get ctx() {
    return this.engine.ctx;
  }

  /** Stores the activeflow, loads the flow and runs it in the background. */
  async start(): Promise<void> {
    const flow = await this.ctx.store.flows.get(this.call.row.customer_id, this.call.row.flow_id as string);
    this.actions = ((flow?.actions as FlowAction[]) ?? []).map((a) => ({ ...a, option: { ...(a.option ?? {}) } }));
    // Stored even when stopped meanwhile, so the activeflow exists (ended) like any other.
    await this.ctx.store.activeflows.insert(this.activeflow);
    if (this.stopped) {
      await this.ctx.store.activeflows.update(this.activeflow);
      return;
    }
    this.call.activeflowId = this.activeflow.id;
    await this.engine.updateCall(this.call, { activeflow_id: this.activeflow.id });
    const src = this.call.row.source as { target?: string };
    const dst = this.call.row.destination as { target?: string };
    this.setBuiltins({
      'voipbin.activeflow.id': this.activeflow.id,
      'voipbin.flow.id': this.activeflow.flow_id as string,
      'voipbin.call.id': this.call.id,
      'voipbin.call.source.target': src.target ?? '',
      'voipbin.call.destination.target': dst.target ?? '',
      'voipbin.call.direction': this.call.row.direction as string,
    });
    void this.run();
  }

  /** Sets built-in variables (never overwriting what the caller passed). */
  setBuiltins(values: Record<string, string>): void {
    for (const [k, v] of Object.entries(values)) if (!this.variables.has(k)) this.variables.set(k, v);
  }

  /** Replaces `${name}` with the variable's value ('' when unset), recursively in objects and arrays. */
  substitute<T>(value: T): T {
    if (typeof value === 'string') return value.replace(VAR_RE, (_, name: string) => this.variables.get(name.trim()) ?? '') as T;
    if (Array.isArray(value)) return value.map((v) => this.substitute(v)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.substitute(v)])) as T;
    }
    return value;
  }

  onDone(listener: () => void): void {
    if (this.doneFired) listener();
    else this.doneListeners.push(listener);
  }

  /** Inserts actions right after the current one (e.g. connect_call's `connect`). */
  insertAfterCurrent(actions: FlowAction[]): void {
    this.actions.splice(this.index + 1, 0, ...actions);
  }

  /** Ends the current action early; the flow goes on with the next one (stop_service). */
  finishCurrentAction(): void {
    this.currentAbort?.abort(new Error('action finished'));
  }

  /** Stops the flow: nothing after the current action runs (stop_flow, /activeflows/{id}/stop). */
  async stop(reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.currentAbort?.abort(new Error(reason));
    await this.finish();
  }

  private async run(): Promise<void> {
    let executed = 0;
    try {
      while (!this.stopped && !this.call.ended && this.index < this.actions.length) {
        if (++executed > MAX_EXECUTED_ACTIONS) {
          this.ctx.logger.warn('activeflow stopped: too many actions executed', { activeflow_id: this.activeflow.id });
          break;
        }
        const action = this.actions[this.index]!;
        await this.execute(action);
        this.index++;
      }
    } catch (err) {
      this.ctx.logger.error('activeflow failed', { activeflow_id: this.activeflow.id, error: String(err) });
    }
    await this.finish();
  }

  private async execute(action: FlowAction): Promise<void> {
    const now = nowTimestamp();
    // What actually ran: the options with `${...}` filled in at execution time.
    const resolved = { ...action, option: this.substitute(action.option) };
    const executedAction = { ...resolved, tm_execute: now };
    this.activeflow = {
      ...this.activeflow,
      current_action: executedAction,
      executed_actions: [...(this.activeflow.executed_actions as unknown[]), executedAction],
      tm_update: now,
    };
    await this.ctx.store.activeflows.update(this.activeflow);
    await this.engine.updateCall(this.call, { action: executedAction });
    const handler = ACTION_HANDLERS[action.type];
    if (!handler) {
      this.ctx.logger.warn(`flow action "${action.type}" is not supported by the local VoIPBIN yet; skipped`, {
        activeflow_id: this.activeflow.id,
      });
      return;
    }
    const abort = new AbortController();
    this.currentAbort = abort;
    try {
      await handler(this, resolved, abort.signal);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    } finally {
      this.currentAbort = undefined;
    }
  }

  private async finish(): Promise<void> {
    if (this.doneFired) return;
    this.doneFired = true;
    this.stopped = true;
    const now = nowTimestamp();
    this.activeflow = { ...this.activeflow, status: 'ended', tm_update: now };
    try {
      if (await this.ctx.store.activeflows.getById(this.activeflow.id)) await this.ctx.store.activeflows.update(this.activeflow);
    } catch (err) {
      // finish() runs in the background (call ends, stops): log, never reject.
      this.ctx.logger.error('storing the end of an activeflow failed', { activeflow_id: this.activeflow.id, error: String(err) });
    }
    for (const l of this.doneListeners) l();
  }
}

/** Waits `ms`, or rejects when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when the call ends or `signal` aborts. */
function untilCallEnds(call: LiveCall, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (call.ended || signal.aborted) return resolve();
    const off = call.onEnd(() => resolve());
    signal.addEventListener('abort', () => {
      off();
      resolve();
    }, { once: true });
  });
}

/** The action types the local flow engine executes. */
export const ACTION_HANDLERS: Record<string, ActionHandler> = {
  async answer(r) {
    await r.engine.answer(r.call);
  },
  async sleep(r, a, signal) {
    const ms = Number(a.option.duration ?? 0);
    if (ms > 0) await abortableSleep(ms, signal);
  },
  async hangup(r) {
    await r.engine.endCall(r.call, { by: 'local', reason: 'normal' });
  },
  async stop(r) {
    await r.stop('stop action');
  },
  talk: runTalkAction,
  transcribe_start: runTranscribeStart,
  transcribe_stop: runTranscribeStop,
  ai_summary: runAiSummary,
  async variable_set(r, a) {
    const key = String(a.option.key ?? '');
    if (key) r.variables.set(key, String(a.option.value ?? ''));
  },
  ai_talk: runAiAction,
  ai: runAiAction,
  async connect(r, a, signal) {
    await r.engine.answer(r.call);
    const source = (a.option.source as Row['source']) ?? r.call.row.source;
    const destinations = (a.option.destinations as { type: string; target: string }[]) ?? [];
    for (const destination of destinations) {
      if (signal.aborted || r.call.ended) return;
      const row: Row = {
        ...newCallRow(r.call.row.customer_id, { target_name: '', name: '', detail: '', ...(source as object) }, {
          target_name: '',
          name: '',
          detail: '',
          ...destination,
        }),
        master_call_id: r.call.id,
      };
      await r.ctx.store.calls.insert(row);
      await r.engine.updateCall(r.call, { chained_call_ids: [...((r.call.row.chained_call_ids as string[]) ?? []), row.id] });
      const out = await r.engine.dialOut(row, {}, { runFlow: false });
      if (out.ended) continue;
      const answered = await new Promise<boolean>((resolve) => {
        out.onAnswered = () => resolve(true);
        out.onEnd(() => resolve(false));
        signal.addEventListener('abort', () => resolve(false), { once: true });
      });
      if (!answered) {
        if (!out.ended) await r.engine.endCall(out, { by: 'local', reason: 'cancel' });
        continue;
      }
      r.engine.bridge(r.call, out);
      await untilCallEnds(out, signal);
      if (!out.ended) await r.engine.endCall(out, { by: 'local', reason: 'normal' });
      return;
    }
  },
};
