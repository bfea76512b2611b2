/**
 * End of the caller's turn: when the VAD has heard `stop_secs` of silence, the pipeline asks a
 * {@link TurnEndModel} whether the words so far finish the turn. A learned model (one that
 * listens to the prosody, or reads the transcript and the conversation) plugs in here; the
 * default reads the transcript's last characters and words.
 */
import type { LlmMessage } from '../../../src/providers/llm/types.js';

/** What the model is asked. */
export interface TurnEndInput {
  /** The caller's words of this turn so far (final STT results, then the latest interim). */
  transcript: string;
  /** The conversation before this turn. */
  history: readonly LlmMessage[];
  /** Milliseconds of silence since the caller stopped speaking. */
  silenceMs: number;
}

/** Decides whether the caller has finished their turn. */
export interface TurnEndModel {
  /**
   * `complete`: answer now. `incomplete`: the caller is likely to go on (a trailing "and..."):
   * wait up to the pipeline's `incompleteWaitMs` for more speech before answering anyway.
   */
  classify(input: TurnEndInput): 'complete' | 'incomplete' | Promise<'complete' | 'incomplete'>;
}

/** Words after which a turn is rarely over ("I'd like to book a table and"). */
const TRAILING_WORDS = new Set([
  'and', 'or', 'but', 'so', 'because', 'if', 'then', 'the', 'a', 'an', 'to', 'of', 'for', 'with', 'my', 'your', 'our', 'is', 'are', 'was', 'um', 'uh', 'er', 'like', 'that', 'which', 'when', 'where', 'at', 'in', 'on', 'from',
]);

/**
 * The default model: a turn whose text ends in a trailing conjunction, article or preposition, a
 * comma, a dash or an ellipsis is `incomplete`; anything else (a full stop, a question, a plain
 * last word) is `complete`.
 */
export const punctuationTurnModel: TurnEndModel = {
  classify({ transcript }) {
    const text = transcript.trim();
    if (!text) return 'incomplete';
    if (/(\.\.\.|\u2026|[,\-\u2014\u2013])$/.test(text)) return 'incomplete';
    if (/[.!?\u3002\uff01\uff1f]["')\]]*$/.test(text)) return 'complete';
    const last = /([\p{L}']+)$/u.exec(text)?.[1]?.toLowerCase();
    return last !== undefined && TRAILING_WORDS.has(last) ? 'incomplete' : 'complete';
  },
};
