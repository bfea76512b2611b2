import { describe, expect, it } from 'vitest';
import { TextSegmenter } from '../../streams/agents/pipeline/segmenter.js';
import { punctuationTurnModel } from '../../streams/agents/pipeline/turn.js';

/** Streams `text` in `size`-character deltas; returns every piece in order and when each came out. */
function run(text: string, size = 3, opts = {}): { pieces: string[]; atChar: number[] } {
  const seg = new TextSegmenter(opts);
  const pieces: string[] = [];
  const atChar: number[] = [];
  for (let i = 0; i < text.length; i += size) {
    for (const p of seg.push(text.slice(i, i + size))) {
      pieces.push(p);
      atChar.push(Math.min(text.length, i + size));
    }
  }
  for (const p of seg.end()) {
    pieces.push(p);
    atChar.push(text.length);
  }
  return { pieces, atChar };
}

describe('TextSegmenter (streamed LLM text → pieces to speak)', () => {
  it('cuts at sentence ends as soon as the next sentence starts or the terminator and a space arrive', () => {
    const text = 'Hello there. How can I help you today? I can book a table!';
    const { pieces, atChar } = run(text);
    expect(pieces).toEqual(['Hello there.', 'How can I help you today?', 'I can book a table!']);
    // The first sentence comes out within one delta of its full stop and space, not at the end.
    expect(atChar[0]).toBeLessThanOrEqual('Hello there. '.length + 3);
    expect(pieces.join(' ')).toBe(text);
  });

  it('keeps decimals, times and abbreviations inside their sentence', () => {
    const { pieces } = run('Dr. Smith sees you at 3.30 today. It costs $12.50, e.g. with tax. Mr. Lee agrees.', 2);
    expect(pieces).toEqual(['Dr. Smith sees you at 3.30 today.', 'It costs $12.50, e.g. with tax.', 'Mr. Lee agrees.']);
  });

  it('cuts a long sentence at its last clause mark once it is long enough, never mid-word', () => {
    const text = 'We have tables at six, at seven, at eight and at nine, and on the terrace there is room for larger groups as well';
    const { pieces } = run(text, 4, { minClauseChars: 40 });
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces[0]!.endsWith(',')).toBe(true);
    expect(pieces.join(' ')).toBe(text);
  });

  it('a short sentence is never cut at a comma; whitespace-only tails give nothing; reset drops the buffer', () => {
    expect(run('Yes, of course, sure.').pieces).toEqual(['Yes, of course, sure.']);
    const seg = new TextSegmenter();
    expect(seg.push('   ')).toEqual([]);
    expect(seg.end()).toEqual([]);
    seg.push('Half a sen');
    seg.reset();
    expect(seg.end()).toEqual([]);
  });

  it('splits CJK sentences at their own full stop', () => {
    expect(run('こんにちは。元気ですか？はい', 1, { locale: 'ja' }).pieces).toEqual(['こんにちは。', '元気ですか？', 'はい']);
  });
});

describe('punctuationTurnModel (end of turn)', () => {
  const classify = (transcript: string) => punctuationTurnModel.classify({ transcript, history: [], silenceMs: 200 });
  it('a finished sentence, a question or a plain last word completes the turn', () => {
    expect(classify('I would like a table for two.')).toBe('complete');
    expect(classify('Do you have one tonight?')).toBe('complete');
    expect(classify('for two tonight')).toBe('complete');
  });
  it('a trailing conjunction, article, comma or ellipsis waits for more', () => {
    expect(classify('I want a table and')).toBe('incomplete');
    expect(classify('for the')).toBe('incomplete');
    expect(classify('Well, um')).toBe('incomplete');
    expect(classify('so I was thinking,')).toBe('incomplete');
    expect(classify('maybe...')).toBe('incomplete');
    expect(classify('')).toBe('incomplete');
  });
});
