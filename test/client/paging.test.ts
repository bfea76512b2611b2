import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/index.js';
import type { AIManagerAI, AIManagerMessage } from '../../src/client/index.js';
import { expectConformsRequest, expectConformsResponse } from '../helpers/openapi.js';
import { captureLogger } from './capture-logger.js';
import { FakeVoipbin } from './fake-voipbin.js';

let fake: FakeVoipbin;
let client: VoipbinClient;
beforeEach(async () => {
  fake = await FakeVoipbin.start({ defaultPageSize: 10 });
  client = new VoipbinClient({ baseUrl: fake.baseUrl, maxRetries: 0, logger: captureLogger().logger });
});
afterEach(() => fake.close());

function seedAIs(n: number): string[] {
  const items = fake.seed(
    'ais',
    Array.from({ length: n }, (_, i) => ({ name: `ai-${i}`, engine_model: 'openai.gpt-5' })),
  );
  return items.map((i) => i.id).reverse(); // newest first, as VoIPBIN lists
}

describe('paging', () => {
  it('walks every item across pages with for await, newest first', async () => {
    const ids = seedAIs(23);
    const page = await client.ais.list({ page_size: 10 });
    expect(page.result).toHaveLength(10);
    expect(page.hasNextPage()).toBe(true);

    const seen: string[] = [];
    for await (const ai of page) seen.push(ai.id!);
    expect(seen).toEqual(ids);

    const reqs = fake.requestsFor('GET', '/ais');
    // 10 + 10 + 3: the short last page ends the walk without another request.
    expect(reqs.map((r) => r.query)).toEqual([
      { page_size: '10' },
      { page_size: '10', page_token: expect.any(String) },
      { page_size: '10', page_token: expect.any(String) },
    ]);
    for (const r of reqs) expectConformsRequest(r.method, r.url);
  });

  it('stops on an empty page when the item count is a multiple of the page size', async () => {
    const ids = seedAIs(20);
    const pages: number[] = [];
    for await (const p of (await client.ais.list({ page_size: 10 })).iterPages()) pages.push(p.result.length);
    expect(pages).toEqual([10, 10, 0]);
    const all: AIManagerAI[] = [];
    for await (const ai of await client.ais.list({ page_size: 10 })) all.push(ai);
    expect(all.map((a) => a.id)).toEqual(ids);
  });

  it('without page_size follows the token until a page is empty', async () => {
    seedAIs(12);
    const seen: string[] = [];
    for await (const ai of await client.ais.list()) seen.push(ai.id!);
    expect(seen).toHaveLength(12);
    expect(fake.requestsFor('GET', '/ais')).toHaveLength(3); // 10, 2, 0
  });

  it('getNextPage passes next_page_token as page_token and keeps the query', async () => {
    seedAIs(5);
    const first = await client.ais.list({ page_size: 2 });
    const second = await first.getNextPage();
    expect(fake.requests.at(-1)!.query).toEqual({ page_size: '2', page_token: first.next_page_token });
    expect(second.result.map((a) => a.name)).toEqual(['ai-2', 'ai-1']);
  });

  it("the fake's list envelope conforms to the spec", async () => {
    seedAIs(3);
    const res = await fetch(`${fake.baseUrl}/ais?page_size=2`);
    expectConformsResponse('GET', '/ais', res.status, await res.json());
  });

  it('a single page with no token has no next page', async () => {
    fake.script('GET', '/ais', { body: { result: [{ id: 'a' }], next_page_token: '' } });
    const page = await client.ais.list({ page_size: 10 });
    expect(page.hasNextPage()).toBe(false);
    await expect(page.getNextPage()).rejects.toThrow(/No next page/);
  });

  it('tolerates result: null and a missing token', async () => {
    fake.script('GET', '/calls', { body: { result: null } });
    const page = await client.calls.list();
    expect(page.result).toEqual([]);
    expect(page.next_page_token).toBeUndefined();
    expect(page.hasNextPage()).toBe(false);
  });

  it('stops when a server repeats the same cursor', async () => {
    const body = { result: [{ id: 'a' }, { id: 'b' }], next_page_token: 'same' };
    fake.script('GET', '/flows', { body }, { body }, { body });
    const items: unknown[] = [];
    for await (const f of await client.flows.list({ page_size: 2 })) items.push(f);
    expect(items).toHaveLength(4);
    expect(fake.requestsFor('GET', '/flows')).toHaveLength(2);
  });

  it('aimessages.list keeps aicall_id on every page', async () => {
    const aicallId = 'a1b2c3d4-e5f6-4890-abcd-ef1234567890';
    fake.seed('aimessages', [
      ...Array.from({ length: 5 }, (_, i) => ({ aicall_id: aicallId, role: 'user', content: `m${i}` })),
      { aicall_id: 'ffffffff-ffff-4fff-8fff-ffffffffffff', role: 'user', content: 'other' },
    ]);
    const messages: AIManagerMessage[] = [];
    for await (const m of await client.aimessages.list(aicallId, { page_size: 2 })) messages.push(m);
    expect(messages.map((m) => m.content)).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
    for (const r of fake.requestsFor('GET', '/aimessages')) {
      expect(r.query.aicall_id).toBe(aicallId);
      expectConformsRequest('GET', r.url);
    }
  });
});
