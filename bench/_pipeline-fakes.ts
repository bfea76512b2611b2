/**
 * Helper of bench/pipeline.ts (skipped by bench/run.ts): the provider fakes, in their own process
 * so their CPU does not count against the pipeline's.
 *
 * Starts `BENCH_SLOTS` slots, each one set of the test fakes (test/providers/): OpenAI chat
 * completions (the LLM), Deepgram live in scripted mode (the STT), the ElevenLabs stream-input
 * WebSocket (the TTS the pipeline speaks through) speaking espeak-ng audio, its first audio of a
 * generation `DELAYS.ttsFirstAudioMs` after the generation starts. One slot serves one session at a time, so its scripts (the LLM's replies, the
 * STT's texts) and its timestamps belong to that session. Plus one shared "load" set for the
 * concurrency runs: the same chat and TTS fakes, and a light Deepgram-protocol STT (below).
 *
 * Timestamps (performance.timeOrigin + performance.now(), ms; the parent measures the offset to
 * its clock over IPC) are taken by patching the prototypes the fakes use, so the fakes themselves
 * are unchanged:
 * - `http.Server#emit('request')`: an LLM request arrived;
 * - `http.ServerResponse#write/end`: the LLM's chunk that completes its first piece (fed through
 *   the pipeline's own TextSegmenter, so "first sentence" is what the pipeline cuts);
 * - `ws.WebSocket#emit('message')` on the TTS socket: a piece's text arrived (each piece has its
 *   own stream, opened ahead by the pipeline);
 * - `ws.WebSocket#send`: the TTS's first audio message of a stream; the STT's final (non-empty)
 *   transcript. In `stream` mode the interim the
 *   scripted fake sends at the first voiced 100 ms (its first word only) is replaced by the whole
 *   utterance text, sent `interimDelayMs` later: a streaming STT whose interim has the words.
 *
 * IPC: `{cmd:'now'}`, `{cmd:'reset', slot}`, `{cmd:'llm', slot, replies}`, `{cmd:'stt', slot,
 * script, mode, interimDelayMs}`, `{cmd:'stamps', slot}`, `{cmd:'prepare', texts}` (espeak-ng
 * audio of the pieces of those replies, made before they are asked for), plus bench/_child.ts's
 * `cpu` and `exit`.
 */
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startFakeOpenAiChat } from '../test/providers/fake-openai-chat.js';
import type { ChatScript, FakeOpenAiChat } from '../test/providers/fake-openai-chat.js';
import { startFakeDeepgramLive } from '../test/providers/fake-deepgram-live.js';
import type { FakeDeepgramLive } from '../test/providers/fake-deepgram-live.js';
import { startFakeElevenLabsWs } from '../test/providers/fake-elevenlabs-ws.js';
import type { FakeElevenLabsWs } from '../test/providers/fake-elevenlabs-ws.js';
import { speakAt } from '../test/helpers/speech.js';
import { TextSegmenter } from '../streams/agents/pipeline/segmenter.js';
import { childIpc } from './_child.js';
import { AI_VOICE, DELAYS, DG_KEY, LLM_KEY, XI_KEY, piecesOf } from './_pipeline-common.js';
import type { Stamp } from './_pipeline-common.js';

const now = (): number => performance.timeOrigin + performance.now();

await main();

async function main(): Promise<void> {
  const slotsN = Number(process.env.BENCH_SLOTS ?? 4);
  const portInfo = new Map<number, { slot: number; kind: 'llm' | 'stt' | 'tts' }>();
  const stamps: Stamp[][] = Array.from({ length: slotsN }, () => []);
  const counters = new Map<number, number>();
  const sttState: { mode: 'asis' | 'stream'; interimDelayMs: number; last: string }[] = [];

  // ---- the patches (timestamps) ----
  const origEmit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: http.Server, ev: string | symbol, ...args: unknown[]): boolean {
    if (ev === 'request') {
      const req = args[0] as IncomingMessage;
      const info = portInfo.get(req.socket.localPort ?? -1);
      if (info && info.slot >= 0 && info.kind === 'llm') {
        const n = (counters.get(req.socket.localPort!) ?? 0) + 1;
        counters.set(req.socket.localPort!, n);
        (args[1] as { __bench?: unknown }).__bench = { slot: info.slot, kind: 'llm', n, done: false, seg: new TextSegmenter({ locale: 'en' }), carry: '' };
        stamps[info.slot]!.push({ kind: 'llm_req', t: now(), n });
      }
    }
    return (origEmit as (...a: unknown[]) => boolean).call(this, ev, ...args);
  } as typeof http.Server.prototype.emit;

  type Bench = { slot: number; kind: 'llm'; n: number; done: boolean; seg?: TextSegmenter; carry: string };
  const origWrite = http.ServerResponse.prototype.write;
  const origEnd = http.ServerResponse.prototype.end;
  http.ServerResponse.prototype.write = function (this: http.ServerResponse & { __bench?: Bench }, chunk: unknown, ...rest: unknown[]): boolean {
    const ok = (origWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    const b = this.__bench;
    if (b && !b.done) {
      if (typeof chunk === 'string') {
        const text = b.carry + chunk;
        const lines = text.split('\n\n');
        b.carry = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('data: {')) continue;
          const delta = (JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
          if (delta && b.seg!.push(delta).length > 0 && !b.done) {
            b.done = true;
            stamps[b.slot]!.push({ kind: 'llm_first', t: now(), n: b.n });
          }
        }
      }
    }
    return ok;
  } as typeof http.ServerResponse.prototype.write;
  http.ServerResponse.prototype.end = function (this: http.ServerResponse & { __bench?: Bench }, ...args: unknown[]) {
    const r = (origEnd as (...a: unknown[]) => unknown).apply(this, args);
    const b = this.__bench;
    // No piece before the end: the pipeline speaks the text at the end of the stream.
    if (b && !b.done && b.kind === 'llm' && this.statusCode === 200) {
      b.done = true;
      stamps[b.slot]!.push({ kind: 'llm_first', t: now(), n: b.n });
    }
    return r;
  } as typeof http.ServerResponse.prototype.end;

  // The TTS streams: a number per connection, its text's arrival, its first audio.
  const ttsConn = new WeakMap<object, { n: number; text: boolean; audio: boolean }>();
  const ttsOf = (ws: WebSocket & { _socket?: Socket }): { slot: number; c: { n: number; text: boolean; audio: boolean } } | undefined => {
    const info = portInfo.get(ws._socket?.localPort ?? -1);
    if (!info || info.slot < 0 || info.kind !== 'tts') return undefined;
    let c = ttsConn.get(ws);
    if (!c) {
      const port = ws._socket!.localPort!;
      c = { n: (counters.get(port) ?? 0) + 1, text: false, audio: false };
      counters.set(port, c.n);
      ttsConn.set(ws, c);
    }
    return { slot: info.slot, c };
  };
  const origWsEmit = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function (this: WebSocket & { _socket?: Socket }, ev: string | symbol, ...args: unknown[]): boolean {
    if (ev === 'message') {
      const t = ttsOf(this);
      if (t && !t.c.text) {
        const m = JSON.parse(String(args[0])) as { text?: unknown; generation_config?: unknown };
        if (typeof m.text === 'string' && m.text.trim() !== '' && m.generation_config === undefined) {
          t.c.text = true;
          stamps[t.slot]!.push({ kind: 'tts_req', t: now(), n: t.c.n });
        }
      }
    }
    return (origWsEmit as (...a: unknown[]) => boolean).call(this, ev, ...args);
  } as typeof WebSocket.prototype.emit;

  const origSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket & { _socket?: Socket }, data: unknown, ...rest: unknown[]): void {
    if (typeof data === 'string' && data.startsWith('{"audio"')) {
      const t = ttsOf(this);
      if (t && !t.c.audio) {
        (origSend as (...a: unknown[]) => void).call(this, data, ...rest);
        t.c.audio = true;
        stamps[t.slot]!.push({ kind: 'tts_first', t: now(), n: t.c.n });
        return;
      }
    }
    const info = portInfo.get(this._socket?.localPort ?? -1);
    if (info && info.slot >= 0 && typeof data === 'string' && data.startsWith('{"type":"Results"')) {
      const m = JSON.parse(data) as { is_final: boolean; channel: { alternatives: { transcript: string }[] } };
      const text = m.channel.alternatives[0]?.transcript ?? '';
      const st = sttState[info.slot]!;
      if (!m.is_final && text && st.mode === 'stream') {
        m.channel.alternatives[0]!.transcript = st.last;
        const send = (): void => {
          if (this.readyState !== this.OPEN) return;
          (origSend as (...a: unknown[]) => void).call(this, JSON.stringify(m), ...rest);
          stamps[info.slot]!.push({ kind: 'stt_interim', t: now(), text: st.last });
        };
        if (st.interimDelayMs > 0) setTimeout(send, st.interimDelayMs);
        else send();
        return;
      }
      (origSend as (...a: unknown[]) => void).call(this, data, ...rest);
      if (m.is_final && text) stamps[info.slot]!.push({ kind: 'stt_final', t: now(), text });
      return;
    }
    (origSend as (...a: unknown[]) => void).call(this, data, ...rest);
  } as typeof WebSocket.prototype.send;

  // ---- the TTS's audio: espeak-ng at the asked rate, made ahead of the requests ----
  const audio = new Map<string, Promise<Int16Array>>();
  const speechAt = (text: string, rateHz: number): Promise<Int16Array> => {
    const key = `${rateHz} ${text}`;
    let p = audio.get(key);
    if (!p) {
      p = speakAt(text, rateHz, AI_VOICE);
      audio.set(key, p);
    }
    return p;
  };
  // The fake sends a generation's audio in 100 ms messages every chunkDelayMs once speech() resolves.
  const ttsBehavior = {
    speech: async (text: string, rateHz: number) => {
      const pcm = await speechAt(text, rateHz);
      await new Promise((r) => setTimeout(r, DELAYS.ttsFirstAudioMs));
      return pcm;
    },
    chunkDelayMs: DELAYS.ttsChunkMs,
  };

  // ---- the slots ----
  const portOf = (url: string): number => Number(new URL(url).port);
  const slots: { chat: FakeOpenAiChat; stt: FakeDeepgramLive; tts: FakeElevenLabsWs }[] = [];
  const recorder = (slot: number, texts: string[]): string[] => {
    const arr = [...texts];
    arr.shift = function (this: string[]) {
      const v = Array.prototype.shift.call(this) as string | undefined;
      if (v !== undefined) sttState[slot]!.last = v;
      return v;
    };
    return arr;
  };
  for (let i = 0; i < slotsN; i++) {
    const chat = await startFakeOpenAiChat(LLM_KEY);
    chat.script = { text: 'Okay. I see.', headerDelayMs: DELAYS.llmHeaderMs, chunkDelayMs: DELAYS.llmChunkMs };
    const stt = await startFakeDeepgramLive(DG_KEY);
    sttState.push({ mode: 'asis', interimDelayMs: 0, last: '' });
    stt.behavior = { script: recorder(i, []), finalDelayMs: DELAYS.sttFinalMs, quietMs: DELAYS.sttQuietMs };
    const tts = await startFakeElevenLabsWs(XI_KEY);
    tts.behavior = ttsBehavior;
    portInfo.set(portOf(chat.baseUrl), { slot: i, kind: 'llm' });
    portInfo.set(portOf(stt.baseUrl), { slot: i, kind: 'stt' });
    portInfo.set(portOf(tts.baseUrl), { slot: i, kind: 'tts' });
    slots.push({ chat, stt, tts });
  }
  const LOAD_REPLY = process.env.BENCH_LOAD_REPLY ?? 'Sure. Let me check that for you.';
  const loadChat = await startFakeOpenAiChat(LLM_KEY);
  loadChat.script = { text: LOAD_REPLY, headerDelayMs: DELAYS.llmHeaderMs, chunkDelayMs: DELAYS.llmChunkMs };
  const loadTts = await startFakeElevenLabsWs(XI_KEY);
  loadTts.behavior = ttsBehavior;
  const loadStt = await startLightDeepgram(DG_KEY);
  for (const p of piecesOf(LOAD_REPLY)) await speechAt(p, 16000);
  // The fakes record every request; the load runs make many.
  const trim = setInterval(() => {
    loadChat.requests.length = 0;
    (loadTts.connections as unknown[]).length = 0;
    for (const s of slots) {
      s.chat.requests.length = 0;
      (s.tts.connections as unknown[]).length = 0;
    }
  }, 5000);
  trim.unref();

  process.on('message', (m: { cmd: string; id: number; slot?: number; replies?: ChatScript[]; script?: string[]; mode?: 'asis' | 'stream'; interimDelayMs?: number; texts?: string[] }) => {
    void (async () => {
      const s = m.slot !== undefined ? slots[m.slot] : undefined;
      switch (m.cmd) {
        case 'now':
          return process.send!({ id: m.id, t: now() });
        case 'reset':
          s!.chat.replies.length = 0;
          s!.stt.behavior.script = recorder(m.slot!, []);
          sttState[m.slot!] = { mode: 'asis', interimDelayMs: 0, last: '' };
          stamps[m.slot!] = [];
          return process.send!({ id: m.id });
        case 'llm':
          for (const r of m.replies ?? []) s!.chat.replies.push({ headerDelayMs: DELAYS.llmHeaderMs, chunkDelayMs: DELAYS.llmChunkMs, ...r });
          return process.send!({ id: m.id });
        case 'stt':
          s!.stt.behavior.script = recorder(m.slot!, m.script ?? []);
          sttState[m.slot!]!.mode = m.mode ?? 'asis';
          sttState[m.slot!]!.interimDelayMs = m.interimDelayMs ?? 0;
          return process.send!({ id: m.id });
        case 'stamps': {
          const out = stamps[m.slot!]!;
          stamps[m.slot!] = [];
          return process.send!({ id: m.id, stamps: out });
        }
        case 'prepare':
          for (const t of m.texts ?? []) for (const p of piecesOf(t)) await speechAt(p, 16000);
          return process.send!({ id: m.id });
        case 'load':
          return process.send!({ id: m.id, ...loadStt.stats() });
      }
    })();
  });

  process.on('disconnect', () => process.exit(0));
  childIpc(
    {
      slots: slots.map((s) => ({ llm: s.chat.baseUrl, stt: s.stt.baseUrl, tts: s.tts.baseUrl })),
      load: { llm: loadChat.baseUrl, stt: loadStt.baseUrl, tts: loadTts.baseUrl },
    },
    async () => {
      for (const s of slots) await Promise.all([s.chat.close(), s.stt.close(), s.tts.close()]);
      await Promise.all([loadChat.close(), loadTts.close(), loadStt.close()]);
    },
  );
}

/**
 * A light Deepgram live fake for the concurrency runs: the scripted recognition of
 * test/providers/fake-deepgram-live.ts (100 ms windows with RMS > 1000 are voiced; an utterance
 * starts with `SpeechStarted` and an interim of its first word, ends after `quietMs` of quiet
 * with a final and `UtteranceEnd`, `finalDelayMs` later), but keeping only the partial window
 * instead of all audio received: that fake concatenates every frame onto all the audio of the
 * connection (quadratic in the call's length), which hundreds of calls of tens of seconds cannot
 * afford. Texts cycle through a few caller lines.
 */
async function startLightDeepgram(apiKey: string): Promise<{ baseUrl: string; close(): Promise<void>; stats(): Record<string, number> }> {
  const lines = ['I would like to check my booking.', 'Can you tell me the opening hours?', 'What is the price for two people?', 'Is there parking near the office?'];
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_q, r) => r.writeHead(426).end());
  const sockets = new Set<Socket>();
  let connections = 0;
  let finals = 0;
  let framesIn = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket: Socket, head) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname !== '/v1/listen' || req.headers.authorization !== `Token ${apiKey}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const rate = Number(url.searchParams.get('sample_rate'));
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, rate));
  });
  function serve(ws: WebSocket, rate: number): void {
    connections++;
    const win = Math.round(rate * 0.1);
    let fill = 0;
    let sum = 0;
    let at = 0; // samples received
    let utter: { startSec: number; text: string } | undefined;
    let quietSec = 0;
    let n = connections;
    const send = (msg: unknown): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const res = (text: string, start: number, dur: number, fin: boolean): unknown => ({
      type: 'Results', channel_index: [0, 1], duration: dur, start, is_final: fin, speech_final: fin,
      channel: { alternatives: [{ transcript: text, confidence: 0.99, words: [] }] }, metadata: { request_id: 'fake-light' }, from_finalize: false,
    });
    const windowDone = (startSec: number): void => {
      const voiced = Math.sqrt(sum / win) > 1000;
      const dur = win / rate;
      if (voiced) {
        quietSec = 0;
        if (!utter) {
          utter = { startSec, text: lines[n++ % lines.length]! };
          send({ type: 'SpeechStarted', channel: [0, 1], timestamp: startSec });
          send(res(utter.text.split(/\s+/)[0]!, startSec, dur, false));
        }
        return;
      }
      if (!utter) return;
      quietSec += dur;
      if (quietSec * 1000 < DELAYS.sttQuietMs) return;
      const u = utter;
      utter = undefined;
      const end = startSec + dur - quietSec;
      setTimeout(() => {
        finals++;
        send(res(u.text, u.startSec, end - u.startSec, true));
        send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: end });
      }, DELAYS.sttFinalMs);
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        if (data.toString('utf8').includes('CloseStream')) {
          setTimeout(() => {
            send({ type: 'Metadata', request_id: 'fake-light', duration: at / rate, channels: 1 });
            ws.close(1000);
          }, 5);
        }
        return;
      }
      framesIn++;
      const samples = data.length >> 1;
      for (let i = 0; i < samples; i++) {
        const v = data.readInt16LE(i * 2);
        sum += v * v;
        if (++fill === win) {
          windowDone((at + i + 1 - win) / rate);
          fill = 0;
          sum = 0;
        }
      }
      at += samples;
    });
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stats: () => ({ connections, finals, framesIn }),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
