/**
 * The AI tools that act through the REST API, from a flow's ai_talk with a scripted agent:
 * send_message / send_email (stored, billed, INSUFFICIENT_BALANCE when the balance is short),
 * get_aicall_messages (scoped to the AI call's customer), and bad arguments (a `failed` result
 * the model can act on; the conversation goes on).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRICES } from '../../src/local/context.js';
import { createCustomer } from '../../src/local/customers.js';
import { newId } from '../../src/util/ids.js';
import { nowTimestamp } from '../../src/util/time.js';
import type { AgentToolResult } from '../../streams/agents/agent.js';
import type { TestServer } from '../helpers/server.js';
import {
  Phone,
  aimessagesOf,
  balance,
  createAi,
  dialFlow,
  executed,
  freshNumber,
  ok,
  startFlowServer,
  waitActiveflow,
  waitAicall,
  waitCall,
} from './helpers.js';
import type { FlowServer } from './helpers.js';
import { newAicallRow } from '../../src/local/rows.js';
import { scriptedAgent } from './scripted-agent.js';
import type { ScriptStep } from './scripted-agent.js';

const P = DEFAULT_PRICES;
/** Enough for two SMS and three emails, not one credit more. */
const INITIAL_BALANCE = 2 * P.messagePerDestination + 3 * P.emailPerDestination;

/** Dials a flow answer → ai_talk → talk(`talkText`) → hangup and waits until it ended. */
async function runAiFlow(s: TestServer, aiId: string, talkText: string, phones: Phone[]) {
  const c = await dialFlow(s, [
    { type: 'answer' },
    { type: 'ai_talk', option: { ai_id: aiId } },
    { type: 'talk', option: { text: talkText } },
    { type: 'hangup' },
  ]);
  phones.push(c.phone);
  await c.phone.waitFor('hangup', (m) => m.call_id === c.callId);
  await waitCall(s, c.callId, (r) => r.status === 'hangup', 'hangup');
  const af = await waitActiveflow(s, c.callId, (a) => a.status === 'ended', 'ended');
  const aicall = await waitAicall(s, c.callId, (a) => a.status === 'terminated', 'terminated');
  return { ...c, af, aicall };
}

function failedWith(id: string, message: RegExp): AgentToolResult {
  return {
    result: { tool_call_id: id, result: 'failed', message: expect.stringMatching(message) as unknown as string, resource_type: '', resource_id: '' },
    runLlm: true,
  };
}

describe('AI tools through the REST API (scripted agent, local phones)', () => {
  let fs: FlowServer;
  let s: TestServer;
  let aiId = '';
  const phones: Phone[] = [];

  beforeAll(async () => {
    fs = await startFlowServer({ VOIPBIN_LOCAL_INITIAL_BALANCE: String(INITIAL_BALANCE) });
    s = fs.s;
    aiId = await createAi(s);
  });
  afterAll(async () => {
    for (const p of phones) p.close();
    await fs?.close();
  });

  it('send_message and send_email: stored, billed by DEFAULT_PRICES, INSUFFICIENT_BALANCE when short, and the call goes on', async () => {
    const sms1 = freshNumber();
    const sms2 = freshNumber();
    const balances: number[] = [];
    const snapshot: ScriptStep = { run: async () => void balances.push(await balance(s)) };
    const agent = scriptedAgent([
      snapshot,
      { tool: 'send_message', id: 'sms_ok', args: { destinations: [{ type: 'tel', target: sms1 }, { type: 'tel', target: sms2, target_name: 'Jane' }], text: 'Your code is 1234' } },
      snapshot,
      {
        tool: 'send_email',
        id: 'email_ok',
        args: {
          destinations: [{ type: 'email', target: 'a@example.com' }, { type: 'email', target: 'b@example.com', target_name: 'B' }],
          subject: 'Your order',
          content: 'It shipped.',
        },
      },
      snapshot,
      // 1 credit left: an SMS (10) is refused, an email (1) still goes, then the next one is refused.
      { tool: 'send_message', id: 'sms_short', args: { destinations: [{ type: 'tel', target: sms1 }], text: 'again' } },
      { tool: 'send_email', id: 'email_last', args: { destinations: [{ type: 'email', target: 'c@example.com' }], subject: 's', content: 'c' } },
      { tool: 'send_email', id: 'email_short', args: { destinations: [{ type: 'email', target: 'd@example.com' }], subject: 's', content: 'c' } },
      snapshot,
      { tool: 'set_variables', args: { variables: { status: 'done' } } },
      { tool: 'stop_service' },
    ]);
    fs.useAgent(agent);
    const c = await runAiFlow(s, aiId, 'status ${status}', phones);

    expect(agent.sessions[0]!.error).toBeUndefined();
    const [smsOk, emailOk, smsShort, emailLast, emailShort] = agent.results;
    expect(smsOk).toEqual({
      result: { tool_call_id: 'sms_ok', result: 'success', message: `SMS sent to ${sms1}, ${sms2}`, resource_type: 'message', resource_id: expect.any(String) },
      runLlm: false,
    });
    expect(emailOk).toMatchObject({ result: { tool_call_id: 'email_ok', result: 'success', resource_type: 'email' }, runLlm: false });
    expect(smsShort).toEqual(failedWith('sms_short', /^INSUFFICIENT_BALANCE: .*insufficient balance/));
    expect(emailLast).toMatchObject({ result: { tool_call_id: 'email_last', result: 'success', resource_type: 'email' } });
    expect(emailShort).toEqual(failedWith('email_short', /^INSUFFICIENT_BALANCE: /));

    // Billed per destination at the default prices; a refused send changes nothing.
    expect(balances).toEqual([
      INITIAL_BALANCE,
      INITIAL_BALANCE - 2 * P.messagePerDestination,
      INITIAL_BALANCE - 2 * P.messagePerDestination - 2 * P.emailPerDestination,
      0,
    ]);
    expect(await balance(s)).toBe(0);

    // Stored: the SMS from the number the caller dialed (this account's number on the call).
    const messages = (await ok(s, 'GET', '/messages')).result as any[];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      id: smsOk!.result.resource_id,
      type: 'sms',
      source: { type: 'tel', target: c.flowNumber },
      text: 'Your code is 1234',
      targets: [
        { destination: { type: 'tel', target: sms1 }, status: 'queued' },
        { destination: { type: 'tel', target: sms2, target_name: 'Jane' }, status: 'queued' },
      ],
    });
    const emails = ((await ok(s, 'GET', '/emails')).result as any[]).reverse();
    expect(emails.map((e) => e.id)).toEqual([emailOk!.result.resource_id, emailLast!.result.resource_id]);
    expect(emails[0]).toMatchObject({
      subject: 'Your order',
      content: 'It shipped.',
      destinations: [
        { type: 'email', target: 'a@example.com' },
        { type: 'email', target: 'b@example.com', target_name: 'B' },
      ],
    });

    // The call went on after the refusals: the flow's talk ran with the variable set afterwards.
    expect(executed(c.af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    expect(executed(c.af)[2]!.option).toEqual({ text: 'status done' });
    const stored = await aimessagesOf(s, c.aicall.id);
    const toolResults = stored.filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content).result);
    expect(toolResults).toEqual(['success', 'success', 'failed', 'success', 'failed', 'success', 'success']);
  });

  it("get_aicall_messages: another customer's AI call is not found; its own AI call's messages are returned", async () => {
    // An AI call (with a message) of another customer.
    const other = await createCustomer(s.store, { name: 'other', initialBalanceCredit: 0 });
    const otherId = other.customer.id as string;
    const otherAicallId = newId();
    await s.store.aicalls.insert(
      newAicallRow(otherId, { id: otherAicallId, ai_engine_model: 'openai.gpt-4o', reference_id: newId(), status: 'terminated', tm_end: nowTimestamp() }),
    );
    await ok(s, 'POST', '/aimessages', { aicall_id: otherAicallId, role: 'user', content: 'my secret account number' }, other.token);

    const agent = scriptedAgent([
      { tool: 'get_aicall_messages', id: 'other', args: { aicall_id: otherAicallId.toUpperCase() } },
      { transcript: 'Let me look at our conversation.' },
      { tool: 'get_aicall_messages', id: 'own', args: ({ options }) => ({ aicall_id: options.aicall.id, run_llm: true }) },
      { tool: 'stop_service' },
    ]);
    fs.useAgent(agent);
    const c = await runAiFlow(s, aiId, 'bye', phones);

    const [foreign, own] = agent.results;
    expect(foreign).toEqual(failedWith('other', /not found/i));
    expect(foreign!.result.message).not.toContain('secret');
    expect(own).toMatchObject({ result: { tool_call_id: 'own', result: 'success', resource_type: 'aicall', resource_id: c.aicall.id }, runLlm: true });
    // Oldest first, up to the call in progress (its own tool call is stored before it runs).
    const history = JSON.parse(own!.result.message) as { role: string; content: string }[];
    expect(history.map((m) => m.role)).toEqual(['system', 'assistant', 'tool', 'assistant', 'assistant']);
    expect(history[0]!.content).toBe(`You are a scripted test agent for ${c.phone.number}.`);
    expect(JSON.parse(history[2]!.content)).toEqual(foreign!.result);
    expect(history[3]!.content).toBe('Let me look at our conversation.');
    expect(own!.result.message).not.toContain('secret');

    // The other customer's AI call is untouched and still invisible to this customer.
    expect((await s.call('GET', `/aicalls/${otherAicallId}`)).status).toBe(404);
    expect(await aimessagesOf(s, otherAicallId, other.token)).toHaveLength(1);
  });

  it('bad arguments, an unknown tool and a tool not in tool_names: a failed result naming the problem, run_llm, and the call goes on', async () => {
    const limitedAi = await createAi(s, { name: 'limited', tool_names: ['send_message', 'connect_call', 'set_variables', 'stop_service'] });
    const messagesBefore = ((await ok(s, 'GET', '/messages')).result as any[]).length;
    const agent = scriptedAgent([
      { tool: 'send_message', id: 'no_destinations', args: { text: 'hi' } },
      { tool: 'send_message', id: 'not_e164', args: { destinations: [{ type: 'tel', target: '555-1234' }], text: 'hi' } },
      { tool: 'connect_call', id: 'connect_none', args: {} },
      { tool: 'connect_call', id: 'connect_empty', args: { destinations: [] } },
      { tool: 'transfer_call', id: 'unknown', args: { to: 'sales' } },
      { tool: 'send_email', id: 'not_enabled', args: { destinations: [{ type: 'email', target: 'a@example.com' }], subject: 's', content: 'c' } },
      { tool: 'set_variables', id: 'bad_json', args: '{"variables": {' },
      { tool: 'set_variables', id: 'after', args: { variables: { after_errors: 'yes' } } },
      { tool: 'stop_service', id: 'stop' },
    ]);
    fs.useAgent(agent);
    const c = await runAiFlow(s, limitedAi, 'went on: ${after_errors}', phones);

    expect(agent.sessions[0]!.options.tools.map((t) => t.name)).toEqual(['connect_call', 'send_message', 'stop_service', 'set_variables']);
    const r = agent.results;
    expect(r).toHaveLength(9);
    expect(r[0]).toEqual(failedWith('no_destinations', /destinations/));
    expect(r[1]).toEqual(failedWith('not_e164', /destinations\[0\]\.target.*E\.164/));
    expect(r[2]).toEqual(failedWith('connect_none', /destinations/));
    expect(r[3]).toEqual(failedWith('connect_empty', /destinations.*must not be empty/));
    expect(r[4]).toEqual(failedWith('unknown', /unknown tool "transfer_call"/));
    expect(r[5]).toEqual(failedWith('not_enabled', /send_email.*not enabled.*tool_names/));
    expect(r[6]).toEqual(failedWith('bad_json', /not valid JSON/));
    expect(r[7]!.result).toMatchObject({ tool_call_id: 'after', result: 'success' });
    expect(r[8]!.result).toMatchObject({ tool_call_id: 'stop', result: 'success' });

    // The conversation and the flow went on; nothing was sent.
    expect(executed(c.af).map((a) => a.type)).toEqual(['answer', 'ai_talk', 'talk', 'hangup']);
    expect(executed(c.af)[2]!.option).toEqual({ text: 'went on: yes' });
    expect(c.aicall.metadata.termination_reason).toBe('stop_service');
    expect(((await ok(s, 'GET', '/messages')).result as any[]).length).toBe(messagesBefore);

    // Each call and its failed result are stored, the raw arguments as the model sent them.
    const stored = await aimessagesOf(s, c.aicall.id);
    const calls = stored.filter((m) => m.role === 'assistant').map((m) => m.tool_calls[0]);
    expect(calls.map((t) => t.function.name)).toEqual([
      'send_message', 'send_message', 'connect_call', 'connect_call', 'transfer_call', 'send_email', 'set_variables', 'set_variables', 'stop_service',
    ]);
    expect(calls[6].function.arguments).toBe('{"variables": {');
    const results = stored.filter((m) => m.role === 'tool');
    expect(results.map((m) => m.tool_call_id)).toEqual(r.map((x) => x.result.tool_call_id));
    expect(results.map((m) => JSON.parse(m.content))).toEqual(r.map((x) => x.result));
  });
});
