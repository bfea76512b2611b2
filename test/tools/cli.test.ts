import { describe, expect, it } from 'vitest';
import { runToolsCommand, type ToolsCommandDeps } from '../../tools/cli.js';
import { toAnthropicTools, toGeminiFunctionDeclarations } from '../../tools/export.js';
import { TOOL_DEFINITIONS } from '../../tools/registry.js';
import { selectToolDefinitions } from '../../tools/selection.js';
import { TOOL_NAMES } from '../../tools/types.js';

async function run(argv: string[], extra: Partial<ToolsCommandDeps> = {}) {
  let out = '';
  let err = '';
  const code = await runToolsCommand(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    ...extra,
  });
  return { code, out, err, json: out && !out.startsWith('Usage') ? JSON.parse(out) : undefined };
}

describe('voipbin-ai tools', () => {
  it('prints the JSON schemas of all tools by default, pretty', async () => {
    const r = await run([]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(Object.keys(r.json)).toEqual([...TOOL_NAMES]);
    expect(r.json.connect_call).toEqual(TOOL_DEFINITIONS[0]!.parameters);
    expect(r.out).toContain('\n  "connect_call": {\n');
    expect(r.out.endsWith('}\n')).toBe(true);
  });

  it('--names selects tools (both --opt value and --opt=value)', async () => {
    const a = await run(['--names', 'stop_service,connect_call', '--format', 'anthropic']);
    expect(a.code).toBe(0);
    expect(a.json).toEqual(toAnthropicTools(selectToolDefinitions(['connect_call', 'stop_service'])));
    const b = await run(['--names=send_message', '--format=realtime']);
    expect(b.json.map((t: { name: string }) => t.name)).toEqual(['send_message']);
    expect(b.json[0].type).toBe('function');
    const all = await run(['--names', 'all', '--format', 'openai']);
    expect(all.json).toHaveLength(9);
    expect(all.json[0].function.name).toBe('connect_call');
  });

  it('--format gemini', async () => {
    const r = await run(['--format', 'gemini', '--names', ' stop_flow , set_variables ']);
    expect(r.code).toBe(0);
    expect(r.json).toEqual(toGeminiFunctionDeclarations(selectToolDefinitions(['stop_flow', 'set_variables'])));
  });

  it('--ai reads the AI\'s tool_names', async () => {
    const seen: string[] = [];
    const loadAiToolNames = async (id: string) => {
      seen.push(id);
      return ['send_email', 'connect_call'];
    };
    const r = await run(['--ai', 'a1b2', '--format', 'json-schema'], { loadAiToolNames });
    expect(r.code).toBe(0);
    expect(seen).toEqual(['a1b2']);
    expect(Object.keys(r.json)).toEqual(['connect_call', 'send_email']);

    const none = await run(['--ai', 'x'], { loadAiToolNames: async () => [] });
    expect(none.json).toEqual({});

    const stale = await run(['--ai', 'x'], { loadAiToolNames: async () => ['search_knowledge', 'stop_flow'] });
    expect(stale.code).toBe(0);
    expect(Object.keys(stale.json)).toEqual(['stop_flow']);
    expect(stale.err).toContain('ignoring unknown tool name: "search_knowledge"');
  });

  it('--ai failures', async () => {
    const missing = await run(['--ai', 'nope'], { loadAiToolNames: async () => { throw new Error('ai not found'); } });
    expect(missing).toMatchObject({ code: 1, out: '' });
    expect(missing.err).toBe('voipbin-ai tools: cannot read AI nope: ai not found\n');
    const unavailable = await run(['--ai', 'x']);
    expect(unavailable.code).toBe(2);
    expect(unavailable.err).toContain('--ai is not available here');
  });

  it.each([
    [['--names', 'connect_call,transfer'], 'unknown tool name: "transfer"; valid names are "all" or connect_call'],
    [['--format', 'xml'], 'unknown format "xml"; use one of json-schema, openai, realtime, anthropic, gemini'],
    [['--names', ','], '--names needs at least one tool name'],
    [['--names'], '--names needs a value'],
    [['--format', '--names', 'all'], '--format needs a value'],
    [['--names', 'all', '--ai', 'x'], 'use either --names or --ai, not both'],
    [['--verbose'], 'unknown argument "--verbose"'],
    [['connect_call'], 'unknown argument "connect_call"'],
    [['--format', 'openai', '--format', 'gemini'], '--format given twice'],
  ])('%j -> exit 2', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`voipbin-ai tools: ${message}`);
    expect(r.err).toContain('Usage: voipbin-ai tools');
  });

  it('--help prints the usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: voipbin-ai tools/);
  });
});
