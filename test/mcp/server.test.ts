/**
 * createServer() driven by a real MCP client over the SDK's in-memory transport, backed by the
 * real local API (startTestServer: HTTP on loopback, SQLite file) through the one REST client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { VoipbinClient } from '../../src/client/index.js';
import { createCustomer } from '../../src/local/customers.js';
import { loadConfig } from '../../src/config.js';
import { createServer } from '../../src/mcp/server.js';
import { openMcpBackend } from '../../src/mcp/stdio.js';
import { createLogger } from '../../src/util/logger.js';
import { newId } from '../../src/util/ids.js';
import { nowTimestamp } from '../../src/util/time.js';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { CANARY, EXPECTED_TOOLS, connectInProcess, errorInfo, errorText, ok, seedAicall, toolCaller } from './helpers.js';

const LIST_TOOLS = ['list_ais', 'list_calls', 'list_aicalls', 'get_aicall_messages', 'list_ai_summaries', 'list_numbers', 'list_flows', 'list_activeflows'];
const SOURCE = '+15550100001';

let tmp: ReturnType<typeof tempDir>;
let server: TestServer;
let mcp: Client;
const seen: unknown[] = [];
let call: ReturnType<typeof toolCaller>;


const aiArgs = (over: Record<string, unknown> = {}) => ({
  name: 'Receptionist',
  engine_model: 'openai.gpt-4o',
  init_prompt: 'You are a friendly receptionist.',
  tts_type: 'openai',
  stt_type: 'deepgram',
  stt_language: 'en-US',
  tool_names: ['stop_service', 'send_message'],
  ...over,
});

beforeAll(async () => {
  tmp = tempDir();
  server = await startTestServer(join(tmp.dir, 'db.sqlite'));
  const client = new VoipbinClient({ baseUrl: server.api, accessKey: server.key, maxRetries: 0 });
  mcp = await connectInProcess(client, { OPENAI_API_KEY: CANARY, OTHER_API_KEY: undefined });
  call = toolCaller(mcp, seen);
  const n = await server.call('POST', '/numbers', { number: SOURCE, name: 'main line' });
  expect(n.status).toBe(200);
});

afterAll(async () => {
  await mcp?.close();
  await server?.close();
  tmp?.cleanup();
});

describe('MCP server (in-process, real local API)', () => {
  it('offers the 33 tools, each with a title, a description, four annotations, described arguments and an output schema', async () => {
    const { tools } = await mcp.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(EXPECTED_TOOLS);
    for (const t of tools) {
      expect(t.title, t.name).toBeTruthy();
      expect(t.description!.length, t.name).toBeGreaterThan(60);
      const a = t.annotations!;
      for (const k of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof a[k], `${t.name}.${k}`).toBe('boolean');
      }
      expect(t.outputSchema?.type, t.name).toBe('object');
      for (const [arg, schema] of Object.entries(t.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${t.name}(${arg})`).toBeTruthy();
      }
      if (LIST_TOOLS.includes(t.name)) {
        expect(Object.keys(t.inputSchema.properties ?? {}), t.name).toEqual(expect.arrayContaining(['page_size', 'page_token']));
        expect(Object.keys(t.outputSchema!.properties ?? {}), t.name).toContain('next_page_token');
      }
      // The model never gets a way to pass a key.
      expect(Object.keys(t.inputSchema.properties ?? {}), t.name).not.toContain('engine_key');
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.list_ais!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(byName.delete_ai!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.create_call!.annotations).toMatchObject({ openWorldHint: true, idempotentHint: false });
  });

  it('create_ai takes the LLM key by reference (engine_key_env) and the AI lifecycle works end to end', async () => {
    const created = ok(await call('create_ai', aiArgs())).ai;
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.tts_voice_id).toBe('alloy');
    // The key from OPENAI_API_KEY reached the API (stored write-only), not the result.
    expect(await server.store.ais.getSecret(server.localCustomerId!, created.id)).toBe(CANARY);

    const got = ok(await call('get_ai', { id: created.id })).ai;
    expect(got.name).toBe('Receptionist');

    const updated = ok(await call('update_ai', { id: created.id, init_prompt: 'Be brief.', tts_type: 'deepgram' })).ai;
    expect(updated.init_prompt).toBe('Be brief.');
    expect(updated.tts_voice_id).toBe('aura-2-thalia-en'); // the new TTS type's default voice
    expect(updated.tool_names).toEqual(['stop_service', 'send_message']); // omitted fields kept
    expect(await server.store.ais.getSecret(server.localCustomerId!, created.id)).toBe(CANARY);

    const deleted = ok(await call('delete_ai', { id: created.id })).ai;
    expect(deleted.id).toBe(created.id);
    const gone = await call('get_ai', { id: created.id });
    const info = errorInfo(gone);
    expect(info).toMatchObject({ status: 404, reason: 'AI_NOT_FOUND' });
    expect(info.next_step).toContain('list_ais');
    expect(errorText(gone)).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it('a missing key variable is an isError telling the user to set it in the server env', async () => {
    const r = await call('create_ai', aiArgs({ engine_model: 'anthropic.claude-sonnet-4-5' }));
    const info = errorInfo(r);
    expect(info.reason).toBe('ENGINE_KEY_ENV_NOT_SET');
    expect(info.message).toContain('ANTHROPIC_API_KEY');
    expect(info.next_step).toMatch(/env/);
    expect(info.next_step).toMatch(/restart/);

    const other = errorInfo(await call('create_ai', aiArgs({ engine_key_env: 'OTHER_API_KEY' })));
    expect(other.message).toContain('OTHER_API_KEY');

    // Switching provider without its key variable: the stored OpenAI key is not reused.
    const someAi = ok(await call('create_ai', aiArgs({ name: 'Switcher' }))).ai;
    const switched = errorInfo(await call('update_ai', { id: someAi.id, engine_model: 'anthropic.claude-sonnet-4-5' }));
    expect(switched).toMatchObject({ reason: 'ENGINE_KEY_ENV_NOT_SET' });
    expect(switched.message).toContain('ANTHROPIC_API_KEY');
    ok(await call('delete_ai', { id: someAi.id }));

    const cred = errorInfo(await call('create_ai', aiArgs({ engine_key_env: 'MCP_HTTP_TOKEN' })));
    expect(cred).toMatchObject({ reason: 'INVALID_ARGUMENT' });
    expect(cred.message).toContain('engine_key_env');

    // Not a credential-looking name: refused by the argument schema.
    const path = await call('create_ai', aiArgs({ engine_key_env: 'PATH' }));
    expect(path.isError).toBe(true);

    const model = errorInfo(await call('create_ai', aiArgs({ engine_model: 'gpt4' })));
    expect(model.message).toContain('engine_model');
  });

  it('list tools page with page_size / page_token → next_page_token', async () => {
    for (const name of ['A', 'B', 'C']) ok(await call('create_ai', aiArgs({ name })));
    const p1 = ok(await call('list_ais', { page_size: 2 }));
    expect(p1.ais.map((a: { name: string }) => a.name)).toEqual(['C', 'B']);
    expect(p1.next_page_token).toBeTruthy();
    const p2 = ok(await call('list_ais', { page_size: 2, page_token: p1.next_page_token }));
    expect(p2.ais.map((a: { name: string }) => a.name)).toEqual(['A']);
    expect(p2.next_page_token).toBeUndefined();
    const bad = errorInfo(await call('list_ais', { page_token: 'nonsense' }));
    expect(bad.status).toBe(400);
    expect(bad.next_step).toContain('next_page_token');
  });

  it('calls: create with the ai_id shortcut or inline actions, list, get, hang up; errors carry the reason and the next step', async () => {
    const ai = ok(await call('create_ai', aiArgs({ name: 'Caller' }))).ai;
    const placed = ok(
      await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+1 (555) 010-9999' }], ai_id: ai.id }),
    );
    expect(placed.calls).toHaveLength(1);
    const c = placed.calls[0];
    expect(c.destination.target).toBe('+15550109999'); // normalized to E.164
    expect(typeof c.status).toBe('string'); // the local engine ends a call to an unregistered phone at once
    const flow = await server.call('GET', `/flows/${c.flow_id}`);
    expect(flow.body.actions).toMatchObject([{ type: 'ai_talk', option: { ai_id: ai.id } }]);

    const inline = ok(
      await call('create_call', {
        source: { type: 'tel', target: SOURCE },
        destinations: [{ type: 'tel', target: '+15550108888' }],
        actions: [{ type: 'answer' }, { type: 'ai_talk', option: { initial_prompt: 'Hi', language: 'en-US' } }],
        variables: { customer_name: 'Ann' },
      }),
    );
    expect(inline.calls[0].metadata).toEqual({ variables: { customer_name: 'Ann' } });

    expect(ok(await call('get_call', { id: c.id })).call.id).toBe(c.id);
    const listed = ok(await call('list_calls', { page_size: 1 }));
    expect(listed.calls).toHaveLength(1);
    expect(listed.next_page_token).toBeTruthy();

    // A call in progress (stored directly: no local phone answers in this test).
    const liveId = newId();
    await server.store.calls.insert({
      ...(await server.store.calls.get(server.localCustomerId!, c.id))!,
      id: liveId,
      status: 'progressing',
      tm_create: nowTimestamp(),
    });
    expect(ok(await call('hangup_call', { id: liveId })).call.status).toBe('hangup');
    const again = errorInfo(await call('hangup_call', { id: liveId }));
    expect(again).toMatchObject({ status: 409, reason: 'CALL_ALREADY_HANGUP' });

    const before = (await server.call('GET', '/calls?page_size=100')).body.result.length;
    const missingAi = errorInfo(
      await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+15550107777' }], ai_id: '0b5a3f7e-1111-4222-8333-444455556666' }),
    );
    expect(missingAi).toMatchObject({ status: 404, reason: 'AI_NOT_FOUND' });
    expect(missingAi.next_step).toContain('list_ais');
    expect((await server.call('GET', '/calls?page_size=100')).body.result.length).toBe(before); // no call placed

    const both = errorInfo(
      await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+15550107777' }], ai_id: ai.id, flow_id: ai.id }),
    );
    expect(both.message).toMatch(/only one of actions, flow_id and ai_id/);

    const badDest = errorInfo(await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '12345' }], ai_id: ai.id }));
    expect(badDest.message).toContain('destinations[0].target');

    const noFlow = errorInfo(
      await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+15550107777' }], flow_id: '0b5a3f7e-1111-4222-8333-444455556666' }),
    );
    expect(noFlow).toMatchObject({ status: 404, reason: 'FLOW_NOT_FOUND' });
  });

  it('aicalls: list, get, transcript (tool, paged) and resource (all, oldest first), terminate', async () => {
    const aicallId = await seedAicall(server.store, server.localCustomerId!, {
      messages: [
        { role: 'assistant', content: 'Hello, how can I help?' },
        { role: 'user', content: 'Please text me the address.' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send_message', arguments: '{"text":"12 Main St"}' } }],
        },
        { role: 'tool', content: '{"result":"success"}', tool_call_id: 'call_1' },
        { role: 'assistant', content: 'Done. Anything else?' },
      ],
    });
    const list = ok(await call('list_aicalls', {}));
    expect(list.aicalls.map((a: { id: string }) => a.id)).toContain(aicallId);
    expect(ok(await call('get_aicall', { id: aicallId })).aicall.status).toBe('progressing');

    const p1 = ok(await call('get_aicall_messages', { aicall_id: aicallId, page_size: 3 }));
    expect(p1.messages.map((m: { content: string }) => m.content)[0]).toBe('Done. Anything else?'); // newest first
    expect(p1.next_page_token).toBeTruthy();
    const p2 = ok(await call('get_aicall_messages', { aicall_id: aicallId, page_size: 3, page_token: p1.next_page_token }));
    expect(p2.messages).toHaveLength(2);
    expect(p2.next_page_token).toBeUndefined();

    const res = await mcp.readResource({ uri: `voipbin://aicalls/${aicallId}/messages` });
    seen.push(res);
    const text = (res.contents[0] as { text: string; mimeType: string });
    expect(text.mimeType).toBe('text/plain');
    const lines = text.text.split('\n');
    expect(lines[0]).toContain('5 message(s), oldest first');
    expect(text.text.indexOf('Hello, how can I help?')).toBeLessThan(text.text.indexOf('Done. Anything else?'));
    expect(text.text).toContain('calls tool send_message({"text":"12 Main St"})');
    expect(text.text).toContain('Caller: Please text me the address.');
    const json = JSON.parse((res.contents[1] as { text: string }).text);
    expect(json.messages.map((m: { role: string }) => m.role)).toEqual(['assistant', 'user', 'assistant', 'tool', 'assistant']);

    const templates = await mcp.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(['voipbin://aicalls/{id}/messages', 'voipbin://ais/{id}']);

    expect(ok(await call('terminate_aicall', { id: aicallId })).aicall.status).toBe('terminated');
    const missing = errorInfo(await call('get_aicall', { id: '0b5a3f7e-1111-4222-8333-444455556666' }));
    expect(missing.reason).toBe('AICALL_NOT_FOUND');
    expect(missing.next_step).toContain('list_aicalls');
    await expect(mcp.readResource({ uri: 'voipbin://aicalls/0b5a3f7e-1111-4222-8333-444455556666/messages' })).rejects.toThrow(/AICALL_NOT_FOUND/);
  });

  it('AI configurations are resources (listed, read as JSON, never with engine_key)', async () => {
    const ai = ok(await call('create_ai', aiArgs({ name: 'Resource AI' }))).ai;
    const { resources } = await mcp.listResources();
    seen.push(resources);
    const entry = resources.find((r) => r.uri === `voipbin://ais/${ai.id}`);
    expect(entry).toMatchObject({ name: 'Resource AI', mimeType: 'application/json' });
    const read = await mcp.readResource({ uri: `voipbin://ais/${ai.id}` });
    seen.push(read);
    const body = JSON.parse((read.contents[0] as { text: string }).text);
    expect(body).toMatchObject({ id: ai.id, name: 'Resource AI', engine_model: 'openai.gpt-4o' });
    expect(body).not.toHaveProperty('engine_key');
    await expect(mcp.readResource({ uri: 'voipbin://ais/0b5a3f7e-1111-4222-8333-444455556666' })).rejects.toThrow(/list_ais/);
  });

  it('send_message checks E.164 before calling and points at list_numbers for a foreign source; send_email works', async () => {
    ok(await call('list_numbers', {}));
    const numbers = ok(await call('list_numbers', { page_size: 10 })).numbers;
    expect(numbers.map((n: { number: string }) => n.number)).toContain(SOURCE);

    const sent = ok(await call('send_message', { source: SOURCE, destinations: ['+44 20 7946 0000'], text: 'Hi there' })).message;
    expect(sent.targets[0].destination.target).toBe('+442079460000');

    const foreign = errorInfo(await call('send_message', { source: '+15550199999', destinations: ['+15550101234'], text: 'x' }));
    expect(foreign.status).toBe(400);
    expect(foreign.next_step).toContain('list_numbers');

    const badDest = errorInfo(await call('send_message', { source: SOURCE, destinations: ['+15550101234', '555-1234'], text: 'x' }));
    expect(badDest.reason).toBe('INVALID_ARGUMENT');
    expect(badDest.message).toContain('destinations[1]');
    expect(badDest.status).toBeUndefined(); // refused before reaching the API

    const email = ok(await call('send_email', { destinations: ['ann@example.com'], subject: 'Summary', content: 'Thanks for calling.' })).email;
    expect(email.destinations[0].target).toBe('ann@example.com');
  });

  it('AI summaries: create, get, list', async () => {
    const placed = ok(await call('create_call', { source: { target: SOURCE }, destinations: [{ target: '+15550106666' }], actions: [{ type: 'answer' }] }));
    const s = ok(await call('create_ai_summary', { reference_type: 'call', reference_id: placed.calls[0].id, language: 'en-US' })).ai_summary;
    expect(s.status).toBe('progressing');
    expect(ok(await call('get_ai_summary', { id: s.id })).ai_summary.reference_id).toBe(placed.calls[0].id);
    expect(ok(await call('list_ai_summaries', {})).ai_summaries.map((x: { id: string }) => x.id)).toContain(s.id);
    const missing = errorInfo(await call('get_ai_summary', { id: '0b5a3f7e-1111-4222-8333-444455556666' }));
    expect(missing.next_step).toContain('list_ai_summaries');
  });

  it('INSUFFICIENT_BALANCE tells the model to check the balance; another customer sees only its own resources', async () => {
    const poor = await createCustomer(server.store, { name: 'poor', initialBalanceCredit: 0 });
    const poorMcp = await connectInProcess(new VoipbinClient({ baseUrl: server.api, accessKey: poor.token, maxRetries: 0 }), { OPENAI_API_KEY: CANARY });
    try {
      const poorCall = toolCaller(poorMcp, seen);
      expect(ok(await poorCall('list_ais', {})).ais).toEqual([]);
      // A source of its own: the source is checked before the charge.
      expect(ok(await poorCall('create_number', { number: '+15550106666' })).number.number).toBe('+15550106666');
      const r = errorInfo(await poorCall('create_call', { source: { target: '+15550106666' }, destinations: [{ target: '+15550105555' }], actions: [{ type: 'answer' }] }));
      expect(r).toMatchObject({ status: 402, reason: 'INSUFFICIENT_BALANCE' });
      expect(r.next_step).toMatch(/balance/);
    } finally {
      await poorMcp.close();
    }
  });

  it('remote mode: openMcpBackend points the one client at VOIPBIN_API_URL with VOIPBIN_ACCESSKEY', async () => {
    const config = loadConfig({ VOIPBIN_API_URL: server.api, VOIPBIN_ACCESSKEY: server.key, VOIPBIN_AI_DB: join(tmp.dir, 'unused.sqlite') });
    const backend = await openMcpBackend(config, createLogger('debug'));
    try {
      expect(backend.mode).toBe('remote');
      expect(backend.client.baseUrl).toBe(server.api);
      const remote = await connectInProcess(backend.client, {});
      try {
        const numbers = ok(await toolCaller(remote, seen)('list_numbers', {})).numbers;
        expect(numbers.map((n: { number: string }) => n.number)).toContain(SOURCE);
      } finally {
        await remote.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('design_voice_agent prompt walks through the design and ends with create_ai', async () => {
    const { prompts } = await mcp.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('design_voice_agent');
    const p = await mcp.getPrompt({ name: 'design_voice_agent', arguments: { purpose: 'book dental appointments' } });
    const text = (p.messages[0]!.content as { text: string }).text;
    expect(text).toContain('book dental appointments');
    for (const word of ['stop_service', 'stop_flow', 'tts_type', 'stt_type', 'create_ai', 'tool_names', 'never ask me to paste']) {
      expect(text).toContain(word);
    }
  });

  it('the provider key never appears in any tool result, resource or log line', () => {
    expect(seen.length).toBeGreaterThan(40);
    expect(JSON.stringify(seen)).not.toContain(CANARY);
    expect(JSON.stringify(seen)).not.toContain('engine_key"');
    expect(capturedLogs.join('\n')).not.toContain(CANARY);
    expect(capturedLogs.join('\n')).not.toContain(server.key);
  });
});
