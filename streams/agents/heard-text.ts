/**
 * What of an agent's words the caller heard, when a barge-in cut its audio: every agent cuts its
 * stored and remembered text the same way.
 */

/**
 * Cuts `text` to about `fraction` of it, at a word boundary (never mid-word: the last word kept
 * is one that ends at or before the proportional point).
 */
export function cutAtWordBoundary(text: string, fraction: number): string {
  if (!(fraction > 0)) return '';
  if (fraction >= 1) return text.trim();
  const at = Math.round(text.length * fraction);
  if (at >= text.length) return text.trim();
  if (/\s/.test(text[at] ?? '')) return text.slice(0, at).trim();
  const lastSpace = text.slice(0, at + 1).search(/\s\S*$/);
  return lastSpace < 0 ? '' : text.slice(0, lastSpace).trim();
}
