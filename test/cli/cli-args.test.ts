/**
 * The shared argument parser (src/cli-args.ts), in process: the problems a user makes with
 * flags are each named precisely, `--help` always wins, and what parses comes back typed.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, parseOrExit } from '../../src/cli-args.js';

const SPEC = {
  name: 'demo',
  usage: 'usage: voipbin-ai demo [--to N] [--loud] [--tag T]...',
  maxPositionals: 1,
  options: {
    to: { type: 'string' },
    loud: { type: 'boolean', short: 'l' },
    tag: { type: 'string', multiple: true },
    wait: { type: 'string', default: '5' },
  },
} as const;

describe('parseCommandArgs', () => {
  it('parses values, defaults, a short flag, repeated `multiple` options and positionals', () => {
    const r = parseCommandArgs(SPEC, ['--to', '+1555', '-l', '--tag', 'a', '--tag=b', 'extra']);
    expect(r).toEqual({ kind: 'ok', values: { to: '+1555', loud: true, tag: ['a', 'b'], wait: '5' }, positionals: ['extra'] });
    // An inline value may start with "-": written that way it cannot be a forgotten value.
    expect(parseCommandArgs(SPEC, ['--to=-1'])).toMatchObject({ kind: 'ok', values: { to: '-1' } });
  });

  it.each([
    [['--bogus'], 'unknown option --bogus; see voipbin-ai demo --help', 'unknown-option'],
    [['-x'], 'unknown option -x; see voipbin-ai demo --help', 'unknown-option'],
    [['--constructor'], 'unknown option --constructor; see voipbin-ai demo --help', 'unknown-option'],
    [['--to'], '--to needs a value; see voipbin-ai demo --help', 'missing-value'],
    [['--to', '--loud'], '--to needs a value; see voipbin-ai demo --help', 'missing-value'],
    [['--loud=yes'], '--loud takes no value; see voipbin-ai demo --help', 'unexpected-value'],
    [['--to', 'a', '--to', 'b'], '--to given twice; see voipbin-ai demo --help', 'repeated'],
    [['one', 'two'], 'unknown argument "two"; see voipbin-ai demo --help', 'unexpected-argument'],
  ])('%j -> %s', (argv, message, kind) => {
    expect(parseCommandArgs(SPEC, argv)).toEqual({ kind: 'error', message, problem: { kind, arg: expect.any(String) } });
  });

  it('--help and -h win over any other problem, wherever they are', () => {
    for (const argv of [['--help'], ['-h'], ['--bogus', '--help'], ['--to', 'x', '-h', 'a', 'b', 'c']]) {
      expect(parseCommandArgs(SPEC, argv)).toEqual({ kind: 'help' });
    }
  });
});

describe('parseOrExit', () => {
  it('prints the usage on --help (exit 0) and the problem plus the usage on a mistake (exit 2)', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(parseOrExit(SPEC, ['-h'], io)).toBe(0);
    expect(out).toEqual([SPEC.usage]);
    expect(parseOrExit(SPEC, ['--nope'], io)).toBe(2);
    expect(err).toEqual([`voipbin-ai demo: unknown option --nope; see voipbin-ai demo --help\n\n${SPEC.usage}`]);
    expect(parseOrExit(SPEC, ['--to', 'x'], io)).toEqual({ values: { to: 'x', wait: '5' }, positionals: [] });
  });
});
