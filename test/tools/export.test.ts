import { describe, expect, it } from 'vitest';
import {
  exportTools,
  toAnthropicTools,
  toGeminiFunctionDeclarations,
  toJsonSchemaMap,
  toOpenAIChatTools,
  toOpenAIRealtimeTools,
} from '../../tools/export.js';
import { getToolDefinition, TOOL_DEFINITIONS } from '../../tools/registry.js';
import { selectToolDefinitions } from '../../tools/selection.js';
import { TOOL_NAMES } from '../../tools/types.js';

/** Every key path in a JSON value. */
function keyPaths(v: unknown, at = '$'): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keyPaths(x, `${at}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [`${at}.${k}`, ...keyPaths(x, `${at}.${k}`)]);
  return [];
}

describe('export formats', () => {
  const defs = TOOL_DEFINITIONS;

  it('OpenAI chat completions: {type:"function", function:{name, description, parameters}}', () => {
    const tools = toOpenAIChatTools(defs);
    expect(tools).toHaveLength(9);
    tools.forEach((t, i) => {
      expect(Object.keys(t)).toEqual(['type', 'function']);
      expect(t.type).toBe('function');
      expect(Object.keys(t.function)).toEqual(['name', 'description', 'parameters']);
      expect(t.function.name).toBe(TOOL_NAMES[i]);
      expect(t.function.description).toBe(defs[i]!.description);
      expect(t.function.parameters).toEqual(defs[i]!.parameters);
    });
  });

  it('OpenAI Realtime session.tools: {type:"function", name, description, parameters}', () => {
    const tools = toOpenAIRealtimeTools(defs);
    tools.forEach((t, i) => {
      expect(Object.keys(t)).toEqual(['type', 'name', 'description', 'parameters']);
      expect(t).toEqual({ type: 'function', name: TOOL_NAMES[i], description: defs[i]!.description, parameters: defs[i]!.parameters });
    });
  });

  it('Anthropic: {name, description, input_schema} with an object input_schema', () => {
    const tools = toAnthropicTools(defs);
    tools.forEach((t, i) => {
      expect(Object.keys(t)).toEqual(['name', 'description', 'input_schema']);
      expect(t.input_schema.type).toBe('object');
      expect(t.input_schema).toEqual(defs[i]!.parameters);
    });
  });

  it('json-schema: a map of name to parameters', () => {
    const map = toJsonSchemaMap(selectToolDefinitions(['send_email', 'stop_flow']));
    expect(Object.keys(map)).toEqual(['send_email', 'stop_flow']);
    expect(map.stop_flow).toEqual({ type: 'object', properties: {} });
  });

  it('returns copies: changing the output leaves the registry alone', () => {
    const [t] = toOpenAIChatTools([getToolDefinition('connect_call')]);
    t!.function.parameters.properties.run_llm!.default = true;
    (t!.function.parameters as { additionalProperties?: boolean }).additionalProperties = false;
    expect(getToolDefinition('connect_call').parameters.properties.run_llm!.default).toBe(false);
    expect('additionalProperties' in getToolDefinition('connect_call').parameters).toBe(false);
  });

  it('exportTools dispatches on the format and rejects others', () => {
    expect(exportTools(defs, 'openai')).toEqual(toOpenAIChatTools(defs));
    expect(exportTools(defs, 'realtime')).toEqual(toOpenAIRealtimeTools(defs));
    expect(exportTools(defs, 'anthropic')).toEqual(toAnthropicTools(defs));
    expect(exportTools(defs, 'gemini')).toEqual(toGeminiFunctionDeclarations(defs));
    expect(exportTools(defs, 'json-schema')).toEqual(toJsonSchemaMap(defs));
    expect(() => exportTools(defs, 'mistral' as never)).toThrow(/unknown tool export format "mistral"/);
    expect(exportTools([], 'openai')).toEqual([]);
  });
});

describe('Gemini function declarations', () => {
  const decls = toGeminiFunctionDeclarations(TOOL_DEFINITIONS);

  it('has no additionalProperties, default, $schema or lower-case type anywhere', () => {
    const paths = keyPaths(decls);
    expect(paths.filter((p) => /\.(additionalProperties|default|\$schema|propertyNames)$/.test(p))).toEqual([]);
    const types = paths.filter((p) => p.endsWith('.type')).map((p) => p);
    expect(types.length).toBeGreaterThan(20);
    const json = JSON.stringify(decls);
    for (const t of ['object', 'string', 'boolean', 'array']) expect(json).not.toContain(`"type":"${t}"`);
  });

  it('omits parameters for stop_service and stop_flow, keeps run_llm-only tools', () => {
    const byName = Object.fromEntries(decls.map((d) => [d.name, d]));
    expect(byName.stop_service).toEqual({ name: 'stop_service', description: getToolDefinition('stop_service').description });
    expect(byName.stop_flow!.parameters).toBeUndefined();
    expect(byName.stop_media!.parameters).toEqual({
      type: 'OBJECT',
      properties: { run_llm: { type: 'BOOLEAN', description: 'Set true to speak after stopping media. (default: false)' } },
    });
    for (const d of decls) {
      if (d.parameters) {
        expect(d.parameters.type).toBe('OBJECT');
        expect(Object.keys(d.parameters.properties ?? {}).length).toBeGreaterThan(0);
      }
    }
  });

  it('converts connect_call and send_email', () => {
    const byName = Object.fromEntries(decls.map((d) => [d.name, d]));
    expect(byName.connect_call!.parameters).toEqual({
      type: 'OBJECT',
      properties: {
        run_llm: { type: 'BOOLEAN', description: 'Set true to speak after connecting. Set false for silent transfer. (default: false)' },
        source: {
          type: 'OBJECT',
          properties: {
            type: { type: 'STRING', description: 'agent, conference, extension, sip, or tel' },
            target: { type: 'STRING', description: 'Source address/identifier' },
            target_name: { type: 'STRING', description: 'Display name (optional)' },
          },
          required: ['type', 'target'],
        },
        destinations: {
          type: 'ARRAY',
          items: {
            type: 'OBJECT',
            properties: {
              type: { type: 'STRING', description: 'agent, conference, extension, line, sip, tel' },
              target: { type: 'STRING', description: 'Destination address' },
              target_name: { type: 'STRING', description: 'Display name (optional)' },
            },
            required: ['type', 'target'],
          },
        },
      },
      required: ['destinations'],
    });
    const email = byName.send_email!.parameters!;
    expect(email.properties!.destinations!.items!.properties!.type).toEqual({ type: 'STRING', format: 'enum', enum: ['email'] });
    expect(email.properties!.attachments!.items).toEqual({
      type: 'OBJECT',
      properties: {
        reference_type: { type: 'STRING', format: 'enum', enum: ['recording'] },
        reference_id: { type: 'STRING', description: 'UUID of the attachment' },
      },
    });
  });

  it('folds the set_variables map into the description', () => {
    const setVars = decls.find((d) => d.name === 'set_variables')!;
    expect(setVars.parameters).toEqual({
      type: 'OBJECT',
      properties: {
        run_llm: { type: 'BOOLEAN', description: 'Set true to continue conversation after saving. (default: false)' },
        variables: { type: 'OBJECT', description: 'Key-value pairs to save (an object of key-value pairs; every value is a string)' },
      },
      required: ['variables'],
    });
  });
});
