import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { createLogger, setLogSink } from '../../src/util/logger.js';
import type { LogSink } from '../../src/util/logger.js';
import { connectRealtime, RealtimeConnectError, realtimeUrl } from '../../streams/agents/openai-realtime/connection.js';
import type { RealtimeConnection } from '../../streams/agents/openai-realtime/connection.js';
import { buildSessionUpdate, mapVadConfig } from '../../streams/agents/openai-realtime/session-update.js';
import { openAIRealtimeModel } from '../../streams/agents/openai-realtime/models.js';
import { toOpenAIRealtimeTools } from '../../tools/export.js';
import { selectToolDefinitions } from '../../tools/selection.js';
import { FakeOpenAIRealtime } from '../fakes/fake-openai-realtime.js';
import type { FakeRealtimeConnection } from '../fakes/fake-openai-realtime.js';
import { testTls } from '../fakes/tls.js';

const execFileP = promisify(execFile);
const KEY = `sk-test-realtime-${process.pid}-${Math.random().toString(36).slice(2)}`;
const logs: string[] = [];
let prevSink: LogSink;
let fake: FakeOpenAIRealtime;
const open: RealtimeConnection[] = [];

beforeAll(async () => {
  prevSink = setLogSink((line) => logs.push(line));
  fake = await FakeOpenAIRealtime.start({ apiKey: KEY });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await fake.close();
  setLogSink(prevSink);
  expect(logs.join('\n')).not.toContain(KEY);
});

async function connect(apiKey = KEY): Promise<{ conn: RealtimeConnection; server: FakeRealtimeConnection; events: RealtimeServerEvent[] }> {
  const n = fake.connections.length;
  const conn = await connectRealtime({ apiKey, model: 'gpt-realtime', baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug') });
  open.push(conn);
  const events: RealtimeServerEvent[] = [];
  conn.onEvent((e) => events.push(e));
  const server = await fake.waitForConnection(n);
  return { conn, server, events };
}

function waitFor<T extends RealtimeServerEvent['type']>(
  conn: RealtimeConnection,
  type: T,
  pred: (e: Extract<RealtimeServerEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<Extract<RealtimeServerEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = conn.on(type, (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

describe('OpenAI Realtime connection over TLS on loopback', () => {
  it('trusts the fake through `ca`, sends the key only in the Authorization header, and logs no key', async () => {
    const before = logs.length;
    const created = new Promise<void>((resolve) => {
      // session.created is the first server event; it may arrive before connect() resolves.
      const t = setInterval(() => {
        if (fake.connections.length > 0 && fake.connections.at(-1)!.serverEvents[0]?.type === 'session.created') {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    const { conn, server } = await connect();
    await created;
    expect(conn.url).toBe(`wss://127.0.0.1:${new URL(fake.baseUrl).port}/v1/realtime?model=gpt-realtime`);
    expect(conn.url).toBe(realtimeUrl(fake.baseUrl, 'gpt-realtime'));
    expect(server.apiKey).toBe(KEY);
    expect(fake.authKeys.at(-1)).toBe(KEY);
    expect(fake.models.at(-1)).toBe('gpt-realtime');
    const mine = logs.slice(before).join('\n');
    expect(mine).toContain('realtime connected');
    expect(mine).not.toContain(KEY);
  });

  it('a spawned process trusts the fake through NODE_EXTRA_CA_CERTS (no `ca` option)', async () => {
    const script = `
      import { OpenAIRealtimeWS } from 'openai/realtime/ws';
      import OpenAI from 'openai';
      const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, new OpenAI());
      rt.on('error', (e) => { console.log('ERR ' + e.message); process.exit(1); });
      rt.on('session.created', (e) => { console.log('CREATED ' + e.session.type); rt.close(); });
      rt.socket.on('close', () => process.exit(0));
    `;
    const before = fake.connections.length;
    const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseUrl, NODE_EXTRA_CA_CERTS: fake.tls.certPath },
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('CREATED realtime');
    expect(fake.connections.length).toBe(before + 1);
    expect(fake.connections.at(-1)!.apiKey).toBe(KEY);
  });

  it('without the certificate trusted, the TLS handshake fails cleanly', async () => {
    const err = await connectRealtime({ apiKey: KEY, model: 'gpt-realtime', baseUrl: fake.baseUrl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RealtimeConnectError);
    expect((err as Error).message).toMatch(/self[- ]signed certificate/);
    expect((err as Error).message).not.toContain(KEY);
  });

  it('a wrong key yields a clean 401 error without either key in it', async () => {
    const wrong = `sk-wrong-${Math.random().toString(36).slice(2)}-key`;
    const before = logs.length;
    const err = await connectRealtime({ apiKey: wrong, model: 'gpt-realtime', baseUrl: fake.baseUrl, ca: fake.tls.cert, logger: createLogger('debug') }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RealtimeConnectError);
    expect((err as RealtimeConnectError).status).toBe(401);
    expect((err as Error).message).toMatch(/401/);
    expect((err as Error).message).not.toContain(wrong);
    expect((err as Error).message).not.toContain(KEY);
    expect(fake.authKeys.at(-1)).toBe(wrong);
    const mine = logs.slice(before).join('\n');
    expect(mine).toContain('realtime connect failed');
    expect(mine).not.toContain(wrong);
  });

  it('session.update round trip: session.updated echoes the effective session', async () => {
    const { conn, server } = await connect();
    const tools = toOpenAIRealtimeTools(selectToolDefinitions(['stop_service', 'connect_call']));
    const update = buildSessionUpdate({ instructions: 'Be brief.', voice: 'marin', vadConfig: { stop_secs: 0.5 }, tools });
    const updated = waitFor(conn, 'session.updated');
    conn.send(update);
    const ev = await updated;
    const session = ev.session;
    expect(session.type).toBe('realtime');
    if (session.type !== 'realtime') throw new Error('unreachable');
    expect(session.instructions).toBe('Be brief.');
    expect(session.audio?.input?.format).toEqual({ type: 'audio/pcmu' });
    expect(session.audio?.output?.format).toEqual({ type: 'audio/pcmu' });
    expect(session.audio?.output?.voice).toBe('marin');
    expect(session.audio?.input?.turn_detection).toMatchObject({ type: 'server_vad', silence_duration_ms: 500, interrupt_response: false });
    expect(session.tools?.map((t) => ('name' in t ? t.name : undefined))).toEqual(tools.map((t) => t.name));
    expect(tools.length).toBe(2);
    expect(server.session.audio?.input?.format?.type).toBe('audio/pcmu');
  });

  it('the fake refuses a beta-shaped session.update with unknown_parameter', async () => {
    const { conn } = await connect();
    const error = waitFor(conn, 'error');
    conn.send({ type: 'session.update', session: { type: 'realtime', input_audio_format: 'g711_ulaw' } as never, event_id: 'evt_beta' });
    const e = await error;
    expect(e.error.code).toBe('unknown_parameter');
    expect(e.error.event_id).toBe('evt_beta');
  });

  it('audio appended reaches the fake byte for byte, counted per format', async () => {
    const { conn, server } = await connect();
    const updated = waitFor(conn, 'session.updated');
    conn.send(buildSessionUpdate({ instructions: 'x' }));
    await updated;
    const frames = Array.from({ length: 10 }, (_, i) => Buffer.alloc(160, i + 1));
    for (const f of frames) conn.send({ type: 'input_audio_buffer.append', audio: f.toString('base64') });
    await server.waitForClientEvent('input_audio_buffer.append', () => server.appended.length === 10);
    expect(server.appendedBytes['audio/pcmu']).toBe(1600);
    expect(Buffer.concat(server.appended).equals(Buffer.concat(frames))).toBe(true);
  });

  it("a scripted response's events arrive in GA order, deltas in order", async () => {
    const { conn, server, events } = await connect();
    const updated = waitFor(conn, 'session.updated');
    conn.send(buildSessionUpdate({ instructions: 'x' }));
    await updated;
    const audio = [Buffer.alloc(160, 1), Buffer.alloc(160, 2), Buffer.alloc(160, 3)];
    server.script({ audio, transcript: ['One', ' two', ' three'], functionCalls: [{ name: 'stop_service', arguments: {}, call_id: 'call_1' }] });
    const done = waitFor(conn, 'response.done');
    conn.send({ type: 'response.create' });
    const rd = await done;
    expect(rd.response.status).toBe('completed');
    const from = events.findIndex((e) => e.type === 'response.created');
    const types = events.slice(from).map((e) => e.type);
    expect(types).toEqual([
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.content_part.added',
      'response.output_audio.delta',
      'response.output_audio_transcript.delta',
      'response.output_audio.delta',
      'response.output_audio_transcript.delta',
      'response.output_audio.delta',
      'response.output_audio_transcript.delta',
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.output_item.added',
      'conversation.item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    const deltas = events.flatMap((e) => (e.type === 'response.output_audio.delta' ? [Buffer.from(e.delta, 'base64')] : []));
    expect(Buffer.concat(deltas).equals(Buffer.concat(audio))).toBe(true);
    const transcriptDone = events.find((e) => e.type === 'response.output_audio_transcript.done');
    expect(transcriptDone && 'transcript' in transcriptDone ? transcriptDone.transcript : '').toBe('One two three');
    const fc = events.flatMap((e) => (e.type === 'response.output_item.done' && e.item.type === 'function_call' ? [e.item] : []));
    expect(fc).toEqual([expect.objectContaining({ type: 'function_call', call_id: 'call_1', name: 'stop_service', arguments: '{}', status: 'completed' })]);

    // The answer: function_call_output → conversation.item.added/done.
    const added = waitFor(conn, 'conversation.item.done', (e) => e.item.type === 'function_call_output');
    conn.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: '{"result":"success"}' } });
    expect((await added).item).toMatchObject({ type: 'function_call_output', call_id: 'call_1' });
  });

  it('response.cancel ends the response with a cancelled response.done; late deltas are scripted; truncate checks the audio length', async () => {
    const { conn, server, events } = await connect();
    const updated = waitFor(conn, 'session.updated');
    conn.send(buildSessionUpdate({ instructions: 'x' }));
    await updated;
    server.script({ audio: Array.from({ length: 50 }, () => Buffer.alloc(160, 0x55)), intervalMs: 20, lateDeltasAfterCancel: 2 });
    const created = waitFor(conn, 'response.created');
    const firstDelta = waitFor(conn, 'response.output_audio.delta');
    conn.send({ type: 'response.create' });
    const responseId = (await created).response.id!;
    const { item_id } = await firstDelta;
    server.speechStarted();
    await waitFor(conn, 'input_audio_buffer.speech_started');
    const done = waitFor(conn, 'response.done');
    const cancelAt = events.length;
    conn.send({ type: 'response.cancel' });
    const rd = await done;
    expect(rd.response.id).toBe(responseId);
    expect(rd.response.status).toBe('cancelled');
    expect(rd.response.status_details).toMatchObject({ type: 'cancelled', reason: 'client_cancelled' });
    const late = events.slice(cancelAt).filter((e) => e.type === 'response.output_audio.delta');
    expect(late.length).toBe(2);
    expect(server.active).toBeNull();

    // Truncate at the audio actually produced (8 bytes per ms for pcmu) works; past its end is an error.
    const rec = server.items.get(item_id)!;
    const audioMs = rec.audioBytes / 8;
    const truncated = waitFor(conn, 'conversation.item.truncated');
    conn.send({ type: 'conversation.item.truncate', item_id, content_index: 0, audio_end_ms: Math.floor(audioMs) });
    expect((await truncated).audio_end_ms).toBe(Math.floor(audioMs));
    const err = waitFor(conn, 'error');
    conn.send({ type: 'conversation.item.truncate', item_id, content_index: 0, audio_end_ms: Math.floor(audioMs) + 20 });
    expect((await err).error.message).toMatch(/already shorter than/);

    // Cancelling with nothing active is the real error.
    const notActive = waitFor(conn, 'error');
    conn.send({ type: 'response.cancel' });
    expect((await notActive).error.code).toBe('response_cancel_not_active');
  });

  it('the fake refuses a second response.create while one is active (conversation_already_has_active_response)', async () => {
    const { conn, server } = await connect();
    server.script({ hold: true, audio: [Buffer.alloc(160)] });
    const created = waitFor(conn, 'response.created');
    conn.send({ type: 'response.create' });
    const id = (await created).response.id!;
    const error = waitFor(conn, 'error');
    conn.send({ type: 'response.create', event_id: 'evt_second' });
    const e = await error;
    expect(e.error.code).toBe('conversation_already_has_active_response');
    expect(e.error.message).toContain(id);
    expect(e.error.event_id).toBe('evt_second');
    expect(e.error.type).toBe('invalid_request_error');
    // Still refused while the cancel is pending? The cancel is immediate for a held response;
    // after its response.done, a new response.create is accepted.
    const done = waitFor(conn, 'response.done');
    conn.send({ type: 'response.cancel' });
    expect((await done).response.status).toBe('cancelled');
    const next = waitFor(conn, 'response.done');
    conn.send({ type: 'response.create' });
    expect((await next).response.status).toBe('completed');
  });

  it('server-pushed events: transcription, error, rate limits', async () => {
    const { conn, server } = await connect();
    const t = waitFor(conn, 'conversation.item.input_audio_transcription.completed');
    server.inputTranscriptionCompleted('I need a plumber');
    expect((await t).transcript).toBe('I need a plumber');
    const e = waitFor(conn, 'error');
    server.sendError({ type: 'server_error', code: 'server_error', message: 'boom' });
    expect((await e).error.message).toBe('boom');
    const rl = waitFor(conn, 'rate_limits.updated');
    server.rateLimits([{ name: 'tokens', limit: 1000, remaining: 0, reset_seconds: 1.5 }]);
    expect((await rl).rate_limits[0]).toMatchObject({ name: 'tokens', remaining: 0 });
    expect(conn.isOpen).toBe(true);
  });

  it('a dropped socket surfaces as a close with code 1006; a server close passes its code', async () => {
    const a = await connect();
    const closedA = new Promise((resolve) => a.conn.onClose(resolve));
    a.server.drop();
    expect(await closedA).toEqual({ code: 1006, reason: '', byClient: false });
    expect(a.conn.isOpen).toBe(false);
    a.conn.send({ type: 'response.create' }); // a no-op after close, never a throw

    const b = await connect();
    b.server.closeWith(4000, 'session expired');
    expect(await b.conn.closed).toEqual({ code: 4000, reason: 'session expired', byClient: false });

    const c = await connect();
    const info = await c.conn.close();
    expect(info).toMatchObject({ code: 1000, byClient: true });
    expect(await c.server.closed).toMatchObject({ code: 1000 });
  });
});

describe('buildSessionUpdate', () => {
  it('GA shape: realtime type, pcmu both ways, transcription on, server VAD', () => {
    const ev = buildSessionUpdate({ instructions: 'Hello' });
    expect(ev).toEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        instructions: 'Hello',
        output_modalities: ['audio'],
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            transcription: { model: 'gpt-4o-mini-transcribe' },
            turn_detection: { type: 'server_vad', create_response: true, interrupt_response: false },
          },
          output: { format: { type: 'audio/pcmu' } },
        },
      },
    });
  });

  it('maps vad_config: confidence → threshold, start_secs → prefix_padding_ms, stop_secs → silence_duration_ms', () => {
    expect(mapVadConfig({ confidence: 0.7, start_secs: 0.2, stop_secs: 0.5, min_volume: 0.6 })).toEqual({
      type: 'server_vad',
      create_response: true,
      interrupt_response: false,
      threshold: 0.7,
      prefix_padding_ms: 200,
      silence_duration_ms: 500,
    });
    // Absent or non-numeric fields keep OpenAI's defaults (not sent); out-of-range values clamp.
    expect(mapVadConfig({ confidence: 1.5, stop_secs: Number.NaN })).toEqual({ type: 'server_vad', create_response: true, interrupt_response: false, threshold: 1 });
    expect(mapVadConfig(null, true)).toEqual({ type: 'server_vad', create_response: true, interrupt_response: true });
    expect(mapVadConfig({ start_secs: 0.0004, stop_secs: -1 })).toEqual({ type: 'server_vad', create_response: true, interrupt_response: false, prefix_padding_ms: 0, silence_duration_ms: 0 });
  });

  it('sets the voice only for OpenAI voices', () => {
    for (const v of ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar', 'Cedar']) {
      const s = buildSessionUpdate({ instructions: '', voice: v }).session;
      expect(s.type === 'realtime' && s.audio?.output?.voice).toBe(v.toLowerCase());
    }
    for (const v of ['', 'en-US-Chirp3-HD-Charon', 'EXAVITQu4vr4xnSDxMaL', 'nova', undefined, null]) {
      const s = buildSessionUpdate({ instructions: '', voice: v }).session;
      expect(s.type === 'realtime' && 'voice' in (s.audio?.output ?? {})).toBe(false);
    }
  });

  it('passes tools through with tool_choice auto, and omits tools when there are none', () => {
    const tools = toOpenAIRealtimeTools(selectToolDefinitions(['all']));
    const s = buildSessionUpdate({ instructions: '', tools }).session;
    if (s.type !== 'realtime') throw new Error('unreachable');
    expect(s.tools).toEqual(tools);
    expect(s.tools).not.toBe(tools);
    expect(s.tool_choice).toBe('auto');
    const none = buildSessionUpdate({ instructions: '', tools: [] }).session;
    expect('tools' in none).toBe(false);
    expect('tool_choice' in none).toBe(false);
  });

  it('sets the transcription language from the STT language', () => {
    const s = buildSessionUpdate({ instructions: '', language: 'ko-KR', transcriptionModel: 'whisper-1' }).session;
    expect(s.type === 'realtime' && s.audio?.input?.transcription).toEqual({ model: 'whisper-1', language: 'ko' });
    const auto = buildSessionUpdate({ instructions: '', language: '' }).session;
    expect(auto.type === 'realtime' && auto.audio?.input?.transcription).toEqual({ model: 'gpt-4o-mini-transcribe' });
  });
});

describe('openAIRealtimeModel', () => {
  it('recognises the Realtime engine models and strips openai.', () => {
    expect(openAIRealtimeModel('openai.gpt-realtime')).toBe('gpt-realtime');
    expect(openAIRealtimeModel('openai.gpt-realtime-mini')).toBe('gpt-realtime-mini');
    expect(openAIRealtimeModel('openai.gpt-realtime-2025-08-28')).toBe('gpt-realtime-2025-08-28');
    expect(openAIRealtimeModel('openai.gpt-4o-realtime-preview')).toBe('gpt-4o-realtime-preview');
    expect(openAIRealtimeModel('openai.gpt-4o-mini-realtime-preview')).toBe('gpt-4o-mini-realtime-preview');
    expect(openAIRealtimeModel('openai.gpt-4o-realtime-preview-2024-12-17')).toBe('gpt-4o-realtime-preview-2024-12-17');
    for (const m of ['openai.gpt-4o', 'openai.gpt-4o-mini', 'gpt-realtime', 'anthropic.gpt-realtime', 'openai.gpt-realtimex', '', undefined]) {
      expect(openAIRealtimeModel(m)).toBeNull();
    }
  });
});

describe('test TLS', () => {
  it('makes one certificate per process for 127.0.0.1 and localhost', () => {
    const a = testTls();
    expect(a.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(a.key).toMatch(/PRIVATE KEY/);
    expect(testTls()).toBe(a);
  });
});
