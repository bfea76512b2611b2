/** The `design_voice_agent` prompt: walks the user through designing a voice agent, then create_ai. */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { DEFAULT_TTS_VOICE_IDS, PROVIDER_KEY_ENV, STT_TYPES, TTS_TYPES } from '../catalog/ai.js';
import { TOOL_NAMES } from '../../tools/types.js';

const TOOL_HELP: Readonly<Record<string, string>> = {
  connect_call: 'transfer the caller to a person or another number',
  send_email: 'email the caller something (confirmation, details)',
  send_message: 'text the caller by SMS',
  stop_media: 'stop a prompt or music that is playing',
  stop_service: "soft stop: end the AI's part; the call flow continues (e.g. to a goodbye message)",
  stop_flow: 'hard stop: end everything, the call hangs up',
  set_variables: 'save facts collected in the call (name, booking time) for later flow steps',
  get_variables: 'read facts the flow provided (customer name, account id)',
  get_aicall_messages: 'read the conversation so far (rarely needed)',
};

export function designVoiceAgentText(args: { purpose?: string; language?: string; engine_model?: string }): string {
  const tools = TOOL_NAMES.map((t) => `   - ${t}: ${TOOL_HELP[t] ?? ''}`).join('\n');
  const voices = Object.entries(DEFAULT_TTS_VOICE_IDS)
    .map(([t, v]) => `${t} (default voice ${v})`)
    .join(', ');
  const keyEnvs = ['openai', 'anthropic', 'gemini'].map((p) => `${p}.* → ${PROVIDER_KEY_ENV[p]}`).join(', ');
  return [
    'Help me design a phone voice agent on VoIPBIN, then create it with the create_ai tool.',
    args.purpose ? `What the agent is for: ${args.purpose}` : 'First ask me what the agent is for (who calls or is called, and what should be achieved).',
    args.language ? `Language of the callers: ${args.language}.` : 'Ask which language the callers speak (BCP-47, e.g. en-US).',
    args.engine_model ? `LLM: ${args.engine_model}.` : 'Suggest an LLM as <provider>.<model> (e.g. openai.gpt-4o for low latency).',
    '',
    'Work through these steps with me, one or two questions at a time, and keep your proposals concrete:',
    '1. Persona and goal: name, role, tone, what a successful call looks like, what the agent must never do. Keep spoken replies short (1-2 sentences): this is a phone call.',
    '2. Tools to enable (tool_names). Prefer an explicit list over ["all"]:',
    tools,
    '3. How the conversation ends: use stop_service when the task is done or the caller says goodbye (the flow continues, e.g. plays a goodbye or hangs up cleanly);',
    '   use stop_flow only when the whole call must end at once (caller asks to hang up, abuse). Write these rules into the prompt.',
    `4. Voice (tts_type): one of ${TTS_TYPES.slice(0, 8).join(', ')}, ... Defaults: ${voices}. Speech recognition (stt_type): ${STT_TYPES.join(', ')} (deepgram is a good default), with stt_language.`,
    '5. Write init_prompt: persona, goal, step-by-step call script, facts the agent may use, tool rules (when to call which tool, confirm before sending), ending rules.',
    `6. The LLM key: never ask me to paste it. create_ai reads it from the MCP server's environment (engine_key_env; defaults ${keyEnvs}). If create_ai says the variable is not set, tell me which variable to set.`,
    '',
    'Show me the full configuration (name, engine_model, tts_type, tts_voice_id, stt_type, stt_language, tool_names, init_prompt) and ask for my OK. Then call create_ai.',
    'Afterwards offer a test call: list_numbers for the source number, then create_call with ai_id set to the new AI.',
  ].join('\n');
}

export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'design_voice_agent',
    {
      title: 'Design a voice agent',
      description:
        'Guides the design of a phone voice agent (persona, tools, how calls end, voice and speech recognition, prompt) and then creates it with create_ai.',
      argsSchema: {
        purpose: z.string().optional().describe('What the agent is for, e.g. "book dental appointments for callers".'),
        language: z.string().optional().describe('Language of the callers, e.g. en-US.'),
        engine_model: z.string().optional().describe('LLM as <provider>.<model>, e.g. openai.gpt-4o.'),
      },
    },
    (args) => ({
      description: 'Design a VoIPBIN voice agent and create it',
      messages: [{ role: 'user', content: { type: 'text', text: designVoiceAgentText(args) } }],
    }),
  );
}
