/**
 * Conformance with VoIPBIN's published OpenAPI spec, over the real stack: the one REST client
 * talks to the real local API (HTTP on 127.0.0.1, SQLite file), and every request it sends and
 * every response it gets is validated against the spec (test/helpers/openapi.ts; the documented
 * relaxations are listed there and in the README).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VoipbinClient } from '../../src/client/client.js';
import { VoipbinError } from '../../src/client/errors.js';
import { validateRequest, validateResponse } from '../helpers/openapi.js';
import { ACTIONS, activeflowRow, aiBody, aicallRow, openPhone, startLocal, waitFor } from './fixtures.js';
import type { Local } from './fixtures.js';

interface Exchange {
  method: string;
  url: string;
  query: Record<string, string>;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
}

describe('the local API and the client against the OpenAPI spec', () => {
  let L: Local;
  let client: VoipbinClient;
  const exchanges: Exchange[] = [];

  beforeAll(async () => {
    L = await startLocal({ VOIPBIN_LOCAL_INITIAL_BALANCE: '35' });
    const recordingFetch: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const text = req.body ? await req.clone().text() : '';
      const res = await fetch(req);
      const resText = await res.clone().text();
      exchanges.push({
        method: req.method,
        url: url.pathname.replace(/^\/v1\.0/, ''),
        query: Object.fromEntries(url.searchParams),
        requestBody: text ? JSON.parse(text) : undefined,
        status: res.status,
        responseBody: resText ? JSON.parse(resText) : undefined,
      });
      return res;
    };
    client = new VoipbinClient({ baseUrl: L.server.api, accessKey: L.server.key, fetch: recordingFetch, maxRetries: 0 });
  });
  afterAll(() => L.stop());

  it('every request and response of a full session conforms', async () => {
    const customer = await client.customer.get();
    const customerId = customer.id!;
    for await (const k of await client.accesskeys.list()) await client.accesskeys.get(k.id!);
    for await (const b of await client.billingAccounts.list()) await client.billingAccounts.get(b.id!);

    const ai = await client.ais.create(aiBody({ parameter: {}, tts_voice_id: '' }) as never);
    await client.ais.list({ page_size: 5 });
    await client.ais.get(ai.id!);
    await client.ais.update(ai.id!, { ...aiBody({ parameter: {}, tts_voice_id: '' }), name: 'renamed' } as never);

    const flow = await client.flows.create({ name: 'f', detail: 'd', actions: ACTIONS } as never);
    await client.flows.list();
    await client.flows.get(flow.id!);
    await client.flows.update(flow.id!, { name: 'f2', detail: 'd', actions: ACTIONS } as never);

    const number = await client.numbers.create({ number: '+15550400001', call_flow_id: flow.id, message_flow_id: '', name: 'n', detail: 'd' } as never);
    await client.numbers.list();
    await client.numbers.get(number.id!);
    await client.numbers.update(number.id!, { call_flow_id: flow.id, message_flow_id: '', name: 'n2', detail: 'd' } as never);

    // A phone keeps the call ringing, so it can be listed, read and hung up.
    const phone = await openPhone(L.server, { type: 'extension', target: 'conformance' });
    const { calls } = await client.calls.create({
      source: { type: 'tel', target: '+15550400001' },
      destinations: [{ type: 'extension', target: 'conformance' }],
      actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30000 } }],
    } as never);
    await client.calls.list();
    await client.calls.get(calls[0]!.id!);
    // Answered, so the call keeps its charge (an unanswered call is refunded when it ends).
    await phone.next('incoming', calls[0]!.id!);
    phone.ws.send(JSON.stringify({ type: 'answer' }));
    await waitFor(async () => (await client.calls.get(calls[0]!.id!)).status === 'progressing', 'the call answered');
    await client.calls.hangup(calls[0]!.id!);
    await phone.close();

    const sms = await client.messages.send({ source: { type: 'tel', target: '+15550400001' }, destinations: [{ type: 'tel', target: '+15557654321' }], text: 'hi' } as never);
    await client.messages.list();
    await client.messages.get(sms.id!);
    const email = await client.emails.send({ destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c', attachments: [] } as never);
    await client.emails.list();
    await client.emails.get(email.id!);

    const summary = await client.aisummaries.create({ on_end_flow_id: '', reference_type: 'call', reference_id: calls[0]!.id, language: 'en-US' } as never);
    await client.aisummaries.list();
    await client.aisummaries.get(summary.id!);
    await client.aisummaries.delete(summary.id!);

    const aicall = await L.server.store.aicalls.insert(aicallRow(customerId));
    await client.aicalls.list();
    await client.aicalls.get(aicall.id);
    const msg = await client.aimessages.create({ aicall_id: aicall.id, role: 'user', content: 'hello' });
    await client.aimessages.list(aicall.id);
    await client.aimessages.get(msg.id!);
    await client.aicalls.terminate(aicall.id);
    await client.aicalls.delete(aicall.id);

    const af = await L.server.store.activeflows.insert(activeflowRow(customerId));
    await client.activeflows.list();
    await client.activeflows.get(af.id);
    await client.activeflows.stop(af.id);

    // Errors conform too: 404, 400 and 402 (a balance of 35 covers one call, one SMS and one email, not a second SMS).
    const failures = [
      client.ais.get('00000000-0000-4000-8000-000000000000'),
      client.ais.create({ name: 'x' } as never),
      client.messages.send({ source: { type: 'tel', target: '+15550400001' }, destinations: [{ type: 'tel', target: '+15557654321' }], text: 'two' } as never),
    ];
    for (const f of failures) await expect(f).rejects.toBeInstanceOf(VoipbinError);

    await client.numbers.delete(number.id!);
    await client.flows.delete(flow.id!);
    await client.ais.delete(ai.id!);

    const statuses = new Set(exchanges.map((e) => e.status));
    expect([...statuses].sort()).toEqual([200, 400, 402, 404]);
    const problems: string[] = [];
    for (const e of exchanges) {
      // A 400 answers a request that was made invalid on purpose; every other request must conform.
      if (e.status !== 400) {
        for (const p of validateRequest(e.method, e.url, { query: e.query, body: e.requestBody })) problems.push(`request ${e.method} ${e.url}: ${p}`);
      }
      for (const p of validateResponse(e.method, e.url, e.status, e.responseBody)) problems.push(`response ${e.method} ${e.url} ${e.status}: ${p}`);
    }
    expect(problems).toEqual([]);
    expect(exchanges.length).toBeGreaterThan(45);
  });
});
