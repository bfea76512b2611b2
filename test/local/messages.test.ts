/**
 * One message style across the API: `field: what is wrong and what to send instead` (or a
 * sentence), the field named once, never raw validator text; a missing resource is
 * `<resource> <id> not found` on every route; a 402 says what a local account can do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ACTIONS, aiBody, expectList, ok, request, startLocal } from './fixtures.js';
import type { Local } from './fixtures.js';

let L: Local;
const ids: Record<string, string> = {};

beforeAll(async () => {
  L = await startLocal({ VOIPBIN_LOCAL_INITIAL_BALANCE: '25' });
  ids.number = ok(await L.c.post('/numbers', { number: '+15550910001' })).id;
  ids.ai = ok(await L.c.post('/ais', aiBody())).id;
  ids.flow = ok(await L.c.post('/flows', { actions: ACTIONS })).id;
  ids.accesskey = ok(await L.c.post('/accesskeys', { name: 'k' })).id;
});
afterAll(async () => {
  await L?.stop();
});

/** A field path (`a`, `a.b[0].c`) then `: ` and text, or a sentence starting with a letter. */
const SHAPE = /^(?:[a-z_][a-z0-9_]*(?:\[\d+\])*(?:\.[a-z0-9_]+(?:\[\d+\])*)*: \S|[A-Za-z])/;
const RAW = /Invalid input|Invalid option|expected \w+, received|Too (?:small|big)|Unrecognized key|Required$/;

function expectStyled(message: string, label: string): void {
  expect(message, label).toMatch(SHAPE);
  expect(message, label).not.toMatch(RAW);
  // The field appears once: never `name: name must ...` or `a.b: a.b ...`.
  const field = /^([^\s:]+): (.*)$/.exec(message);
  if (field) {
    const [, path, rest] = field;
    const last = path!.replace(/^.*[.\]]/, '');
    expect(rest!.startsWith(`${path} `) || rest!.startsWith(`${path}:`), `${label}: doubled field in "${message}"`).toBe(false);
    if (last) expect(rest!.startsWith(`${last} `), `${label}: doubled field in "${message}"`).toBe(false);
  }
}

const src = { type: 'tel', target: '+15550910001' };
const dest = [{ type: 'extension', target: 'x' }];

/** [label, method, path, body] of many bad requests across the routes. */
const BAD: [string, string, string, unknown][] = [
  ['ai without fields', 'POST', '/ais', {}],
  ['ai name wrong type', 'POST', '/ais', aiBody({ name: 1 })],
  ['ai rag_id wrong type', 'POST', '/ais', aiBody({ rag_id: 5 })],
  ['ai stt_language wrong type', 'POST', '/ais', aiBody({ stt_language: [] })],
  ['ai tool_names items wrong type', 'POST', '/ais', aiBody({ tool_names: [1] })],
  ['ai vad_config unknown key', 'POST', '/ais', aiBody({ vad_config: { speed: 1 } })],
  ['ai vad_config value', 'POST', '/ais', aiBody({ vad_config: { confidence: 9 } })],
  ['ai update unknown field', 'PUT', '/ais/{ai}', { colour: 'red' }],
  ['ai update engine_model', 'PUT', '/ais/{ai}', { engine_model: 'x' }],
  ['flow without actions', 'POST', '/flows', {}],
  ['flow action type', 'POST', '/flows', { actions: [{ type: 'fly' }] }],
  ['flow action option', 'POST', '/flows', { actions: [{ type: 'talk', option: [] }] }],
  ['flow action id', 'POST', '/flows', { actions: [{ type: 'answer', id: 'x' }] }],
  ['flow sleep', 'POST', '/flows', { actions: [{ type: 'sleep', option: { duration: 'x' } }] }],
  ['flow engine_key', 'POST', '/flows', { actions: [{ type: 'ai_talk', option: { initial_prompt: 'x', engine_key: 'sk-123456789' } }] }],
  ['flow update unknown', 'PUT', '/flows/{flow}', { nme: 'x' }],
  ['call without source', 'POST', '/calls', { destinations: dest, actions: ACTIONS }],
  ['call source type', 'POST', '/calls', { source: { type: 'pigeon', target: 'x' }, destinations: dest, actions: ACTIONS }],
  ['call source target missing', 'POST', '/calls', { source: { type: 'tel' }, destinations: dest, actions: ACTIONS }],
  ['call source not owned', 'POST', '/calls', { source: { type: 'tel', target: '+15550910099' }, destinations: dest, actions: ACTIONS }],
  ['call destinations empty', 'POST', '/calls', { source: src, destinations: [], actions: ACTIONS }],
  ['call destinations not an array', 'POST', '/calls', { source: src, destinations: 'x', actions: ACTIONS }],
  ['call destination target', 'POST', '/calls', { source: src, destinations: [{ type: 'tel', target: 'x' }], actions: ACTIONS }],
  ['call flow_id', 'POST', '/calls', { source: src, destinations: dest, flow_id: 'x' }],
  ['call variables', 'POST', '/calls', { source: src, destinations: dest, actions: ACTIONS, variables: { a: 1 } }],
  ['call both', 'POST', '/calls', { source: src, destinations: dest }],
  ['number missing', 'POST', '/numbers', {}],
  ['number bad', 'POST', '/numbers', { number: 'abc' }],
  ['message text missing', 'POST', '/messages', { source: src, destinations: [src] }],
  ['message destinations', 'POST', '/messages', { source: src, destinations: 'x', text: 'x' }],
  ['message destination type', 'POST', '/messages', { source: src, destinations: [{ type: 'email', target: 'a@b.c' }], text: 'x' }],
  ['message source not owned', 'POST', '/messages', { source: { type: 'tel', target: '+15550910099' }, destinations: [src], text: 'x' }],
  ['email target', 'POST', '/emails', { destinations: [{ type: 'email', target: 'nope' }], subject: 's', content: 'c' }],
  ['email subject', 'POST', '/emails', { destinations: [{ type: 'email', target: 'a@example.com' }], content: 'c' }],
  ['email attachments', 'POST', '/emails', { destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c', attachments: [{}] }],
  ['summary reference_type', 'POST', '/aisummaries', { reference_type: 'x', reference_id: randomUUID() }],
  ['summary reference_id', 'POST', '/aisummaries', { reference_type: 'call', reference_id: 'x' }],
  ['aimessage role', 'POST', '/aimessages', { aicall_id: randomUUID(), role: 'x', content: 'x' }],
  ['aimessage tool_calls', 'POST', '/aimessages', { aicall_id: randomUUID(), role: 'user', content: 'x', tool_calls: [{}] }],
  ['aimessages list', 'GET', '/aimessages?aicall_id=x', undefined],
  ['transcribe reference_type', 'POST', '/transcribes', { reference_type: 'x', reference_id: randomUUID() }],
  ['transcribe direction', 'POST', '/transcribes', { reference_type: 'call', reference_id: randomUUID(), direction: 'up' }],
  ['transcripts list', 'GET', '/transcripts', undefined],
  ['accesskey expire', 'POST', '/accesskeys', { expire: -1 }],
  ['accesskey expire type', 'POST', '/accesskeys', { expire: 'soon' }],
  ['accesskey update unknown', 'PUT', '/accesskeys/{accesskey}', { token: 'x' }],
  ['customer update type', 'PUT', '/customer', { name: 5 }],
  ['customer update webhook_method', 'PUT', '/customer', { webhook_method: 'PATCH' }],
  ['customer update unknown', 'PUT', '/customer', { id: randomUUID() }],
  ['bad id', 'GET', '/ais/123', undefined],
  ['deep JSON', 'POST', '/flows', '{"actions":' + '['.repeat(200) + ']'.repeat(200) + '}'],
];

describe('message style', () => {
  it('every bad input answers 4xx with a message in one style', async () => {
    const fill = (p: string) => p.replace(/\{(\w+)\}/g, (_, k: string) => ids[k]!);
    const seen: string[] = [];
    for (const [label, method, path, body] of BAD) {
      const res = typeof body === 'string'
        ? await request(L.server, method, fill(path), undefined, { raw: body })
        : await request(L.server, method, fill(path), body);
      expect(res.status, `${label}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${label}: ${res.text}`).toBeLessThan(500);
      expectStyled(res.body.error.message, label);
      seen.push(`${label}: ${res.body.error.message}`);
      if (process.env.SHOW_MESSAGES) console.log(`${res.status} ${label}: ${res.body.error.message}`);
    }
    expect(seen).toHaveLength(BAD.length);
  });

  it('a missing resource is "<resource> <id> not found" on every route, deletes included', async () => {
    const routes: [string, string, string][] = [
      ['GET', '/ais/{id}', 'ai'], ['DELETE', '/ais/{id}', 'ai'], ['PUT', '/ais/{id}', 'ai'],
      ['GET', '/flows/{id}', 'flow'], ['DELETE', '/flows/{id}', 'flow'], ['PUT', '/flows/{id}', 'flow'],
      ['GET', '/calls/{id}', 'call'], ['DELETE', '/calls/{id}', 'call'], ['POST', '/calls/{id}/hangup', 'call'],
      ['GET', '/aicalls/{id}', 'aicall'], ['DELETE', '/aicalls/{id}', 'aicall'], ['POST', '/aicalls/{id}/terminate', 'aicall'],
      ['GET', '/aimessages/{id}', 'aimessage'], ['DELETE', '/aimessages/{id}', 'aimessage'],
      ['GET', '/aisummaries/{id}', 'ai summary'], ['DELETE', '/aisummaries/{id}', 'ai summary'],
      ['GET', '/transcribes/{id}', 'transcribe'], ['DELETE', '/transcribes/{id}', 'transcribe'], ['POST', '/transcribes/{id}/stop', 'transcribe'],
      ['GET', '/activeflows/{id}', 'activeflow'], ['POST', '/activeflows/{id}/stop', 'activeflow'],
      ['GET', '/accesskeys/{id}', 'access key'],
      ['GET', '/messages/{id}', 'message'], ['GET', '/emails/{id}', 'email'], ['GET', '/numbers/{id}', 'number'],
    ];
    for (const [method, path, label] of routes) {
      const id = randomUUID();
      const body = method === 'PUT' ? { name: 'x' } : undefined;
      const res = await request(L.server, method, path.replace('{id}', id), body);
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
      expect(res.body.error.message, `${method} ${path}`).toBe(`${label} ${id} not found`);
    }
  });

  it('402 says what a local account can do, and names only what exists', async () => {
    const before = expectList(await L.c.get('/calls?page_size=100')).length;
    const res = await L.c.post('/calls', { source: src, destinations: [...dest, ...dest], actions: ACTIONS });
    expect(res.status).toBe(402);
    expect(res.body.error.reason).toBe('INSUFFICIENT_BALANCE');
    expect(res.body.error.message).toContain('it costs 40 credits and the balance is 25');
    expect(res.body.error.message).toContain('VOIPBIN_LOCAL_INITIAL_BALANCE');
    expect(res.body.error.message).toContain('voipbin-ai customers create');
    expect(res.body.error.message).not.toMatch(/top up before retrying|balance-add/);
    expectStyled(res.body.error.message, '402');
    expect(expectList(await L.c.get('/calls?page_size=100')).length).toBe(before);
  });
});
