/**
 * Deepgram Aura text-to-speech over its REST endpoint:
 *
 *   POST {base}/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000&container=none
 *   Authorization: Token <key>
 *   content-type: application/json
 *   {"text": "..."}
 *
 * With `container=none` the body is headerless 16-bit little-endian mono PCM, streamed as it is
 * generated (the REST default would be a WAV container at 24 kHz). The model names the voice and
 * its language (`aura-2-<voice>-<lang>`). Errors are JSON `{"err_code", "err_msg", "request_id"}`
 * (some endpoints answer `{"category", "message", "details", "request_id"}`).
 */
import { DEFAULT_TTS_VOICE_IDS } from '../../catalog/ai.js';
import { registerSecret } from '../../util/logger.js';
import { checkApiKey, checkRate, postForAudio, resolveBaseUrl, streamPcm, timeoutOf } from './stream.js';
import type { ParsedError } from './stream.js';
import type { TtsProvider, TtsProviderOptions, TtsRequest } from './types.js';
import { resolveVoice } from './voices.js';

export const DEEPGRAM_DEFAULT_BASE_URL = 'https://api.deepgram.com';
export const DEEPGRAM_DEFAULT_VOICE = DEFAULT_TTS_VOICE_IDS.deepgram || 'aura-2-thalia-en';
/** Rates Deepgram offers for `encoding=linear16`. */
export const DEEPGRAM_LINEAR16_RATES = [8000, 16000, 24000, 32000, 48000] as const;

/** Picks the model (voice): request > configured default > language/gender table > Thalia ({@link resolveVoice}). */
export function deepgramVoiceFor(req: Omit<TtsRequest, 'text'>, defaultVoiceId?: string): string {
  return resolveVoice({ ttsType: 'deepgram', voiceId: req.voiceId?.trim() || defaultVoiceId, language: req.language, gender: req.gender });
}

/** Message, code and request id of a Deepgram error JSON (`{err_code, err_msg, request_id}` or `{category, message, details}`). */
export function parseDeepgramError(json: unknown): ParsedError {
  if (!json || typeof json !== 'object') return {};
  const j = json as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const message = str(j.err_msg) ?? [str(j.message), str(j.details)].filter(Boolean).join(': ');
  return { message: message || undefined, code: str(j.err_code) ?? str(j.category), requestId: str(j.request_id) };
}

export class DeepgramTts implements TtsProvider {
  readonly name = 'deepgram' as const;
  readonly sampleRateHz: number;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: TtsProviderOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('deepgram', opts.apiKey);
    registerSecret(this.apiKey);
    this.baseUrl = resolveBaseUrl('deepgram', opts.baseUrl, DEEPGRAM_DEFAULT_BASE_URL).replace(/\/v1$/, '');
    // Deepgram's model *is* the voice: `model` acts as the default voice.
    this.defaultVoiceId = opts.defaultVoiceId?.trim() || opts.model?.trim() || undefined;
    this.sampleRateHz = checkRate('deepgram', opts.sampleRateHz ?? 16000, DEEPGRAM_LINEAR16_RATES);
    this.timeoutMs = timeoutOf('deepgram', opts.timeoutMs);
  }

  synthesize(req: TtsRequest): AsyncIterable<Int16Array> {
    const url = new URL(`${this.baseUrl}/v1/speak`);
    url.searchParams.set('model', deepgramVoiceFor(req, this.defaultVoiceId));
    url.searchParams.set('encoding', 'linear16');
    url.searchParams.set('sample_rate', String(this.sampleRateHz));
    url.searchParams.set('container', 'none');
    return streamPcm({ provider: 'deepgram', text: req.text, apiKey: this.apiKey, signal: req.signal, timeoutMs: this.timeoutMs }, (abort) =>
      postForAudio(
        {
          provider: 'deepgram',
          apiKey: this.apiKey,
          url,
          headers: { authorization: `Token ${this.apiKey}` },
          body: { text: req.text },
          parseError: parseDeepgramError,
          requestIdHeader: 'dg-request-id',
        },
        abort,
      ),
    );
  }
}
