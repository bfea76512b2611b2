/**
 * The GA `session.update` an OpenAI Realtime agent opens with, built from a VoIPBIN AI
 * configuration. A pure function: no I/O, no defaults hidden elsewhere.
 *
 * What it sets:
 * - `type: "realtime"` (required by the GA API) and `output_modalities: ["audio"]` (GA audio output
 *   carries its own transcript, `response.output_audio_transcript.*`).
 * - `audio.input.format` and `audio.output.format` = `audio/pcmu`: the call's G.711 mu-law passes
 *   through untouched in both directions (DESIGN.md, audio rules).
 * - `audio.input.transcription` on (default model `gpt-4o-mini-transcribe`), so the caller's words
 *   arrive as `conversation.item.input_audio_transcription.completed`. `language` is set from the
 *   AI's STT language when given (ISO-639-1: `en-US` → `en`).
 * - `audio.input.turn_detection`: server VAD from VoIPBIN's `vad_config` (below).
 * - `audio.output.voice` only when the AI's voice id is a built-in OpenAI voice (a VoIPBIN
 *   `tts_voice_id` is often another TTS provider's voice, which OpenAI would reject).
 * - `tools` as given (the project's Realtime export, `toOpenAIRealtimeTools` in tools/export.ts),
 *   with `tool_choice: "auto"`; no `tools` field at all when there are none.
 *
 * VAD mapping (VoIPBIN `vad_config` → OpenAI `server_vad`):
 * | VoIPBIN      | OpenAI                       | conversion                     |
 * |--------------|------------------------------|--------------------------------|
 * | `confidence` | `threshold`                  | same 0..1 value (clamped)      |
 * | `start_secs` | `prefix_padding_ms`          | seconds × 1000, rounded        |
 * | `stop_secs`  | `silence_duration_ms`        | seconds × 1000, rounded        |
 * | `min_volume` | (none)                       | ignored: server VAD has no such knob |
 * A field that is absent (or not a finite number) is not sent, so OpenAI's own default applies
 * (`threshold` 0.5, `prefix_padding_ms` 300, `silence_duration_ms` 500): VoIPBIN says omitted VAD
 * fields take the *engine's* defaults, and the Pipecat defaults (0.7 / 0.2 s / 0.2 s) are tuned
 * for Silero, not for OpenAI's VAD. Note `start_secs` is "speech needed to confirm a start" in
 * Pipecat while `prefix_padding_ms` is "audio kept before detected speech"; the issue asks for
 * this mapping and it is the nearest knob, not an equivalent one.
 *
 * `create_response: true` (the model answers when the caller stops) and, by default,
 * `interrupt_response: false`: the session runner owns barge-in (it sends `response.cancel` and
 * truncates the assistant item at the audio actually played), so the server must not cancel on
 * its own as well; with both, the client's cancel races the server's and can fail with
 * `response_cancel_not_active`.
 */

import type {
  AudioTranscription,
  RealtimeAudioInputTurnDetection,
  RealtimeFunctionTool,
  RealtimeSessionCreateRequest,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';

/** The built-in OpenAI Realtime voices. */
export const OPENAI_REALTIME_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;
export type OpenAIRealtimeVoice = (typeof OPENAI_REALTIME_VOICES)[number];

export function isOpenAIRealtimeVoice(v: unknown): v is OpenAIRealtimeVoice {
  return typeof v === 'string' && (OPENAI_REALTIME_VOICES as readonly string[]).includes(v);
}

/** VoIPBIN's `AIManagerVADConfig`; every field optional. */
export interface VoipbinVadConfig {
  confidence?: number;
  start_secs?: number;
  stop_secs?: number;
  min_volume?: number;
}

export const DEFAULT_TRANSCRIPTION_MODEL = 'gpt-4o-mini-transcribe';

export interface SessionUpdateInput {
  /** The AI's prompt (`init_prompt`, variables already substituted). */
  instructions: string;
  /** The AI's `tts_voice_id`; used only when it is an OpenAI voice. */
  voice?: string | null;
  vadConfig?: VoipbinVadConfig | Record<string, number> | null;
  /** Tools in Realtime format (`toOpenAIRealtimeTools`). */
  tools?: readonly RealtimeFunctionTool[];
  /** The AI's STT language (`en-US`, `ko`); omitted = auto-detect. */
  language?: string | null;
  /** Input transcription model (default {@link DEFAULT_TRANSCRIPTION_MODEL}). */
  transcriptionModel?: string;
  /** Let the server cancel a response when the caller starts speaking (default false, see above). */
  interruptResponse?: boolean;
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** VoIPBIN `vad_config` → OpenAI `server_vad` (mapping in the module comment). */
export function mapVadConfig(vad: VoipbinVadConfig | Record<string, number> | null | undefined, interruptResponse = false): RealtimeAudioInputTurnDetection.ServerVad {
  const td: RealtimeAudioInputTurnDetection.ServerVad = { type: 'server_vad', create_response: true, interrupt_response: interruptResponse };
  const v = (vad ?? {}) as VoipbinVadConfig;
  if (finite(v.confidence)) td.threshold = Math.min(1, Math.max(0, v.confidence));
  if (finite(v.start_secs)) td.prefix_padding_ms = Math.max(0, Math.round(v.start_secs * 1000));
  if (finite(v.stop_secs)) td.silence_duration_ms = Math.max(0, Math.round(v.stop_secs * 1000));
  return td;
}

/** `en-US` → `en`; anything that is not a language tag → undefined. */
function isoLanguage(lang: string | null | undefined): string | undefined {
  const m = /^([a-z]{2,3})(?:[-_][A-Za-z0-9]+)*$/i.exec((lang ?? '').trim());
  return m ? m[1]!.toLowerCase() : undefined;
}

/** Builds the session.update (see the module comment for every choice). */
export function buildSessionUpdate(input: SessionUpdateInput): SessionUpdateEvent {
  const transcription: AudioTranscription = { model: input.transcriptionModel ?? DEFAULT_TRANSCRIPTION_MODEL };
  const language = isoLanguage(input.language);
  if (language) transcription.language = language;
  const voice = input.voice?.trim().toLowerCase();
  const session: RealtimeSessionCreateRequest = {
    type: 'realtime',
    instructions: input.instructions,
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcmu' },
        transcription,
        turn_detection: mapVadConfig(input.vadConfig, input.interruptResponse ?? false),
      },
      output: {
        format: { type: 'audio/pcmu' },
        ...(isOpenAIRealtimeVoice(voice) ? { voice } : {}),
      },
    },
  };
  if (input.tools && input.tools.length > 0) {
    session.tools = input.tools.map((t) => structuredClone(t));
    session.tool_choice = 'auto';
  }
  return { type: 'session.update', session };
}
