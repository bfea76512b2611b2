/**
 * Cuts an LLM's streamed text into pieces to speak, as soon as each piece is complete, so text
 * goes to TTS while the model is still writing.
 *
 * Sentence boundaries come from `Intl.Segmenter` (ICU's sentence rules: `?`, `!`, `。`, `.`
 * before a capital, decimals like 3.50 kept whole), not a regex on ".". ICU here has no
 * abbreviation suppressions, so a sentence that ends in a known abbreviation ("Dr.", "e.g.") is
 * joined to the next. A long sentence is cut earlier at a clause boundary (`,` `;` `:` `—`) once it
 * holds {@link SegmenterOptions.minClauseChars}, so the first audio of a long answer does not wait
 * for its full stop.
 */

/** Words that end in a period without ending a sentence (lower-cased, without the final period). */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'ft', 'no', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'inc', 'ltd', 'co', 'corp', 'dept', 'apt', 'ave', 'blvd', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
]);

/** Clause marks a long sentence may be cut after (followed by a space). */
const CLAUSE_MARKS = /[,;:\u2014\u2013\u3001\uff0c](?=\s)/g;

export interface SegmenterOptions {
  /** BCP-47 locale of the text (sentence rules differ little; default `en`). */
  locale?: string;
  /** A sentence this long (characters) may be cut at its last clause mark before it ends (default 80). */
  minClauseChars?: number;
}

/**
 * A streaming sentence/clause segmenter: {@link push} the model's text deltas in order, speak
 * every piece it returns; {@link end} returns what is left.
 */
export class TextSegmenter {
  private readonly segmenter: Intl.Segmenter;
  private readonly minClauseChars: number;
  private buffer = '';

  constructor(opts: SegmenterOptions = {}) {
    let locale = opts.locale || 'en';
    try {
      this.segmenter = new Intl.Segmenter(locale, { granularity: 'sentence' });
    } catch {
      locale = 'en';
      this.segmenter = new Intl.Segmenter(locale, { granularity: 'sentence' });
    }
    this.minClauseChars = opts.minClauseChars ?? 80;
  }

  /** Adds a delta; returns the pieces now complete (trimmed, never empty), in order. */
  push(delta: string): string[] {
    if (!delta) return [];
    this.buffer += delta;
    const out: string[] = [];
    const parts = [...this.segmenter.segment(this.buffer)].map((s) => s.segment);
    // The last part may still grow; the ones before it are complete, unless one ends in an
    // abbreviation (then it runs on into the next).
    let pending = '';
    let consumed = 0;
    for (let i = 0; i < parts.length - 1; i++) {
      pending += parts[i]!;
      if (endsInAbbreviation(pending)) continue;
      consumed += pending.length;
      const piece = pending.trim();
      if (piece) out.push(piece);
      pending = '';
    }
    // A last part that ends with a terminator and a space is complete too (ICU only knows once
    // the next sentence starts, one token later).
    const last = this.buffer.slice(consumed);
    if (/[.!?\u3002\uff01\uff1f]["')\]]*\s+$/.test(last) && !endsInAbbreviation(last)) {
      const piece = last.trim();
      if (piece) out.push(piece);
      consumed = this.buffer.length;
    } else if (last.length >= this.minClauseChars) {
      // A long sentence: cut after its last clause mark, if any.
      let cut = -1;
      for (const m of last.matchAll(CLAUSE_MARKS)) cut = m.index! + 1;
      if (cut > 0) {
        const piece = last.slice(0, cut).trim();
        if (piece) out.push(piece);
        consumed += cut;
      }
    }
    this.buffer = this.buffer.slice(consumed);
    return out;
  }

  /** No more text: the rest as one piece (none when only whitespace is left). */
  end(): string[] {
    const rest = this.buffer.trim();
    this.buffer = '';
    return rest ? [rest] : [];
  }

  /** Drops what is buffered (the response was cancelled). */
  reset(): void {
    this.buffer = '';
  }
}

function endsInAbbreviation(text: string): boolean {
  const m = /(?:^|\s)([A-Za-z](?:[A-Za-z.]*[A-Za-z])?)\.\s*$/.exec(text);
  return m !== null && ABBREVIATIONS.has(m[1]!.toLowerCase());
}
