import { describe, expect, it } from 'vitest';
import { isE164, normalizeE164 } from '../../tools/e164.js';

describe('normalizeE164', () => {
  it.each([
    ['+15551234567', '+15551234567'],
    ['+1 555 123 4567', '+15551234567'],
    ['+1 (555) 123-4567', '+15551234567'],
    ['+1.555.123.4567', '+15551234567'],
    ['  +44 20 7946 0958 ', '+442079460958'],
    ['0044 20 7946 0958', '+442079460958'],
    ['00821012345678', '+821012345678'],
    ['+1\t555\u00a01234567', '+15551234567'],
    ['+15551234', '+15551234'], // 8 digits: the shortest accepted
    ['+123456789012345', '+123456789012345'], // 15 digits: the longest
  ])('%j -> %j', (input, expected) => {
    expect(normalizeE164(input)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['+', 'no digits'],
    ['5551234567', 'no + or 00: country unknown'],
    ['555-1234', 'a local number'],
    ['+1555123', '7 digits'],
    ['+1234567890123456', '16 digits'],
    ['+05551234567', 'first digit 0'],
    ['000441234567', '00 then 0'],
    ['+1 555 CALL NOW', 'letters'],
    ['++15551234567', 'two +'],
    ['1+5551234567', '+ inside'],
    ['+1/555/1234567', 'slashes are not separators'],
    ['00+15551234567', '00 and +'],
  ])('%j is not E.164 (%s)', (input) => {
    expect(normalizeE164(input)).toBeNull();
  });

  it('returns null for a non-string at run time', () => {
    expect(normalizeE164(15551234567 as unknown as string)).toBeNull();
  });

  it('isE164 accepts only the normalized form', () => {
    expect(isE164('+15551234567')).toBe(true);
    expect(isE164('+1 555 123 4567')).toBe(false);
  });
});
