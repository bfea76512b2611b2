/**
 * `/ais` over real HTTP: CRUD round trips, every validation error, default voices, and the
 * write-only `engine_key` (never returned, never logged, kept by updates that omit it).
 */
import { NIL_UUID } from '../../src/util/ids.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import {
  AI_FIELDS,
  CANARY_ENGINE_KEY,
  TIMESTAMP_RE,
  TM_NEVER,
  UUID_RE,
  aiBody,
  expectInvalid,
  expectList,
  expectNoLeak,
  expectNotFound,
  ok,
  startLocal,
} from './fixtures.js';
import type { Local } from './fixtures.js';
import { DEFAULT_TTS_VOICE_IDS } from '../../src/catalog/ai.js';
import { TOOL_NAMES } from '../../tools/types.js';

let L: Local;
let customerId: string;

beforeAll(async () => {
  L = await startLocal();
  customerId = L.server.localCustomerId!;
});
afterAll(async () => {
  await L?.stop();
});

async function aiCount(): Promise<number> {
  return expectList(await L.c.get('/ais?page_size=100')).length;
}

function expectNoEngineKey(ai: any): void {
  expect(ai).not.toHaveProperty('engine_key');
  expect(JSON.stringify(ai)).not.toContain(CANARY_ENGINE_KEY);
}

describe('POST /ais', () => {
  it('creates an AI (200) with every field, defaults filled in, and no engine_key', async () => {
    const res = await L.c.post('/ais', aiBody({ name: 'full' }));
    const ai = ok(res);
    expect(Object.keys(ai).sort()).toEqual(AI_FIELDS);
    expect(ai).toEqual({
      id: expect.stringMatching(UUID_RE),
      customer_id: customerId,
      name: 'full',
      detail: 'answers the phone',
      type: 'normal',
      is_insight_active: false,
      engine_model: 'openai.gpt-4o',
      parameter: {},
      rag_id: NIL_UUID,
      init_prompt: 'You are a helpful phone agent.',
      current_prompt_history_id: NIL_UUID,
      tts_type: 'elevenlabs',
      tts_voice_id: 'EXAVITQu4vr4xnSDxMaL',
      stt_type: 'deepgram',
      stt_language: '',
      vad_config: {},
      smart_turn_enabled: false,
      auto_aicall_audit_enabled: false,
      tool_names: ['all'],
      direct_hash: '',
      tm_create: expect.stringMatching(TIMESTAMP_RE),
      tm_update: TM_NEVER,
      tm_delete: TM_NEVER,
    });
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await L.server.store.ais.getSecret(customerId, ai.id)).toBe(CANARY_ENGINE_KEY);
  });

  it('keeps every optional field it is given', async () => {
    const body = aiBody({
      name: 'optional fields',
      type: 'insight',
      parameter: { language: 'en', nested: { a: 1 } },
      rag_id: 'rag-1',
      tts_voice_id: 'my-voice',
      stt_language: 'en-US',
      vad_config: { confidence: 0, start_secs: 30, stop_secs: 0, min_volume: 1 },
      smart_turn_enabled: true,
      auto_aicall_audit_enabled: true,
      tool_names: ['connect_call', 'send_email'],
    });
    const ai = ok(await L.c.post('/ais', body));
    expect(ai).toMatchObject({
      type: 'insight',
      parameter: { language: 'en', nested: { a: 1 } },
      rag_id: 'rag-1',
      tts_voice_id: 'my-voice',
      stt_language: 'en-US',
      vad_config: { confidence: 0, start_secs: 30, stop_secs: 0, min_volume: 1 },
      smart_turn_enabled: true,
      auto_aicall_audit_enabled: true,
      tool_names: ['connect_call', 'send_email'],
    });
    expect(ok(await L.c.get(`/ais/${ai.id}`))).toEqual(ai);
  });

  it('accepts tool_names ["all"], [] and every known tool name', async () => {
    for (const tool_names of [['all'], [], [...TOOL_NAMES]]) {
      const ai = ok(await L.c.post('/ais', aiBody({ tool_names })));
      expect(ai.tool_names).toEqual(tool_names);
    }
    // Omitted: stored as [].
    const { tool_names: _omit, ...rest } = aiBody();
    void _omit;
    expect(ok(await L.c.post('/ais', rest)).tool_names).toEqual([]);
  });

  it('accepts every supported LLM provider prefix', async () => {
    for (const engine_model of ['anthropic.claude-sonnet-4', 'gemini.gemini-2.5-flash', 'groq.llama-3.1-8b', 'ollama.llama3.2', 'openai.gpt-4o.mini']) {
      expect(ok(await L.c.post('/ais', aiBody({ engine_model }))).engine_model).toBe(engine_model);
    }
  });

  it('refuses providers this build cannot run (aws, dialogflow) when the AI or an inline ai_talk is saved, naming the field', async () => {
    for (const engine_model of ['aws.anthropic.claude-v2', 'dialogflow.agent']) {
      const res = await L.c.post('/ais', aiBody({ engine_model }));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^engine_model: (aws|dialogflow) models cannot run on this VoIPBIN gateway .*use one of openai, anthropic/);
      const flow = await L.c.post('/flows', { name: 'x', actions: [{ type: 'ai_talk', option: { engine_model, initial_prompt: 'hi' } }] });
      expect(flow.status).toBe(400);
      expect(flow.body.error.message).toMatch(/^actions\[0\]\.option\.engine_model: (aws|dialogflow) models cannot run/);
    }
  });

  describe('default tts_voice_id per tts_type', () => {
    const cases = Object.entries(DEFAULT_TTS_VOICE_IDS);
    it('has the documented defaults', () => {
      expect(DEFAULT_TTS_VOICE_IDS).toMatchObject({ elevenlabs: 'EXAVITQu4vr4xnSDxMaL', deepgram: 'aura-2-thalia-en', openai: 'alloy' });
    });
    it.each(cases)('%s → %s (omitted and empty voice)', async (tts_type, voice) => {
      expect(ok(await L.c.post('/ais', aiBody({ tts_type }))).tts_voice_id).toBe(voice);
      expect(ok(await L.c.post('/ais', aiBody({ tts_type, tts_voice_id: '' }))).tts_voice_id).toBe(voice);
    });
    it('a tts_type without a documented default gets an empty voice; an explicit voice is kept', async () => {
      expect(ok(await L.c.post('/ais', aiBody({ tts_type: 'hume' }))).tts_voice_id).toBe('');
      expect(ok(await L.c.post('/ais', aiBody({ tts_type: 'deepgram', tts_voice_id: 'aura-2-zeus-en' }))).tts_voice_id).toBe('aura-2-zeus-en');
    });
  });

  describe('validation (400, nothing stored)', () => {
    const { name: _n, ...noName } = aiBody();
    const { engine_model: _m, ...noModel } = aiBody();
    const { engine_key: _k, ...noKey } = aiBody();
    const { init_prompt: _p, ...noPrompt } = aiBody();
    const { tts_type: _t, ...noTts } = aiBody();
    const { stt_type: _s, ...noStt } = aiBody();
    void [_n, _m, _k, _p, _t, _s];
    const cases: [string, Record<string, unknown>, string, string?][] = [
      ['name missing', noName, 'name: required'],
      ['name blank', aiBody({ name: '   ' }), 'name: required'],
      ['name not a string', aiBody({ name: 42 }), 'name: must be a string'],
      ['engine_model missing', noModel, 'engine_model: required'],
      ['engine_model without a provider', aiBody({ engine_model: 'gpt-4o' }), 'must be <provider>.<model>'],
      ['engine_model without a model', aiBody({ engine_model: 'openai.' }), 'must be <provider>.<model>'],
      ['engine_model with an empty provider', aiBody({ engine_model: '.gpt-4o' }), 'must be <provider>.<model>'],
      ['engine_model with an unknown provider', aiBody({ engine_model: 'acme.gpt-4o' }), 'provider "acme" is not supported'],
      ['engine_model not a string', aiBody({ engine_model: 7 }), 'engine_model: must be a string'],
      ['engine_key missing', noKey, 'engine_key: required'],
      ['engine_key empty', aiBody({ engine_key: '' }), 'engine_key: required'],
      ['engine_key blank', aiBody({ engine_key: '   ' }), 'engine_key: required'],
      ['engine_key not a string', aiBody({ engine_key: 1234567 }), 'engine_key: must be a string'],
      ['init_prompt missing', noPrompt, 'init_prompt: required'],
      ['tts_type missing', noTts, 'tts_type: must be one of'],
      ['tts_type unknown', aiBody({ tts_type: 'mouth' }), 'tts_type: must be one of'],
      ['stt_type missing', noStt, 'stt_type: must be one of'],
      ['stt_type unknown', aiBody({ stt_type: 'ears' }), 'stt_type: must be one of'],
      ['stt_type of a TTS-only provider', aiBody({ stt_type: 'openai' }), 'stt_type: must be one of'],
      ['type unknown', aiBody({ type: 'weird' }), 'type: must be normal or insight'],
      ['tool_names not an array', aiBody({ tool_names: 'all' }), 'tool_names: must be an array'],
      ['tool_names unknown', aiBody({ tool_names: ['fly_to_moon'] }), 'fly_to_moon', 'INVALID_TOOL_NAMES'],
      ['tool_names with one unknown among known', aiBody({ tool_names: ['connect_call', 'nope'] }), 'tool_names: unknown tool name(s) nope', 'INVALID_TOOL_NAMES'],
      ['tool_names "all" mixed with an unknown', aiBody({ tool_names: ['all', 'x_tool'] }), 'x_tool', 'INVALID_TOOL_NAMES'],
      ['vad_config not an object', aiBody({ vad_config: 'loud' }), 'vad_config'],
      ['vad_config.confidence above 1', aiBody({ vad_config: { confidence: 1.5 } }), 'vad_config.confidence'],
      ['vad_config.confidence below 0', aiBody({ vad_config: { confidence: -0.1 } }), 'vad_config.confidence'],
      ['vad_config.start_secs above 30', aiBody({ vad_config: { start_secs: 31 } }), 'vad_config.start_secs'],
      ['vad_config.stop_secs below 0', aiBody({ vad_config: { stop_secs: -1 } }), 'vad_config.stop_secs'],
      ['vad_config.min_volume above 1', aiBody({ vad_config: { min_volume: 2 } }), 'vad_config.min_volume'],
      ['vad_config.confidence not a number', aiBody({ vad_config: { confidence: 'high' } }), 'vad_config.confidence'],
      ['vad_config unknown key', aiBody({ vad_config: { loudness: 1 } }), 'vad_config'],
      ['parameter not an object', aiBody({ parameter: 'x' }), 'parameter: must be an object'],
      ['smart_turn_enabled not a boolean', aiBody({ smart_turn_enabled: 'yes' }), 'smart_turn_enabled'],
    ];
    it.each(cases)('%s', async (_label, body, message, reason) => {
      const before = await aiCount();
      const res = await L.c.post('/ais', body);
      expectInvalid(res, message, reason ?? 'INVALID_ARGUMENT');
      expect(res.text).not.toContain(CANARY_ENGINE_KEY);
      expect(await aiCount()).toBe(before);
    });
  });
});

describe('GET /ais and GET /ais/{id}', () => {
  it('returns what was created, newest first, without engine_key', async () => {
    const a = ok(await L.c.post('/ais', aiBody({ name: 'list-a' })));
    const b = ok(await L.c.post('/ais', aiBody({ name: 'list-b' })));
    const items = expectList(await L.c.get('/ais?page_size=2'));
    expect(items.map((x) => x.id)).toEqual([b.id, a.id]);
    expect(items[0]).toEqual(b);
    items.forEach(expectNoEngineKey);
    const got = ok(await L.c.get(`/ais/${a.id}`));
    expect(got).toEqual(a);
    expectNoEngineKey(got);
  });

  it('accepts the id in upper case', async () => {
    const a = ok(await L.c.post('/ais', aiBody()));
    expect(ok(await L.c.get(`/ais/${a.id.toUpperCase()}`)).id).toBe(a.id);
  });

  it('answers 404 AI_NOT_FOUND for an unknown id and 400 INVALID_ID for a non-UUID', async () => {
    expectNotFound(await L.c.get(`/ais/${randomUUID()}`), 'AI_NOT_FOUND');
    expectInvalid(await L.c.get('/ais/not-a-uuid'), 'UUID', 'INVALID_ID');
  });
});

describe('PUT /ais/{id}', () => {
  it('changes the given fields, keeps the others and the stored engine_key', async () => {
    const created = ok(await L.c.post('/ais', aiBody({ name: 'before', tool_names: ['send_email'], vad_config: { confidence: 0.5 } })));
    const res = await L.c.put(`/ais/${created.id}`, { name: 'after', init_prompt: 'Be brief.' });
    const updated = ok(res);
    expectNoEngineKey(updated);
    expect(Object.keys(updated).sort()).toEqual(AI_FIELDS);
    expect(updated).toEqual({
      ...created,
      name: 'after',
      init_prompt: 'Be brief.',
      tm_update: expect.stringMatching(TIMESTAMP_RE),
    });
    expect(updated.tm_update).not.toBe(TM_NEVER);
    expect(updated.tm_update > updated.tm_create).toBe(true);
    expect(ok(await L.c.get(`/ais/${created.id}`))).toEqual(updated);
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBe(CANARY_ENGINE_KEY);
  });

  it('an empty engine_key keeps the stored one; a new one replaces it and is never returned', async () => {
    const created = ok(await L.c.post('/ais', aiBody()));
    ok(await L.c.put(`/ais/${created.id}`, { engine_key: '' }));
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBe(CANARY_ENGINE_KEY);
    const rotated = `${CANARY_ENGINE_KEY}-rotated`;
    const res = await L.c.put(`/ais/${created.id}`, { engine_key: rotated, engine_model: 'anthropic.claude-sonnet-4' });
    const updated = ok(res);
    expectNoEngineKey(updated);
    expect(res.text).not.toContain(rotated);
    expect(updated.engine_model).toBe('anthropic.claude-sonnet-4');
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBe(rotated);
    // Later updates without a key keep the rotated one.
    ok(await L.c.put(`/ais/${created.id}`, { detail: 'x' }));
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBe(rotated);
  });

  it('a new tts_type without a voice gets that type’s default voice; a custom voice of the same type is kept', async () => {
    const created = ok(await L.c.post('/ais', aiBody({ tts_type: 'elevenlabs', tts_voice_id: 'custom-11' })));
    expect(ok(await L.c.put(`/ais/${created.id}`, { name: 'same type' })).tts_voice_id).toBe('custom-11');
    expect(ok(await L.c.put(`/ais/${created.id}`, { tts_type: 'elevenlabs' })).tts_voice_id).toBe('custom-11');
    const switched = ok(await L.c.put(`/ais/${created.id}`, { tts_type: 'deepgram' }));
    expect(switched).toMatchObject({ tts_type: 'deepgram', tts_voice_id: 'aura-2-thalia-en' });
    const explicit = ok(await L.c.put(`/ais/${created.id}`, { tts_type: 'openai', tts_voice_id: 'nova' }));
    expect(explicit).toMatchObject({ tts_type: 'openai', tts_voice_id: 'nova' });
  });

  it('rejects invalid changes with 400 and leaves the stored AI as it was', async () => {
    const created = ok(await L.c.post('/ais', aiBody()));
    const bad: [Record<string, unknown>, string, string?][] = [
      [{ name: '' }, 'name: required'],
      [{ engine_model: 'nobody.model' }, 'is not supported'],
      [{ engine_model: 'plain' }, 'must be <provider>.<model>'],
      [{ tts_type: 'mouth' }, 'tts_type: must be one of'],
      [{ stt_type: 'ears' }, 'stt_type: must be one of'],
      [{ tool_names: ['unknown_tool'] }, 'unknown_tool', 'INVALID_TOOL_NAMES'],
      [{ vad_config: { stop_secs: 99 } }, 'vad_config.stop_secs'],
      [{ engine_key: 5 }, 'engine_key: must be a string'],
    ];
    for (const [body, message, reason] of bad) {
      const res = await L.c.put(`/ais/${created.id}`, { ...body, engine_key: body.engine_key ?? `${CANARY_ENGINE_KEY}-never-stored` });
      expectInvalid(res, message, reason ?? 'INVALID_ARGUMENT');
      expect(res.text).not.toContain(CANARY_ENGINE_KEY);
    }
    expect(ok(await L.c.get(`/ais/${created.id}`))).toEqual(created);
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBe(CANARY_ENGINE_KEY);
  });

  it('answers 404 AI_NOT_FOUND for an unknown id and 400 INVALID_ID for a non-UUID', async () => {
    expectNotFound(await L.c.put(`/ais/${randomUUID()}`, { name: 'x' }), 'AI_NOT_FOUND');
    expectInvalid(await L.c.put('/ais/123', { name: 'x' }), undefined, 'INVALID_ID');
  });
});

describe('DELETE /ais/{id}', () => {
  it('deletes: returns the row with tm_delete set and no engine_key; then 404 everywhere', async () => {
    const created = ok(await L.c.post('/ais', aiBody({ name: 'doomed' })));
    const deleted = ok(await L.c.del(`/ais/${created.id}`));
    expectNoEngineKey(deleted);
    expect(deleted).toMatchObject({ id: created.id, name: 'doomed' });
    expect(deleted.tm_delete).toMatch(TIMESTAMP_RE);
    expect(deleted.tm_delete).not.toBe(TM_NEVER);
    expectNotFound(await L.c.get(`/ais/${created.id}`), 'AI_NOT_FOUND');
    expectNotFound(await L.c.put(`/ais/${created.id}`, { name: 'zombie' }), 'AI_NOT_FOUND');
    expectNotFound(await L.c.del(`/ais/${created.id}`), 'AI_NOT_FOUND');
    const ids = expectList(await L.c.get('/ais?page_size=100')).map((a) => a.id);
    expect(ids).not.toContain(created.id);
    expect(await L.server.store.ais.getSecret(customerId, created.id)).toBeUndefined();
  });
});

describe('engine_key is write-only', () => {
  it('is kept apart from the AI JSON in the database', () => {
    const db = new Database(L.dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT data, secret, tm_delete FROM ais').all() as { data: string; secret: string | null; tm_delete: string }[];
      expect(rows.some((r) => r.tm_delete === TM_NEVER)).toBe(true);
      for (const r of rows) {
        expect(r.data).not.toContain('engine_key');
        expect(r.data).not.toContain(CANARY_ENGINE_KEY);
        // A live AI keeps its key in the secret column; a deleted AI's key is erased.
        if (r.tm_delete === TM_NEVER) expect(r.secret?.startsWith(CANARY_ENGINE_KEY)).toBe(true);
        else expect(r.secret).toBeNull();
      }
    } finally {
      db.close();
    }
  });

  it('never appeared in any response or log line of this file', () => {
    // Includes the rotated key and the keys sent with rejected updates (both extend the canary).
    expectNoLeak([CANARY_ENGINE_KEY, L.server.key]);
  });
});
