/**
 * A phone's microphone for the voice pipeline's whole-call tests: it sends one 20 ms frame per
 * period, in real time (as a phone does), made of what the test says (espeak-ng speech, a cough)
 * plus, optionally, the line echo of what the phone hears (its frames from `echoDelayMs` ago at
 * `echoGainDb`).
 */
import { join } from 'node:path';
import { capturedLogs, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { createLogger } from '../../src/util/logger.js';
import { defaultAgentRegistry } from '../../src/server.js';
import { startFakeAnthropicMessages } from '../providers/fake-anthropic-messages.js';
import type { FakeAnthropicMessages } from '../providers/fake-anthropic-messages.js';
import { startFakeOpenAiChat } from '../providers/fake-openai-chat.js';
import type { FakeOpenAiChat } from '../providers/fake-openai-chat.js';
import { startFakeDeepgramLive } from '../providers/fake-deepgram-live.js';
import type { FakeDeepgramLive } from '../providers/fake-deepgram-live.js';
import { startFakeElevenLabs } from '../providers/fake-tts-servers.js';
import { startFakeElevenLabsWs } from '../providers/fake-elevenlabs-ws.js';
import type { FakeElevenLabsWs } from '../providers/fake-elevenlabs-ws.js';
import type { FakeTtsServer } from '../providers/fake-tts-servers.js';
import { providerFor } from '../providers/helpers.js';
import { speakAt } from '../helpers/speech.js';
import { dialFlow } from '../flows/helpers.js';
import type { Phone } from '../flows/helpers.js';

const FRAME = 160;
const PERIOD_MS = 20;

export class Mic {
  private readonly queue: Int16Array[] = [];
  private readonly waiters: { frames: number; resolve: () => void }[] = [];
  private sentFrames = 0;
  private spokenFrames = 0;
  private readonly t0 = performance.now();
  private readonly timer: NodeJS.Timeout;
  private readonly out = new Int16Array(FRAME);
  /** Echo of what the phone hears, in dB (undefined: no echo). */
  echoGainDb: number | undefined;
  echoDelayMs = 100;

  constructor(private readonly phone: Phone) {
    this.timer = setInterval(() => this.tick(), 5);
  }

  /** Queues `samples` (8 kHz) to say; resolves once the last frame of it was sent. */
  say(samples: Int16Array): Promise<void> {
    for (let i = 0; i < samples.length; i += FRAME) {
      const f = new Int16Array(FRAME);
      f.set(samples.subarray(i, Math.min(samples.length, i + FRAME)));
      this.queue.push(f);
    }
    const target = this.spokenFrames + this.queue.length;
    return new Promise((resolve) => this.waiters.push({ frames: target, resolve }));
  }

  /** Frames of speech still queued. */
  get pending(): number {
    return this.queue.length;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.phone.closed) return this.stop();
    const due = Math.floor((performance.now() - this.t0) / PERIOD_MS);
    // Catch up at most 3 frames at once after a stall (the call's jitter buffer takes them).
    for (let n = 0; this.sentFrames < due && n < 3; n++) this.sendOne();
    if (this.sentFrames < due - 3) this.sentFrames = due - 3;
  }

  private sendOne(): void {
    const out = this.out;
    out.fill(0);
    const speech = this.queue.shift();
    if (speech) {
      out.set(speech);
      this.spokenFrames += 1;
    }
    if (this.echoGainDb !== undefined) {
      const heard = this.phone.heard;
      const back = heard[heard.length - 1 - Math.round(this.echoDelayMs / PERIOD_MS)];
      if (back) {
        const g = 10 ** (this.echoGainDb / 20);
        for (let i = 0; i < FRAME; i++) out[i] = Math.max(-32768, Math.min(32767, out[i]! + Math.round((back[i] ?? 0) * g)));
      }
    }
    this.phone.client.sendAudio(out);
    this.sentFrames += 1;
    while (this.waiters.length > 0 && this.waiters[0]!.frames <= this.spokenFrames) this.waiters.shift()!.resolve();
  }
}

/** Milliseconds of audible (non-silent) audio in `frames` after frame index `from`. */
export function audibleMsSince(frames: Int16Array[], from: number): number {
  let n = 0;
  for (let i = from; i < frames.length; i++) {
    const f = frames[i]!;
    let peak = 0;
    for (let j = 0; j < f.length; j++) peak = Math.max(peak, Math.abs(f[j]!));
    if (peak > 300) n += f.length;
  }
  return n / 8;
}

// ---------------------------------------------------------------- a server with the pipeline on fakes

/** What a pipeline test runs against: the server (composition root's registry) and the provider fakes. */
export interface PipelineRig {
  s: TestServer;
  /** OpenAI Chat Completions (the LLM of openai.* models); its key is the AI's engine_key. */
  chat: FakeOpenAiChat;
  /** Anthropic Messages (the LLM of anthropic.* models), same key. */
  anthropic: FakeAnthropicMessages;
  /** Deepgram live STT, in scripted mode. */
  stt: FakeDeepgramLive;
  /** ElevenLabs stream-input WebSocket TTS (the AI's voice), speaking its text with espeak-ng. */
  voice: FakeElevenLabsWs;
  /** ElevenLabs HTTP TTS (the `talk` actions' voice), speaking its text with espeak-ng. */
  tts: FakeTtsServer;
  /** Env secrets (canaries) that must never show up in logs or answers. */
  secrets: string[];
  /** Dials a flow of `actions` from a new phone with a real-time microphone (both closed with the rig). */
  dial(actions: unknown[]): Promise<PipelineCall>;
  close(): Promise<void>;
}

/** A call of a pipeline test: the caller's phone, the call id, and the phone's microphone. */
export interface PipelineCall {
  phone: Phone;
  callId: string;
  mic: Mic;
}


/**
 * Starts the fakes and a server whose agents are the composition root's, configured from an env
 * that points every provider at its fake (the real adapters and the real VAD run).
 */
export async function startPipelineRig(llmKey: string): Promise<PipelineRig> {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const dgKey = `dg-canary-${tag}`;
  const xiKey = `xi-canary-${tag}`;
  const chat = await startFakeOpenAiChat(llmKey);
  const anthropic = await startFakeAnthropicMessages(llmKey);
  const stt = await startFakeDeepgramLive(dgKey);
  stt.behavior = { script: [] };
  const tts = await startFakeElevenLabs(xiKey);
  tts.behavior = { speech: (text, rateHz) => speakAt(text, rateHz), chunkSizes: [3200], chunkDelayMs: 20 };
  const voice = await startFakeElevenLabsWs(xiKey);
  voice.behavior = { speech: (text, rateHz) => speakAt(text, rateHz), chunkDelayMs: 20 };
  const env = {
    OPENAI_BASE_URL: chat.baseUrl,
    ANTHROPIC_BASE_URL: anthropic.baseUrl,
    DEEPGRAM_API_KEY: dgKey,
    DEEPGRAM_BASE_URL: stt.baseUrl,
    ELEVENLABS_API_KEY: xiKey,
    ELEVENLABS_BASE_URL: voice.baseUrl,
  };
  const t = tempDir('voipbin-ai-pipeline-');
  const logger = createLogger('debug');
  const s = await startTestServer(join(t.dir, 'db.sqlite'), {}, { engine: { agents: defaultAgentRegistry(logger, env) } });
  // `talk` actions speak through the same fake.
  s.engine.tts = providerFor(tts);
  const calls: PipelineCall[] = [];
  return {
    s,
    chat,
    anthropic,
    stt,
    voice,
    tts,
    secrets: [llmKey, dgKey, xiKey],
    async dial(actions) {
      const c = await dialFlow(s, actions);
      const call = { phone: c.phone, callId: c.callId, mic: new Mic(c.phone) };
      calls.push(call);
      return call;
    },
    async close() {
      for (const c of calls) {
        c.mic.stop();
        c.phone.close();
      }
      // DEBUG_PIPELINE=1 prints the pipeline's decisions (speech, transcripts, turns) of the file.
      if (process.env.DEBUG_PIPELINE) console.log(capturedLogs.filter((l) => l.includes('pipeline')).join('\n'));
      await s.close();
      await chat.close();
      await anthropic.close();
      await stt.close();
      await tts.close();
      await voice.close();
      t.cleanup();
    },
  };
}

/** True when no secret of `rig` is in the captured log lines. */
export function logsClean(rig: PipelineRig): boolean {
  const logs = capturedLogs.join('\n');
  return rig.secrets.every((k) => !logs.includes(k));
}
