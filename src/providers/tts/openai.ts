/**
 * OpenAI text-to-speech through the `openai` package:
 *
 *   POST {base}/audio/speech            (base defaults to https://api.openai.com/v1)
 *   Authorization: Bearer <key>
 *   {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "...", "response_format": "pcm"}
 *
 * `response_format: "pcm"` streams raw 24 kHz 16-bit little-endian mono PCM with no header (the
 * only rate OpenAI offers). Errors are JSON `{"error": {"message", "type", "param", "code"}}`,
 * which the SDK raises as `APIError` (status, code, type, request id).
 */
import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import { DEFAULT_TTS_VOICE_IDS } from '../../catalog/ai.js';
import { registerSecret } from '../../util/logger.js';
import { checkApiKey, httpError, resolveBaseUrl, streamPcm, timeoutOf } from './stream.js';
import { ProviderError } from './types.js';
import type { TtsProvider, TtsProviderOptions, TtsRequest } from './types.js';
import { resolveVoice } from './voices.js';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const OPENAI_DEFAULT_MODEL = 'gpt-4o-mini-tts';
export const OPENAI_DEFAULT_VOICE = DEFAULT_TTS_VOICE_IDS.openai || 'alloy';
/** `response_format: "pcm"` is 24 kHz only. */
export const OPENAI_PCM_RATE = 24000;
/** One quick SDK retry (429, 5xx, connection errors); more would arrive too late for a call. */
const OPENAI_MAX_RETRIES = 1;

/** Picks the voice: request > configured default > gender > alloy ({@link resolveVoice}). */
export function openAiVoiceFor(req: Omit<TtsRequest, 'text'>, defaultVoiceId?: string): string {
  return resolveVoice({ ttsType: 'openai', voiceId: req.voiceId?.trim() || defaultVoiceId, gender: req.gender });
}

export class OpenAiTts implements TtsProvider {
  readonly name = 'openai' as const;
  readonly sampleRateHz = OPENAI_PCM_RATE;
  private readonly apiKey: string;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly defaultVoiceId: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: TtsProviderOptions) {
    registerSecret(opts.apiKey);
    this.apiKey = checkApiKey('openai', opts.apiKey);
    registerSecret(this.apiKey);
    if (opts.sampleRateHz !== undefined && opts.sampleRateHz !== OPENAI_PCM_RATE) {
      throw new Error(`openai TTS: unsupported sampleRateHz ${opts.sampleRateHz} (supported: ${OPENAI_PCM_RATE})`);
    }
    this.model = opts.model?.trim() || OPENAI_DEFAULT_MODEL;
    this.defaultVoiceId = opts.defaultVoiceId;
    this.timeoutMs = timeoutOf('openai', opts.timeoutMs);
    this.client = new OpenAI({
      apiKey: this.apiKey,
      baseURL: resolveBaseUrl('openai', opts.baseUrl, OPENAI_DEFAULT_BASE_URL),
      timeout: this.timeoutMs,
      maxRetries: OPENAI_MAX_RETRIES,
    });
  }

  synthesize(req: TtsRequest): AsyncIterable<Int16Array> {
    const params = {
      model: this.model,
      voice: openAiVoiceFor(req, this.defaultVoiceId),
      input: req.text,
      response_format: 'pcm' as const,
    };
    return streamPcm({ provider: 'openai', text: req.text, apiKey: this.apiKey, signal: req.signal, timeoutMs: this.timeoutMs }, async (abort) => {
      try {
        const res = await this.client.audio.speech.create(params, { signal: abort });
        return res.body as ReadableStream<Uint8Array> | null;
      } catch (err) {
        throw this.mapError(err);
      }
    });
  }

  /** SDK errors → ProviderError; aborts pass through (the stream maps them to the caller's reason). */
  private mapError(err: unknown): unknown {
    if (err instanceof APIConnectionTimeoutError) {
      return new ProviderError('tts', 'openai', `openai TTS timed out: no response in ${this.timeoutMs} ms`, { code: 'timeout' });
    }
    if (err instanceof APIError && typeof err.status === 'number') {
      const body = err.error as { message?: unknown } | undefined;
      return httpError('openai', this.apiKey, err.status, {
        message: typeof body?.message === 'string' ? body.message : undefined,
        code: err.code ?? err.type ?? undefined,
        requestId: err.requestID ?? undefined,
      });
    }
    return err;
  }
}
