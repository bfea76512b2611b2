/**
 * The one argument parser of every `voipbin-ai` command (serve, mcp, call, customers, tools).
 *
 * It is `node:util` `parseArgs` with strict rules and messages written for a person: an unknown
 * flag names itself and points at the command's `--help`, a flag that needs a value says so
 * (instead of swallowing the next flag), a flag given twice is refused, and `--help` / `-h`
 * always wins, so asking for help never starts anything or fails on a typo elsewhere.
 */
import { parseArgs } from 'node:util';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean | string[] | boolean[] };

/** What a command accepts. `help` (`--help`, `-h`) is added to every command. */
export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** The command's name as typed after `voipbin-ai` (`serve`, `call`, ...). */
  name: string;
  /** The text `--help` prints; it also follows a usage error. */
  usage: string;
  options: O;
  /** How many positional arguments the command takes (default 0). */
  maxPositionals?: number;
}

/** What went wrong, for callers that word some problems their own way. */
export type ArgProblem =
  | { kind: 'unknown-option'; arg: string }
  | { kind: 'unexpected-argument'; arg: string }
  | { kind: 'missing-value'; arg: string }
  | { kind: 'unexpected-value'; arg: string }
  | { kind: 'repeated'; arg: string }
  | { kind: 'other'; arg: string };

/** The values of the parsed options, typed from the spec (`parseArgs`' own typing). */
export type ArgValues<O extends Record<string, OptionSpec>> = ReturnType<typeof parseArgs<{ options: O & { help: { type: 'boolean'; short: 'h' } }; allowPositionals: true; strict: true }>>['values'];

/** The outcome of {@link parseCommandArgs}. */
export type ParsedCommand<O extends Record<string, OptionSpec>> =
  | { kind: 'help' }
  | { kind: 'ok'; values: ArgValues<O>; positionals: string[] }
  | { kind: 'error'; problem: ArgProblem; message: string };

/**
 * Parses `argv` (the arguments after the command's name) against `spec`. Never throws: a usage
 * problem comes back as `{kind: 'error'}` with a one-line message such as
 * `unknown option --x; see voipbin-ai serve --help`.
 */
export function parseCommandArgs<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, argv: readonly string[]): ParsedCommand<O> {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } } as O & { help: { type: 'boolean'; short: 'h' } };
  const see = `see voipbin-ai ${spec.name} --help`;
  const fail = (problem: ArgProblem, text: string): ParsedCommand<O> => ({ kind: 'error', problem, message: `${text}; ${see}` });

  // A first, lenient pass reads the tokens so every problem can be named precisely (node's strict
  // mode stops at the first one with a message about `--` that means nothing to most users).
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { kind: 'help' };

  const seen = new Set<string>();
  let positionals = 0;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (++positionals > (spec.maxPositionals ?? 0)) return fail({ kind: 'unexpected-argument', arg: t.value }, `unknown argument ${JSON.stringify(t.value)}`);
      continue;
    }
    // Own properties only: `--constructor` must not find Object.prototype.constructor.
    const opt = Object.hasOwn(options, t.name) ? (options as Record<string, OptionSpec>)[t.name] : undefined;
    const flag = t.rawName; // `--names` (also for `--names=x`) or `-h`
    if (!opt) return fail({ kind: 'unknown-option', arg: flag }, `unknown option ${flag}`);
    if (opt.type === 'string') {
      // `--to --as x`: lenient parsing takes "--as" as the value of --to; refuse it, unless it was
      // written inline (`--to=-1`), which is unambiguous.
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) {
        return fail({ kind: 'missing-value', arg: flag }, `${flag} needs a value`);
      }
    } else if (t.value !== undefined) {
      return fail({ kind: 'unexpected-value', arg: flag }, `${flag} takes no value`);
    }
    if (!opt.multiple) {
      if (seen.has(t.name)) return fail({ kind: 'repeated', arg: flag }, `${flag} given twice`);
      seen.add(t.name);
    }
  }

  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { kind: 'ok', values: parsed.values as ArgValues<O>, positionals: parsed.positionals };
  } catch (err) {
    // Not expected after the checks above; still a usage error, never a crash.
    return fail({ kind: 'other', arg: '' }, (err as Error).message);
  }
}

/** Where a command writes: one line per call, newline added. */
export interface CommandOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * Parses for a command and handles the two outcomes every command treats alike: `--help` prints
 * the usage to `out` (exit 0) and a usage error prints `voipbin-ai <cmd>: <problem>` and the usage
 * to `err` (exit 2). Returns the exit code for those, or the parsed values to go on with.
 */
export function parseOrExit<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: readonly string[],
  io: CommandOutput,
): { values: ArgValues<O>; positionals: string[] } | number {
  const parsed = parseCommandArgs(spec, argv);
  if (parsed.kind === 'help') {
    io.out(spec.usage.trimEnd());
    return 0;
  }
  if (parsed.kind === 'error') {
    io.err(`voipbin-ai ${spec.name}: ${parsed.message}\n\n${spec.usage.trimEnd()}`);
    return 2;
  }
  return { values: parsed.values, positionals: parsed.positionals };
}
