/**
 * How an AI selects the external agent: `engine_model: "external.<name>"` with
 * `parameter.agent_url`, checked when the AI is saved (POST/PUT /v1.0/ais), and the registry matcher.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentUrlProblem, engineParameterProblem, parseEngineModel } from '../../src/catalog/ai.js';
import { isExternalAgentConfig } from '../../streams/agents/external/index.js';
import { AgentRegistry } from '../../streams/agents/registry.js';
import { startOptions } from './helpers.js';
import { startLocal } from '../local/fixtures.js';
import type { Local } from '../local/fixtures.js';

describe('catalog', () => {
  it('accepts external.<name> and checks agent_url', () => {
    expect(parseEngineModel('external.echo')).toEqual({ provider: 'external', model: 'echo' });
    expect(agentUrlProblem('ws://127.0.0.1:9000')).toBeUndefined();
    expect(agentUrlProblem('wss://agent.example.com/voipbin?x=1')).toBeUndefined();
    expect(agentUrlProblem(undefined)).toMatch(/^required/);
    expect(agentUrlProblem('http://x')).toMatch(/ws:\/\/ or wss:\/\//);
    expect(agentUrlProblem('not a url')).toMatch(/is not a URL/);
    expect(agentUrlProblem(9000)).toMatch(/URL string/);
    expect(engineParameterProblem('external.echo', {})).toMatch(/^parameter\.agent_url: required/);
    expect(engineParameterProblem('openai.gpt-4o', {})).toBeUndefined();
  });

  it('the registry matcher picks external.* only', () => {
    const reg = new AgentRegistry().register(isExternalAgentConfig, () => {
      throw new Error('unused');
    });
    expect(reg.resolve(startOptions('ws://x').config)).toBeDefined();
    expect(reg.resolve({ ...startOptions('ws://x').config, engine_model: 'openai.gpt-4o' })).toBeUndefined();
  });
});

describe('POST/PUT /v1.0/ais with an external agent', () => {
  let L: Local;
  const base = { name: 'echo', engine_model: 'external.echo', engine_key: 'vbx_agent_token_1', init_prompt: 'hi', tts_type: 'elevenlabs', stt_type: 'deepgram' };
  beforeAll(async () => {
    L = await startLocal();
  });
  afterAll(async () => {
    await L?.stop();
  });

  it('saves one with a ws:// agent_url; refuses a missing or wrong one naming parameter.agent_url', async () => {
    const ok = await L.c.post('/ais', { ...base, parameter: { agent_url: 'ws://127.0.0.1:9000' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ engine_model: 'external.echo', parameter: { agent_url: 'ws://127.0.0.1:9000' } });
    expect(JSON.stringify(ok.body)).not.toContain('vbx_agent_token_1');

    const missing = await L.c.post('/ais', base);
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^parameter\.agent_url: required for external\.\* engine models/);

    const http = await L.c.post('/ais', { ...base, parameter: { agent_url: 'https://x' } });
    expect(http.status).toBe(400);
    expect(http.body.error.message).toMatch(/^parameter\.agent_url: must be a ws:\/\/ or wss:\/\/ URL/);

    const put = await L.c.put(`/ais/${ok.body.id}`, { parameter: {} });
    expect(put.status).toBe(400);
    expect(put.body.error.message).toMatch(/^parameter\.agent_url/);
  });

  it('a flow with an inline external ai_talk: saved with a ws:// agent_url and no prompt; refused without one, naming the option', async () => {
    const flow = (option: Record<string, unknown>) => ({ name: 'inline external', actions: [{ type: 'answer' }, { type: 'ai_talk', option }] });
    const ok = await L.c.post('/flows', flow({ engine_model: 'external.echo', parameter: { agent_url: 'ws://127.0.0.1:9000' } }));
    expect(ok.status).toBe(200);
    const missing = await L.c.post('/flows', flow({ engine_model: 'external.echo' }));
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^actions\[1\]\.option\.parameter\.agent_url: required for external\.\* engine models/);
    const wrong = await L.c.post('/flows', flow({ engine_model: 'external.echo', parameter: { agent_url: 'http://x' } }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/^actions\[1\]\.option\.parameter\.agent_url: must be a ws:\/\/ or wss:\/\/ URL/);
    const notObject = await L.c.post('/flows', flow({ engine_model: 'external.echo', parameter: 'ws://x' }));
    expect(notObject.status).toBe(400);
    expect(notObject.body.error.message).toMatch(/^actions\[1\]\.option\.parameter: must be an object/);
  });
});
