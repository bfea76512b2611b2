/**
 * Bad input on the wire: invalid JSON, non-object bodies, wrong content types, bad UUIDs in
 * paths, oversized bodies and unknown routes. Each answers VoIPBIN's error envelope with a
 * request id, and nothing already stored is lost or changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ACTIONS,
  CANARY_ENGINE_KEY,
  aicallRow,
  activeflowRow,
  aiBody,
  expectError,
  expectInvalid,
  expectList,
  expectNoLeak,
  ok,
  request,
  startLocal,
} from './fixtures.js';
import type { Local } from './fixtures.js';
import { BODY_LIMIT_BYTES } from '../../src/local/app.js';

let L: Local;
let snapshot: Record<string, unknown>;
const ids: Record<string, string> = {};

const LISTS = ['/ais', '/flows', '/calls', '/numbers', '/messages', '/emails', '/aisummaries', '/aicalls', '/activeflows', '/accesskeys', '/billing_accounts'];

async function takeSnapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { customer: ok(await L.c.get('/customer')) };
  for (const path of LISTS) out[path] = expectList(await L.c.get(`${path}?page_size=100`));
  out.aimessages = expectList(await L.c.get(`/aimessages?aicall_id=${ids.aicall}`));
  out.secret = await L.server.store.ais.getSecret(L.server.localCustomerId!, ids.ai!);
  return out;
}

beforeAll(async () => {
  L = await startLocal();
  const me = L.server.localCustomerId!;
  ids.ai = ok(await L.c.post('/ais', aiBody())).id;
  ids.flow = ok(await L.c.post('/flows', { actions: ACTIONS })).id;
  ids.number = ok(await L.c.post('/numbers', { number: '+15550500001' })).id;
  ids.call = ok(await L.c.post('/calls', { source: { type: 'tel', target: '+15550500001' }, destinations: [{ type: 'extension', target: 'n' }], flow_id: ids.flow })).calls[0].id;
  ids.message = ok(await L.c.post('/messages', { source: { type: 'tel', target: '+15550500001' }, destinations: [{ type: 'tel', target: '+15550500002' }], text: 'x' })).id;
  ids.email = ok(await L.c.post('/emails', { destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c' })).id;
  ids.aisummary = ok(await L.c.post('/aisummaries', { reference_type: 'call', reference_id: ids.call })).id;
  ids.aicall = (await L.server.store.aicalls.insert(aicallRow(me))).id;
  ids.aimessage = ok(await L.c.post('/aimessages', { aicall_id: ids.aicall, role: 'user', content: 'x' })).id;
  ids.activeflow = (await L.server.store.activeflows.insert(activeflowRow(me))).id;
  ids.accesskey = ok(await L.c.post('/accesskeys', { name: 'k' })).id;
  // Let the call to nowhere end (status hangup) so the snapshot is stable.
  for (let i = 0; i < 500 && ok(await L.c.get(`/calls/${ids.call}`)).status !== 'hangup'; i++) await new Promise((r) => setTimeout(r, 10));
  snapshot = await takeSnapshot();
});
afterAll(async () => {
  await L?.stop();
});

/** Routes that take a JSON body. */
const BODY_ROUTES: [string, string][] = [
  ['POST', '/ais'], ['PUT', '/ais/{ai}'], ['POST', '/flows'], ['PUT', '/flows/{flow}'], ['POST', '/calls'], ['POST', '/numbers'],
  ['PUT', '/numbers/{number}'], ['POST', '/messages'], ['POST', '/emails'], ['POST', '/aisummaries'], ['POST', '/aimessages'],
  ['POST', '/accesskeys'], ['PUT', '/accesskeys/{accesskey}'], ['PUT', '/customer'],
];
const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, k: string) => ids[k]!);

describe('request bodies', () => {
  it.each(BODY_ROUTES)('%s %s: invalid JSON → 400 INVALID_JSON_BODY', async (method, path) => {
    for (const raw of ['{', '{"name": }', "{'name': 'x'}", 'name=x', '{"a":1}}', '\u0000']) {
      expectError(await request(L.server, method, fill(path), undefined, { raw }), 400, 'INVALID_ARGUMENT', 'INVALID_JSON_BODY');
    }
  });

  // POST /accesskeys takes an optional body: an empty one is accepted (test/local/limits.test.ts).
  it.each(BODY_ROUTES.filter(([m, p]) => !(m === 'POST' && p === '/accesskeys')))('%s %s: an empty JSON body → 400 INVALID_JSON_BODY', async (method, path) => {
    expectError(await request(L.server, method, fill(path), undefined, { raw: '' }), 400, 'INVALID_ARGUMENT', 'INVALID_JSON_BODY');
  });

  it.each(BODY_ROUTES)('%s %s: a JSON body that is not an object → 400', async (method, path) => {
    for (const raw of ['[]', '[{"name":"x"}]', '"text"', '42', 'true', 'null']) {
      expectInvalid(await request(L.server, method, fill(path), undefined, { raw }), 'the request body must be a JSON object');
    }
  });

  it('a JSON body with a __proto__ or constructor.prototype key is refused', async () => {
    const withProto = `{"__proto__":{"polluted":true},${JSON.stringify(aiBody()).slice(1)}`;
    expectError(await request(L.server, 'POST', '/ais', undefined, { raw: withProto }), 400, 'INVALID_ARGUMENT', 'INVALID_JSON_BODY');
    const withCtor = `{"constructor":{"prototype":{"polluted":true}},${JSON.stringify(aiBody()).slice(1)}`;
    expectError(await request(L.server, 'POST', '/ais', undefined, { raw: withCtor }), 400, 'INVALID_ARGUMENT', 'INVALID_JSON_BODY');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a body sent as text/plain is not taken as an object', async () => {
    const res = await request(L.server, 'POST', '/ais', undefined, { raw: JSON.stringify(aiBody()), headers: { 'content-type': 'text/plain' } });
    expectInvalid(res, 'the request body must be a JSON object');
  });

  it('an unsupported content type → 415 in the error envelope', async () => {
    const res = await request(L.server, 'POST', '/ais', undefined, { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectError(res, 415, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'application/json');
  });

  it(`a body over ${BODY_LIMIT_BYTES} bytes → 413; one just under the limit is accepted`, async () => {
    const big = JSON.stringify(aiBody({ name: 'too big', init_prompt: 'x'.repeat(BODY_LIMIT_BYTES) }));
    expect(Buffer.byteLength(big)).toBeGreaterThan(BODY_LIMIT_BYTES);
    const res = await request(L.server, 'POST', '/ais', undefined, { raw: big });
    expectError(res, 413, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', `larger than ${BODY_LIMIT_BYTES} bytes`);
    const base = JSON.stringify(aiBody({ name: 'just fits', init_prompt: '' }));
    const fits = JSON.stringify(aiBody({ name: 'just fits', init_prompt: 'y'.repeat(BODY_LIMIT_BYTES - Buffer.byteLength(base)) }));
    expect(Buffer.byteLength(fits)).toBe(BODY_LIMIT_BYTES);
    const ai = ok(await request(L.server, 'POST', '/ais', undefined, { raw: fits }));
    expect(ai.init_prompt.length).toBe(BODY_LIMIT_BYTES - Buffer.byteLength(base));
    ok(await L.c.del(`/ais/${ai.id}`));
    // The server still answers normally on a new request afterwards.
    ok(await L.c.get('/customer'));
  });
});

describe('paths', () => {
  const ID_ROUTES: [string, string][] = [
    ['GET', '/ais/{x}'], ['PUT', '/ais/{x}'], ['DELETE', '/ais/{x}'],
    ['GET', '/accesskeys/{x}'], ['PUT', '/accesskeys/{x}'], ['DELETE', '/accesskeys/{x}'],
    ['GET', '/billing_accounts/{x}'],
    ['GET', '/aicalls/{x}'], ['DELETE', '/aicalls/{x}'], ['POST', '/aicalls/{x}/terminate'],
    ['GET', '/aimessages/{x}'], ['DELETE', '/aimessages/{x}'],
    ['GET', '/calls/{x}'], ['POST', '/calls/{x}/hangup'], ['DELETE', '/calls/{x}'],
    ['GET', '/flows/{x}'], ['PUT', '/flows/{x}'], ['DELETE', '/flows/{x}'],
    ['GET', '/activeflows/{x}'], ['POST', '/activeflows/{x}/stop'],
    ['GET', '/messages/{x}'], ['GET', '/emails/{x}'],
    ['GET', '/numbers/{x}'], ['PUT', '/numbers/{x}'], ['DELETE', '/numbers/{x}'],
    ['GET', '/aisummaries/{x}'], ['DELETE', '/aisummaries/{x}'],
  ];
  const BAD_IDS = ['123', 'not-a-uuid', `${randomUUID()}x`, randomUUID().replace(/-/g, ''), `{${randomUUID()}}`, "1' OR '1'='1", '%20'];

  it.each(ID_ROUTES)('%s %s with a malformed id → 400 INVALID_ID', async (method, path) => {
    // PUT bodies are valid, so the id is what fails.
    const body = method === 'PUT' ? (path.startsWith('/flows') ? { actions: ACTIONS } : { name: 'x' }) : undefined;
    for (const bad of BAD_IDS) {
      expectInvalid(await request(L.server, method, path.replace('{x}', encodeURIComponent(bad)), body), 'must be a UUID', 'INVALID_ID');
    }
  });

  it('an unknown route → 404 ROUTE_NOT_FOUND, with or without a key, without echoing the query', async () => {
    for (const path of [`${L.server.url}/v1.0/nothing`, `${L.server.url}/nothing`, `${L.server.url}/v2.0/ais`, `${L.server.url}/`]) {
      const res = await request(L.server, 'GET', path);
      expectError(res, 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'no such endpoint');
      expectError(await request(L.server, 'GET', path, undefined, { key: null }), 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND');
    }
    const res = await request(L.server, 'GET', `${L.server.url}/v1.0/nothing?accesskey=${encodeURIComponent(L.server.key)}`, undefined, { key: null });
    expectError(res, 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'GET /v1.0/nothing');
    expect(res.text).not.toContain(L.server.key);
  });

  it('a known path with a method it does not serve → 404 ROUTE_NOT_FOUND', async () => {
    expectError(await L.c.post(`/ais/${ids.ai}`, {}), 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND', `POST /v1.0/ais/${ids.ai}`);
    expectError(await L.c.del('/ais'), 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND');
    expectError(await L.c.put('/messages', {}), 404, 'NOT_FOUND', 'ROUTE_NOT_FOUND');
  });

  it('a path with broken percent-encoding → 400 in the error envelope', async () => {
    for (const path of ['/ais/%E0%A4%A', '/ais/%zz', '/%']) {
      const res = await L.c.get(path);
      expectError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
    }
  });

  it('a trailing slash is accepted', async () => {
    expect(expectList(await L.c.get('/ais/')).length).toBe(1);
    expect(ok(await L.c.get(`/ais/${ids.ai}/`)).id).toBe(ids.ai);
  });
});

describe('after all of the above', () => {
  it('nothing already stored was lost or changed', async () => {
    expect(await takeSnapshot()).toEqual(snapshot);
  });

  it('no secret appeared in a response or a log line', () => {
    expectNoLeak([CANARY_ENGINE_KEY]);
  });
});
