import type { VoipbinClient } from '../src/client/client.js';
import type { FlowControl, ToolAddress } from './executor.js';
import { ToolFailure } from './executor.js';

/** What the gateway's session does when a tool ends or changes the AI conversation. */
export interface RemoteSessionHooks {
  /** Ends the agent session; VoIPBIN's flow then goes on with its next action. */
  endAgent(reason: 'stop_service' | 'stop_flow'): Promise<void> | void;
  /** Stops audio the gateway is playing into the call other than the agent's own. */
  stopMedia(): Promise<void> | void;
}

/**
 * The tools' flow hooks when the platform is api.voipbin.net and the agent runs in this gateway
 * (attached to a call through its media stream). Each hook uses VoIPBIN's public API where one
 * exists; where none does, the gateway's session keeps the state and says so:
 *
 * - `stop_flow` → `POST /activeflows/{id}/stop` (then the agent session ends);
 * - `stop_service` → ends the agent session (the media stream closes; the flow goes on);
 * - `set_variables` / `get_variables` → this session's store: VoIPBIN has no public endpoint that
 *   sets activeflow variables, so the values live with the gateway session (seeded with the
 *   variables the session started with) and are not visible to later flow actions on VoIPBIN;
 * - `connect_call` → not available: the public API cannot add an action to a running flow, so it
 *   fails with a message the model can relay (use a flow `connect` action after the AI instead);
 * - `stop_media` → stops what the gateway itself plays into the call.
 */
export class RemoteFlowControl implements FlowControl {
  private readonly variables = new Map<string, string>();

  constructor(
    private readonly client: VoipbinClient,
    private readonly activeflowId: string,
    private readonly call: { source: ToolAddress; accountNumber?: string },
    private readonly hooks: RemoteSessionHooks,
    initialVariables: Record<string, string> = {},
  ) {
    for (const [k, v] of Object.entries(initialVariables)) this.variables.set(k, String(v));
  }

  async setVariables(vars: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(vars)) this.variables.set(k, String(v));
  }

  async getVariables(): Promise<Record<string, string>> {
    return Object.fromEntries(this.variables);
  }

  async stopService(): Promise<void> {
    await this.hooks.endAgent('stop_service');
  }

  async stopFlow(): Promise<() => Promise<void>> {
    // Before the result: if VoIPBIN refuses, the model gets a failed result, not a false success.
    if (this.activeflowId) await this.client.activeflows.stop(this.activeflowId);
    return async () => {
      await this.hooks.endAgent('stop_flow');
    };
  }

  async connect(): Promise<() => Promise<void>> {
    throw new ToolFailure(
      'connect_call is not available when the agent runs outside VoIPBIN: its public API cannot add a connect action to a running flow. Tell the caller you cannot transfer the call.',
    );
  }

  async stopMedia(): Promise<void> {
    await this.hooks.stopMedia();
  }

  callSource(): ToolAddress {
    return this.call.source;
  }

  accountNumber(): string | undefined {
    return this.call.accountNumber;
  }
}
