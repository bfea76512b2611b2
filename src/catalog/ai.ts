/**
 * What an AI configuration may contain: LLM providers, TTS and STT types, default voices and
 * VAD ranges, from voipbin-ai-overview.txt (the seed) and the OpenAPI spec.
 */

/** LLM providers accepted as the `<provider>` of `engine_model` (the seed's table). */
export const ENGINE_PROVIDERS = [
  'openai', 'anthropic', 'aws', 'azure', 'cerebras', 'deepseek', 'fireworks', 'gemini', 'grok', 'groq',
  'mistral', 'nvidia', 'ollama', 'openrouter', 'perplexity', 'qwen', 'sambanova', 'together', 'dialogflow',
  // Not an LLM: `external.<name>` runs the AI on the agent at `parameter.agent_url`, over the
  // external-agent WebSocket protocol (docs/external-agent-protocol.md).
  'external',
] as const;
export type EngineProvider = (typeof ENGINE_PROVIDERS)[number];

/**
 * Providers of the seed's table that this build cannot run (no adapter: AWS Bedrock's signed API,
 * Dialogflow's agent API). An AI or an inline ai_talk naming one is refused when it is saved,
 * rather than failing in the middle of a call.
 */
export const UNREACHABLE_ENGINE_PROVIDERS: readonly string[] = ['aws', 'dialogflow'];

/** The `engine_model` problem of an unreachable provider (see {@link UNREACHABLE_ENGINE_PROVIDERS}), or undefined. */
export function unreachableProviderProblem(provider: string): string | undefined {
  if (!UNREACHABLE_ENGINE_PROVIDERS.includes(provider)) return undefined;
  const usable = ENGINE_PROVIDERS.filter((p) => !UNREACHABLE_ENGINE_PROVIDERS.includes(p) && p !== 'external');
  return `${provider} models cannot run on this VoIPBIN gateway (no ${provider} adapter); use one of ${usable.join(', ')}, or external.<name> with parameter.agent_url`;
}

/** TTS types: the seed's table plus the OpenAPI spec's wider enum. */
export const TTS_TYPES = [
  'elevenlabs', 'deepgram', 'openai', 'aws', 'azure', 'google', 'cartesia', 'hume', 'playht',
  'async', 'fish', 'groq', 'inworld', 'lmnt', 'minimax', 'neuphonic', 'nvidia-riva', 'piper', 'rime', 'sarvam', 'xtts',
] as const;

/** STT types: the seed's table, plus `google` that VoIPBIN's server also accepts. */
export const STT_TYPES = ['deepgram', 'cartesia', 'elevenlabs', 'google'] as const;

/** The seed's "Default Voice IDs by TTS Type"; types without an entry default to ''. */
export const DEFAULT_TTS_VOICE_IDS: Readonly<Record<string, string>> = {
  elevenlabs: 'EXAVITQu4vr4xnSDxMaL',
  deepgram: 'aura-2-thalia-en',
  openai: 'alloy',
  aws: 'Joanna',
  azure: 'en-US-JennyNeural',
  google: 'en-US-Wavenet-D',
  cartesia: '71a7ad14-091c-4e8e-a314-022ece01c121',
};

/** Default key env var of each provider, for MCP tools that take keys by reference. */
export const PROVIDER_KEY_ENV: Readonly<Record<string, string>> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  aws: 'AWS_BEDROCK_API_KEY',
  azure: 'AZURE_OPENAI_API_KEY',
  cerebras: 'CEREBRAS_API_KEY',
  deepseek: 'DEEPSEEK_API_KEY',
  fireworks: 'FIREWORKS_API_KEY',
  gemini: 'GEMINI_API_KEY',
  grok: 'XAI_API_KEY',
  groq: 'GROQ_API_KEY',
  mistral: 'MISTRAL_API_KEY',
  nvidia: 'NVIDIA_API_KEY',
  ollama: 'OLLAMA_API_KEY',
  openrouter: 'OPENROUTER_API_KEY',
  perplexity: 'PERPLEXITY_API_KEY',
  qwen: 'DASHSCOPE_API_KEY',
  sambanova: 'SAMBANOVA_API_KEY',
  together: 'TOGETHER_API_KEY',
  dialogflow: 'DIALOGFLOW_API_KEY',
  // The bearer token the gateway sends to an external agent (its engine_key).
  external: 'EXTERNAL_AGENT_KEY',
};

/** VAD ranges from the OpenAPI's `AIManagerVADConfig`. */
export const VAD_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  confidence: [0, 1],
  start_secs: [0, 30],
  stop_secs: [0, 30],
  min_volume: [0, 1],
};

/** Splits `engine_model` into provider and model, or returns an error message. */
export function parseEngineModel(value: unknown): { provider: EngineProvider; model: string } | { error: string } {
  if (typeof value !== 'string' || value.trim() === '') {
    return { error: 'engine_model is required, in the form <provider>.<model> (e.g. openai.gpt-4o)' };
  }
  const dot = value.indexOf('.');
  const provider = dot > 0 ? value.slice(0, dot) : '';
  const model = dot > 0 ? value.slice(dot + 1) : '';
  if (!provider || !model) {
    return { error: `engine_model ${JSON.stringify(value)} must be <provider>.<model> (e.g. openai.gpt-4o)` };
  }
  if (!(ENGINE_PROVIDERS as readonly string[]).includes(provider)) {
    return {
      error: `engine_model provider ${JSON.stringify(provider)} is not supported; use one of: ${ENGINE_PROVIDERS.join(', ')}`,
    };
  }
  return { provider: provider as EngineProvider, model };
}

/**
 * Why `parameter.agent_url` of an external agent cannot be used (a message for the field), or
 * undefined when it is a ws:// or wss:// URL.
 */
export function agentUrlProblem(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') {
    return 'required for external.* engine models; send the agent\'s WebSocket URL, e.g. "ws://127.0.0.1:9000"';
  }
  if (typeof value !== 'string') return 'must be a ws:// or wss:// URL string';
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `${JSON.stringify(value.slice(0, 100))} is not a URL; send ws://host:port/path or wss://...`;
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return `must be a ws:// or wss:// URL (got ${u.protocol.replace(/:$/, '')}://)`;
  return undefined;
}

/**
 * What an engine model needs from `parameter`, checked when the AI is saved: `external.*` needs
 * `parameter.agent_url`. Returns `field: problem`, or undefined when all is well.
 */
export function engineParameterProblem(engineModel: string, parameter: Record<string, unknown> | undefined): string | undefined {
  if (!engineModel.startsWith('external.')) return undefined;
  const p = agentUrlProblem(parameter?.agent_url);
  return p ? `parameter.agent_url: ${p}` : undefined;
}

/**
 * The LLM key of `engine_model`'s provider from the server's environment (e.g. OPENAI_API_KEY
 * for openai.*), or '' when unset. Used where no stored AI supplies an engine_key.
 */
export function providerKeyFromEnv(engineModel: string, env: Record<string, string | undefined> = process.env): string {
  const parsed = parseEngineModel(engineModel);
  if ('error' in parsed) return '';
  return env[PROVIDER_KEY_ENV[parsed.provider] ?? ''] ?? '';
}
