import { describe, expect, it } from 'vitest';
import { getToolDefinition, TOOL_DEFINITIONS } from '../../tools/registry.js';
import { TOOL_NAMES, type JsonSchema } from '../../tools/types.js';
import { jsonDiff, seedParametersFromOverview, seedParametersFromRst } from './seed.js';

const seed = seedParametersFromOverview(TOOL_NAMES);

/** Walks the documented schema property by property, naming the property path of any drift. */
function walk(name: string, expected: JsonSchema, actual: JsonSchema | undefined, at: string): void {
  expect(actual, `${name} ${at}: missing in the definition`).toBeDefined();
  if (!actual) return;
  expect(actual.type, `${name} ${at}.type`).toBe(expected.type);
  expect(actual.description, `${name} ${at}.description`).toBe(expected.description);
  expect(actual.default, `${name} ${at}.default`).toEqual(expected.default);
  expect(actual.enum, `${name} ${at}.enum`).toEqual(expected.enum);
  expect(actual.required, `${name} ${at}.required`).toEqual(expected.required);
  expect(Object.keys(actual).sort(), `${name} ${at}: keys`).toEqual(Object.keys(expected).sort());
  if (expected.properties) {
    expect(Object.keys(actual.properties ?? {}), `${name} ${at}.properties: names and order`).toEqual(Object.keys(expected.properties));
    for (const [prop, sub] of Object.entries(expected.properties)) {
      walk(name, sub, actual.properties?.[prop], `${at}.properties.${prop}`);
    }
  }
  if (expected.items) walk(name, expected.items, actual.items, `${at}.items`);
  if (expected.additionalProperties && typeof expected.additionalProperties === 'object') {
    walk(name, expected.additionalProperties, actual.additionalProperties as JsonSchema | undefined, `${at}.additionalProperties`);
  } else {
    expect(actual.additionalProperties, `${name} ${at}.additionalProperties`).toEqual(expected.additionalProperties);
  }
}

describe('tool parameters equal the VoIPBIN documentation (voipbin-ai-overview.txt)', () => {
  it('finds all nine documented tools, and the registry holds exactly those, in order', () => {
    expect([...seed.keys()]).toEqual([...TOOL_NAMES]);
    expect(TOOL_DEFINITIONS.map((d) => d.name)).toEqual([...TOOL_NAMES]);
  });

  for (const name of TOOL_NAMES) {
    describe(name, () => {
      const def = getToolDefinition(name);
      const expected = seed.get(name) as JsonSchema;

      it('has no difference, listed field by field', () => {
        expect(jsonDiff(expected, def.parameters)).toEqual([]);
      });

      it('deep-equals the documented JSON', () => {
        expect(JSON.parse(JSON.stringify(def.parameters))).toStrictEqual(expected);
      });

      it('matches property by property (type, description, enum, default, required)', () => {
        walk(name, expected, def.parameters, '$');
      });

      it('has run_llm defaulting to the definition default (or no run_llm at all)', () => {
        const runLlm = def.parameters.properties.run_llm;
        if (runLlm) expect(runLlm.default).toBe(def.defaultRunLlm);
        expect(def.defaultRunLlm).toBe(false);
      });

      it('has frozen parameters and a description for the model', () => {
        expect(Object.isFrozen(def.parameters)).toBe(true);
        expect(Object.isFrozen(def.parameters.properties)).toBe(true);
        expect(def.description.length).toBeGreaterThan(40);
        expect(def.description).toContain('When to use:');
      });
    });
  }

  it('the reStructuredText source documents the same nine schemas', () => {
    const rst = seedParametersFromRst(TOOL_NAMES);
    for (const name of TOOL_NAMES) expect(jsonDiff(seed.get(name), rst.get(name)), name).toEqual([]);
  });

  it('jsonDiff reports drift readably', () => {
    const expected = { properties: { run_llm: { description: 'a', default: false } }, required: ['x'] };
    const actual = { properties: { run_llm: { description: 'b', default: true, extra: 1 } }, required: [] };
    expect(jsonDiff(expected, actual)).toEqual([
      '$.properties.run_llm.description: expected "a", got "b"',
      '$.properties.run_llm.default: expected false, got true',
      '$.properties.run_llm.extra: not in the documentation, got 1',
      '$.required: expected 1 items ["x"], got 0 []',
    ]);
  });
});
