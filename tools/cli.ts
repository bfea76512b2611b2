import { exportTools, isToolExportFormat, TOOL_EXPORT_FORMATS, type ToolExportFormat } from './export.js';
import { selectToolDefinitions, validateToolNames } from './selection.js';
import { TOOL_NAMES } from './types.js';
import { parseCommandArgs } from '../src/cli-args.js';
import type { CommandSpec } from '../src/cli-args.js';

export interface ToolsCommandDeps {
  /** Reads an AI's `tool_names` (needed for --ai); rejects when the AI does not exist. */
  loadAiToolNames?: (aiId: string) => Promise<string[]>;
  stdout: (s: string) => void;
  /** Defaults to process.stderr. */
  stderr?: (s: string) => void;
}

export const TOOLS_USAGE = `Usage: voipbin-ai tools [--names <a,b,...> | --ai <ai_id>] [--format <format>]

Prints the VoIPBIN AI tool definitions as JSON.
  --names   comma-separated tool names, or "all" (default: all)
            ${TOOL_NAMES.join(', ')}
  --ai      the tools enabled by this AI's tool_names
  --format  ${TOOL_EXPORT_FORMATS.join(' | ')} (default: json-schema)
`;

/** The tools command for the shared parser (src/cli-args.ts). */
const TOOLS_SPEC = {
  name: 'tools',
  usage: TOOLS_USAGE,
  options: { names: { type: 'string' }, ai: { type: 'string' }, format: { type: 'string' } },
} as const satisfies CommandSpec<Record<string, { type: 'string' }>>;

/**
 * `voipbin-ai tools ...`: argv are the arguments after `tools`. Returns the exit code:
 * 0 printed, 1 the AI could not be read, 2 bad usage (unknown names, format or argument).
 */
export async function runToolsCommand(argv: string[], deps: ToolsCommandDeps): Promise<number> {
  const stderr = deps.stderr ?? ((s: string) => void process.stderr.write(s));
  const fail = (message: string): number => {
    stderr(`voipbin-ai tools: ${message}\n\n${TOOLS_USAGE}`);
    return 2;
  };

  const parsed = parseCommandArgs(TOOLS_SPEC, argv);
  if (parsed.kind === 'help') {
    deps.stdout(TOOLS_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    // This command has always called a stray flag an "unknown argument" (scripts and tests match
    // on it); every other problem reads as in the other commands.
    const p = parsed.problem;
    return fail(p.kind === 'unknown-option' ? `unknown argument ${JSON.stringify(p.arg)}; see voipbin-ai tools --help` : parsed.message);
  }
  const opts = parsed.values;
  if (opts.names !== undefined && opts.ai !== undefined) return fail('use either --names or --ai, not both');

  const format = opts.format ?? 'json-schema';
  if (!isToolExportFormat(format)) {
    return fail(`unknown format ${JSON.stringify(format)}; use one of ${TOOL_EXPORT_FORMATS.join(', ')}`);
  }

  let names: string[];
  if (opts.ai !== undefined) {
    const aiId = opts.ai.trim();
    if (!aiId) return fail('--ai needs an AI id');
    if (!deps.loadAiToolNames) return fail('--ai is not available here');
    let loaded: unknown;
    try {
      loaded = await deps.loadAiToolNames(aiId);
    } catch (e) {
      stderr(`voipbin-ai tools: cannot read AI ${aiId}: ${(e as Error)?.message ?? String(e)}\n`);
      return 1;
    }
    const list = Array.isArray(loaded) ? loaded : [];
    const check = validateToolNames(list);
    if (!check.ok) stderr(`voipbin-ai tools: AI ${aiId}: ignoring ${check.message}\n`);
    names = list.filter((n): n is string => typeof n === 'string');
  } else if (opts.names !== undefined) {
    names = opts.names
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (names.length === 0) return fail('--names needs at least one tool name (or "all")');
    const check = validateToolNames(names);
    if (!check.ok) return fail(check.message);
  } else {
    names = ['all'];
  }

  const out = exportTools(selectToolDefinitions(names), format as ToolExportFormat);
  deps.stdout(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
