/**
 * AI summaries that cannot be written end `failed` with a `failure_reason` a client can read
 * (issue 9), through the REST API and through the MCP tools: no summary LLM configured, a
 * provider error (the loopback fake of OpenAI's chat API), sources the local VoIPBIN lacks.
 * A real MCP client drives createServer() in-process against the real local API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { VoipbinClient } from '../../src/client/index.js';
import { createServer } from '../../src/mcp/server.js';
import { createLlmProvider } from '../../src/providers/llm/index.js';
import type { LlmProvider, LlmResponse } from '../../src/providers/llm/types.js';
import type { Row } from '../../db/store.js';
import { expectConformsResponse } from '../helpers/openapi.js';
import { startFakeOpenAiChat } from '../providers/fake-openai-chat.js';
import type { FakeOpenAiChat } from '../providers/fake-openai-chat.js';
import { freshNumber, ok as rest, startFlowServer, until } from '../flows/helpers.js';
import type { FlowServer } from '../flows/helpers.js';
import { ok, seedAicall, toolCaller, connectInProcess } from './helpers.js';

let fs: FlowServer;
let llm: FakeOpenAiChat;
let mcp: Client;
let call: ReturnType<typeof toolCaller>;
let source: string;

beforeAll(async () => {
  llm = await startFakeOpenAiChat();
  fs = await startFlowServer();
  const client = new VoipbinClient({ baseUrl: fs.s.api, accessKey: fs.s.key, maxRetries: 0 });
  mcp = await connectInProcess(client);
  call = toolCaller(mcp, []);
  source = freshNumber();
  await rest(fs.s, 'POST', '/numbers', { number: source });
});

afterAll(async () => {
  await mcp?.close();
  await fs?.close();
  await llm?.close();
});

/** A finished call (no phone answers: the local VoIPBIN fails it at once), with a transcript when asked. */
async function pastCall(transcript = false): Promise<string> {
  const placed = await rest(fs.s, 'POST', '/calls', { source: { type: 'tel', target: source }, destinations: [{ type: 'tel', target: freshNumber() }], actions: [{ type: 'answer' }] });
  const callId = placed.calls[0].id as string;
  if (transcript) {
    await seedAicall(fs.s.store, fs.s.localCustomerId!, {
      callId,
      messages: [
        { role: 'assistant', content: 'Hello, dental office.' },
        { role: 'user', content: 'I need to move my appointment to Friday.' },
      ],
    });
  }
  return callId;
}

/** Polls GET /aisummaries/{id} until it is no longer progressing. */
async function settled(id: string): Promise<any> {
  return until(async () => {
    const s = await rest(fs.s, 'GET', `/aisummaries/${id}`);
    return s.status !== 'progressing' ? s : undefined;
  }, `summary ${id} to leave progressing`);
}

const openAiLlm = (apiKey = llm.apiKey): LlmProvider => createLlmProvider('openai.gpt-4o-mini', { apiKey, baseUrl: llm.baseUrl, maxRetries: 0 });

describe('AI summaries that cannot be written', () => {
  it('no LLM configured: the REST summary ends failed with a reason naming the variables to set, and still conforms to the spec', async () => {
    fs.s.engine.summaryLlm = undefined;
    const created = await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: await pastCall(true), language: 'en-US' });
    expect(created.status).toBe('progressing');
    const done = await settled(created.id);
    expect(done).toMatchObject({ id: created.id, status: 'failed', content: '' });
    expect(done.failure_reason).toMatch(/no LLM is configured/);
    expect(done.failure_reason).toContain('OPENAI_API_KEY');
    expect(done.failure_reason).toContain('VOIPBIN_AI_SUMMARY_MODEL');
    expect(done.tm_update).not.toBe('9999-01-01T00:00:00.000000Z');
    expectConformsResponse('GET', `/aisummaries/${created.id}`, 200, done);
    const list = await rest(fs.s, 'GET', '/aisummaries');
    expect(list.result.find((s: any) => s.id === created.id)).toMatchObject({ status: 'failed' });
    expectConformsResponse('GET', '/aisummaries', 200, list);
  });

  it('no LLM configured, through MCP: create_ai_summary, then get_ai_summary shows failed and failure_reason', async () => {
    fs.s.engine.summaryLlm = undefined;
    const callId = await pastCall(true);
    const created = ok(await call('create_ai_summary', { reference_type: 'call', reference_id: callId })).ai_summary;
    expect(created.status).toBe('progressing');
    const got = await until(async () => {
      const s = ok(await call('get_ai_summary', { id: created.id })).ai_summary;
      return s.status !== 'progressing' ? s : undefined;
    }, 'get_ai_summary to leave progressing');
    expect(got.status).toBe('failed');
    expect(got.failure_reason).toContain('OPENAI_API_KEY');
    expect(ok(await call('list_ai_summaries', {})).ai_summaries.find((s: any) => s.id === created.id).failure_reason).toBe(got.failure_reason);

    // The tool descriptions no longer promise a `done` that cannot come.
    const { tools } = await mcp.listTools();
    const create = tools.find((t) => t.name === 'create_ai_summary')!;
    expect(create.description).toMatch(/failed/);
    expect(create.description).toContain('failure_reason');
    expect(create.description).toContain('OPENAI_API_KEY');
    expect(create.description).not.toMatch(/until status is done/);
    const out = create.outputSchema!.properties!.ai_summary as { properties: Record<string, unknown> };
    expect(Object.keys(out.properties)).toContain('failure_reason');
  });

  it('a provider error ends failed with the provider message, never with the key; a working provider still ends done', async () => {
    const callId = await pastCall(true);
    fs.s.engine.summaryLlm = openAiLlm();
    llm.script = { failWith: { status: 400, message: 'The model gpt-4o-mini does not exist', type: 'invalid_request_error', code: 'model_not_found' } };
    const failed = await settled((await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: callId })).id);
    expect(failed.status).toBe('failed');
    expect(failed.failure_reason).toMatch(/summary LLM failed/);
    expect(failed.failure_reason).toContain('The model gpt-4o-mini does not exist');

    // A wrong key that the provider echoes in its 401: the reason says so, without the key.
    const wrongKey = 'sk-wrong-summary-key-5f4e3d2c1b';
    fs.s.engine.summaryLlm = openAiLlm(wrongKey);
    llm.script = { echoKeyInErrors: true };
    const denied = await settled((await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: callId })).id);
    expect(denied.status).toBe('failed');
    expect(denied.failure_reason).toMatch(/Incorrect API key/);
    expect(denied.failure_reason).not.toContain(wrongKey);
    expect(JSON.stringify(ok(await call('get_ai_summary', { id: denied.id })))).not.toContain(wrongKey);

    fs.s.engine.summaryLlm = openAiLlm();
    llm.script = { text: 'The caller moved the appointment to Friday.' };
    const done = await settled((await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: callId })).id);
    expect(done).toMatchObject({ status: 'done', content: 'The caller moved the appointment to Friday.' });
    expect(done.failure_reason ?? '').toBe('');
  });

  it('sources the local VoIPBIN does not have end failed, naming what is missing', async () => {
    fs.s.engine.summaryLlm = openAiLlm();
    llm.script = { text: 'unused' };
    const before = llm.requests.length;
    const conference = await settled(
      (await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'conference', reference_id: '0b5a3f7e-1111-4222-8333-444455556666' })).id,
    );
    expect(conference.status).toBe('failed');
    expect(conference.failure_reason).toMatch(/conference sources are not available/);
    const transcribe = await settled(
      (await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'transcribe', reference_id: '0b5a3f7e-1111-4222-8333-444455556666' })).id,
    );
    expect(transcribe.status).toBe('failed');
    expect(transcribe.failure_reason).toMatch(/transcribe 0b5a3f7e-1111-4222-8333-444455556666 not found/);
    expect(llm.requests.length).toBe(before); // nothing was sent to the LLM
  });

  it('a summary deleted while it is being written stays deleted', async () => {
    let release: (r: LlmResponse) => void = () => {};
    let asked = false;
    const gated: LlmProvider = {
      provider: 'openai',
      model: 'gated',
      complete: () => {
        asked = true;
        return new Promise<LlmResponse>((resolve) => (release = resolve));
      },
      stream: () => Promise.reject(new Error('not used')),
    };
    fs.s.engine.summaryLlm = gated;
    const engine = fs.s.engine;
    const summarize = engine.summarize.bind(engine);
    let finished: Promise<Row> | undefined;
    engine.summarize = (row: Row) => (finished = summarize(row));
    try {
      const created = await rest(fs.s, 'POST', '/aisummaries', { reference_type: 'call', reference_id: await pastCall(true) });
      await until(() => asked, 'the LLM to be asked');
      await rest(fs.s, 'DELETE', `/aisummaries/${created.id}`);
      release({ text: 'late', toolCalls: [], finishReason: 'stop' });
      await finished;
      expect((await fs.s.call('GET', `/aisummaries/${created.id}`)).status).toBe(404);
    } finally {
      engine.summarize = summarize;
    }
  });
});
