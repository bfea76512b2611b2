import { describe, expect, it } from 'vitest';
import { getToolDefinition, isToolName, TOOL_DEFINITIONS } from '../../tools/registry.js';
import { resolveToolNames, selectToolDefinitions, validateToolNames } from '../../tools/selection.js';
import { TOOL_NAMES } from '../../tools/types.js';

describe('resolveToolNames', () => {
  it('"all" enables the nine tools in documentation order', () => {
    expect(resolveToolNames(['all'])).toEqual([...TOOL_NAMES]);
    expect(resolveToolNames(['stop_flow', 'all'])).toEqual([...TOOL_NAMES]);
  });

  it('[] , null and undefined enable none', () => {
    expect(resolveToolNames([])).toEqual([]);
    expect(resolveToolNames(undefined)).toEqual([]);
    expect(resolveToolNames(null)).toEqual([]);
  });

  it('a list enables those, deduplicated, in TOOL_NAMES order, ignoring unknown names', () => {
    expect(resolveToolNames(['stop_service', 'connect_call', 'stop_service', 'send_email'])).toEqual([
      'connect_call',
      'send_email',
      'stop_service',
    ]);
    expect(resolveToolNames(['search_knowledge', 'get_variables'])).toEqual(['get_variables']);
    expect(resolveToolNames(['ALL'])).toEqual([]);
  });

  it('selectToolDefinitions returns the definitions', () => {
    expect(selectToolDefinitions(['send_message', 'connect_call']).map((d) => d.name)).toEqual(['connect_call', 'send_message']);
    expect(selectToolDefinitions(['all'])).toEqual([...TOOL_DEFINITIONS]);
  });
});

describe('validateToolNames', () => {
  it('accepts absent, empty, all, known names and all mixed with names', () => {
    for (const v of [undefined, null, [], ['all'], ['connect_call', 'stop_flow'], ['all', 'connect_call'], [...TOOL_NAMES]]) {
      expect(validateToolNames(v)).toEqual({ ok: true });
    }
  });

  it('lists the unknown names once, with the valid ones in the message', () => {
    const r = validateToolNames(['connect_call', 'transfer_call', 'search_knowledge', 'transfer_call']);
    expect(r).toEqual({
      ok: false,
      unknown: ['transfer_call', 'search_knowledge'],
      message: `unknown tool names: "transfer_call", "search_knowledge"; valid names are "all" or ${TOOL_NAMES.join(', ')}`,
    });
    const one = validateToolNames(['Connect_Call']);
    expect(one.ok === false && one.message).toMatch(/^unknown tool name: "Connect_Call"; valid names are/);
  });

  it('rejects non-strings and non-arrays', () => {
    expect(validateToolNames([1, null, 'all'])).toMatchObject({ ok: false, unknown: ['1', 'null'] });
    expect(validateToolNames('all')).toMatchObject({ ok: false, unknown: [], message: expect.stringMatching(/^tool_names must be an array of strings/) });
    expect(validateToolNames({})).toMatchObject({ ok: false });
  });
});

describe('registry', () => {
  it('isToolName / getToolDefinition', () => {
    for (const n of TOOL_NAMES) {
      expect(isToolName(n)).toBe(true);
      expect(getToolDefinition(n).name).toBe(n);
    }
    expect(isToolName('all')).toBe(false);
    expect(isToolName(3)).toBe(false);
    expect(getToolDefinition('all')).toBeUndefined();
    expect(getToolDefinition('toString')).toBeUndefined();
  });
});
