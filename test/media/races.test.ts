/**
 * A caller whose socket closes while its call is being placed. The store is async by contract
 * (DESIGN.md: a PostgreSQL store may replace SQLite), so placing a call yields to I/O; a close
 * that lands in that gap must still end the call, or the callee is left on a call with nobody.
 * The SQLite store answers within microtasks, so the gap is widened here with a slow lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { TestPhone, addNumbers, delay, openRaw, until, wsBase } from './helpers.js';

const CALLEE = '+15550600001';
const CALLER = '+15550600002';

describe('a caller gone while its call is placed', () => {
  let s: TestServer;
  const t = tempDir();
  let callee: TestPhone;
  let restore: () => void = () => {};
  let lookups = 0;

  beforeAll(async () => {
    s = await startTestServer(join(t.dir, 'db.sqlite'));
    await addNumbers(s, [CALLEE, CALLER]);
    callee = (await TestPhone.register(s, CALLEE)).autoAnswer();
  });
  afterAll(async () => {
    restore();
    callee.close();
    await s.close();
    t.cleanup();
  });

  /** Makes the number lookup (the first thing placing a call awaits) take 200 ms. */
  function slowNumberLookup(): void {
    lookups = 0;
    const numbers = s.store.numbers;
    const findBy = numbers.findBy.bind(numbers);
    numbers.findBy = async (column: string, value: string) => {
      await delay(200);
      lookups++;
      return findBy(column, value);
    };
    restore = () => {
      numbers.findBy = findBy;
    };
  }

  /** Once the slow lookup is over: either no call was placed, or the callee heard it end (no call left live). */
  async function settled(): Promise<void> {
    await until(() => lookups > 0, 'the slow lookup');
    await until(() => s.engine.liveCount === 0, 'no call left live', 5_000);
    if (callee.messages.some((m) => m.type === 'incoming')) expect((await callee.waitFor('hangup', () => true, 5_000)).reason).toBe('cancel');
  }

  it('a phone that dials and closes at once: the callee is not left on a call', async () => {
    const caller = await TestPhone.register(s, CALLER);
    slowNumberLookup();
    try {
      callee.messages.length = 0;
      caller.client.send({ type: 'dial', to: CALLEE });
      caller.close();
      await caller.closed;
      await settled();
    } finally {
      restore();
    }
  });

  it('a Twilio stream that starts and closes at once: the callee is not left on a call', async () => {
    slowNumberLookup();
    try {
      callee.messages.length = 0;
      const raw = await openRaw(`${wsBase(s)}/carrier/twilio`);
      raw.sendJson({
        event: 'start',
        start: { accountSid: 'AC1', streamSid: 'MZrace', callSid: 'CA1', customParameters: { token: s.key, to: CALLEE, from: CALLER } },
        streamSid: 'MZrace',
      });
      raw.close();
      await raw.closed;
      await settled();
      expect(callee.closeInfo).toBeUndefined();
    } finally {
      restore();
    }
  });
});
