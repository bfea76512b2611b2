/**
 * Billing: the local customer starts with `VOIPBIN_LOCAL_INITIAL_BALANCE` credits; messages,
 * emails and calls are charged at DEFAULT_PRICES per destination; when the balance is short
 * they answer 402 INSUFFICIENT_BALANCE, storing nothing and charging nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ACTIONS,
  CANARY_ENGINE_KEY,
  aiBody,
  expectError,
  expectInvalid,
  expectList,
  expectNoLeak,
  expectNotFound,
  ok,
  openPhone,
  otherCustomer,
  startLocal,
  waitFor,
} from './fixtures.js';
import type { Client, Local, Res } from './fixtures.js';
import { DEFAULT_PRICES } from '../../src/local/context.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const INITIAL = 100;
const P = DEFAULT_PRICES;
const NUMBER = '+15550600001';

let L: Local;

beforeAll(async () => {
  L = await startLocal({ VOIPBIN_LOCAL_INITIAL_BALANCE: String(INITIAL) });
  ok(await L.c.post('/numbers', { number: NUMBER }));
});
afterAll(async () => {
  await L?.stop();
});

async function balance(c: Client = L.c): Promise<number> {
  const [account] = expectList(await c.get('/billing_accounts'));
  expect(ok(await c.get(`/billing_accounts/${account.id}`)).balance_credit).toBe(account.balance_credit);
  return account.balance_credit;
}

async function counts(c: Client = L.c): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of ['/messages', '/emails', '/calls', '/flows']) out[p] = expectList(await c.get(`${p}?page_size=100`)).length;
  return out;
}

const sms = (n: number, source = NUMBER) => ({
  source: { type: 'tel', target: source },
  destinations: Array.from({ length: n }, (_, i) => ({ type: 'tel', target: `+1555061${String(i).padStart(4, '0')}` })),
  text: 'hello',
});
const email = (n: number) => ({
  destinations: Array.from({ length: n }, (_, i) => ({ type: 'email', target: `user${i}@example.com` })),
  subject: 's',
  content: 'c',
});
const call = (n: number, extra: Record<string, unknown> = { actions: ACTIONS }) => ({
  source: { type: 'tel', target: NUMBER },
  destinations: Array.from({ length: n }, (_, i) => ({ type: 'extension', target: `ext${i}` })),
  ...extra,
});

function expect402(res: Res, cost: number, bal: number): void {
  expectError(res, 402, 'PAYMENT_REQUIRED', 'INSUFFICIENT_BALANCE', `costs ${cost} credits and the balance is ${bal}`);
}

describe('prices and balance', () => {
  it('uses the documented prices', () => {
    expect(P).toEqual({ messagePerDestination: 10, emailPerDestination: 1, callPerDestination: 20 });
  });

  it('starts at VOIPBIN_LOCAL_INITIAL_BALANCE', async () => {
    expect(await balance()).toBe(INITIAL);
    expect(ok(await L.c.get('/billing_account')).balance_credit).toBe(INITIAL);
  });

  it('free operations do not change the balance', async () => {
    ok(await L.c.post('/ais', aiBody()));
    ok(await L.c.post('/flows', { actions: ACTIONS }));
    ok(await L.c.post('/numbers', { number: '+15550600002' }));
    ok(await L.c.post('/accesskeys', {}));
    expect(await balance()).toBe(INITIAL);
  });

  it('charges each message, email and call per destination', async () => {
    ok(await L.c.post('/messages', sms(2)));
    expect(await balance()).toBe(INITIAL - 2 * P.messagePerDestination);
    ok(await L.c.post('/emails', email(3)));
    expect(await balance()).toBe(INITIAL - 2 * P.messagePerDestination - 3 * P.emailPerDestination);
    // A call is charged when placed and keeps its charge once answered (an unanswered one is
    // refunded: see test/local/limits.test.ts).
    const phone = await openPhone(L.server, { type: 'extension', target: 'ext0' });
    try {
      const placed = ok(await L.c.post('/calls', call(1))).calls[0];
      expect(await balance()).toBe(INITIAL - 2 * P.messagePerDestination - 3 * P.emailPerDestination - P.callPerDestination);
      await phone.next('incoming', placed.id);
      phone.ws.send(JSON.stringify({ type: 'answer' }));
      await waitFor(async () => ok(await L.c.get(`/calls/${placed.id}`)).status === 'hangup', 'the answered call to end');
      expect(ok(await L.c.get(`/calls/${placed.id}`)).tm_progressing).not.toBe('9999-01-01T00:00:00.000000Z');
    } finally {
      await phone.close();
    }
    expect(await balance()).toBe(57);
  });

  it('a request refused for another reason charges nothing', async () => {
    const before = await counts();
    expectInvalid(await L.c.post('/messages', sms(1, '+15550699999')), 'is not a number of this account');
    expectInvalid(await L.c.post('/messages', { ...sms(1), destinations: [{ type: 'tel', target: 'nope' }] }), 'is not an E.164');
    expectInvalid(await L.c.post('/emails', { ...email(1), destinations: [{ type: 'email', target: 'nope' }] }), 'destinations[0].target');
    expectInvalid(await L.c.post('/calls', call(1, {})), 'give either actions');
    expectNotFound(await L.c.post('/calls', call(1, { flow_id: randomUUID() })), 'FLOW_NOT_FOUND');
    expect(await balance()).toBe(57);
    expect(await counts()).toEqual(before);
  });
});

describe('402 INSUFFICIENT_BALANCE', () => {
  it('a call costing more than the balance: 402, no call, no flow, no charge', async () => {
    const before = await counts();
    expect402(await L.c.post('/calls', call(3)), 3 * P.callPerDestination, 57);
    const flow = expectList(await L.c.get('/flows?page_size=1'))[0];
    expect402(await L.c.post('/calls', call(3, { flow_id: flow.id })), 3 * P.callPerDestination, 57);
    expect(await counts()).toEqual(before);
    expect(await balance()).toBe(57);
  });

  it('concurrent sends cannot spend the same credits twice', async () => {
    const before = await counts();
    const results = await Promise.all(Array.from({ length: 10 }, () => L.c.post('/messages', sms(1))));
    const okCount = results.filter((r) => r.status === 200).length;
    expect(okCount).toBe(5);
    for (const r of results.filter((x) => x.status !== 200)) {
      expectError(r, 402, 'PAYMENT_REQUIRED', 'INSUFFICIENT_BALANCE');
    }
    expect(await balance()).toBe(7);
    expect((await counts())['/messages']).toBe(before['/messages']! + 5);
  });

  it('spends down to exactly zero, then refuses every chargeable operation', async () => {
    const before = await counts();
    expect402(await L.c.post('/messages', sms(1)), P.messagePerDestination, 7);
    expect402(await L.c.post('/emails', email(8)), 8 * P.emailPerDestination, 7);
    ok(await L.c.post('/emails', email(7)));
    expect(await balance()).toBe(0);
    expect402(await L.c.post('/emails', email(1)), P.emailPerDestination, 0);
    expect402(await L.c.post('/messages', sms(1)), P.messagePerDestination, 0);
    expect402(await L.c.post('/calls', call(1)), P.callPerDestination, 0);
    const after = await counts();
    expect(after).toEqual({ ...before, '/emails': before['/emails']! + 1 });
    expect(await balance()).toBe(0);
    // Free operations still work at zero.
    ok(await L.c.post('/ais', aiBody({ name: 'still free' })));
    ok(await L.c.get('/customer'));
  });

  it('balances are per customer', async () => {
    const b = await otherCustomer(L.server, 'b', 15);
    expect(await balance(b.c)).toBe(15);
    ok(await b.c.post('/numbers', { number: '+15550600003' }));
    ok(await b.c.post('/messages', sms(1, '+15550600003')));
    expect(await balance(b.c)).toBe(5);
    expect402(await b.c.post('/messages', sms(1, '+15550600003')), 10, 5);
    expect(await balance()).toBe(0);
  });

  it('a customer created with no credits gets 402 on the first chargeable request', async () => {
    const z = await otherCustomer(L.server, 'zero', 0);
    expect(await balance(z.c)).toBe(0);
    expect402(await z.c.post('/emails', email(1)), 1, 0);
    expect(expectList(await z.c.get('/emails'))).toEqual([]);
  });
});

describe('configuration', () => {
  it('VOIPBIN_LOCAL_INITIAL_BALANCE must be a non-negative integer', () => {
    expect(loadConfig({ VOIPBIN_LOCAL_INITIAL_BALANCE: '0' }).initialBalanceCredit).toBe(0);
    expect(loadConfig({}).initialBalanceCredit).toBe(100_000);
    for (const v of ['-1', 'lots', '1.5']) {
      expect(() => loadConfig({ VOIPBIN_LOCAL_INITIAL_BALANCE: v })).toThrow(ConfigError);
    }
  });

  it('no secret appeared in a response or a log line', () => {
    expectNoLeak([CANARY_ENGINE_KEY]);
  });
});
