import { createResampler } from '../../../streams/audio/resampler.js';
import type { Resampler } from '../../../streams/audio/resampler.js';
import type { TtsProvider } from '../../providers/tts/types.js';
import type { FlowAction, FlowRunner } from './flow-runner.js';

/** Why a `talk` was skipped when no voice is configured. */
export const NO_TTS_REASON =
  'talk skipped: no text-to-speech provider is configured (set ELEVENLABS_API_KEY, OPENAI_API_KEY, DEEPGRAM_API_KEY or CARTESIA_API_KEY for the server)';

/**
 * The voice of one `talk`: the provider the action names (`option.provider`, or `tts_type` as an
 * AI spells it) with its `voice_id`, else the server's default voice. VoIPBIN's own values (`gcp`,
 * `aws`) and providers this server has no key for fall back to the default voice, as VoIPBIN falls
 * back to its other provider, with the default voice of that provider.
 */
function talkVoice(r: FlowRunner, a: FlowAction): { tts: TtsProvider | undefined; voiceId: string | undefined } {
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const named = str(a.option.provider) ?? str(a.option.tts_type);
  if (!named || !r.engine.ttsFor || named.toLowerCase() === r.engine.tts?.name) {
    return { tts: r.engine.tts, voiceId: named && named.toLowerCase() === r.engine.tts?.name ? str(a.option.voice_id) : undefined };
  }
  try {
    return { tts: r.engine.ttsFor(named), voiceId: str(a.option.voice_id) };
  } catch (err) {
    r.ctx.logger.info(`talk: provider ${named} is not available here (${err instanceof Error ? err.message : String(err)}); the default voice speaks`, {
      activeflow_id: r.activeflow.id,
    });
    return { tts: r.engine.tts, voiceId: undefined };
  }
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * `talk`: speaks `option.text` (variables already filled in) into the call through the
 * configured TTS provider, converted to 8 kHz with a stateful resampler and played in real time
 * as one audio source, so `stop_media` or the end of the action can cut it at once. With
 * `option.async` the flow goes on while it plays.
 */
export async function runTalkAction(r: FlowRunner, a: FlowAction, signal: AbortSignal): Promise<void> {
  await r.engine.answer(r.call);
  const text = typeof a.option.text === 'string' ? a.option.text.trim() : '';
  if (!text) return;
  const { tts, voiceId } = talkVoice(r, a);
  if (!tts) {
    r.ctx.logger.warn(NO_TTS_REASON, { activeflow_id: r.activeflow.id, call_id: r.call.id });
    return;
  }
  const call = r.call;
  const source = call.addSource(`talk:${a.id}`);
  // An async talk outlives its action: it stops only when the call ends or media is stopped.
  const stopTts = new AbortController();
  const playSignal = a.option.async === true ? stopTts.signal : AbortSignal.any([signal, stopTts.signal]);
  const play = async () => {
    let resampler: Resampler | undefined;
    let offEnd: () => void = () => {};
    const callEnded = new Promise<void>((res) => (offEnd = call.onEnd(() => res())));
    try {
      if (tts.sampleRateHz !== 8000) resampler = await createResampler({ inputRateHz: tts.sampleRateHz, outputRateHz: 8000 });
      const request = {
        text,
        voiceId,
        language: typeof a.option.language === 'string' ? a.option.language : undefined,
        gender: typeof a.option.gender === 'string' ? a.option.gender : undefined,
        signal: playSignal,
      };
      for await (const chunk of tts.synthesize(request)) {
        // A stopped source (stop_media) or an ended call: stop asking the provider for more.
        if (call.ended || !source.push(resampler ? resampler.process(chunk) : chunk)) {
          if (source.isStopped) stopTts.abort(new Error('media stopped'));
          break;
        }
      }
      if (resampler) source.push(resampler.flush());
      source.end();
      await Promise.race([source.finished(), aborted(playSignal), callEnded]);
    } catch (err) {
      if (!playSignal.aborted) r.ctx.logger.warn('talk failed', { call_id: call.id, error: err instanceof Error ? err.message : String(err) });
    } finally {
      offEnd();
      call.removeSource(source);
      resampler?.destroy();
    }
  };
  if (a.option.async === true) void play();
  else await play();
}
