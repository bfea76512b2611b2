/**
 * A loopback fake of OpenAI's chat completions API (which Groq, DeepSeek, Together, Mistral,
 * Ollama and the others copy):
 *
 *   POST {base}/chat/completions   Authorization: Bearer <key>
 *
 * It checks the bearer key and the JSON body, records every request, and answers the scripted
 * reply either as one `chat.completion` JSON object or, with `"stream": true`, as SSE
 * `data: {chat.completion.chunk}\n\n` events: a role chunk, the text in pieces, tool calls whose
 * `arguments` are split across chunks and interleaved by `index`, a finish chunk, a usage-only
 * chunk with no choices, then `data: [DONE]`. Errors use OpenAI's `{error:{message,type,code}}`.
 * It serves any path ending in `/chat/completions`, so tests can check base-URL prefixes.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordRequest } from '../fakes/recorded-request.js';
import type { RecordedHttpRequest } from '../fakes/recorded-request.js';

export type RecordedChatRequest = RecordedHttpRequest;

export interface ScriptedToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ChatScript {
  /** Reply text; streamed as `textChunks` when given, else in 3-character pieces. */
  text?: string;
  textChunks?: string[];
  toolCalls?: ScriptedToolCall[];
  /** Default: `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: string;
  /** Answer this status and OpenAI error body instead. */
  failWith?: { status: number; message: string; type?: string; code?: string | null };
  /** Put the presented key verbatim into the 401 message (to prove the client scrubs it). */
  echoKeyInErrors?: boolean;
  /** Wait before answering, ms. */
  headerDelayMs?: number;
  /** Pause between two SSE events, ms (default 2, so they arrive as separate chunks). */
  chunkDelayMs?: number;
  /** Stream this many events, then hang until the client goes away. */
  stallAfterEvents?: number;
}

export interface FakeOpenAiChat {
  /** Base URL like the real default: `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string;
  /** `http://127.0.0.1:<port>`, to build other prefixes. */
  readonly origin: string;
  readonly apiKey: string;
  readonly requests: RecordedChatRequest[];
  /** The reply to every request, unless {@link FakeOpenAiChat.replies} has one queued. */
  script: ChatScript;
  /** Replies for the next requests, in order (each is used once, then `script` again). */
  readonly replies: ChatScript[];
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sendError(res: ServerResponse, rec: RecordedChatRequest, status: number, message: string, type: string, code: string | null): void {
  rec.status = status;
  // `retry-after-ms` keeps the client's retries fast in tests.
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake_123', 'retry-after-ms': '5' });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

/** The SSE events (JSON chunks) of a scripted streamed reply. */
export function streamEvents(model: string, script: ChatScript): object[] {
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model };
  const chunk = (delta: object, finish: string | null = null): object => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const events: object[] = [chunk({ role: 'assistant', content: '' })];
  const text = script.text ?? '';
  const pieces = script.textChunks ?? (text.match(/[\s\S]{1,3}/g) ?? []);
  for (const p of pieces) events.push(chunk({ content: p }));
  const calls = script.toolCalls ?? [];
  // Each call: a header chunk (id, name, empty arguments), then its arguments in 3 pieces,
  // interleaved between calls so only `index` tells them apart.
  calls.forEach((c, index) => events.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] })));
  const split = calls.map((c) => {
    const n = Math.ceil(c.arguments.length / 3) || 1;
    return [c.arguments.slice(0, n), c.arguments.slice(n, 2 * n), c.arguments.slice(2 * n)];
  });
  for (let piece = 0; piece < 3; piece++) {
    calls.forEach((_, index) => {
      const args = split[index][piece];
      if (args) events.push(chunk({ tool_calls: [{ index, function: { arguments: args } }] }));
    });
  }
  events.push(chunk({}, script.finishReason ?? (calls.length ? 'tool_calls' : 'stop')));
  events.push({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
  return events;
}

/** The `chat.completion` object of a scripted non-streamed reply. */
export function completionBody(model: string, script: ChatScript): object {
  const calls = script.toolCalls ?? [];
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: script.text ?? (calls.length ? null : ''),
          refusal: null,
          ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
        },
        logprobs: null,
        finish_reason: script.finishReason ?? (calls.length ? 'tool_calls' : 'stop'),
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

export async function startFakeOpenAiChat(apiKey = 'sk-fake-chat-key-0123456789'): Promise<FakeOpenAiChat> {
  const requests: RecordedChatRequest[] = [];
  const fake = { script: {} as ChatScript, replies: [] as ChatScript[] };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rec = await recordRequest(req, res, requests);
    const body = rec.body;
    // A queued reply answers only a well-formed, authorised request (taken below, once checked).
    let script = fake.replies[0] ?? fake.script;

    if (rec.method !== 'POST' || !rec.path.endsWith('/chat/completions')) {
      return sendError(res, rec, 404, `Invalid URL (${rec.method} ${rec.path})`, 'invalid_request_error', null);
    }
    const presented = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    if (presented !== apiKey) {
      const shown = script.echoKeyInErrors ? presented : `${presented.slice(0, 3)}***${presented.slice(-4)}`;
      return sendError(res, rec, 401, `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key');
    }
    if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(res, rec, 400, "'model' and 'messages' are required", 'invalid_request_error', null);
    }
    if (fake.replies.length > 0) script = fake.replies.shift()!;
    if (script.headerDelayMs) await sleep(script.headerDelayMs);
    if (res.destroyed) return;
    if (script.failWith) {
      const f = script.failWith;
      return sendError(res, rec, f.status, f.message, f.type ?? 'server_error', f.code ?? null);
    }

    rec.status = 200;
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake_123' });
      res.end(JSON.stringify(completionBody(body.model, script)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const events = streamEvents(body.model, script);
    for (let i = 0; i < events.length; i++) {
      if (script.stallAfterEvents !== undefined && i >= script.stallAfterEvents) return; // hang until the client leaves
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(events[i])}\n\n`);
      await sleep(script.chunkDelayMs ?? 2);
    }
    res.end('data: [DONE]\n\n');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err), type: 'server_error', code: null } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl: `${origin}/v1`,
    origin,
    apiKey,
    requests,
    replies: fake.replies,
    get script() {
      return fake.script;
    },
    set script(s: ChatScript) {
      fake.script = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
