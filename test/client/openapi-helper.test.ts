/** The conformance helper itself: what it accepts, what it rejects, and its documented relaxations. */
import { describe, expect, it } from 'vitest';
import { loadVoipbinSpec, validateRequest, validateResponse } from '../helpers/openapi.js';

const ID = '550e8400-e29b-41d4-a716-446655440000';
const TS = '2026-01-15T09:30:00.000000Z';
const envelope = (status: string, reason = 'X') => ({ error: { status, reason, message: 'm', request_id: 'req_1' } });

describe('validateResponse', () => {
  it('accepts a conforming AI, by path template or concrete path', () => {
    const ai = { id: ID, customer_id: ID, name: 'bot', is_insight_active: false, engine_model: 'openai.gpt-5', tm_create: TS };
    expect(validateResponse('GET', '/ais/{id}', 200, ai)).toEqual([]);
    expect(validateResponse('get', `/v1.0/ais/${ID}`, 200, ai)).toEqual([]);
    expect(validateResponse('GET', `http://127.0.0.1:1/v1.0/ais/${ID}?x=1`, 200, ai)).toEqual([]);
  });

  it('reports every problem readably', () => {
    expect(validateResponse('GET', '/ais/{id}', 200, { id: 'nope', tm_create: '2026-01-15 09:30', type: 'odd' })).toEqual([
      "response body must have required property 'is_insight_active'",
      'response body.id must match format "uuid"',
      'response body.type must be equal to one of the allowed values: "normal", "insight"',
      'response body.tm_create must match format "date-time"',
    ]);
  });

  it('relaxation: engine_model is any <provider>.<model>, stt_type may be google', () => {
    const ai = { is_insight_active: false, engine_model: 'anthropic.claude-3-5-sonnet', stt_type: 'google' };
    expect(validateResponse('GET', '/ais/{id}', 200, ai)).toEqual([]);
    expect(validateResponse('GET', '/ais/{id}', 200, { ...ai, engine_model: 'claude' })).toEqual([
      'response body.engine_model must match pattern "^[a-z0-9-]+\\..+"',
    ]);
    expect(validateResponse('GET', '/ais/{id}', 200, { ...ai, stt_type: 'whisper' })).toHaveLength(1);
  });

  it('engine_key is write-only: present in a response is an error, also inside a list', () => {
    expect(validateResponse('GET', '/ais/{id}', 200, { is_insight_active: false, engine_key: 'sk-x' })).toEqual([
      'response body.engine_key is write-only and must not appear in a response',
    ]);
    expect(
      validateResponse('GET', '/ais', 200, { result: [{ is_insight_active: false, engine_key: '' }], next_page_token: '' }),
    ).toEqual(['response body.result[0].engine_key is write-only and must not appear in a response']);
  });

  it('flow actions must have ids in responses', () => {
    expect(validateResponse('GET', '/flows/{id}', 200, { id: ID, actions: [{ id: ID, type: 'answer' }] })).toEqual([]);
    expect(validateResponse('GET', '/flows/{id}', 200, { id: ID, actions: [{ type: 'answer' }] })).toEqual([
      "response body.actions[0] must have required property 'id'",
    ]);
  });

  it('error responses must be the envelope with the canonical status of the HTTP code', () => {
    expect(validateResponse('GET', '/ais/{id}', 404, envelope('NOT_FOUND', 'AI_NOT_FOUND'))).toEqual([]);
    expect(validateResponse('GET', '/ais', 429, envelope('RESOURCE_EXHAUSTED'))).toEqual([]); // not listed by the op
    expect(validateResponse('POST', '/calls/{id}/hangup', 409, envelope('ALREADY_EXISTS'))).toEqual([]);
    expect(validateResponse('GET', '/ais/{id}', 404, { message: 'ai not found' })).toEqual([
      "response body must have required property 'error'",
    ]);
    expect(validateResponse('GET', '/ais/{id}', 404, envelope('INTERNAL'))).toEqual([
      'response body.error.status is "INTERNAL" but HTTP 404 means NOT_FOUND',
    ]);
    expect(validateResponse('GET', '/ais/{id}', 500, { error: { status: 'INTERNAL', reason: 'INTERNAL', message: 'm' } })).toEqual([
      "response body.error must have required property 'request_id'",
    ]);
  });

  it('rejects undeclared success statuses and unknown routes', () => {
    expect(validateResponse('POST', '/ais', 201, {})).toEqual(['status 201 is not declared for POST /ais (declared: 200, 400, 401, 500)']);
    expect(validateResponse('GET', '/nothing-here', 200, {})).toEqual(['no operation GET /nothing-here in the VoIPBIN spec']);
  });
});

describe('validateRequest', () => {
  it('checks the body, the query and path parameters', () => {
    expect(validateRequest('GET', '/ais', { query: { page_size: 10, page_token: TS } })).toEqual([]);
    expect(validateRequest('GET', '/ais?page_size=ten')).toEqual(['query.page_size must be integer']);
    expect(validateRequest('GET', '/aimessages')).toEqual(["query must have required property 'aicall_id'"]);
    expect(validateRequest('POST', '/aicalls/not-a-uuid/terminate')).toEqual(['path.id must match format "uuid"']);
    expect(validateRequest('POST', '/messages', { body: { destinations: 'x', text: 'hi' } })).toEqual([
      "requestBody must have required property 'source'",
      'requestBody.destinations must be array',
    ]);
    expect(validateRequest('POST', '/ais')).toEqual(["request must have required property 'requestBody'"]);
  });

  it('message destinations are addresses (the spec\'s stray `type: string` beside the $ref is ignored)', () => {
    const body = { source: { type: 'tel', target: '+15551230001' }, destinations: [{ type: 'tel', target: '+15551230002' }], text: 'hi' };
    expect(validateRequest('POST', '/messages', { body })).toEqual([]);
  });

  it('relaxation: flow actions in requests may omit id', () => {
    expect(validateRequest('POST', '/flows', { body: { name: 'f', detail: '', actions: [{ type: 'answer' }] } })).toEqual([]);
    expect(validateRequest('POST', '/calls', { body: { actions: [{ type: 'answer' }], source: {}, destinations: [] } })).toEqual([]);
    expect(validateRequest('POST', '/flows', { body: { name: 'f', detail: '', actions: [{ type: 'dance' }] } })).toHaveLength(1);
  });
});

describe('loadVoipbinSpec', () => {
  it('applies the relaxations to a fresh copy without touching the file', () => {
    const spec = loadVoipbinSpec() as { components: { schemas: Record<string, Record<string, unknown>> } };
    const s = spec.components.schemas;
    expect(s.AIManagerAIEngineModel!.enum).toBeUndefined();
    expect(s.AIManagerAISTTType!.enum).toContain('google');
    expect((s.AIManagerAI!.properties as Record<string, Record<string, unknown>>).engine_key!.writeOnly).toBe(true);
    expect(s.FlowManagerAction!.required).toEqual(['id', 'type']);
    expect(s.FlowManagerActionRequest!.required).toEqual(['type']);
  });
});
