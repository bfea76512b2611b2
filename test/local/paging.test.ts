/**
 * Cursor paging over several pages: newest first, `next_page_token` = the last item's
 * `tm_create`, '' on the last page, stable while new rows arrive; `page_size` 1..100.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIONS,
  aicallRow,
  aiBody,
  expectInvalid,
  expectList,
  listAll,
  ok,
  otherCustomer,
  startLocal,
} from './fixtures.js';
import type { Local } from './fixtures.js';

let L: Local;
/** The 25 flows created, oldest first. */
const flows: any[] = [];

beforeAll(async () => {
  L = await startLocal();
  for (let i = 0; i < 25; i++) flows.push(ok(await L.c.post('/flows', { name: `flow ${i}`, actions: ACTIONS })));
});
afterAll(async () => {
  await L?.stop();
});

const newestFirst = () => [...flows].reverse().map((f) => f.id);

describe('paging across several pages', () => {
  it('page_size 10: pages of 10, 10, 5, newest first, each token the last item’s tm_create', async () => {
    const { items, pages, tokens } = await listAll(L.c, '/flows', 10);
    expect(pages).toEqual([10, 10, 5]);
    expect(items.map((f) => f.id)).toEqual(newestFirst());
    expect(tokens).toEqual([items[9].tm_create, items[19].tm_create, '']);
    for (let i = 1; i < items.length; i++) expect(items[i - 1].tm_create > items[i].tm_create).toBe(true);
    expect(items).toEqual([...flows].reverse());
  });

  it.each([1, 3, 7, 24, 25, 26, 100])('page_size %i walks every item exactly once', async (size) => {
    const { items, pages } = await listAll(L.c, '/flows', size);
    expect(items.map((f) => f.id)).toEqual(newestFirst());
    expect(pages.length).toBe(Math.ceil(25 / size));
  });

  it('an exact multiple of the page size ends with an empty token, not an empty extra page', async () => {
    const { pages, tokens } = await listAll(L.c, '/flows', 5);
    expect(pages).toEqual([5, 5, 5, 5, 5]);
    expect(tokens.at(-1)).toBe('');
  });

  it('defaults to 10 items per page', async () => {
    const res = await L.c.get('/flows');
    expect(expectList(res)).toHaveLength(10);
    expect(res.body.next_page_token).not.toBe('');
  });

  it('is stable while rows are added: a new row shows on page one only', async () => {
    const first = await L.c.get('/flows?page_size=10');
    const page1 = expectList(first);
    const added = ok(await L.c.post('/flows', { name: 'late', actions: ACTIONS }));
    const rest = await L.c.get(`/flows?page_size=100&page_token=${encodeURIComponent(first.body.next_page_token)}`);
    const page2 = expectList(rest);
    expect([...page1, ...page2].map((f) => f.id)).toEqual(newestFirst());
    expect(expectList(await L.c.get('/flows?page_size=1'))[0].id).toBe(added.id);
    ok(await L.c.del(`/flows/${added.id}`));
  });

  it('deleted rows leave the pages without shifting the cursor', async () => {
    const extra = [];
    for (let i = 0; i < 3; i++) extra.push(ok(await L.c.post('/flows', { name: `extra ${i}`, actions: ACTIONS })));
    ok(await L.c.del(`/flows/${extra[1].id}`));
    const { items } = await listAll(L.c, '/flows', 4);
    expect(items.map((f) => f.id)).toEqual([extra[2].id, extra[0].id, ...newestFirst()]);
    for (const f of [extra[0], extra[2]]) ok(await L.c.del(`/flows/${f.id}`));
  });

  it('a token from the future starts from the newest, one from the past gives an empty page', async () => {
    expect(expectList(await L.c.get('/flows?page_size=100&page_token=9000-01-01T00:00:00.000000Z')).map((f) => f.id)).toEqual(newestFirst());
    const past = await L.c.get('/flows?page_token=2000-01-01T00:00:00.000000Z');
    expect(expectList(past)).toEqual([]);
    expect(past.body.next_page_token).toBe('');
  });

  it('an empty page_size or page_token means the default', async () => {
    const res = await L.c.get('/flows?page_size=&page_token=');
    expect(expectList(res).map((f) => f.id)).toEqual(newestFirst().slice(0, 10));
  });

  it('pages other resources the same way (ais, numbers, aimessages filtered by aicall)', async () => {
    const me = L.server.localCustomerId!;
    const ais = [];
    for (let i = 0; i < 7; i++) ais.push(ok(await L.c.post('/ais', aiBody({ name: `ai ${i}` }))));
    const walkedAis = await listAll(L.c, '/ais', 3);
    expect(walkedAis.pages).toEqual([3, 3, 1]);
    expect(walkedAis.items.map((a) => a.id)).toEqual(ais.map((a) => a.id).reverse());
    walkedAis.items.forEach((a) => expect(a).not.toHaveProperty('engine_key'));

    const numbers = [];
    for (let i = 0; i < 6; i++) numbers.push(ok(await L.c.post('/numbers', { number: `+1555040000${i}` })));
    const walkedNumbers = await listAll(L.c, '/numbers', 4);
    expect(walkedNumbers.pages).toEqual([4, 2]);
    expect(walkedNumbers.items.map((n) => n.number)).toEqual(numbers.map((n) => n.number).reverse());

    const aicall = await L.server.store.aicalls.insert(aicallRow(me));
    const other = await L.server.store.aicalls.insert(aicallRow(me));
    const mine = [];
    for (let i = 0; i < 5; i++) {
      mine.push(ok(await L.c.post('/aimessages', { aicall_id: aicall.id, role: 'user', content: `m${i}` })));
      ok(await L.c.post('/aimessages', { aicall_id: other.id, role: 'user', content: `other ${i}` }));
    }
    const walked = await listAll(L.c, `/aimessages?aicall_id=${aicall.id}`, 2);
    expect(walked.pages).toEqual([2, 2, 1]);
    expect(walked.items.map((m) => m.content)).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
  });

  it('another customer walking the same pages sees none of these rows', async () => {
    const b = await otherCustomer(L.server);
    const res = await b.c.get('/flows?page_size=100');
    expect(expectList(res)).toEqual([]);
    expect(res.body.next_page_token).toBe('');
    // Even with a token taken from the owner's pages.
    const token = (await L.c.get('/flows?page_size=2')).body.next_page_token;
    expect(expectList(await b.c.get(`/flows?page_token=${encodeURIComponent(token)}`))).toEqual([]);
  });
});

describe('paging parameters', () => {
  it.each([['0'], ['101'], ['abc'], ['-1'], ['1.5'], ['1e1x'], ['1000000']])('page_size=%s → 400 INVALID_REQUEST_PARAMETER', async (size) => {
    for (const path of ['/flows', '/ais', '/accesskeys', '/billing_accounts']) {
      expectInvalid(await L.c.get(`${path}?page_size=${size}`), 'page_size must be an integer from 1 to 100', 'INVALID_REQUEST_PARAMETER');
    }
  });

  it('page_size 1 and 100 are accepted', async () => {
    expect(expectList(await L.c.get('/flows?page_size=1'))).toHaveLength(1);
    expect(expectList(await L.c.get('/flows?page_size=100')).length).toBeGreaterThanOrEqual(25);
  });

  it.each([
    ['garbage'],
    ['2026-01-02'],
    ['2026-01-02T03:04:05Z'],
    ['2026-01-02T03:04:05.000Z'],
    ["2026-01-02T03:04:05.000000Z' OR '1'='1"],
    ['%00'],
  ])('page_token=%s → 400 INVALID_REQUEST_PARAMETER', async (token) => {
    expectInvalid(await L.c.get(`/flows?page_token=${encodeURIComponent(token)}`), 'page_token must be the next_page_token', 'INVALID_REQUEST_PARAMETER');
  });

  it('a repeated page_size is refused, not half-applied', async () => {
    expectInvalid(await L.c.get('/flows?page_size=5&page_size=6'), 'page_size', 'INVALID_REQUEST_PARAMETER');
  });

  it('a repeated page_token is refused', async () => {
    const t = '2030-01-01T00:00:00.000000Z';
    expectInvalid(await L.c.get(`/flows?page_token=${t}&page_token=${t}`), 'page_token', 'INVALID_REQUEST_PARAMETER');
  });
});
