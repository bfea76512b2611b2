/**
 * Bad input and limits (issue 9 point 4), over the real server: empty JSON bodies on body-less
 * routes, JSON nested too deep, POST /calls checked before it charges (source, destinations,
 * their number, inline actions) and refunded when a call never connects, flows validated when
 * saved, strict PUT bodies, vad_config and tool_names messages, why a call failed (log and
 * hangup_reason), the carrier start timeout, and log redaction of encoded names and many secrets.
 * Every refused request is a 4xx in VoIPBIN's envelope that charges and stores nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ACTIONS,
  activeflowRow,
  aicallRow,
  aiBody,
  capturedLogs,
  expectError,
  expectInvalid,
  expectList,
  ok,
  openPhone,
  otherCustomer,
  request,
  startLocal,
  waitFor,
} from './fixtures.js';
import type { Local, Res } from './fixtures.js';
import { MAX_JSON_DEPTH } from '../../src/local/app.js';
import { MAX_CALL_DESTINATIONS } from '../../src/local/routes/calls.js';
import { DEFAULT_PRICES } from '../../src/local/context.js';
import { TestPhone, openRaw } from '../media/helpers.js';
import { redact, registerSecret } from '../../src/util/logger.js';
import { TM_NEVER, nowTimestamp } from '../../src/util/time.js';

// Read by the carrier route when a socket connects (set before the server starts).
process.env.CARRIER_START_TIMEOUT_MS = '400';

const NUMBER = '+15550900001';
const SOURCE = { type: 'tel', target: NUMBER };
let L: Local;

beforeAll(async () => {
  L = await startLocal();
  ok(await L.c.post('/numbers', { number: NUMBER }));
});
afterAll(async () => {
  await L?.stop();
});

async function balance(c = L.c): Promise<number> {
  return ok(await c.get('/billing_account')).balance_credit;
}

/** Counts of what a refused request must not have stored. */
async function counts(c = L.c): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of ['/calls', '/flows', '/ais', '/accesskeys', '/activeflows']) out[p] = expectList(await c.get(`${p}?page_size=100`)).length;
  return out;
}

/** Runs `fn` and asserts it charged nothing and stored nothing. */
async function nothingChanged(fn: () => Promise<void>): Promise<void> {
  const [b, n] = [await balance(), await counts()];
  await fn();
  expect(await balance()).toBe(b);
  expect(await counts()).toEqual(n);
}

/** Nested arrays `depth` deep: `[[[...]]]`. */
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

async function callEnded(id: string): Promise<any> {
  return waitFor(async () => {
    const c = ok(await L.c.get(`/calls/${id}`));
    return c.status === 'hangup' ? c : undefined;
  }, `call ${id} to end`);
}

describe('empty JSON bodies', () => {
  const empty = (method: string, path: string): Promise<Res> => request(L.server, method, path, undefined, { raw: '' });

  it('Content-Type: application/json with no body is accepted on DELETE and body-less POSTs', async () => {
    const me = L.server.localCustomerId!;
    const flow = ok(await L.c.post('/flows', { actions: ACTIONS }));
    expect(ok(await empty('DELETE', `/flows/${flow.id}`)).id).toBe(flow.id);

    const af = await L.server.store.activeflows.insert(activeflowRow(me));
    expect(ok(await empty('POST', `/activeflows/${af.id}/stop`)).status).toBe('ended');

    const aicall = await L.server.store.aicalls.insert(aicallRow(me));
    expect(ok(await empty('POST', `/aicalls/${aicall.id}/terminate`)).status).toBe('terminated');

    const now = nowTimestamp();
    const tr = await L.server.store.transcribes.insert({
      id: randomUUID(), customer_id: me, reference_type: 'call', reference_id: randomUUID(), status: 'done',
      language: 'en-US', direction: 'both', tm_create: now, tm_update: TM_NEVER, tm_delete: TM_NEVER,
    });
    expect(ok(await empty('POST', `/transcribes/${tr.id}/stop`)).id).toBe(tr.id);

    const phone = await openPhone(L.server, { type: 'extension', target: 'empty-body' });
    try {
      const call = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'empty-body' }], actions: ACTIONS })).calls[0];
      await phone.next('incoming', call.id);
      expect(ok(await empty('POST', `/calls/${call.id}/hangup`)).status).toBe('hangup');
      expect(ok(await empty('DELETE', `/calls/${call.id}`)).id).toBe(call.id);
    } finally {
      await phone.close();
    }

    const keys = expectList(await L.c.get('/accesskeys?page_size=100')).length;
    const key = ok(await empty('POST', '/accesskeys'));
    expect(key.token).toMatch(/^vbl_/);
    expect(expectList(await L.c.get('/accesskeys?page_size=100')).length).toBe(keys + 1);
  });

  it('routes that need a body still say the body is empty', async () => {
    await nothingChanged(async () => {
      for (const [method, path] of [['POST', '/flows'], ['POST', '/calls'], ['POST', '/ais'], ['PUT', '/customer']] as const) {
        expectError(await empty(method, path), 400, 'INVALID_ARGUMENT', 'INVALID_JSON_BODY', 'the request body is empty; send a JSON object');
      }
    });
  });
});

describe(`JSON nesting (at most ${MAX_JSON_DEPTH} levels)`, () => {
  it('~5,000 levels in parameter or option: 400, never a 500, and POST /calls charges nothing', async () => {
    await nothingChanged(async () => {
      const deepAi = JSON.stringify(aiBody()).replace(/}$/, `,"parameter":{"x":${nested(5000)}}}`);
      expectInvalid(await request(L.server, 'POST', '/ais', undefined, { raw: deepAi }), `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
      const deepCall = `{"source":${JSON.stringify(SOURCE)},"destinations":[{"type":"extension","target":"x"}],"actions":[{"type":"answer","option":{"x":${nested(5000)}}}]}`;
      expectInvalid(await request(L.server, 'POST', '/calls', undefined, { raw: deepCall }), 'nests deeper than');
      const deepFlow = `{"actions":[{"type":"answer","option":{"x":${nested(100_000)}}}]}`;
      expectInvalid(await request(L.server, 'POST', '/flows', undefined, { raw: deepFlow }), 'nests deeper than');
      // One level over the limit is refused as well.
      const over = `{"actions":[{"type":"answer","option":{"x":${nested(MAX_JSON_DEPTH - 3)}}}]}`;
      expectInvalid(await request(L.server, 'POST', '/flows', undefined, { raw: over }), 'nests deeper than');
    });
    ok(await L.c.get('/customer'));
  });

  it('exactly 64 levels are accepted, and brackets inside strings do not count', async () => {
    // body {1} > actions [2] > action {3} > option {4} > x: 60 levels of arrays = 64.
    const atLimit = `{"actions":[{"type":"answer","option":{"x":${nested(MAX_JSON_DEPTH - 4)}}}]}`;
    const flow = ok(await request(L.server, 'POST', '/flows', undefined, { raw: atLimit }));
    ok(await L.c.del(`/flows/${flow.id}`));
    const flat = ok(await L.c.post('/flows', { name: '['.repeat(10_000) + '{'.repeat(10_000), actions: ACTIONS }));
    expect(flat.name.length).toBe(20_000);
    ok(await L.c.del(`/flows/${flat.id}`));
  });
});

describe('POST /calls is checked before it charges', () => {
  const dest = [{ type: 'extension', target: 'nobody' }];

  it('refuses a source that is not a number of the account or an extension, and bad destinations', async () => {
    const other = await otherCustomer(L.server, 'owner of another number');
    ok(await other.c.post('/numbers', { number: '+15550900099' }));
    const cases: [unknown, string][] = [
      [{ source: { type: 'tel', target: '+15550900002' }, destinations: dest, actions: ACTIONS }, 'source.target: +15550900002 is not a number of this account'],
      [{ source: { type: 'tel', target: '+15550900099' }, destinations: dest, actions: ACTIONS }, 'source.target: +15550900099 is not a number of this account'],
      [{ source: { type: 'tel', target: '555-1234' }, destinations: dest, actions: ACTIONS }, 'source.target: "555-1234" is not an E.164 phone number'],
      [{ source: { type: 'sip', target: 'alice@example.com' }, destinations: dest, actions: ACTIONS }, 'source.type: must be tel'],
      [{ source: SOURCE, destinations: [{ type: 'tel', target: '12345' }], actions: ACTIONS }, 'destinations[0].target: "12345" is not an E.164'],
      [{ source: SOURCE, destinations: [...dest, { type: 'tel', target: 'call me' }], actions: ACTIONS }, 'destinations[1].target: "call me" is not an E.164'],
      [{ source: SOURCE, destinations: [{ type: 'extension', target: '' }], actions: ACTIONS }, 'destinations[0].target: must not be empty'],
    ];
    await nothingChanged(async () => {
      for (const [body, message] of cases) expectInvalid(await L.c.post('/calls', body), message);
    });
  });

  it(`refuses more than ${MAX_CALL_DESTINATIONS} destinations in one request; a live call keeps its audio`, async () => {
    const phone = (await TestPhone.register(L.server, 'ext:listener')).autoAnswer();
    try {
      const call = ok(await L.c.post('/calls', {
        source: SOURCE,
        destinations: [{ type: 'extension', target: 'listener' }],
        actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30_000 } }],
      })).calls[0];
      await phone.waitFor('answered', (m) => m.call_id === call.id);
      await waitFor(async () => phone.heard.length > 0, 'the first audio frame');
      await nothingChanged(async () => {
        const many = Array.from({ length: 4900 }, (_, i) => ({ type: 'extension', target: `e${i}` }));
        expectInvalid(await L.c.post('/calls', { source: SOURCE, destinations: many, actions: ACTIONS }), `destinations: must hold at most ${MAX_CALL_DESTINATIONS} addresses`);
        expectInvalid(
          await L.c.post('/calls', { source: SOURCE, destinations: many.slice(0, MAX_CALL_DESTINATIONS + 1), actions: ACTIONS }),
          `at most ${MAX_CALL_DESTINATIONS}`,
        );
      });
      // The live call still gets audio after the refused requests.
      const heard = phone.heard.length;
      await waitFor(async () => phone.heard.length >= heard + 5, 'more audio on the live call');
      expect(ok(await L.c.get(`/calls/${call.id}`)).status).toBe('progressing');
      ok(await L.c.post(`/calls/${call.id}/hangup`));
    } finally {
      phone.close();
    }
  });

  it('inline actions are validated like saved flows, before charging', async () => {
    await nothingChanged(async () => {
      expectInvalid(
        await L.c.post('/calls', { source: SOURCE, destinations: dest, actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 'long' } }] }),
        'actions[1].option.duration: must be a number of milliseconds, e.g. 5000',
      );
      expectInvalid(
        await L.c.post('/calls', { source: SOURCE, destinations: dest, actions: [{ type: 'ai_talk', option: { ai_id: randomUUID() } }] }),
        'actions[0].option.ai_id: ai ',
      );
    });
  });
});

describe('a call that never connects is not charged', () => {
  const P = DEFAULT_PRICES;

  it('failed (no phone at the destination): refunded exactly once; the log and hangup_reason say why', async () => {
    const before = await balance();
    const call = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'nobody-here' }], actions: ACTIONS })).calls[0];
    expect(call).not.toHaveProperty('charged_credits');
    const ended = await callEnded(call.id);
    expect(ended).toMatchObject({ hangup_reason: 'failed', hangup_by: 'remote' });
    expect(ended).not.toHaveProperty('charged_credits');
    expect(await balance()).toBe(before);
    expectError(await L.c.post(`/calls/${call.id}/hangup`), 409, 'FAILED_PRECONDITION', 'CALL_ALREADY_HANGUP');
    expect(await balance()).toBe(before);
    const line = capturedLogs.find((l) => l.includes(`call ${call.id} to nobody-here: no phone is registered at that extension`));
    expect(line, 'a log line saying why the call failed').toBeDefined();
    expect(JSON.parse(line!).level).toBe('warn');
  });

  it('failed to a number nobody registered: the log names the number', async () => {
    ok(await L.c.post('/numbers', { number: '+15550900005' }));
    const call = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'tel', target: '+15550900005' }], actions: ACTIONS })).calls[0];
    expect((await callEnded(call.id)).hangup_reason).toBe('failed');
    expect(capturedLogs.some((l) => l.includes(`call ${call.id} to +15550900005: no phone is registered at that number`))).toBe(true);
  });

  it('busy and cancelled before answer: refunded; answered: charged', async () => {
    const before = await balance();
    const phone = await openPhone(L.server, { type: 'extension', target: 'desk' });
    try {
      const first = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'desk' }], actions: ACTIONS })).calls[0];
      await phone.next('incoming', first.id);
      expect(await balance()).toBe(before - P.callPerDestination);
      // The phone rings with the first call: a second one is busy, and refunded.
      const second = ok(await L.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'desk' }], actions: ACTIONS })).calls[0];
      expect((await callEnded(second.id)).hangup_reason).toBe('busy');
      expect(capturedLogs.some((l) => l.includes(`call ${second.id} to desk: the phone at that extension is busy`))).toBe(true);
      expect(await balance()).toBe(before - P.callPerDestination);
      // Cancelled while ringing: refunded.
      ok(await L.c.post(`/calls/${first.id}/hangup`));
      expect((await callEnded(first.id)).hangup_reason).toBe('cancel');
      expect(await balance()).toBe(before);

      // Answered: the charge stays.
      const third = ok(await L.c.post('/calls', {
        source: SOURCE,
        destinations: [{ type: 'extension', target: 'desk' }],
        actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30_000 } }],
      })).calls[0];
      await phone.next('incoming', third.id);
      phone.ws.send(JSON.stringify({ type: 'answer' }));
      await waitFor(async () => ok(await L.c.get(`/calls/${third.id}`)).status === 'progressing', 'the call answered');
      ok(await L.c.post(`/calls/${third.id}/hangup`));
      expect((await callEnded(third.id)).hangup_reason).toBe('normal');
      expect(await balance()).toBe(before - P.callPerDestination);
    } finally {
      await phone.close();
    }
  });

  it('no answer within the ring timeout: refunded, logged', async () => {
    const N = await startLocal({}, { engine: { ringTimeoutMs: 200 } });
    try {
      ok(await N.c.post('/numbers', { number: NUMBER }));
      const before = ok(await N.c.get('/billing_account')).balance_credit;
      const phone = await openPhone(N.server, { type: 'extension', target: 'sleepy' });
      try {
        const call = ok(await N.c.post('/calls', { source: SOURCE, destinations: [{ type: 'extension', target: 'sleepy' }], actions: ACTIONS })).calls[0];
        const ended = await waitFor(async () => {
          const c = ok(await N.c.get(`/calls/${call.id}`));
          return c.status === 'hangup' ? c : undefined;
        }, 'the unanswered call to end');
        expect(ended.hangup_reason).toBe('noanswer');
        expect(ok(await N.c.get('/billing_account')).balance_credit).toBe(before);
        expect(capturedLogs.some((l) => l.includes(`call ${call.id} to sleepy: no answer within`))).toBe(true);
      } finally {
        await phone.close();
      }
    } finally {
      await N.stop();
    }
  });
});

describe('flows are validated when saved', () => {
  it('refuses bad options with the field named, on POST and PUT /flows; stores nothing', async () => {
    const flow = ok(await L.c.post('/flows', { name: 'keep', actions: ACTIONS }));
    const ai = ok(await L.c.post('/ais', aiBody()));
    const other = await otherCustomer(L.server, 'ai owner');
    const foreignAi = ok(await other.c.post('/ais', aiBody()));
    const cases: [unknown[], string][] = [
      [[{ type: 'answer' }, { type: 'talk', option: { text: 'hi' } }, { type: 'sleep', option: { duration: 'soon' } }], 'actions[2].option.duration: must be a number of milliseconds, e.g. 5000'],
      [[{ type: 'sleep', option: { duration: -5 } }], 'actions[0].option.duration: must be a number of milliseconds'],
      [[{ type: 'sleep' }], 'actions[0].option.duration: must be a number of milliseconds'],
      [[{ type: 'talk', option: { text: 42 } }], 'actions[0].option.text: must be the text to speak'],
      [[{ type: 'talk' }], 'actions[0].option.text:'],
      [[{ type: 'variable_set', option: { key: '', value: 'x' } }], 'actions[0].option.key: must be the variable name'],
      [[{ type: 'variable_set', option: { key: 'k', value: { a: 1 } } }], 'actions[0].option.value: must be a string'],
      [[{ type: 'connect', option: { destinations: '+15551234567' } }], 'actions[0].option.destinations: must be a non-empty array of addresses'],
      [[{ type: 'connect', option: { destinations: [{ type: 'tel', target: 'abc' }] } }], 'actions[0].option.destinations[0].target: "abc" is not an E.164'],
      [[{ type: 'connect', option: { destinations: [{ type: 'pigeon', target: 'x' }] } }], 'actions[0].option.destinations[0].type: must be one of'],
      [[{ type: 'ai_talk', option: { ai_id: randomUUID() } }], 'actions[0].option.ai_id: ai '],
      [[{ type: 'ai_talk', option: { ai_id: foreignAi.id } }], `actions[0].option.ai_id: ai ${foreignAi.id} not found`],
      [[{ type: 'ai', option: { assistance_id: 'nope' } }], 'actions[0].option.assistance_id: must be the id (a UUID) of an AI'],
      [[{ type: 'ai_talk', option: {} }], 'actions[0].option.ai_id: required; send the id of an AI from GET /ais, or inline options with initial_prompt'],
      [[{ type: 'ai_talk', option: { initial_prompt: 'hi', tts_type: 'mouth' } }], 'actions[0].option.tts_type: must be one of'],
      [[{ type: 'ai_talk', option: { initial_prompt: 'hi', tool_names: ['all', 'connect_call'] } }], 'actions[0].option.tool_names: "all" cannot be combined'],
      [[{ type: 'ai_talk', option: { ai_id: ai.id, duration: 'forever' } }], 'actions[0].option.duration: must be a number of seconds'],
    ];
    await nothingChanged(async () => {
      for (const [actions, message] of cases) {
        expectInvalid(await L.c.post('/flows', { actions }), message);
        expectInvalid(await L.c.put(`/flows/${flow.id}`, { actions }), message);
      }
    });
    expect(ok(await L.c.get(`/flows/${flow.id}`))).toEqual(flow);
    // What the flow engine accepts is accepted: a stored AI, inline options, variables.
    for (const actions of [
      [{ type: 'ai_talk', option: { ai_id: ai.id } }],
      [{ type: 'ai', option: { assistance_type: 'ai', assistance_id: ai.id.toUpperCase() } }],
      [{ type: 'ai_talk', option: { initial_prompt: 'hi', language: 'en-US', voice_type: 'female' } }],
      [{ type: 'sleep', option: { duration: '${wait_ms}' } }, { type: 'variable_set', option: { key: 'n', value: 3 } }],
      [{ type: 'connect', option: { destinations: [{ type: 'tel', target: '+15551234567' }, { type: 'extension', target: 'sales' }] } }],
    ]) {
      ok(await L.c.del(`/flows/${ok(await L.c.post('/flows', { actions })).id}`));
    }
  });

  it('PUT /flows is partial: omitted fields (actions too) keep their values; unknown fields are refused', async () => {
    const flow = ok(await L.c.post('/flows', { name: 'a', detail: 'd', actions: ACTIONS }));
    const renamed = ok(await L.c.put(`/flows/${flow.id}`, { name: 'b' }));
    expect(renamed).toEqual({ ...flow, name: 'b', tm_update: renamed.tm_update });
    const changed = ok(await L.c.put(`/flows/${flow.id}`, { actions: [{ type: 'hangup' }] }));
    expect(changed.name).toBe('b');
    expect(changed.detail).toBe('d');
    expect(changed.actions.map((a: any) => a.type)).toEqual(['hangup']);
    for (const field of ['id', 'customer_id', 'type', 'tm_create', 'actoins']) {
      expectInvalid(await L.c.put(`/flows/${flow.id}`, { name: 'c', [field]: 'x' }), `${field}: unknown field; use name, detail, actions, on_complete_flow_id`);
    }
    expect(ok(await L.c.get(`/flows/${flow.id}`))).toEqual(changed);
  });
});

describe('PUT bodies refuse fields they cannot change, by name', () => {
  it('/customer, /accesskeys/{id}, /ais/{id}', async () => {
    const customer = ok(await L.c.get('/customer'));
    expectInvalid(await L.c.put('/customer', { name: 'x', status: 'frozen' }), 'status: unknown field; use name, detail, email');
    expect(ok(await L.c.get('/customer'))).toEqual(customer);
    const key = ok(await L.c.post('/accesskeys', { name: 'k' }));
    for (const field of ['token', 'tm_expire', 'expire']) {
      expectInvalid(await L.c.put(`/accesskeys/${key.id}`, { name: 'y', [field]: 1 }), `${field}: unknown field; use name, detail`);
    }
    expect(ok(await L.c.get(`/accesskeys/${key.id}`)).name).toBe('k');
    const ai = ok(await L.c.post('/ais', aiBody()));
    expectInvalid(await L.c.put(`/ais/${ai.id}`, { name: 'z', tm_create: 'x' }), 'tm_create: unknown field; use name, detail, type');
    expect(ok(await L.c.get(`/ais/${ai.id}`))).toEqual(ai);
  });
});

describe('AI configuration messages', () => {
  it('vad_config names the bad key or value; tool_names refuses "all" with other names', async () => {
    await nothingChanged(async () => {
      expectInvalid(await L.c.post('/ais', aiBody({ vad_config: { speed: 1 } })), 'vad_config.speed: unknown key; use confidence, start_secs, stop_secs, min_volume');
      expectInvalid(await L.c.post('/ais', aiBody({ vad_config: { confidence: 2 } })), 'vad_config.confidence: must be a number from 0 to 1');
      expectInvalid(await L.c.post('/ais', aiBody({ vad_config: { stop_secs: 'slow' } })), 'vad_config.stop_secs: must be a number from 0 to 30');
      expectInvalid(await L.c.post('/ais', aiBody({ vad_config: 'loud' })), 'vad_config: must be an object');
      expectError(
        await L.c.post('/ais', aiBody({ tool_names: ['all', 'connect_call'] })),
        400,
        'INVALID_ARGUMENT',
        'INVALID_TOOL_NAMES',
        'tool_names: "all" cannot be combined with other names; send ["all"] or a list of names',
      );
    });
  });
});

describe('carrier streams', () => {
  it('an unauthenticated /carrier/twilio socket without a valid start is closed with 1008; a started one stays', async () => {
    const flow = ok(await L.c.post('/flows', { actions: [{ type: 'answer' }, { type: 'sleep', option: { duration: 30_000 } }] }));
    ok(await L.c.post('/numbers', { number: '+15550900007', call_flow_id: flow.id }));
    const url = `${L.server.url.replace(/^http/, 'ws')}/carrier/twilio`;
    const started = await openRaw(url);
    started.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    started.sendJson({
      event: 'start',
      sequenceNumber: '1',
      streamSid: 'MZlimits',
      start: {
        accountSid: 'AC1', streamSid: 'MZlimits', callSid: 'CAlimits', tracks: ['inbound'],
        customParameters: { token: L.server.key, to: '+15550900007' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    await waitFor(async () => expectList(await L.c.get('/calls?page_size=100')).some((c) => c.direction === 'incoming' && c.destination.target === '+15550900007' && c.status === 'progressing'), 'the carrier call');
    const silent = await openRaw(url);
    silent.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const closed = await silent.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/no valid start event within 400 ms/);
    expect(started.closeInfo).toBeUndefined();
    started.close();
    await started.waitClosed();
  });
});

describe('log redaction', () => {
  it('catches percent-encoded and upper-case parameter names', () => {
    for (const [line, kept] of [
      ['GET /v1.0/ais?access%6Bey=vbl_secret1', '?access%6Bey=[redacted]'],
      ['GET /v1.0/ais?%61ccesskey=vbl_secret2', '?%61ccesskey=[redacted]'],
      ['GET /v1.0/ais?x=1&ACCESSKEY=vbl_secret3', '&ACCESSKEY=[redacted]'],
      ['url=/carrier?token%3Dvbl_secret4', '?token%3D[redacted]'],
      ['next=%2Fv1.0%2Fais%3Faccesskey%3Dvbl_secret5', '%3Faccesskey%3D[redacted]'],
      ['GET /x?API_KEY=vbl_secret6&y=2', '?API_KEY=[redacted]&y=2'],
    ]) {
      const out = redact(line!);
      expect(out).toContain(kept);
      expect(out).not.toMatch(/vbl_secret\d/);
    }
  });

  it('every one of 10,000 registered secrets stays redacted, with their escaped forms', () => {
    const secrets = Array.from({ length: 10_000 }, (_, i) => `sk-proj-${i}-${randomUUID()}`);
    for (const s of secrets) registerSecret(s);
    for (const s of [secrets[0]!, secrets[4999]!, secrets[9999]!]) {
      const out = redact(JSON.stringify({ msg: `key ${s} in a line`, url: `/x?y=${encodeURIComponent(s)}` }));
      expect(out).not.toContain(s);
      expect(out).toContain('key [redacted] in a line');
    }
    const quoted = 'pa"ss\\word-123';
    registerSecret(quoted);
    expect(redact(JSON.stringify({ k: quoted }))).toBe('{"k":"[redacted]"}');
    // Overlapping secrets are redacted whole.
    registerSecret('abcdefgh');
    registerSecret('xyabcdefghzz');
    expect(redact('1 xyabcdefghzz 2 abcdefgh 3')).toBe('1 [redacted] 2 [redacted] 3');
  });
});
