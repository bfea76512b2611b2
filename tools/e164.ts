/**
 * E.164 phone numbers: `+` followed by 8 to 15 digits, the first one 1-9.
 *
 * normalizeE164 strips spaces (any whitespace), dashes, dots and parentheses, keeps a leading `+`,
 * turns the `00` international prefix into `+`, and returns null when the result is not valid.
 * A number without `+` or `00` (a national number) is not valid: its country is unknown.
 */
const SEPARATORS = /[\s\-.()]/g;
const E164 = /^\+[1-9]\d{7,14}$/;

export const E164_EXAMPLE = '+15551234567';

export function normalizeE164(input: string): string | null {
  if (typeof input !== 'string') return null;
  let s = input.replace(SEPARATORS, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  return E164.test(s) ? s : null;
}

export function isE164(input: string): boolean {
  return typeof input === 'string' && E164.test(input);
}
