import type { VoipbinClient } from '../client/index.js';
import type { Logger } from '../util/logger.js';
import type { GatewaySessions } from '../gateway/sessions.js';

/** What one MCP server instance (one stdio process, or one HTTP session) works with. */
export interface McpDeps {
  /** The one REST client: the local API (in-process) or api.voipbin.net. Every tool goes through it. */
  client: VoipbinClient;
  /**
   * The environment of the MCP server process. Tools that need an LLM provider key read it
   * from here by variable name (`engine_key_env`), so the key never passes through the model.
   */
  env: Readonly<Record<string, string | undefined>>;
  /** Writes to stderr (stdout is the stdio protocol channel). */
  logger: Logger;
  /**
   * The agent sessions this process runs on remote VoIPBIN calls (the gateway tools), when this
   * process is a gateway; absent: those tools answer that the gateway is not available here.
   */
  gateway?: GatewaySessions;
}
