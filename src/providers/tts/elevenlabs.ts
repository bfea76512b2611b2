/**
 * ElevenLabs text-to-speech over its streaming REST endpoint:
 *
 *   POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=pcm_16000
 *   xi-api-key: <key>
 *   content-type: application/json
 *   {"text": "...", "model_id": "eleven_flash_v2_5", "language_code": "ja"}
 *
 * The body streams raw 16-bit little-endian mono PCM at the rate named by `output_format`.
 * Errors are JSON `{"detail": {"status": "invalid_api_key", "message": "..."}}` (422 validation
 * errors: `{"detail": [{"loc": [...], "msg": "..."}]}`).
 */
import { DEFAULT_TTS_VOICE_IDS } from '../../catalog/ai.js';
import { registerSecret } from '../../util/logger.js';
import { checkApiKey, checkRate, postForAudio, primaryLanguage, resolveBaseUrl, streamPcm, timeoutOf } from './stream.js';
import type { ParsedError } from './stream.js';
import type { TtsProvider, TtsProviderOptions, TtsRequest } from './types.js';
import { resolveVoice } from './voices.js';

export const ELEVENLABS_DEFAULT_BASE_URL = 'https://api.elevenlabs.io';
export const ELEVENLABS_DEFAULT_MODEL = 'eleven_flash_v2_5';
export const ELEVENLABS_DEFAULT_VOICE = DEFAULT_TTS_VOICE_IDS.elevenlabs || 'EXAVITQu4vr4xnSDxMaL';
/** The `pcm_<rate>` output formats ElevenLabs offers (44.1 kHz needs a Pro plan). */
export const ELEVENLABS_PCM_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

/** VoIPBIN's built-in ElevenLabs voices (now kept with the other voice rules in voices.ts). */
export { ELEVENLABS_BUILTIN_VOICES } from './voices.js';

/** Models that accept `language_code` (others answer an error when it is sent). */
const LANGUAGE_CODE_MODEL = /^eleven_(?:flash|turbo)_v2_5/;

/** The `language_code` to send for `language` with `model`, or undefined when the model takes none. */
export function elevenLabsLanguageCode(model: string, language: string | undefined): string | undefined {
  const code = primaryLanguage(language);
  return code && LANGUAGE_CODE_MODEL.test(model) ? code : undefined;
}

/**
 * Picks the voice: request > configured default > VoIPBIN's language/gender table > Rachel
 * ({@link resolveVoice}; the flow variable override is the caller's, who has the variables).
 */
export function elevenLabsVoiceFor(req: Omit<TtsRequest, 'text'> & { text?: string }, defaultVoiceId?: string): string {
  return resolveVoice({ ttsType: 'elevenlabs', voiceId: req.voiceId?.trim() || defaultVoiceId, language: req.language, gender: req.gender });
}

/** Message and code of an ElevenLabs error JSON (`{detail: {status, message}}`, FastAPI `{detail: [...]}` or `{detail: "..."}`). */
export function parseElevenLabsError(json: unknown): ParsedError {
  const detail = (json as { detail?: unknown } | null)?.detail;
  if (typeof detail === 'string') return { message: detail };
  if (Array.isArray(detail)) {
    const msgs = detail.map((d: { msg?: unknown; loc?: unknown }) =>
      Array.isArray(d?.loc) ? `${d.loc.join('.')}: ${String(d.msg)}` : String(d?.msg ?? ''),
    );
    return { message: msgs.filter(Boolean).join('; '), code: 'validation_error' };
  }
  if (detail && typeof detail === 'object') {
    const d = detail as { status?: unknown; message?: unknown; code?: unknown };
    return {
      message: typeof d.message === 'string' ? d.message : undefined,
      code: typeof d.status === 'string' ? d.status : typeof d.code === 'string' ? d.code : undefined,
    };
  }
  return {};
}

export class ElevenLabsTts implements TtsProvider {
  readonly name = 'elevenlabs' as const;
  readonly sampleRateHz: number;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly model: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: TtsProviderOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('elevenlabs', opts.apiKey);
    registerSecret(this.apiKey);
    this.baseUrl = resolveBaseUrl('elevenlabs', opts.baseUrl, ELEVENLABS_DEFAULT_BASE_URL).replace(/\/v1$/, '');
    this.model = opts.model?.trim() || ELEVENLABS_DEFAULT_MODEL;
    this.defaultVoiceId = opts.defaultVoiceId;
    this.sampleRateHz = checkRate('elevenlabs', opts.sampleRateHz ?? 16000, ELEVENLABS_PCM_RATES);
    this.timeoutMs = timeoutOf('elevenlabs', opts.timeoutMs);
  }

  synthesize(req: TtsRequest): AsyncIterable<Int16Array> {
    const voice = elevenLabsVoiceFor(req, this.defaultVoiceId);
    const url = new URL(`${this.baseUrl}/v1/text-to-speech/${encodeURIComponent(voice)}/stream`);
    url.searchParams.set('output_format', `pcm_${this.sampleRateHz}`);
    const language = elevenLabsLanguageCode(this.model, req.language);
    const body: Record<string, unknown> = { text: req.text, model_id: this.model };
    if (language) body.language_code = language;
    return streamPcm({ provider: 'elevenlabs', text: req.text, apiKey: this.apiKey, signal: req.signal, timeoutMs: this.timeoutMs }, (abort) =>
      postForAudio(
        {
          provider: 'elevenlabs',
          apiKey: this.apiKey,
          url,
          headers: { 'xi-api-key': this.apiKey },
          body,
          parseError: parseElevenLabsError,
          requestIdHeader: 'request-id',
        },
        abort,
      ),
    );
  }
}
