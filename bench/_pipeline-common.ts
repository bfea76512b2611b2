/**
 * Shared by bench/pipeline.ts and its fakes process (bench/_pipeline-fakes.ts): the keys, the fixed
 * provider delays, the AI's voice, the timestamp records.
 */
import { TextSegmenter } from '../streams/agents/pipeline/segmenter.js';

export const LLM_KEY = 'sk-bench-pipeline-0123456789';
export const DG_KEY = 'dg-bench-pipeline-0123456789';
export const XI_KEY = 'xi-bench-pipeline-0123456789';

/**
 * The fixed provider delays (ms): LLM time to the response headers and between SSE events (the
 * text goes in 3-character pieces); STT quiet that ends an utterance, then the final's delay;
 * TTS (a stream-input WebSocket) time from a generation's start (its text and the end of input
 * arrived) to its first audio, then one 100 ms audio message every 20 ms.
 */
export const DELAYS = { llmHeaderMs: 150, llmChunkMs: 2, sttQuietMs: 300, sttFinalMs: 100, ttsFirstAudioMs: 80, ttsChunkMs: 20 };

/** The AI's voice (espeak-ng), what the TTS fake speaks. */
export const AI_VOICE = { voice: 'en-us', speedWpm: 165 };

export interface Stamp {
  kind: 'llm_req' | 'llm_first' | 'tts_req' | 'tts_first' | 'stt_final' | 'stt_interim';
  /** performance.timeOrigin + performance.now() of the fakes' process, ms. */
  t: number;
  /** Request number (per server) for llm/tts. */
  n?: number;
  /** The transcript, for stt. */
  text?: string;
}

/** The pieces the pipeline's segmenter cuts `text` into when it streams in the fake's 3-character chunks. */
export function piecesOf(text: string): string[] {
  const seg = new TextSegmenter({ locale: 'en' });
  const out: string[] = [];
  for (const p of text.match(/[\s\S]{1,3}/g) ?? []) out.push(...seg.push(p));
  out.push(...seg.end());
  return out;
}
