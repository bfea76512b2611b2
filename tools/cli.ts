import { exportTools, isToolExportFormat, TOOL_EXPORT_FORMATS, type ToolExportFormat } from './export.js';
import { selectToolDefinitions, validateToolNames } from './selection.js';
import { TOOL_NAMES } from './types.js';

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

interface Options {
  names?: string;
  ai?: string;
  format?: string;
  help?: boolean;
}

function parseArgs(argv: readonly string[]): Options | string {
  const opts: Options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      opts.help = true;
      continue;
    }
    const m = /^--(names|ai|format)(?:=(.*))?$/.exec(arg);
    if (!m) return `unknown argument ${JSON.stringify(arg)}`;
    const key = m[1] as 'names' | 'ai' | 'format';
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) return `--${key} needs a value`;
      i++;
    }
    if (opts[key] !== undefined) return `--${key} given twice`;
    opts[key] = value;
  }
  return opts;
}

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

  const opts = parseArgs(argv);
  if (typeof opts === 'string') return fail(opts);
  if (opts.help) {
    deps.stdout(TOOLS_USAGE);
    return 0;
  }
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
