/**
 * What crosses between an agent and the tool executor: the model's tool call and the result
 * handed back. They live here, with the tools, so the gateway (streams/) depends on tools/ and
 * never the other way round.
 */

/** A tool call the agent's model made. `arguments` is the model's JSON text (or an object). */
export interface AgentToolCall {
  id: string;
  name: string;
  arguments: string | Record<string, unknown>;
}

/** The result handed back to the model, VoIPBIN's shape. */
export interface ToolResult {
  tool_call_id: string;
  result: 'success' | 'failed';
  message: string;
  resource_type: string;
  resource_id: string;
}

/** A tool result plus whether the agent should speak again after it (`run_llm`). */
export interface AgentToolResult {
  result: ToolResult;
  runLlm: boolean;
}
