import type { VoipbinClient } from '../src/client/client.js';
import type { Logger } from '../src/util/logger.js';
import { VoipbinError } from '../src/client/errors.js';
import type { AgentToolCall, AgentToolResult, ToolResult } from './results.js';
import { parseToolArguments } from './parse.js';
import { isToolName } from './registry.js';
import type { ToolArgsMap } from './registry.js';
import type { ToolName } from './types.js';

/** An address as the tools and VoIPBIN use it. */
export interface ToolAddress {
  type: string;
  target: string;
  target_name?: string;
}

/**
 * What the tools act on besides the REST API: the running flow. The local VoIPBIN implements it
 * on its flow engine; against api.voipbin.net the gateway implements it with the public API
 * where one exists and its own session store where none does (flow variables).
 */
export interface FlowControl {
  setVariables(variables: Record<string, string>): Promise<void>;
  getVariables(): Promise<Record<string, string>>;
  /** Ends the AI action; the flow goes on with its next action. */
  stopService(): Promise<void>;
  /**
   * Prepares ending the flow and the call (nothing after it runs): does what can fail now, and
   * returns the step that ends the agent, run once the tool result is stored.
   */
  stopFlow(): Promise<() => Promise<void>>;
  /**
   * Prepares the transfer: checks it can be done (else throws a {@link ToolFailure}) and returns
   * the step that adds a `connect` action right after the AI action and ends the AI action, run
   * once the tool result is stored.
   */
  connect(source: ToolAddress, destinations: ToolAddress[]): Promise<() => Promise<void>>;
  /** Stops media a previous action is playing (the AI keeps talking). */
  stopMedia(): Promise<void>;
  /** The call's own number and address, the defaults of send_message / connect_call. */
  callSource(): ToolAddress;
  /** The number of this account on the call (the default SMS sender), if any. */
  accountNumber(): string | undefined;
}

/** Everything a tool call needs. */
export interface ToolRuntime {
  /** The one REST client, acting as the AI call's customer. */
  client: VoipbinClient;
  aicall: { id: string; customer_id: string; activeflow_id: string };
  flow: FlowControl;
  /** The tools this AI may use (resolved `tool_names`). */
  allowed: readonly ToolName[];
  logger?: Logger;
}

interface Outcome {
  message: string;
  resource_type?: string;
  resource_id?: string;
  /** Runs after the result is stored (e.g. ending the AI must not lose the tool message). */
  after?: () => Promise<void>;
}

type Handler<N extends ToolName> = (rt: ToolRuntime, args: ToolArgsMap[N]) => Promise<Outcome>;

const HANDLERS: { [N in ToolName]: Handler<N> } = {
  async connect_call(rt, args) {
    const source = (args.source as ToolAddress | undefined) ?? rt.flow.callSource();
    const destinations = args.destinations as ToolAddress[];
    const transfer = await rt.flow.connect(source, destinations);
    return { message: `connecting to ${destinations.map((d) => d.target).join(', ')}`, resource_type: 'call', after: transfer };
  },
  async send_email(rt, args) {
    const email = await rt.client.emails.send({
      destinations: args.destinations.map((d) => ({ type: 'email', target: d.target, target_name: d.target_name ?? '' })),
      subject: args.subject,
      content: args.content,
      attachments: (args.attachments ?? []).map((a) => ({ reference_type: a.reference_type ?? 'recording', reference_id: a.reference_id! })),
    } as never);
    return { message: `email sent to ${args.destinations.map((d) => d.target).join(', ')}`, resource_type: 'email', resource_id: email.id };
  },
  async send_message(rt, args) {
    const sourceNumber = args.source?.target ?? rt.flow.accountNumber();
    if (!sourceNumber) {
      throw new ToolFailure('no source number: pass source {"type":"tel","target":"+E.164"} with a number of this account');
    }
    const message = await rt.client.messages.send({
      source: { type: 'tel', target: sourceNumber, target_name: args.source?.target_name ?? '' },
      destinations: args.destinations.map((d) => ({ type: 'tel', target: d.target, target_name: d.target_name ?? '' })),
      text: args.text,
    } as never);
    return { message: `SMS sent to ${args.destinations.map((d) => d.target).join(', ')}`, resource_type: 'message', resource_id: message.id };
  },
  async stop_media(rt) {
    await rt.flow.stopMedia();
    return { message: 'media stopped' };
  },
  async stop_service(rt) {
    return { message: 'AI conversation ended; the flow continues', after: () => rt.flow.stopService() };
  },
  async stop_flow(rt) {
    const commit = await rt.flow.stopFlow();
    return { message: 'flow stopped; the call ends', resource_type: 'activeflow', resource_id: rt.aicall.activeflow_id, after: commit };
  },
  async set_variables(rt, args) {
    await rt.flow.setVariables(args.variables as Record<string, string>);
    return { message: `saved ${Object.keys(args.variables).join(', ') || 'nothing'}`, resource_type: 'activeflow', resource_id: rt.aicall.activeflow_id };
  },
  async get_variables(rt) {
    const vars = await rt.flow.getVariables();
    return { message: JSON.stringify(vars), resource_type: 'activeflow', resource_id: rt.aicall.activeflow_id };
  },
  async get_aicall_messages(rt, args) {
    const messages: { role: string; content: string }[] = [];
    // The client acts as this AI call's customer: another customer's AI call is a 404.
    for await (const m of (await rt.client.aimessages.list(args.aicall_id, { page_size: 100 })) as AsyncIterable<{ role: string; content: string; tm_create: string }>) {
      messages.push({ role: m.role, content: m.content });
      if (messages.length >= 200) break;
    }
    messages.reverse();
    return { message: JSON.stringify(messages), resource_type: 'aicall', resource_id: args.aicall_id };
  },
};

/** A failure whose message is meant for the model. */
export class ToolFailure extends Error {}

/** Explains a REST error to the model in one line it can act on. */
function explain(err: unknown): string {
  if (err instanceof ToolFailure) return err.message;
  if (err instanceof VoipbinError) {
    const reason = err.reason ? `${err.reason}: ` : '';
    return `${reason}${err.serverMessage || err.message}`;
  }
  return 'the tool failed unexpectedly; try again or continue without it';
}

/**
 * Runs one tool call: validates the arguments (a model's bad arguments give a `failed` result it
 * can act on, never an exception), runs the tool, stores the assistant's tool call and the tool
 * result as AI call messages, and says whether the agent should speak again (`run_llm`).
 */
export async function executeToolCall(rt: ToolRuntime, call: AgentToolCall): Promise<AgentToolResult> {
  const rawArgs = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {});
  await storeMessage(rt, {
    role: 'assistant',
    content: '',
    tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: rawArgs } }],
  });
  const fail = (message: string): ToolResult => ({ tool_call_id: call.id, result: 'failed', message, resource_type: '', resource_id: '' });
  let result: ToolResult;
  let runLlm = false;
  let after: (() => Promise<void>) | undefined;
  if (!isToolName(call.name)) {
    result = fail(`unknown tool ${JSON.stringify(call.name)}; the tools you can call are: ${rt.allowed.join(', ') || 'none'}`);
    runLlm = true; // the model must hear that the action did not happen
  } else if (!rt.allowed.includes(call.name)) {
    result = fail(`tool ${call.name} is not enabled for this AI (tool_names); the tools you can call are: ${rt.allowed.join(', ') || 'none'}`);
    runLlm = true;
  } else {
    const parsed = parseToolArguments(call.name, call.arguments);
    if (!parsed.ok) {
      result = fail(parsed.message);
      runLlm = true; // let the model correct itself and try again
    } else {
      runLlm = parsed.runLlm;
      try {
        const out = await (HANDLERS[call.name] as Handler<ToolName>)(rt, parsed.args as never);
        after = out.after;
        result = {
          tool_call_id: call.id,
          result: 'success',
          message: out.message,
          resource_type: out.resource_type ?? '',
          resource_id: out.resource_id ?? '',
        };
      } catch (err) {
        result = fail(explain(err));
        runLlm = true;
      }
    }
  }
  await storeMessage(rt, { role: 'tool', content: JSON.stringify(result), tool_call_id: call.id });
  if (after) {
    // The result is already stored and returned to the model: a failure here is logged, and the
    // call to executeToolCall still resolves (agents rely on toolCall never rejecting).
    try {
      await after();
    } catch (err) {
      rt.logger?.error('a tool step after its result failed', { tool: call.name, error: String(err) });
    }
  }
  return { result, runLlm };
}

async function storeMessage(
  rt: ToolRuntime,
  m: { role: string; content: string; tool_calls?: unknown[]; tool_call_id?: string },
): Promise<void> {
  try {
    await rt.client.aimessages.create({ aicall_id: rt.aicall.id, ...m } as never);
  } catch {
    // The transcript is best effort: a storage failure must not break the conversation.
  }
}
