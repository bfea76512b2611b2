/**
 * The agent registry: which {@link AgentFactory} runs a given AI configuration. The gateway (and
 * the local flow engine) is given one registry at construction; each agent kind registers itself
 * with a matcher on the configuration (an `engine_model` prefix such as `openai.gpt-realtime`, or
 * a predicate on the whole {@link AgentConfig}, e.g. its `parameter` options).
 *
 *   const agents = new AgentRegistry()
 *     .register('openai.gpt-realtime', realtimeAgent)
 *     .register((c) => c.parameter.agent_url !== undefined, externalAgent);
 */
import type { AgentConfig, AgentFactory } from './agent.js';

/**
 * Tests an AI configuration. A string matches when `engine_model` starts with it
 * (`openai.gpt-realtime` matches `openai.gpt-realtime` and `openai.gpt-realtime-mini`).
 */
export type AgentMatcher = string | ((config: AgentConfig) => boolean);

interface Entry {
  matches: (config: AgentConfig) => boolean;
  factory: AgentFactory;
}

export class AgentRegistry {
  private readonly entries: Entry[] = [];

  /** Adds an agent kind. Entries are tried in registration order: the first match wins. */
  register(matcher: AgentMatcher, factory: AgentFactory): this {
    const matches = typeof matcher === 'string' ? (c: AgentConfig) => c.engine_model.startsWith(matcher) : matcher;
    this.entries.push({ matches, factory });
    return this;
  }

  /** The factory of the first entry matching `config`; undefined when no agent can run it. */
  resolve(config: AgentConfig): AgentFactory | undefined {
    for (const e of this.entries) if (e.matches(config)) return e.factory;
    return undefined;
  }

  /** Agent kinds registered. */
  get size(): number {
    return this.entries.length;
  }
}
