/** The external-agent WebSocket protocol (v1): see docs/external-agent-protocol.md. */
export { EXTERNAL_ENGINE_PREFIX, ExternalAgentSession, connectExternalAgent, externalAgent, isExternalAgentConfig } from './session.js';
export type { ExternalAgentOptions } from './session.js';
export * from './protocol.js';
export { agentUrlProblem } from '../../../src/catalog/ai.js';
