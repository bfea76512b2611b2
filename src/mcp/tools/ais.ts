/**
 * AI configuration tools: create_ai, list_ais, get_ai, update_ai, delete_ai.
 *
 * The LLM provider key is taken by reference: `engine_key_env` names an environment variable
 * of the MCP server process, which the tool reads and sends as `engine_key`. The key itself
 * never passes through the model, and results never contain it. Only the catalog's provider
 * key variables and those the operator lists in MCP_ENGINE_KEY_ENV_ALLOW may be named, so no
 * other secret of the process (GITHUB_TOKEN, ...) can be attached to an AI.
 */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AICreateParams, AIManagerAI, AIManagerToolName, AIUpdateParams } from '../../client/index.js';
import { PROVIDER_KEY_ENV, STT_TYPES, TTS_TYPES, parseEngineModel } from '../../catalog/ai.js';
import { TOOL_NAMES } from '../../../tools/types.js';
import { registerSecret } from '../../util/logger.js';
import type { McpDeps } from '../deps.js';
import { ENGINE_KEY_ENV_ALLOW, allowedEngineKeyEnvNames } from '../env.js';
import { ToolInputError, ToolSetupError } from '../errors.js';
import { nextPageTokenOutput, pageOutput, pagingInput, pagingQuery } from '../result.js';
import { AiOutput } from '../schemas.js';
import { READ_ONLY, defineTool } from '../tool.js';

/** Variables that hold VoIPBIN or MCP credentials: never usable as an LLM key. */
const NOT_A_PROVIDER_KEY = new Set(['VOIPBIN_ACCESSKEY', 'VOIPBIN_LOCAL_ACCESSKEY', 'MCP_HTTP_TOKEN']);
/** The shape of an environment variable name (which ones are allowed is checked at run time). */
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UNEXPANDED_RE = /^\$\{[^}]*\}$|^\$[A-Z_][A-Z0-9_]*$/;

const AI_TOOL_NAMES = ['all', ...TOOL_NAMES] as const;

const engineModel = z
  .string()
  .min(3)
  .describe('The LLM as <provider>.<model>, e.g. openai.gpt-4o, anthropic.claude-sonnet-4-5, gemini.gemini-2.5-flash.');
const engineKeyEnv = z
  .string()
  .regex(ENV_NAME_RE, 'must be an environment variable name like OPENAI_API_KEY')
  .optional()
  .describe(
    'Name of the environment variable of this MCP server that holds the LLM provider API key (never the key itself). ' +
      'Defaults by provider: OPENAI_API_KEY for openai.*, ANTHROPIC_API_KEY for anthropic.*, GEMINI_API_KEY for gemini.*, ... ' +
      `Only the provider key variables and names the operator allowed in ${ENGINE_KEY_ENV_ALLOW} are accepted; usually omit it.`,
  );

const configFields = {
  detail: z.string().optional().describe('Free-text description of the AI for people.'),
  init_prompt: z.string().describe('The system prompt: persona, task, rules, when to use which tool and when to end the conversation.'),
  tts_type: z.enum(TTS_TYPES).describe('Text-to-speech provider for the AI voice, e.g. elevenlabs (natural), openai, deepgram, google, azure, aws.'),
  tts_voice_id: z.string().optional().describe("Voice of the TTS provider; omit for the provider's default voice."),
  stt_type: z.enum(STT_TYPES).describe('Speech-to-text provider for the caller audio: deepgram (default choice), cartesia, elevenlabs or google.'),
  stt_language: z.string().optional().describe('Language the caller speaks, BCP-47 like en-US or ko-KR.'),
  tool_names: z
    .array(z.enum(AI_TOOL_NAMES))
    .optional()
    .describe(
      'Tools the voice agent may use during calls: [] for none, ["all"], or a list. Prefer an explicit list; include stop_service so the agent can end its part, and stop_flow only if it may hang up the whole call.',
    ),
  vad_config: z
    .object({
      confidence: z.number().min(0).max(1).optional().describe('Speech detection confidence threshold, 0 to 1.'),
      start_secs: z.number().min(0).max(30).optional().describe('Seconds of speech before the caller counts as speaking.'),
      stop_secs: z.number().min(0).max(30).optional().describe('Seconds of silence before the caller counts as done.'),
      min_volume: z.number().min(0).max(1).optional().describe('Minimum volume counted as speech, 0 to 1.'),
    })
    .optional()
    .describe('Voice activity detection tuning; omit for the engine defaults.'),
  parameter: z.record(z.string(), z.unknown()).optional().describe('Extra engine parameters (advanced; usually omit).'),
};

/** Update arguments: every configuration field optional. */
const updateFields = {
  ...configFields,
  init_prompt: configFields.init_prompt.optional(),
  tts_type: configFields.tts_type.optional(),
  stt_type: configFields.stt_type.optional(),
};

/** The provider key for `engineModel`, read from the server's env by variable name. */
export function resolveEngineKey(deps: McpDeps, engineModelValue: string, envName: string | undefined): string {
  const em = parseEngineModel(engineModelValue);
  if ('error' in em) throw new ToolInputError('engine_model', em.error);
  const name = envName ?? PROVIDER_KEY_ENV[em.provider];
  if (!name) {
    throw new ToolInputError('engine_key_env', `no default key variable is known for provider ${em.provider}`, {
      nextStep: 'Pass engine_key_env: the name of the environment variable of the MCP server that holds this provider key.',
    });
  }
  if (NOT_A_PROVIDER_KEY.has(name)) {
    throw new ToolInputError('engine_key_env', `${name} holds a VoIPBIN credential, not an LLM provider key`, {
      nextStep: `Use the variable that holds the ${em.provider} API key, e.g. ${PROVIDER_KEY_ENV[em.provider] ?? 'OPENAI_API_KEY'}.`,
    });
  }
  const allowed = allowedEngineKeyEnvNames(deps.env);
  if (!allowed.includes(name)) {
    // Refused before the variable is read: whether it is set, and its value, stay unknown.
    throw new ToolInputError('engine_key_env', `${name} is not a provider key variable this server lets an AI use; allowed: ${allowed.join(', ')}`, {
      reason: 'ENGINE_KEY_ENV_NOT_ALLOWED',
      nextStep:
        `Omit engine_key_env to use ${PROVIDER_KEY_ENV[em.provider] ?? 'the provider default'} for ${em.provider}, or pass one of the allowed names. ` +
        `If the key really is in another variable, tell the user to add its name to ${ENGINE_KEY_ENV_ALLOW} in the MCP server's environment and restart it.`,
    });
  }
  const value = deps.env[name]?.trim();
  if (!value) {
    throw new ToolSetupError(
      'ENGINE_KEY_ENV_NOT_SET',
      `the environment variable ${name} (the ${em.provider} API key) is not set in the MCP server's environment`,
      `Do not ask the user to paste the key into the chat. Tell the user to set ${name} in the environment of the voipbin-ai MCP server ` +
        `(the "env" block of its entry in the MCP client config) and restart it, then call this tool again; ` +
        `or pass engine_key_env naming another variable that holds the key.`,
    );
  }
  if (UNEXPANDED_RE.test(value)) {
    throw new ToolSetupError(
      'ENGINE_KEY_ENV_UNEXPANDED',
      `the environment variable ${name} contains an unexpanded reference, not a key`,
      `Tell the user to set ${name} to the real key in the MCP server's environment and restart the server.`,
    );
  }
  registerSecret(value);
  return value;
}

function withOptional<T extends object>(target: T, source: Record<string, unknown>, keys: readonly string[]): T {
  for (const k of keys) if (source[k] !== undefined) (target as Record<string, unknown>)[k] = source[k];
  return target;
}

const COPY_FIELDS = [
  'detail',
  'init_prompt',
  'tts_type',
  'tts_voice_id',
  'stt_type',
  'stt_language',
  'tool_names',
  'vad_config',
  'parameter',
] as const;

/** Fields of an existing AI that a full update body carries over. */
const CARRY_FIELDS = ['name', 'detail', 'type', 'engine_model', 'parameter', 'rag_id', 'init_prompt', 'tts_type', 'tts_voice_id', 'stt_type', 'stt_language', 'vad_config', 'tool_names', 'auto_aicall_audit_enabled'] as const;

export function registerAiTools(server: McpServer, deps: McpDeps): void {
  const { client } = deps;

  defineTool(server, deps, 'create_ai', {
    title: 'Create AI voice agent',
    description:
      'Create a reusable AI configuration (a voice agent: LLM, system prompt, voice, speech recognition, tools). ' +
      'Use it when the user wants a voice agent that calls can use; then place a call with create_call and an ai_talk action with this ai_id. ' +
      'The LLM provider key is never passed here: the server reads it from its own environment (engine_key_env, default by provider).',
    input: {
      name: z.string().min(1).describe('Short name of the AI, e.g. "Dental receptionist".'),
      engine_model: engineModel,
      engine_key_env: engineKeyEnv,
      ...configFields,
    },
    output: { ai: AiOutput },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(args) {
      const engine_key = resolveEngineKey(deps, args.engine_model, args.engine_key_env);
      const body: AICreateParams = withOptional(
        { name: args.name, engine_model: args.engine_model, engine_key },
        args as Record<string, unknown>,
        COPY_FIELDS,
      );
      if (body.tool_names) body.tool_names = body.tool_names as AIManagerToolName[];
      return { ai: await client.ais.create(body) };
    },
  });

  defineTool(server, deps, 'list_ais', {
    title: 'List AI voice agents',
    description:
      'List the AI configurations of the account, newest first, with paging. Use it to find an ai_id (for create_call, get_ai, update_ai, delete_ai) or when an AI id was not found.',
    input: { ...pagingInput },
    output: { ais: z.array(AiOutput), next_page_token: nextPageTokenOutput },
    annotations: READ_ONLY,
    async run(args) {
      return pageOutput('ais', await client.ais.list(pagingQuery(args)));
    },
  });

  defineTool(server, deps, 'get_ai', {
    title: 'Get AI voice agent',
    description: 'Get one AI configuration by id: its model, prompt, voice, speech recognition and tools. Use it before changing an AI or to explain how it behaves.',
    input: { id: z.string().min(1).describe('The AI id (UUID) from list_ais or create_ai.') },
    output: { ai: AiOutput },
    annotations: READ_ONLY,
    async run(args) {
      return { ai: await client.ais.get(args.id) };
    },
  });

  defineTool(server, deps, 'update_ai', {
    title: 'Update AI voice agent',
    description:
      'Change fields of an existing AI configuration; fields you omit keep their values. Use it to adjust the prompt, voice, language or tools of an agent. ' +
      'The stored LLM key is kept unless engine_key_env is given or engine_model switches to another provider (then the key is read from that provider\'s default variable).',
    input: {
      id: z.string().min(1).describe('The AI id (UUID) from list_ais or create_ai.'),
      name: z.string().min(1).optional().describe('New name.'),
      engine_model: engineModel.optional(),
      engine_key_env: engineKeyEnv,
      ...updateFields,
    },
    output: { ai: AiOutput },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(args) {
      const current: AIManagerAI = await client.ais.get(args.id);
      // A full body (current values + changes) works whether the server merges or replaces.
      const body: AIUpdateParams = withOptional({}, current as Record<string, unknown>, CARRY_FIELDS);
      withOptional(body, args as Record<string, unknown>, ['name', 'engine_model', ...COPY_FIELDS]);
      if (args.tts_type !== undefined && args.tts_type !== current.tts_type && args.tts_voice_id === undefined) {
        body.tts_voice_id = ''; // the new TTS type's default voice, not the old type's voice
      }
      const providerOf = (m: string | undefined) => (m ? m.split('.')[0] : undefined);
      const providerChanged = args.engine_model !== undefined && providerOf(args.engine_model) !== providerOf(current.engine_model);
      if (args.engine_key_env !== undefined || providerChanged) {
        body.engine_key = resolveEngineKey(deps, body.engine_model ?? '', args.engine_key_env);
      }
      return { ai: await client.ais.update(args.id, body) };
    },
  });

  defineTool(server, deps, 'delete_ai', {
    title: 'Delete AI voice agent',
    description:
      'Delete an AI configuration. Calls that reference it by ai_id will no longer find it. Use only when the user clearly asks to remove the agent.',
    input: { id: z.string().min(1).describe('The AI id (UUID) to delete, from list_ais.') },
    output: { ai: AiOutput.describe('The deleted AI') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run(args) {
      return { ai: await client.ais.delete(args.id) };
    },
  });
}
