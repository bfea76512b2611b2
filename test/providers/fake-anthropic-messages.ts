/**
 * A loopback fake of Anthropic's Messages API:
 *
 *   POST {base}/v1/messages   x-api-key: <key> (or Authorization: Bearer <key>)   anthropic-version: <version>
 *
 * It checks the key and the `anthropic-version` header, validates the body the way the API does
 * (and stricter: turns must alternate user/assistant starting with user, and every `tool_result`
 * must answer a `tool_use` of the turn before), records every request, and answers the scripted
 * reply either as one `message` JSON object or, with `"stream": true`, as SSE events in the real
 * order: `message_start`, `ping`, then per content block `content_block_start`, its
 * `content_block_delta`s (`text_delta`, or `input_json_delta` pieces of a tool's input) and
 * `content_block_stop`, then `message_delta` (stop_reason, usage) and `message_stop`. Errors use
 * Anthropic's `{type:"error", error:{type, message}, request_id}` with a `request-id` header.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordRequest } from '../fakes/recorded-request.js';
import type { RecordedHttpRequest } from '../fakes/recorded-request.js';

export type RecordedMessagesRequest = RecordedHttpRequest;

export interface ScriptedToolUse {
  id: string;
  name: string;
  input: Record<string, unknown>;
  /** The pieces of the JSON input as streamed in `input_json_delta`s; default: 3 pieces. */
  jsonChunks?: string[];
}

export interface ScriptedError {
  status: number;
  /** Anthropic's error type (`rate_limit_error`, `overloaded_error`, `api_error`, ...). */
  type: string;
  message: string;
}

export interface MessagesScript {
  /** Reply text; streamed as `textChunks` when given, else in 3-character pieces. */
  text?: string;
  textChunks?: string[];
  /** tool_use blocks, after the text block. */
  toolUses?: ScriptedToolUse[];
  /** Default: `tool_use` when there are tool uses, else `end_turn`. */
  stopReason?: string;
  /** Answer every request with this error. */
  failWith?: ScriptedError;
  /** Answer the next requests with these errors, one each, then the reply. */
  failFirst?: ScriptedError[];
  /** Put the presented key verbatim into the 401 message (to prove the client scrubs it). */
  echoKeyInErrors?: boolean;
  /** Wait before answering, ms. */
  headerDelayMs?: number;
  /** Pause between two SSE events, ms (default 2, so they arrive as separate chunks). */
  chunkDelayMs?: number;
  /** Stream this many events, then hang until the client goes away. */
  stallAfterEvents?: number;
  /** Stream this many events, then end the response without `message_stop`. */
  endAfterEvents?: number;
  /** Stream this many events, then send an SSE `error` event (like a mid-stream overload). */
  errorEventAfterEvents?: { after: number; type: string; message: string };
}

export interface FakeAnthropicMessages {
  /** Base URL like the SDK's default: `http://127.0.0.1:<port>` (the SDK appends `/v1/messages`). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly requests: RecordedMessagesRequest[];
  /** The reply to every request, unless {@link FakeAnthropicMessages.replies} has one queued. */
  script: MessagesScript;
  /** Replies for the next valid requests, in order (each used once, then `script` again). */
  readonly replies: MessagesScript[];
  close(): Promise<void>;
}

/** API versions the fake accepts in `anthropic-version`. */
export const KNOWN_ANTHROPIC_VERSIONS = ['2023-06-01', '2026-10-21'];

export const FAKE_REQUEST_ID = 'req_fake_0123456789';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sendError(res: ServerResponse, rec: RecordedMessagesRequest, status: number, type: string, message: string): void {
  rec.status = status;
  // `retry-after-ms` keeps the client's retries fast in tests.
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': FAKE_REQUEST_ID, 'retry-after-ms': '5' });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: FAKE_REQUEST_ID }));
}

/** What the real API would reject in `body` (plus the fake's stricter turn checks), or undefined. */
export function validateMessagesBody(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'request body must be a JSON object';
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: Input should be a valid string';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  let previousToolUses = new Set<string>();
  for (let i = 0; i < body.messages.length; i++) {
    const m = body.messages[i];
    const want = i % 2 === 0 ? 'user' : 'assistant';
    if (m?.role !== want) return `messages.${i}.role: roles must alternate between "user" and "assistant", starting with "user"`;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!Array.isArray(blocks) || blocks.length === 0) return `messages.${i}.content: must be a string or a non-empty list`;
    const toolUses = new Set<string>();
    let seenOther = false;
    for (const [j, b] of blocks.entries()) {
      const at = `messages.${i}.content.${j}`;
      if (b?.type === 'text') {
        if (typeof b.text !== 'string' || !b.text) return `${at}: text content blocks must be non-empty`;
        seenOther = true;
      } else if (b?.type === 'tool_use') {
        if (m.role !== 'assistant') return `${at}: tool_use blocks are only allowed in assistant messages`;
        if (typeof b.id !== 'string' || typeof b.name !== 'string' || !b.input || typeof b.input !== 'object' || Array.isArray(b.input)) {
          return `${at}: tool_use needs id, name and an object input`;
        }
        toolUses.add(b.id);
      } else if (b?.type === 'tool_result') {
        if (m.role !== 'user') return `${at}: tool_result blocks are only allowed in user messages`;
        if (seenOther) return `${at}: tool_result blocks must come first in the user message`;
        if (!previousToolUses.has(b.tool_use_id)) return `${at}: unexpected tool_use_id found in tool_result blocks: ${b.tool_use_id}`;
      } else {
        return `${at}: unknown content block type ${JSON.stringify(b?.type)}`;
      }
    }
    previousToolUses = toolUses;
  }
  for (const [k, t] of (body.tools ?? []).entries()) {
    if (typeof t?.name !== 'string' || !t.name) return `tools.${k}.name: Field required`;
    if (t.input_schema?.type !== 'object') return `tools.${k}.input_schema.type: Input should be 'object'`;
  }
  return undefined;
}

function usage(output: number): object {
  return { input_tokens: 12, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' };
}

function messageShell(model: string): Record<string, unknown> {
  return { id: 'msg_fake_01', type: 'message', role: 'assistant', model, stop_sequence: null };
}

function jsonPieces(t: ScriptedToolUse): string[] {
  if (t.jsonChunks) return t.jsonChunks;
  const json = JSON.stringify(t.input);
  const n = Math.ceil(json.length / 3) || 1;
  return [json.slice(0, n), json.slice(n, 2 * n), json.slice(2 * n)].filter(Boolean);
}

/** The SSE events (`[event name, data]`) of a scripted streamed reply. */
export function streamEvents(model: string, script: MessagesScript): [string, object][] {
  const tools = script.toolUses ?? [];
  const stopReason = script.stopReason ?? (tools.length ? 'tool_use' : 'end_turn');
  const events: [string, object][] = [
    ['message_start', { type: 'message_start', message: { ...messageShell(model), content: [], stop_reason: null, usage: usage(1) } }],
    ['ping', { type: 'ping' }],
  ];
  let index = 0;
  const text = script.text ?? script.textChunks?.join('') ?? '';
  if (text || !tools.length) {
    events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
    const pieces = script.textChunks ?? (text.match(/[\s\S]{1,3}/g) ?? []);
    for (const p of pieces) events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }]);
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    index++;
  }
  for (const t of tools) {
    // Like the API: the start block has an empty input, which arrives in JSON pieces, led by an empty one.
    events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } }]);
    for (const piece of ['', ...jsonPieces(t)]) {
      events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }]);
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
    index++;
  }
  events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 15 } }]);
  events.push(['message_stop', { type: 'message_stop' }]);
  return events;
}

/** The `message` object of a scripted non-streamed reply. */
export function messageBody(model: string, script: MessagesScript): object {
  const tools = script.toolUses ?? [];
  const text = script.text ?? script.textChunks?.join('') ?? '';
  const content: object[] = [];
  if (text || !tools.length) content.push({ type: 'text', text });
  for (const t of tools) content.push({ type: 'tool_use', id: t.id, name: t.name, input: t.input });
  return { ...messageShell(model), content, stop_reason: script.stopReason ?? (tools.length ? 'tool_use' : 'end_turn'), usage: usage(15) };
}

export async function startFakeAnthropicMessages(apiKey = 'sk-ant-fake-key-0123456789'): Promise<FakeAnthropicMessages> {
  const requests: RecordedMessagesRequest[] = [];
  const fake = { script: {} as MessagesScript, replies: [] as MessagesScript[] };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rec = await recordRequest(req, res, requests);
    const body = rec.body;
    // A queued reply answers only a request that passes the checks below (taken once checked).
    let script = fake.replies[0] ?? fake.script;

    if (rec.method !== 'POST' || !rec.path.endsWith('/v1/messages')) {
      return sendError(res, rec, 404, 'not_found_error', `Not found: ${rec.method} ${rec.path}`);
    }
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const presented = String(req.headers['x-api-key'] ?? bearer ?? '');
    if (presented !== apiKey) {
      return sendError(res, rec, 401, 'authentication_error', script.echoKeyInErrors ? `invalid x-api-key: ${presented}` : 'invalid x-api-key');
    }
    const version = req.headers['anthropic-version'];
    if (typeof version !== 'string' || !KNOWN_ANTHROPIC_VERSIONS.includes(version)) {
      return sendError(res, rec, 400, 'invalid_request_error', `anthropic-version: ${version === undefined ? 'header is required' : 'unknown version'}`);
    }
    const invalid = validateMessagesBody(body);
    if (invalid) return sendError(res, rec, 400, 'invalid_request_error', invalid);
    if (fake.replies.length > 0) script = fake.replies.shift()!;
    if (script.headerDelayMs) await sleep(script.headerDelayMs);
    if (res.destroyed) return;
    const failure = script.failFirst?.shift() ?? script.failWith;
    if (failure) return sendError(res, rec, failure.status, failure.type, failure.message);

    rec.status = 200;
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': FAKE_REQUEST_ID });
      res.end(JSON.stringify(messageBody(body.model, script)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': FAKE_REQUEST_ID });
    const events = streamEvents(body.model, script);
    for (let i = 0; i < events.length; i++) {
      if (script.stallAfterEvents !== undefined && i >= script.stallAfterEvents) return; // hang until the client leaves
      if (script.endAfterEvents !== undefined && i >= script.endAfterEvents) break;
      const err = script.errorEventAfterEvents;
      if (err && i >= err.after) {
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: err.type, message: err.message }, request_id: FAKE_REQUEST_ID })}\n\n`);
        break;
      }
      if (res.destroyed) return;
      const [name, data] = events[i];
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      await sleep(script.chunkDelayMs ?? 2);
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl: origin,
    apiKey,
    requests,
    replies: fake.replies,
    get script() {
      return fake.script;
    },
    set script(s: MessagesScript) {
      fake.script = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
