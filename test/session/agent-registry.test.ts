/**
 * The agent registry: an AI configuration picks its agent by engine_model prefix or by a predicate,
 * first match first; none matching is undefined (the AI action then ends with NO_AGENT_REASON, see
 * test/flows/ai-flow.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AgentConfig, AgentFactory } from '../../streams/agents/agent.js';
import { AgentRegistry } from '../../streams/agents/registry.js';

function config(engine_model: string, parameter: Record<string, unknown> = {}): AgentConfig {
  return {
    ai_id: '',
    engine_model,
    engine_key: '',
    init_prompt: '',
    tts_type: '',
    tts_voice_id: '',
    stt_type: '',
    stt_language: '',
    language: '',
    tool_names: [],
    vad_config: {},
    parameter,
  };
}

const agent = (name: string): AgentFactory => Object.assign(() => Promise.reject(new Error(name)), { agentName: name });

describe('AgentRegistry', () => {
  it('matches an engine_model prefix, a predicate on the configuration, first registered first', () => {
    const realtime = agent('realtime');
    const external = agent('external');
    const pipeline = agent('pipeline');
    const agents = new AgentRegistry()
      .register('openai.gpt-realtime', realtime)
      .register((c) => typeof c.parameter.agent_url === 'string', external)
      .register((c) => c.engine_model.startsWith('openai.'), pipeline);
    expect(agents.size).toBe(3);
    expect(agents.resolve(config('openai.gpt-realtime'))).toBe(realtime);
    expect(agents.resolve(config('openai.gpt-realtime-mini'))).toBe(realtime);
    expect(agents.resolve(config('openai.gpt-realtime', { agent_url: 'ws://x' }))).toBe(realtime);
    expect(agents.resolve(config('openai.gpt-4o', { agent_url: 'ws://x' }))).toBe(external);
    expect(agents.resolve(config('openai.gpt-4o'))).toBe(pipeline);
    expect(agents.resolve(config('anthropic.claude-sonnet-4'))).toBeUndefined();
  });

  it('an empty registry resolves nothing', () => {
    expect(new AgentRegistry().resolve(config('openai.gpt-4o'))).toBeUndefined();
  });
});
