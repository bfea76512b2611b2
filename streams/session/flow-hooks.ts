/**
 * The flow-side effects of one AI conversation: what the AI tools change outside the REST API.
 * The local flow engine implements them on its flow runner; against api.voipbin.net the gateway
 * implements them with the public API where one exists (tools/remote-flow.ts fits this shape).
 *
 * Ending the conversation is not a hook: the session runner ends it itself (stop_service,
 * stop_flow, connect_call), and finishing the flow action is the runner's `run()` resolving, after
 * which the flow engine (or VoIPBIN, when the media stream closes) goes on with the next action.
 */
import type { FlowControl, ToolAddress } from '../../tools/executor.js';

export interface FlowHooks {
  setVariables(variables: Record<string, string>): Promise<void>;
  getVariables(): Promise<Record<string, string>>;
  /**
   * Prepares stopping the flow (what can fail runs now, before the tool result, so the model never
   * hears a false success) and returns the step that stops it, run once the result is stored and
   * the conversation was told to end.
   */
  stopFlow(): Promise<() => Promise<void>>;
  /**
   * Prepares a transfer (throws a ToolFailure the model can relay when it cannot be done) and
   * returns the step that adds the `connect` after the AI action, run once the result is stored;
   * the conversation ends right after it.
   */
  connect(source: ToolAddress, destinations: ToolAddress[]): Promise<() => Promise<void>>;
  /** Stops media other than the agent's own (the AI keeps talking). */
  stopMedia(): Promise<void>;
  /** The call's own address, the default source of connect_call. */
  callSource(): ToolAddress;
  /** The number of this account on the call (the default SMS sender), if any. */
  accountNumber(): string | undefined;
}

/** The tools' {@link FlowControl} of one conversation: `hooks`, plus ending it through `end`. */
export function toolFlowControl(hooks: FlowHooks, end: (reason: 'stop_service' | 'stop_flow' | 'connect_call') => void): FlowControl {
  return {
    setVariables: (vars) => hooks.setVariables(vars),
    getVariables: () => hooks.getVariables(),
    async stopService() {
      end('stop_service');
    },
    async stopFlow() {
      const commit = await hooks.stopFlow();
      return async () => {
        end('stop_flow');
        await commit();
      };
    },
    async connect(source, destinations) {
      const commit = await hooks.connect(source, destinations);
      return async () => {
        await commit();
        end('connect_call');
      };
    },
    stopMedia: () => hooks.stopMedia(),
    callSource: () => hooks.callSource(),
    accountNumber: () => hooks.accountNumber(),
  };
}
