/**
 * Voice pipeline benchmark: `npx tsx bench/pipeline.ts` (or `npm run bench -- pipeline`).
 *
 * The built-in pipeline as the composition root builds it (`pipelineAgent(pipelineParts(logger,
 * env))` of src/server.ts: the OpenAI-compatible LLM adapter, Deepgram live STT, the ElevenLabs
 * stream-input WebSocket TTS, the Silero VAD with its gate, the echo gate), each session driven by a bench AgentHost
 * (bench/_pipeline-harness.ts: a real-time 8 kHz playout model, timestamps) and a caller pushing
 * real-time 20 ms frames of espeak-ng speech over -60 dBFS line noise. The providers are the
 * loopback test fakes in a child process (bench/_pipeline-fakes.ts) answering at fixed delays
 * (bench/_pipeline-common.ts DELAYS). Measured side by side in one run:
 *
 *   1. added latency: the pipeline's own time from the end of the caller's turn to the first AI
 *      audio, beyond the VAD's stop and the providers' delays;
 *   2. barge-in: caller speech onset (first frame above -40 dBFS) to `host.clearAudio()`;
 *   3. false interruptions on a fixed, seeded set (coughs, clicks, backchannels, room tone, our own
 *      echo, real interruptions) under three configurations;
 *   4. concurrency: sessions one process holds with no late 20 ms ticks, with and without the
 *      VAD gate.
 *
 * Prints markdown and rewrites the "Voice pipeline" section of BENCHMARKS.md (BENCH_NO_WRITE=1
 * only prints). BENCH_QUICK=1 runs a short version (for trying changes; not for the record).
 * Needs espeak-ng.
 */
import { execFileSync, fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pipelineParts } from '../src/server.js';
import { createLogger } from '../src/util/logger.js';
import type { AgentFactory, AgentSession, AgentStartOptions } from '../streams/agents/agent.js';
import { pipelineAgent } from '../streams/agents/pipeline/agent.js';
import { VoiceActivityDetector, loadSileroModel, vadConfigFrom } from '../streams/agents/pipeline/vad/index.js';
import { click, concat, cough, hasEspeak, roomTone, silence, speak, trimSilence } from '../test/helpers/speech.js';
import type { SpeakOptions } from '../test/helpers/speech.js';
import { markdownLog, writeBenchmarkSection } from './_benchmarks-md.js';
import { AI_VOICE, DELAYS, DG_KEY, LLM_KEY, XI_KEY } from './_pipeline-common.js';
import type { Stamp } from './_pipeline-common.js';
import { BenchHost, Caller, Ticker, now, prng, runqWaitMs, sleep, summary } from './_pipeline-harness.js';
import type { Said } from './_pipeline-harness.js';

if (!hasEspeak()) {
  console.error('bench/pipeline: espeak-ng is needed for the speech (apt-get install espeak-ng)');
  process.exit(1);
}

const QUICK = !!process.env.BENCH_QUICK;
const SLOTS = 10;
/** Conversations of parts 1-2 running at once (each on its own fakes). */
const DRIVERS = 3;
const SESSIONS_PER_DRIVER = QUICK ? 1 : 2;
const LOAD_SECONDS = QUICK ? 6 : 20;
const LOAD_WARM_S = QUICK ? 3 : 5;
const START_SECS = vadConfigFrom({}).startSecs;
const PARTS = (process.env.BENCH_PARTS ?? '1,2,3,4').split(',');

const runStarted = now();
const commit = ((): string => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
/**
 * Unhandled rejections, recorded instead of ending the process (Node's default), so the run
 * goes on and reports them: each one would have taken a production process down with all its calls.
 */
const unhandled: { part: string; msg: string; stack: string }[] = [];
let currentPart = 'setup';
process.on('unhandledRejection', (err) => {
  const e = err as Error;
  unhandled.push({ part: currentPart, msg: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, stack: (e?.stack ?? '').split('\n').slice(1, 5).map((l) => l.trim()).join(' < ') });
});
const startLoad = loadavg();
const md = markdownLog();
const { log, table } = md;
const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const progress = (msg: string): void => console.error(`[${((now() - runStarted) / 1000).toFixed(0)} s] ${msg}`);

// ------------------------------------------------------------------ the fakes' process

interface Child {
  proc: ChildProcess;
  info: { slots: { llm: string; stt: string; tts: string }[]; load: { llm: string; stt: string; tts: string } };
  ask(m: Record<string, unknown>): Promise<any>;
}

async function spawnFakes(): Promise<Child> {
  const proc = fork(fileURLToPath(new URL('./_pipeline-fakes.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_SLOTS: String(SLOTS), LOG_LEVEL: 'error' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map<number, (m: any) => void>();
  const info = await new Promise<Child['info']>((resolve, reject) => {
    proc.on('message', (m: any) => {
      if (m.ready) resolve(m);
      else {
        waiting.get(m.id)?.(m);
        waiting.delete(m.id);
      }
    });
    proc.once('exit', (code) => reject(new Error(`_pipeline-fakes.ts exited ${code}`)));
  });
  return {
    proc,
    info,
    ask(m) {
      const id = ++nextId;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        proc.send({ ...m, id });
      });
    },
  };
}

progress('starting the fakes');
const child = await spawnFakes();

/** child clock − parent clock, from the IPC round trip with the smallest RTT. */
async function clockOffset(): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Infinity };
  for (let i = 0; i < 40; i++) {
    const a = now();
    const r = await child.ask({ cmd: 'now' });
    const b = now();
    if (b - a < best.rtt) best = { offset: r.t - (a + b) / 2, rtt: b - a };
  }
  return best;
}
const clock0 = await clockOffset();
const toParent = (s: Stamp): Stamp => ({ ...s, t: s.t - clock0.offset });

// ------------------------------------------------------------------ sessions

const logger = createLogger((process.env.BENCH_LOG_LEVEL as 'debug' | undefined) ?? 'warn');
/** Per session (ai_id): when the echo gate took a caller frame for echo (parts 1-3 only). */
const echoFlags = new Map<string, number[]>();
function factoryFor(urls: { llm: string; stt: string; tts: string }, gate: boolean, watchEcho = false): AgentFactory {
  const env = { OPENAI_BASE_URL: urls.llm, DEEPGRAM_API_KEY: DG_KEY, DEEPGRAM_BASE_URL: urls.stt, ELEVENLABS_API_KEY: XI_KEY, ELEVENLABS_BASE_URL: urls.tts };
  const parts = pipelineParts(logger, env);
  const makeEcho = parts.echo;
  if (watchEcho && makeEcho) {
    parts.echo = (c) => {
      const g = makeEcho(c);
      const flagged: number[] = [];
      echoFlags.set(c.ai_id, flagged);
      return {
        reference: (f) => g.reference(f),
        isEcho: (f) => {
          const e = g.isEcho(f);
          if (e) flagged.push(now());
          return e;
        },
      };
    };
  }
  if (!gate) {
    parts.vad = (c) => {
      const v = vadConfigFrom(c.vad_config);
      return new VoiceActivityDetector({ confidence: v.confidence, startSecs: v.startSecs, stopSecs: v.stopSecs, minVolume: v.minVolume, gate: false });
    };
  }
  return pipelineAgent(parts);
}
const slotFactories = child.info.slots.map((u) => factoryFor(u, true, true));

let sessionNo = 0;
function startOptions(parameter: Record<string, unknown>): AgentStartOptions {
  const id = `b${String(++sessionNo).padStart(7, '0')}-bench`;
  return {
    aicall: { id, customer_id: 'bench', activeflow_id: 'bench', reference_id: 'bench' },
    config: {
      ai_id: id,
      engine_model: 'openai.gpt-4o-mini',
      engine_key: LLM_KEY,
      init_prompt: 'You are a helpful phone agent.',
      tts_type: 'elevenlabs',
      tts_voice_id: '',
      stt_type: 'deepgram',
      stt_language: '',
      language: 'en',
      tool_names: [],
      vad_config: {},
      parameter: { idle_timeout_ms: 0, ...parameter },
      mode: 'ai_talk',
    },
    tools: [],
    variables: {},
  };
}

/** -60 dBFS line noise, 10 s, looped by every caller from its own offset. */
const NOISE = roomTone(10_000, -60, 5);
const ticker = new Ticker();

async function openSession(factory: AgentFactory, parameter: Record<string, unknown>, seed: number, t: Ticker = ticker): Promise<{ host: BenchHost; session: AgentSession; caller: Caller; id: string }> {
  const host = new BenchHost();
  const opts = startOptions(parameter);
  const session = await factory(opts, host);
  const caller = new Caller(session, host, NOISE, Math.floor(prng(seed)() * 500));
  t.callers.add(caller);
  await session.start();
  return { host, session, caller, id: opts.config.ai_id };
}
async function closeSession(s: { session: AgentSession; caller: Caller }, t: Ticker = ticker): Promise<void> {
  t.callers.delete(s.caller);
  await s.session.stop('hangup');
}

// ------------------------------------------------------------------ speech

const CALLER_VOICES: SpeakOptions[] = [
  { voice: 'en-gb', speedWpm: 150 },
  { voice: 'en+f3', speedWpm: 175 },
  { voice: 'en-us+m3', speedWpm: 140 },
  { voice: 'en-gb-scotland+f2', speedWpm: 185 },
];
const CALLER_LINES = [
  'What time do you open tomorrow?',
  'I would like to book a table for two.',
  'Is there parking near the entrance?',
  'Can I change my reservation to Friday?',
  'How much does the monthly plan cost?',
  'Do you deliver to the city center?',
  'My order number is four five six.',
  'I need to speak with someone in billing.',
  'Are you open on public holidays?',
  'Could you send me the invoice again?',
  'I lost my card yesterday evening.',
  'What is the address of your office?',
  'Can I pay with a credit card?',
  'How long does the delivery take?',
  'I want to cancel my subscription.',
  'Is the museum open on Mondays?',
  'Please repeat the last part.',
  'Thanks, that is all I needed.',
];
const GREETING = 'Hello. How can I help you today?';
const SHORT_REPLIES = ['Sure. We open at nine.', 'Yes. That is possible.', 'Of course. One moment.', 'Okay. I have noted that.', 'Right. It takes two days.', 'Yes. We accept cards.'];
const LONG_REPLIES = [
  'Of course. Our office is open from nine in the morning until six in the evening. On Saturdays we close at noon.',
  'Certainly. The monthly plan costs twenty dollars and includes unlimited calls. You can cancel it at any time.',
  'Let me see. Delivery usually takes two to three working days in the city. Outside the city it can take a week.',
  'Sure. The entrance is on the north side of the building next to the bus stop. There is a parking lot behind it.',
];
const P3_ANSWER =
  'Thank you for calling the city library. We are open from nine in the morning until six in the evening. On Saturdays we close at noon. ' +
  'Our reading room is on the second floor. The children\'s corner has story time every Wednesday afternoon.';
const LOAD_LINES = ['I would like to check my booking.', 'Can you tell me the opening hours?', 'What is the price for two people?', 'Is there parking near the office?'];

const said = async (text: string, v: SpeakOptions): Promise<Int16Array> => trimSilence(await speak(text, v));
progress('speech (espeak-ng)');
const callerAudio = new Map<string, Int16Array>();
{
  const jobs: [string, SpeakOptions][] = [];
  for (let i = 0; i < CALLER_LINES.length; i++) for (const v of CALLER_VOICES) jobs.push([CALLER_LINES[i]!, v]);
  for (let i = 0; i < jobs.length; i += 8) {
    await Promise.all(jobs.slice(i, i + 8).map(async ([t, v]) => callerAudio.set(`${v.voice} ${t}`, await said(t, v))));
  }
}
await child.ask({ cmd: 'prepare', texts: [GREETING, ...SHORT_REPLIES, ...LONG_REPLIES, P3_ANSWER, 'Okay. I see.', 'Okay.'] });
await loadSileroModel();

// ------------------------------------------------------------------ 1 + 2: latency and barge-in

interface TurnRec {
  kind: 'quiet' | 'barge';
  echoGate: boolean;
  ok: boolean;
  why?: string;
  speechEnd: number;
  vadStop: number;
  sttFinal: number;
  llmReq: number;
  llmFirst: number;
  ttsReq: number;
  ttsFirst: number;
  firstOut: number;
}
interface BargeRec {
  echoGate: boolean;
  sess: number;
  ok: boolean;
  why?: string;
  onset: number;
  clear: number;
  vadStart: number;
  droppedMs: number;
  /** Caller frames the echo gate took for echo between the onset and the VAD's start. */
  echoFrames: number;
  voice: string;
}
const turns: TurnRec[] = [];
const barges: BargeRec[] = [];
const PLAN: ('quiet' | 'barge')[] = ['quiet', 'barge', 'barge', 'quiet', 'barge', 'barge', 'quiet', 'barge', 'barge'];

async function conversation(slot: number, sess: number, record: boolean, kinds = PLAN, echoGate = true): Promise<void> {
  const rng = prng(1000 + sess);
  const reply = (j: number): string => (kinds[j + 1] === 'barge' ? LONG_REPLIES[(sess + j) % LONG_REPLIES.length]! : SHORT_REPLIES[(sess + j) % SHORT_REPLIES.length]!);
  await child.ask({ cmd: 'reset', slot });
  await child.ask({ cmd: 'llm', slot, replies: [{ text: kinds[0] === 'barge' ? LONG_REPLIES[sess % LONG_REPLIES.length] : GREETING }, ...kinds.map((_, j) => ({ text: reply(j) }))] });
  const s = await openSession(slotFactories[slot]!, echoGate ? {} : { echo_gate: false }, sess);
  const { host, caller } = s;
  for (let j = 0; j < kinds.length; j++) {
    const kind = kinds[j]!;
    const line = CALLER_LINES[(sess * kinds.length + j) % CALLER_LINES.length]!;
    const voice = CALLER_VOICES[(sess + j) % CALLER_VOICES.length]!;
    await child.ask({ cmd: 'stt', slot, script: [line, '', '', '', ''] });
    const prev = host.last;
    let why: string | undefined;
    if (kind === 'quiet') {
      if (!(await host.until(() => prev?.status !== undefined, 20_000))) why = 'the AI did not finish';
      await sleep(300 + rng() * 300);
    } else {
      if (!(await host.until(() => prev !== undefined && host.firstAudio(prev.id) !== undefined, 10_000))) why = 'no AI audio to barge in on';
      else await sleep(host.firstAudio(prev!.id)! + 600 + rng() * 900 - now());
      if (prev?.status !== undefined) why = 'the AI had finished before the barge-in';
    }
    const nResp = host.responses.length;
    await child.ask({ cmd: 'stamps', slot });
    const sd: Said = await caller.say(callerAudio.get(`${voice.voice} ${line}`)!);
    const got = await host.until(() => host.responses.length > nResp && host.firstAudio(host.responses[nResp]!.id) !== undefined, 8000);
    const st = ((await child.ask({ cmd: 'stamps', slot })).stamps as Stamp[]).map(toParent);
    if (!record) continue;
    if (kind === 'barge') {
      const clear = host.clears.find((c) => c.t >= sd.start && c.droppedMs > 0);
      const vadStart = host.events.find((e) => e.ev.type === 'speech_started' && e.t >= sd.start);
      const until = vadStart?.t ?? sd.end;
      const echoFrames = (echoFlags.get(s.id) ?? []).filter((t) => t >= sd.onset && t <= until).length;
      barges.push({ echoGate, sess, ok: !why && !!clear, why: why ?? (clear ? undefined : 'no clear'), onset: sd.onset, clear: clear?.t ?? NaN, vadStart: vadStart?.t ?? NaN, droppedMs: clear?.droppedMs ?? NaN, echoFrames, voice: `${voice.voice} "${line}"` });
      if (process.env.BENCH_DEBUG) console.error(`barge ${voice.voice} "${line}": vad start +${f0((vadStart?.t ?? NaN) - sd.onset)} ms, clear +${f0((clear?.t ?? NaN) - sd.onset)} ms, echo frames ${echoFrames}`);
    }
    const rec: TurnRec = { kind, echoGate, ok: false, speechEnd: sd.end, vadStop: NaN, sttFinal: NaN, llmReq: NaN, llmFirst: NaN, ttsReq: NaN, ttsFirst: NaN, firstOut: NaN };
    if (!got) {
      const has = (k: Stamp['kind']): string => (st.some((x) => x.kind === k) ? 'yes' : 'no');
      const ev = (type: string): string => (host.events.some((e) => e.ev.type === type && e.t >= sd.start) ? 'yes' : 'no');
      rec.why = `no answer within 8 s (${kind} turn, "${line}" ${voice.voice}: VAD start ${ev('speech_started')}, VAD stop ${ev('speech_stopped')}, STT final ${has('stt_final')}, LLM request ${has('llm_req')}, echo-gated caller frames ${(echoFlags.get(s.id) ?? []).filter((t) => t >= sd.start && t <= sd.end + 20).length}; from the caller's first frame: ${host.trace(sd.start)})`;
    }
    else {
      const resp = host.responses[nResp]!;
      rec.firstOut = host.firstAudio(resp.id)!;
      const llmReq = st.find((x) => x.kind === 'llm_req' && x.t >= sd.start);
      const llmFirst = llmReq && st.find((x) => x.kind === 'llm_first' && x.n === llmReq.n);
      const ttsReq = llmFirst && st.find((x) => x.kind === 'tts_req' && x.t >= llmFirst.t);
      const ttsFirst = ttsReq && st.find((x) => x.kind === 'tts_first' && x.n === ttsReq.n);
      const sttFinal = st.find((x) => x.kind === 'stt_final' && x.t >= sd.start);
      const vadStops = host.events.filter((e) => e.ev.type === 'speech_stopped' && e.t >= sd.start && (!llmReq || e.t <= llmReq.t));
      rec.vadStop = vadStops.at(-1)?.t ?? NaN;
      rec.sttFinal = sttFinal?.t ?? NaN;
      rec.llmReq = llmReq?.t ?? NaN;
      rec.llmFirst = llmFirst?.t ?? NaN;
      rec.ttsReq = ttsReq?.t ?? NaN;
      rec.ttsFirst = ttsFirst?.t ?? NaN;
      rec.ok = [rec.sttFinal, rec.llmReq, rec.llmFirst, rec.ttsReq, rec.ttsFirst].every(Number.isFinite);
      if (!rec.ok) rec.why = 'missing timestamps';
      if (process.env.BENCH_DEBUG) {
        const base = Math.max(Number.isFinite(rec.vadStop) ? rec.vadStop : -Infinity, rec.sttFinal);
        console.error(`turn ${kind}: vadStop-stt ${f1(rec.vadStop - rec.sttFinal)} | ->llmReq ${f1(rec.llmReq - base)} | llmFirst->ttsReq ${f1(rec.ttsReq - rec.llmFirst)} | ttsFirst->out ${f1(rec.firstOut - rec.ttsFirst)}`);
      }
    }
    turns.push(rec);
  }
  await closeSession(s);
}

ticker.start();
progress('warm-up conversation');
currentPart = 'warm-up';
await conversation(0, 99, false, ['quiet', 'barge']);
progress('parts 1-2: latency and barge-in');
currentPart = 'parts 1-2';
ticker.resetStats();
const loop12 = monitorEventLoopDelay({ resolution: 5 });
loop12.enable();
const sched12 = runqWaitMs();
const t12 = now();
// DRIVERS conversations at a time with the defaults, plus one with echo_gate false over the
// same lines, voices and timings as driver 0 (a paired comparison for the barge-in).
if (PARTS.includes('1')) await Promise.all(
  Array.from({ length: DRIVERS + 1 }, async (_, d) => {
    await sleep(d * 700);
    for (let k = 0; k < SESSIONS_PER_DRIVER; k++) {
      if (d < DRIVERS) await conversation(d, d * SESSIONS_PER_DRIVER + k, true);
      else await conversation(d, k, true, PLAN, false);
    }
  }),
);
loop12.disable();
const part12 = { seconds: (now() - t12) / 1000, runqMsPerS: (runqWaitMs() - sched12) / ((now() - t12) / 1000), loopMaxMs: loop12.max / 1e6, loopP99Ms: loop12.percentile(99) / 1e6, lateTicks: ticker.lateTicks, ticks: ticker.ticks, maxLateMs: ticker.maxLateMs };
const clock1 = await clockOffset();

// ------------------------------------------------------------------ 3: false interruptions

type Cat = 'cough' | 'click' | 'backchannel' | 'room tone' | 'echo' | 'real' | 'real over echo';
interface Case {
  cat: Cat;
  name: string;
  stim?: Int16Array;
  /** What the STT hears of the stimulus ('' = no words). */
  text: string;
  echo?: { gainDb: number; delayMs: number };
  positive: boolean;
}
interface CaseResult {
  c: Case;
  cfg: string;
  ok: boolean;
  why?: string;
  stoppedBefore: boolean;
  stopped: boolean;
  cancelled: boolean;
  resumed: boolean;
  turn: boolean;
}

progress('part 3: the stimulus set');
const cases: Case[] = [];
{
  const rng = prng(20251202);
  const pick = <T>(a: T[]): T => a[Math.floor(rng() * a.length)]!;
  for (const ms of [100, 130, 160, 190, 220, 250]) {
    const peak = pick([-6, -10, -14]);
    cases.push({ cat: 'cough', name: `cough ${ms} ms, ${peak} dBFS peak`, stim: cough(ms, peak, 10 + ms), text: '', positive: false });
  }
  const clickSeq = (n: number, gapMs: number, ms: number): Int16Array => concat(...Array.from({ length: n }, (_, i) => (i ? concat(silence(gapMs), click(ms)) : click(ms))));
  cases.push({ cat: 'click', name: 'one click 5 ms', stim: clickSeq(1, 0, 5), text: '', positive: false });
  cases.push({ cat: 'click', name: 'two clicks, 120 ms apart', stim: clickSeq(2, 120, 5), text: '', positive: false });
  cases.push({ cat: 'click', name: 'three clicks, 60 ms apart', stim: clickSeq(3, 60, 5), text: '', positive: false });
  cases.push({ cat: 'click', name: 'one click 10 ms', stim: clickSeq(1, 0, 10), text: '', positive: false });
  const bcVoices: SpeakOptions[] = [CALLER_VOICES[0]!, CALLER_VOICES[1]!, CALLER_VOICES[2]!];
  for (const t of ['mm-hm', 'uh-huh', 'okay']) {
    for (const v of bcVoices) cases.push({ cat: 'backchannel', name: `"${t}" (${v.voice}, ${v.speedWpm} wpm)`, stim: await said(t, v), text: t, positive: false });
  }
  cases.push({ cat: 'room tone', name: '-35 dBFS room tone 1 s', stim: roomTone(1000, -35, 31), text: '', positive: false });
  cases.push({ cat: 'room tone', name: '-35 dBFS room tone 2 s', stim: roomTone(2000, -35, 32), text: '', positive: false });
  for (const gainDb of [-10, -15, -20]) for (const delayMs of [0, 100, 200, 300]) cases.push({ cat: 'echo', name: `echo ${gainDb} dB, ${delayMs} ms`, text: '', echo: { gainDb, delayMs }, positive: false });
  const phrases = ['Wait a second.', 'No, that is wrong.', 'Can I ask something?', 'Hold on, please.'];
  for (let i = 0; i < phrases.length; i++) {
    for (let k = 0; k < 3; k++) {
      const v = CALLER_VOICES[(i + k) % CALLER_VOICES.length]!;
      cases.push({ cat: 'real', name: `"${phrases[i]}" (${v.voice}, ${v.speedWpm} wpm)`, stim: await said(phrases[i]!, v), text: phrases[i]!, positive: true });
    }
  }
  const overEcho: [string, SpeakOptions, number, number][] = [
    ['Sorry, one question.', CALLER_VOICES[0]!, -15, 100],
    ['Wait, that is not right.', CALLER_VOICES[1]!, -10, 200],
    ['Excuse me, hello?', CALLER_VOICES[2]!, -20, 300],
    ['Stop, please stop.', CALLER_VOICES[3]!, -15, 0],
  ];
  for (const [t, v, gainDb, delayMs] of overEcho) cases.push({ cat: 'real over echo', name: `"${t}" (${v.voice}) over echo ${gainDb} dB, ${delayMs} ms`, stim: await said(t, v), text: t, echo: { gainDb, delayMs }, positive: true });
}
/** What an STT makes of leaked echo: our own words. */
const ECHO_WORDS = 'We are open from nine in the morning.';
const CONFIGS = [
  { name: 'A', minWords: 0, mode: 'asis' as const, interimDelayMs: 0, label: 'min_interruption_words 0 (default); STT as the fake is: words only in the final' },
  { name: 'B', minWords: 2, mode: 'asis' as const, interimDelayMs: 0, label: 'min_interruption_words 2; STT as the fake is: words only in the final (quiet 300 ms + 100 ms after the speech)' },
  { name: 'C', minWords: 2, mode: 'stream' as const, interimDelayMs: 250, label: 'min_interruption_words 2; streaming STT: an interim with all the words 350 ms after the onset' },
];

async function runCase(c: Case, cfg: (typeof CONFIGS)[number], slot: number, seed: number): Promise<CaseResult> {
  const res: CaseResult = { c, cfg: cfg.name, ok: false, stoppedBefore: false, stopped: false, cancelled: false, resumed: false, turn: false };
  const background = Array.from({ length: 20 }, () => (c.echo ? ECHO_WORDS : ''));
  await child.ask({ cmd: 'reset', slot });
  await child.ask({ cmd: 'llm', slot, replies: [{ text: P3_ANSWER }, { text: 'Okay.' }, { text: 'Okay.' }] });
  await child.ask({ cmd: 'stt', slot, script: background, mode: cfg.mode, interimDelayMs: cfg.interimDelayMs });
  const s = await openSession(slotFactories[slot]!, { min_interruption_words: cfg.minWords }, seed);
  const { host, caller } = s;
  if (c.echo) caller.echo = { gain: 10 ** (c.echo.gainDb / 20), delayMs: c.echo.delayMs };
  try {
    const first = await host.until(() => host.responses.length > 0 && host.firstAudio(host.responses[0]!.id) !== undefined, 5000);
    if (!first) {
      res.why = 'no AI audio';
      return res;
    }
    const r0 = host.responses[0]!;
    const t1 = host.firstAudio(r0.id)!;
    let tStim = t1;
    if (c.stim) {
      await sleep(t1 + 1200 - now());
      await child.ask({ cmd: 'stt', slot, script: [c.text, ...background], mode: cfg.mode, interimDelayMs: cfg.interimDelayMs });
      tStim = now();
      await caller.say(concat(c.stim, silence(40)));
      await sleep(2200);
    } else await sleep(t1 + 4000 - now());
    const stopAt = (c2: { droppedMs: number }): boolean => c2.droppedMs > 0;
    res.stoppedBefore = host.clears.some((x) => x.t < tStim && stopAt(x)) || host.events.some((e) => e.t < tStim && e.ev.type === 'barge_in');
    res.stopped = c.stim ? host.clears.some((x) => x.t >= tStim && stopAt(x)) || host.events.some((e) => e.t >= tStim && e.ev.type === 'barge_in') : res.stoppedBefore;
    res.cancelled = r0.status === 'cancelled';
    res.resumed = host.events.some((e) => e.ev.type === 'metric' && e.ev.name === 'false_interruption_resumed');
    res.turn = host.responses.length > 1;
    res.ok = r0.status !== 'completed' || res.stopped;
    if (r0.status === 'completed' && !res.stopped) res.why = 'the answer ended before the observation did';
    if (host.errors.length) res.why = `errors: ${host.errors.join('; ')}`;
    return res;
  } finally {
    await closeSession(s);
  }
}

progress(`part 3: ${cases.length} cases x ${CONFIGS.length} configurations`);
currentPart = 'part 3';
const caseResults: CaseResult[] = [];
{
  const queue: [Case, (typeof CONFIGS)[number], number][] = [];
  let seed = 0;
  if (PARTS.includes('3')) for (const cfg of CONFIGS) for (const c of QUICK ? cases.filter((_, i) => i % 4 === 0) : cases) queue.push([c, cfg, ++seed]);
  await Promise.all(
    Array.from({ length: SLOTS }, async (_, slot) => {
      await sleep(slot * 350);
      for (;;) {
        const job = queue.shift();
        if (!job) return;
        caseResults.push(await runCase(job[0], job[1], slot, job[2]));
      }
    }),
  );
}
ticker.stop();

// ------------------------------------------------------------------ 4: concurrency

interface LoadResult {
  n: number;
  gate: boolean;
  cpuMsPerCallS: number;
  busyPct: number;
  ticks: number;
  lateTicks: number;
  /** Late ticks the JS thread's wait for a CPU does not explain. */
  lateOwn: number;
  maxOwnLateMs: number;
  lateFrames: number;
  maxLateMs: number;
  p99LateMs: number;
  loopP99Ms: number;
  childBusyPct: number;
  callerShare: number;
  aiShare: number;
  responsesDone: number;
  bargeIns: number;
  errors: number;
  /** Unhandled rejections during the run, the sessions' stop at its end included. */
  unhandled: number;
  setupS: number;
  /** Time the JS thread was runnable but waited for a CPU (/proc/self/schedstat), ms per second of the window. */
  runqWaitMsPerS: number;
  profile?: { files: { fn: string; pct: number }[]; top: { fn: string; pct: number }[]; busyPct: number };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
/** Self time of an inspector CPU profile of this process over `ms`, by file (native callees charged to the JS file that called them), and the top functions. */
async function profile(ms: number): Promise<NonNullable<LoadResult['profile']>> {
  const ses = new Session();
  ses.connect();
  await ses.post('Profiler.enable');
  await ses.post('Profiler.setSamplingInterval', { interval: 500 });
  await ses.post('Profiler.start');
  await sleep(ms);
  const { profile: p } = (await ses.post('Profiler.stop')) as unknown as { profile: { nodes: (ProfileNode & { children?: number[] })[]; samples: number[] } };
  ses.disconnect();
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const busy = p.samples.filter((id) => !idle.has(id)).length;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const short = (url: string): string => url.replace(`file://${process.cwd()}/`, '').replace(/^.*\/node_modules\//, 'node_modules/');
  const group = (url: string): string => {
    const u = short(url);
    if (u.startsWith('node:')) return 'node: internals';
    const parts = u.split('/');
    return parts.slice(0, parts[0] === 'node_modules' ? (parts[1]?.startsWith('@') ? 3 : 2) : /^(src|streams|test|bench)$/.test(parts[0]!) ? 4 : 1).join('/');
  };
  const byFile = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const n of p.nodes) {
    const f = n.callFrame;
    if (f.functionName === '(idle)' || !n.hitCount) continue;
    let file: string;
    if (f.url) file = group(f.url);
    else if (/^\((garbage collector|program|root)\)$/.test(f.functionName)) file = f.functionName;
    else {
      let up = parent.get(n.id);
      while (up !== undefined && !byId.get(up)!.callFrame.url) up = parent.get(up);
      file = up !== undefined ? group(byId.get(up)!.callFrame.url) : `native ${f.functionName || '(anonymous)'}`;
    }
    byFile.set(file, (byFile.get(file) ?? 0) + n.hitCount);
    // Native frames' names in V8 profiles of bindings are unreliable (onnxruntime's run shows as loadModel, endProfiling, ...): name them by their caller.
    const k = f.url ? `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}` : file.startsWith('(') ? file : `native code called from ${file}${/^(writeBuffer|writev|writeLatin1String|writeUtf8String)$/.test(f.functionName) ? ` (${f.functionName})` : ''}`;
    byFn.set(k, (byFn.get(k) ?? 0) + n.hitCount);
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([fn, hits]) => ({ fn, pct: (100 * hits) / Math.max(1, busy) }));
  return { files: top(byFile, 12), top: top(byFn, 10), busyPct: (100 * busy) / Math.max(1, p.samples.length) };
}

const loadUtts: Int16Array[] = [];
for (let i = 0; i < LOAD_LINES.length; i++) loadUtts.push(await said(LOAD_LINES[i]!, CALLER_VOICES[i % CALLER_VOICES.length]!));

async function loadRun(n: number, gate: boolean, withProfile = false): Promise<LoadResult> {
  progress(`part 4: ${n} sessions, gate ${gate ? 'on' : 'off'}`);
  const factory = factoryFor(child.info.load, gate);
  const t = new Ticker();
  t.start();
  const t0 = now();
  const unhandled0 = unhandled.length;
  const live: { host: BenchHost; session: AgentSession; caller: Caller }[] = [];
  let stop = false;
  const drivers: Promise<void>[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, k) => openSession(factory, {}, 5000 + i + k, t)));
    for (const s of batch) {
      live.push(s);
      const rng = prng(7000 + live.length);
      drivers.push(
        (async () => {
          await sleep(rng() * 6000);
          while (!stop) {
            const before = s.host.responses.length;
            await s.caller.say(loadUtts[Math.floor(rng() * loadUtts.length)]!);
            if (stop) return;
            await s.host.until(() => stop || (s.host.responses.length > before && s.host.last!.status !== undefined), 10_000);
            await sleep(300 + rng() * 400);
          }
        })(),
      );
    }
  }
  const setupS = (now() - t0) / 1000;
  await sleep(LOAD_WARM_S * 1000);
  // The window.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const played0 = live.map((s) => s.host.totalPlayedMs());
  const done0 = live.reduce((a, s) => a + s.host.responses.filter((r) => r.status === 'completed').length, 0);
  const barge0 = live.reduce((a, s) => a + s.host.clears.length, 0);
  for (const s of live) {
    s.caller.frames = 0;
    s.caller.voicedFrames = 0;
  }
  const childCpu0 = await child.ask({ cmd: 'cpu' });
  t.resetStats();
  loop.enable();
  const w0 = now();
  const cpu0 = process.cpuUsage();
  const sched0 = runqWaitMs();
  await sleep(LOAD_SECONDS * 1000);
  const cpu1 = process.cpuUsage(cpu0);
  const sched1 = runqWaitMs();
  const w1 = now();
  loop.disable();
  const childCpu1 = await child.ask({ cmd: 'cpu' });
  const wallS = (w1 - w0) / 1000;
  const cpuMs = (cpu1.user + cpu1.system) / 1000;
  const frames = live.reduce((a, s) => a + s.caller.frames, 0);
  const voiced = live.reduce((a, s) => a + s.caller.voicedFrames, 0);
  const played = live.reduce((a, s, i) => a + s.host.totalPlayedMs() - played0[i]!, 0);
  const res: LoadResult = {
    n,
    gate,
    cpuMsPerCallS: cpuMs / (n * wallS),
    busyPct: (100 * cpuMs) / (wallS * 1000),
    ticks: t.ticks,
    lateTicks: t.lateTicks,
    lateOwn: t.lateOwn,
    maxOwnLateMs: t.maxOwnLateMs,
    lateFrames: t.lateFrames,
    maxLateMs: t.maxLateMs,
    p99LateMs: t.latenessQuantile(0.99),
    loopP99Ms: loop.percentile(99) / 1e6,
    childBusyPct: (100 * (childCpu1.user + childCpu1.system - childCpu0.user - childCpu0.system)) / 1000 / (wallS * 1000),
    callerShare: frames ? voiced / frames : 0,
    aiShare: played / (n * wallS * 1000),
    responsesDone: live.reduce((a, s) => a + s.host.responses.filter((r) => r.status === 'completed').length, 0) - done0,
    bargeIns: live.reduce((a, s) => a + s.host.clears.length, 0) - barge0,
    errors: live.reduce((a, s) => a + s.host.errors.length, 0),
    setupS,
    unhandled: 0,
    runqWaitMsPerS: (sched1 - sched0) / wallS,
  };
  if (withProfile) res.profile = await profile(3000);
  stop = true;
  await Promise.all(live.map((s) => closeSession(s, t)));
  t.stop();
  await Promise.race([Promise.all(drivers), sleep(2000)]);
  await sleep(300);
  res.unhandled = unhandled.length - unhandled0;
  progress(`  ${f1(res.cpuMsPerCallS)} ms CPU per call-second, ${res.lateTicks} late ticks (${res.lateOwn} own, max ${f1(res.maxLateMs)} ms), runq wait ${f0(res.runqWaitMsPerS)} ms/s, busy ${f0(res.busyPct)} %`);
  return res;
}

/** The harness alone (callers + ticker pushing into sessions that do nothing), for scale. */
async function harnessOnly(n: number): Promise<number> {
  const t = new Ticker();
  const nop: AgentSession = { input: { encoding: 'pcm16', sampleRateHz: 8000 }, output: { encoding: 'pcm16', sampleRateHz: 8000 }, start: async () => {}, audioIn: () => {}, interrupt: () => {}, stop: async () => {} };
  const callers = Array.from({ length: n }, (_, i) => new Caller(nop, new BenchHost(), NOISE, i * 7));
  for (const c of callers) t.callers.add(c);
  let going = true;
  const talk = callers.map(async (c, i) => {
    await sleep(i * 10);
    while (going) {
      await c.say(loadUtts[i % loadUtts.length]!);
      await sleep(3500);
    }
  });
  t.start();
  await sleep(1000);
  const c0 = process.cpuUsage();
  const w0 = now();
  await sleep(3000);
  const c1 = process.cpuUsage(c0);
  const wall = (now() - w0) / 1000;
  t.stop();
  going = false;
  void talk;
  return (c1.user + c1.system) / 1000 / (n * wall);
}

const loads: LoadResult[] = [];
currentPart = 'part 4';
const harnessMs = PARTS.includes('4') ? await harnessOnly(200) : NaN;
for (const gate of PARTS.includes('4') ? [true, false] : []) {
  let nextN = QUICK ? 40 : 100;
  const tried: LoadResult[] = [];
  for (let k = 0; k < (QUICK ? 1 : 3); k++) {
    const r = await loadRun(nextN, gate, k === 0);
    tried.push(r);
    loads.push(r);
    const cap = 1000 / r.cpuMsPerCallS;
    // Late ticks the JS thread's wait for a CPU explains are other processes' doing (the machine is shared), not this N's.
    const cleanNs = tried.filter((x) => x.lateOwn === 0).map((x) => x.n);
    const dirtyNs = tried.filter((x) => x.lateOwn > 0).map((x) => x.n);
    const lo = cleanNs.length ? Math.max(...cleanNs) : 0;
    const hi = dirtyNs.length ? Math.min(...dirtyNs) : Infinity;
    // Next: towards 90 % of the CPU-bound capacity while clean, halfway back when not.
    let n = hi === Infinity ? Math.min(Math.round(0.9 * cap), lo * 2) : Math.round((lo + hi) / 2);
    n = Math.round(n / 10) * 10;
    if (n <= lo || n >= hi || n === nextN) break;
    nextN = n;
  }
}
await child.ask({ cmd: 'exit' }).catch(() => {});

// ------------------------------------------------------------------ report

const cpu = cpus();
const date = new Date(runStarted).toISOString().slice(0, 16).replace('T', ' ');
log('## Voice pipeline (`npx tsx bench/pipeline.ts`)');
log();
log(
  `Run ${date} UTC on ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}. ` +
    `Load average at start ${startLoad.map((x) => x.toFixed(2)).join(' / ')} (the machine is shared: other work ran during the run). Code at commit ${commit} (the working tree as it was at the start). Whole run ${f0((now() - runStarted) / 1000)} s${QUICK ? ' (BENCH_QUICK: a short version, not for the record)' : ''}.`,
);
log();
log(
  'The real `PipelineSession` as the composition root builds it: `pipelineAgent(pipelineParts(logger, env))` (src/server.ts), i.e. the OpenAI-compatible LLM adapter (`openai.gpt-4o-mini`), the Deepgram live STT adapter, the ElevenLabs stream-input WebSocket TTS adapter (the `streamingTts` part: each piece of the answer into its own stream, the next stream opened ahead; 16 kHz, resampled to 8 kHz), the Silero VAD with its energy gate (default vad_config: start_secs 0.2, stop_secs 0.2) and the echo gate. ' +
    'Each session runs against a bench AgentHost (bench/_pipeline-harness.ts) whose playout plays queued audio in real time at 8 kHz (`playedMs` and `clearAudio` report from that model), and a caller that pushes real-time 20 ms frames (8 kHz Int16, 160 samples, one drift-free timer for all calls) of espeak-ng speech (4 caller voices, 140-185 wpm) over -60 dBFS line noise.',
);
log();
log(
  `Providers: the loopback test fakes (test/providers/), in a child process (bench/_pipeline-fakes.ts), at fixed delays: LLM (fake-openai-chat) headers after ${DELAYS.llmHeaderMs} ms, then the text in 3-character SSE events every ${DELAYS.llmChunkMs} ms; ` +
    `STT (fake-deepgram-live, scripted: the text of each utterance is set per turn) final ${DELAYS.sttFinalMs} ms after ${DELAYS.sttQuietMs} ms of quiet (the fake's default quietMs), an interim of the first word at the first voiced 100 ms; ` +
    `TTS (fake-elevenlabs-ws, speaking the text with espeak-ng ${AI_VOICE.voice} ${AI_VOICE.speedWpm} wpm, made ahead) first audio ${DELAYS.ttsFirstAudioMs} ms after a generation starts (the piece's text and the end of input arrived), then one 100 ms audio message every ${DELAYS.ttsChunkMs} ms. ` +
    `Timestamps in the fakes' process are taken by patching the prototypes they use (request arrival, writes, WebSocket sends); the clock offset between the processes was measured over IPC (smallest round trip ${f1(clock0.rtt)} ms; offset ${f1(clock0.offset)} ms at the start, ${f1(clock1.offset)} ms after parts 1-2).`,
);
log();

// ---- 1
const okTurns = turns.filter((x) => x.ok && x.echoGate);
const ownOf = (x: TurnRec): number => x.llmReq - Math.max(Number.isFinite(x.vadStop) ? x.vadStop : -Infinity, x.sttFinal) + (x.ttsReq - x.llmFirst) + (x.firstOut - x.ttsFirst);
const ownNoEcho = turns.filter((x) => x.ok && !x.echoGate).map(ownOf);
const own = okTurns.map((x) => x.llmReq - Math.max(Number.isFinite(x.vadStop) ? x.vadStop : -Infinity, x.sttFinal) + (x.ttsReq - x.llmFirst) + (x.firstOut - x.ttsFirst));
const ownA = okTurns.map((x) => x.llmReq - Math.max(Number.isFinite(x.vadStop) ? x.vadStop : -Infinity, x.sttFinal));
const ownB = okTurns.map((x) => x.ttsReq - x.llmFirst);
const ownC = okTurns.map((x) => x.firstOut - x.ttsFirst);
const e2e = okTurns.map((x) => x.firstOut - x.speechEnd);
const vadAfter = okTurns.map((x) => x.vadStop - x.speechEnd);
const sttAfter = okTurns.map((x) => x.sttFinal - x.speechEnd);
const provider = okTurns.map((x) => x.llmFirst - x.llmReq + (x.ttsFirst - x.ttsReq));
const ownS = summary(own);
const bargeOk = barges.filter((b) => b.ok && b.echoGate);
const bargeOff = barges.filter((b) => b.ok && !b.echoGate);
const bargeMsOff = bargeOff.map((b) => b.clear - b.onset);
/** The same lines, voices and timings with the echo gate on (driver 0: sessions 0..SESSIONS_PER_DRIVER-1) and off. */
const pairedOn = barges.filter((b) => b.ok && b.echoGate && b.sess < SESSIONS_PER_DRIVER);
const bargeMs = bargeOk.map((b) => b.clear - b.onset);
const bargeS = summary(bargeMs);
const bargeOver = summary(bargeMs.map((v) => v - START_SECS * 1000));

// ---- 3
const byCfg = (name: string): CaseResult[] => caseResults.filter((r) => r.cfg === name);
function prf(rs: CaseResult[], negCats?: Cat[]): { tp: number; fp: number; fn: number; precision: number; recall: number } {
  const pos = rs.filter((r) => r.c.positive);
  const neg = rs.filter((r) => !r.c.positive && (!negCats || negCats.includes(r.c.cat)));
  const tp = pos.filter((r) => r.stopped).length;
  const fp = neg.filter((r) => r.stopped).length;
  return { tp, fp, fn: pos.length - tp, precision: tp + fp > 0 ? tp / (tp + fp) : NaN, recall: pos.length ? tp / pos.length : NaN };
}
const echoStops = (rs: CaseResult[]): number => rs.filter((r) => (r.c.cat === 'echo' && r.stopped) || (r.c.echo && r.c.stim && r.stoppedBefore)).length;
const echoRuns = (rs: CaseResult[]): number => rs.filter((r) => r.c.echo).length;
const pB = prf(byCfg('B'));
const pC = prf(byCfg('C'));
const pA = prf(byCfg('A'), ['cough', 'click', 'room tone', 'echo']);
const allEchoStops = CONFIGS.reduce((a, c) => a + echoStops(byCfg(c.name)), 0);

// ---- 4
const bestClean = (gate: boolean): LoadResult | undefined => loads.filter((l) => l.gate === gate && l.lateTicks === 0).sort((a, b) => b.n - a.n)[0];
const capOf = (gate: boolean): number => {
  const rs = loads.filter((l) => l.gate === gate);
  const big = rs.sort((a, b) => b.n - a.n)[0];
  return big ? 1000 / big.cpuMsPerCallS : NaN;
};
const firstDirty = (gate: boolean): LoadResult | undefined => loads.filter((l) => l.gate === gate && l.lateOwn > 0).sort((a, b) => a.n - b.n)[0];
/** Largest N whose late ticks (if any) were all explained by the JS thread waiting for a CPU. */
const bestOwnClean = (gate: boolean): LoadResult | undefined => loads.filter((l) => l.gate === gate && l.lateOwn === 0).sort((a, b) => b.n - a.n)[0];
const cleanGate = bestClean(true);
const cleanNoGate = bestClean(false);
const ownGate = bestOwnClean(true);
const ownNoGate = bestOwnClean(false);
const held = (strict: LoadResult | undefined, own: LoadResult | undefined, gate: boolean): string =>
  `${strict ? `${strict.n} held with no late tick at all (${f0(strict.busyPct)} % of a core)` : 'no run without a late tick'}` +
  (own && (!strict || own.n > strict.n) ? `, ${own.n} with late ticks only while the JS thread waited for a CPU (${own.lateTicks}, other processes)` : '') +
  (firstDirty(gate) ? `; late ticks of its own from ${firstDirty(gate)!.n}` : '') +
  `; CPU estimate ${f0(capOf(gate))} per core`;
const met = (ok: boolean): string => (ok ? '**met**' : '**missed**');

log('### Results against the targets (issue 11)');
log();
table(
  ['target', 'measured', ''],
  [
    [`1. added latency ≤ 30 ms p95 (the pipeline's own time, ${ownS.n} turns)`, `p50 ${f1(ownS.p50)} / p95 ${f1(ownS.p95)} / max ${f1(ownS.max)} ms`, met(ownS.p95 <= 30)],
    [`2. barge-in ≤ start_secs + 20 ms p95 (onset → clearAudio, ${bargeS.n} barge-ins, start_secs ${START_SECS * 1000} ms)`, `p50 ${f0(bargeS.p50)} / p95 ${f0(bargeS.p95)} / max ${f0(bargeS.max)} ms (start_secs + ${f0(bargeOver.p95)} ms at p95); with echo_gate false p95 ${f0(summary(bargeMsOff).p95)} ms (${bargeMsOff.length} barge-ins)`, met(bargeS.p95 <= START_SECS * 1000 + 20)],
    ['3. stops from our own echo = 0', `${allEchoStops} of ${CONFIGS.reduce((a, c) => a + echoRuns(byCfg(c.name)), 0)} runs with echo (all configurations)`, met(allEchoStops === 0)],
    ['3. precision ≥ 95 % (min_interruption_words 2, STT as the fake is: B)', `${f0(100 * pB.precision)} % (${pB.tp} right stops, ${pB.fp} false)`, met(pB.precision >= 0.95)],
    ['3. recall ≥ 95 % (B)', `${f0(100 * pB.recall)} % (${pB.tp} of ${pB.tp + pB.fn} real interruptions)`, met(pB.recall >= 0.95)],
    ['3. precision / recall with a streaming STT (C)', `${f0(100 * pC.precision)} % / ${f0(100 * pC.recall)} %`, met(pC.precision >= 0.95 && pC.recall >= 0.95)],
    [
      '4. ≥ 100 sessions per core (one process) with the VAD gate, no late 20 ms tick over 20 s',
      `gate: ${held(cleanGate, ownGate, true)}. No gate: ${held(cleanNoGate, ownNoGate, false)}`,
      cleanGate && cleanGate.n >= 100 ? met(true) : ownGate && ownGate.n >= 100 && capOf(true) >= 100 ? '**met** (with late ticks only from CPU contention)' : met(false),
    ],
  ],
);

log('### 1. Added latency (end of the caller\'s turn → first AI audio)');
log();
log(
  `${ownS.n} turns in ${DRIVERS * SESSIONS_PER_DRIVER} conversations with the default parameters (${DRIVERS} at a time, each on its own fakes, plus a fourth at the same time with echo_gate false, reported apart), ${okTurns.filter((x) => x.kind === 'quiet').length} spoken while the AI was quiet, ${okTurns.filter((x) => x.kind === 'barge').length} as a barge-in over a long answer; ${turns.filter((x) => !x.ok).length} turns failed (${turns.filter((x) => !x.ok).map((x) => x.why).join(', ') || 'none'}). ` +
    'Own = (LLM request arrival − max(VAD stop, STT final sent)) + (the first piece\'s text arriving at its TTS WebSocket − the LLM chunk completing that piece sent) + (first `host.audioOut` − the first TTS audio message sent); the rest is the VAD\'s stop_secs and the providers\' fixed delays. Speech end = push time of the last caller frame above -40 dBFS.',
);
log();
const row = (name: string, v: number[]): (string | number)[] => {
  const s = summary(v);
  return [name, f1(s.p50), f1(s.p95), f1(s.max)];
};
table(
  ['ms', 'p50', 'p95', 'max'],
  [
    row("**pipeline's own time**", own),
    row('· VAD stop / STT final → LLM request', ownA),
    row('· LLM first piece sent → its text at the TTS', ownB),
    row('· TTS first audio sent → first audioOut', ownC),
    row("own, turns while the AI was quiet", okTurns.map((x, i) => (x.kind === 'quiet' ? own[i]! : NaN))),
    row("own, turns that barged in", okTurns.map((x, i) => (x.kind === 'barge' ? own[i]! : NaN))),
    row('own, the echo_gate false conversations', ownNoEcho),
    row('end to end: speech end → first AI audio', e2e),
    row('· speech end → VAD stop (speech_stopped)', vadAfter),
    row('· speech end → STT final sent', sttAfter),
    row('· provider time (LLM request → first piece sent, TTS text → first audio sent)', provider),
  ],
);

log(
  `While parts 1-2 ran (${f0(part12.seconds)} s, 4 conversations at a time): event loop delay p99 ${f1(part12.loopP99Ms)} ms, max ${f1(part12.loopMaxMs)} ms; the callers' 20 ms timer ran more than 20 ms late ${part12.lateTicks} times of ${part12.ticks} (max ${f1(part12.maxLateMs)} ms); this process's JS thread waited ${f1(part12.runqMsPerS)} ms per second for a CPU (/proc schedstat: other processes on the 2 cores). Context for the tail of the own time: a turn's own time also counts any wait for this process's event loop (busy with the other conversations) or for a CPU.`,
);
log();

log('### 2. Barge-in (caller speech onset → `host.clearAudio()`)');
log();
log(
  `${bargeS.n} barge-ins with the default parameters (${barges.filter((b) => !b.ok).length} failed: ${barges.filter((b) => !b.ok).map((b) => b.why).join(', ') || 'none'}) in the conversations of part 1: the caller starts a sentence 0.6-1.5 s into a long answer; onset = push time of the first frame whose speech part is above -40 dBFS. min_interruption_words 0 (the default): the VAD's start alone interrupts.`,
);
log();
table(
  ['ms', 'p50', 'p95', 'max'],
  [
    row('clear − onset', bargeMs),
    row(`clear − onset − start_secs (${START_SECS * 1000} ms)`, bargeMs.map((v) => v - START_SECS * 1000)),
    row('VAD speech_started − onset', bargeOk.map((b) => b.vadStart - b.onset)),
    row('clear − VAD speech_started', bargeOk.map((b) => b.clear - b.vadStart)),
    row('audio dropped at the clear', bargeOk.map((b) => b.droppedMs)),
    row('caller frames the echo gate took for echo, onset → VAD start (count)', bargeOk.map((b) => b.echoFrames)),
    row(`clear − onset, echo_gate false (${bargeOff.length}: the same lines, voices, timings as ${pairedOn.length} of the above)`, bargeMsOff),
    row(`clear − onset, those ${pairedOn.length} with the echo gate on`, pairedOn.map((b) => b.clear - b.onset)),
  ],
);
const slowB = bargeOk.filter((b) => b.clear - b.onset > START_SECS * 1000 + 100);
log(
  `No echo is fed in parts 1-2, yet the echo gate took ${bargeOk.reduce((a, b) => a + b.echoFrames, 0)} frames of the callers' speech onsets for echo (as silence to the VAD and the STT). ` +
    `The ${slowB.length} barge-ins slower than start_secs + 100 ms had ${slowB.reduce((a, b) => a + b.echoFrames, 0)} such frames (${f1(slowB.length ? slowB.reduce((a, b) => a + b.echoFrames, 0) / slowB.length : NaN)} each), the others ${f1((bargeOk.reduce((a, b) => a + b.echoFrames, 0) - slowB.reduce((a, b) => a + b.echoFrames, 0)) / Math.max(1, bargeOk.length - slowB.length))} each.`,
);
log();

log('### 3. False interruptions');
log();
log(
  `A fixed set of ${cases.length} cases (seeded, the same every run), each in its own session: the AI speaks a long answer (${P3_ANSWER.split(' ').length} words, ~10 s); 1.2 s into it the stimulus is mixed into the caller's audio, then 2.2 s after its end are watched. ` +
    'Echo cases: the host mixes what it played, delayed and attenuated, into the caller audio for the whole session (no caller speech; watched for the first 4 s of the answer); for them the STT fake "hears" our own words (an STT transcribes leaked echo), for coughs, clicks and room tone it hears no words, for backchannels and interruptions their text. ' +
    '"Stopped" = a clear that dropped audio or a `barge_in` event after the stimulus start (for echo: at any time); "cancelled" = the answer ended `cancelled`; "resumed" = the false-interruption timeout resumed it. Three configurations:',
);
log();
for (const c of CONFIGS) log(`- **${c.name}**: ${c.label}.`);
log();
const cats: Cat[] = ['cough', 'click', 'room tone', 'echo', 'backchannel', 'real', 'real over echo'];
const cell = (rs: CaseResult[]): string => `${rs.filter((r) => r.stopped).length} / ${rs.filter((r) => r.cancelled).length} / ${rs.filter((r) => r.resumed).length} of ${rs.length}`;
table(
  ['category', 'cases in the set', 'should stop', ...CONFIGS.map((c) => `${c.name}: stopped / cancelled / resumed`)],
  cats.map((cat) => {
    const n = cases.filter((c) => c.cat === cat).length;
    return [cat, n, cat === 'real' || cat === 'real over echo' ? 'yes' : 'no', ...CONFIGS.map((c) => cell(byCfg(c.name).filter((r) => r.c.cat === cat)))];
  }),
);
const prRow = (name: string, p: ReturnType<typeof prf>): (string | number)[] => [name, p.tp, p.fp, p.fn, `${f0(100 * p.precision)} %`, `${f0(100 * p.recall)} %`];
table(
  ['configuration', 'right stops', 'false stops', 'missed', 'precision', 'recall'],
  [prRow('A (negatives: coughs, clicks, room tone, echo; backchannels are speech to it)', pA), prRow('B (all categories)', pB), prRow('C (all categories)', pC)],
);
const odd = caseResults.filter((r) => r.why);
if (odd.length) {
  log(`Cases with a note: ${odd.map((r) => `${r.cfg} ${r.c.name}: ${r.why}`).join('; ')}.`);
  log();
}
const detail = (cfg: string, cat: Cat[]): string =>
  byCfg(cfg)
    .filter((r) => cat.includes(r.c.cat))
    .map((r) => `${r.c.name}: ${r.stopped ? 'stopped' : 'not stopped'}${r.turn ? ', answered' : ''}`)
    .join('; ');
log(`Per case, B real interruptions: ${detail('B', ['real', 'real over echo'])}.`);
log();
log(`Per case, A coughs, clicks and room tone: ${detail('A', ['cough', 'click', 'room tone'])}.`);
log();

log('### 4. Concurrency');
log();
log(
  `N sessions in this process on one 20 ms timer; the fakes in the child process (one shared set: the chat and TTS fakes, and a light Deepgram-protocol STT in bench/_pipeline-fakes.ts, because test/providers/fake-deepgram-live.ts appends every frame to all the audio of its connection, quadratic in the call length). ` +
    `Each caller says a line (1.5-2.5 s), waits for the AI's answer ("${'Sure. Let me check that for you.'}") to play out, pauses 0.3-0.7 s, again; sessions start at random offsets. ` +
    `After ${LOAD_WARM_S} s of warm-up, ${LOAD_SECONDS} s are measured: CPU = process.cpuUsage (user + system, all threads) of this process, which includes the bench host and callers (alone they cost ${harnessMs.toFixed(3)} ms per call-second, measured with no-op sessions); a tick more than 20 ms behind its schedule is a late tick (the call would have dropped frames); a late tick is "own" unless the JS thread's run-queue wait since the previous tick (/proc/self/task/<pid>/schedstat: runnable while another process had the CPU) explains it, i.e. it would not have been late without that wait. ` +
    '"Estimate per core" = 1000 / (CPU ms per call-second): the calls one fully busy core would carry at this cost, an extrapolation. The next N is chosen from the previous runs (towards 90 % of the estimate while without own late ticks, halfway back after them).',
);
log();
table(
  ['VAD', 'sessions', 'CPU ms per call-second', 'process CPU (% of a core)', 'estimate per core', 'late ticks (own) / ticks', 'late frames', 'max / p99 tick lateness ms', 'max own lateness ms', 'event loop p99 ms', 'JS thread waiting for a CPU, ms/s', 'fakes process CPU', 'caller speech / AI audio share', 'answers played', 'errors', 'unhandled rejections'],
  loads.map((l) => [
    l.gate ? 'gate' : 'no gate',
    l.n,
    l.cpuMsPerCallS.toFixed(2),
    f0(l.busyPct),
    f0(1000 / l.cpuMsPerCallS),
    `${l.lateTicks} (${l.lateOwn}) / ${l.ticks}`,
    l.lateFrames,
    `${f1(l.maxLateMs)} / ${f1(l.p99LateMs)}`,
    f1(l.maxOwnLateMs),
    f1(l.loopP99Ms),
    f1(l.runqWaitMsPerS),
    `${f0(l.childBusyPct)} %`,
    `${f0(100 * l.callerShare)} % / ${f0(100 * l.aiShare)} %`,
    l.responsesDone,
    l.errors,
    l.unhandled,
  ]),
);
for (const l of loads.filter((x) => x.profile)) {
  log(
    `Where the CPU goes, ${l.n} sessions, ${l.gate ? 'gate' : 'no gate'} (inspector CPU profile of 3 s right after the window, load still running, 0.5 ms sampling; busy in ${f0(l.profile!.busyPct)} % of the samples; share of the busy samples by file, native code charged to the JS file that called it, e.g. the Silero model's native run to onnxruntime-node, socket writes to ws or node internals): ` +
      l.profile!.files.map((f) => `${f.fn} ${f1(f.pct)} %`).join(', ') +
      '. Top functions: ' +
      l.profile!.top.map((f) => `\`${f.fn}\` ${f1(f.pct)} %`).join(', ') +
      '.',
  );
  log();
}
log(
  `Largest N with no late tick at all: with the gate ${cleanGate ? cleanGate.n : 'none'}, without ${cleanNoGate ? cleanNoGate.n : 'none'}; with no late tick of its own: ${ownGate ? ownGate.n : 'none'} and ${ownNoGate ? ownNoGate.n : 'none'} (of the N tried). Both processes share the machine's 2 cores with each other and with whatever else ran, so "held" is a lower bound for a dedicated core; the CPU estimate is the extrapolation.`,
);

log();
log('### Bugs seen by this run');
log();
const byPart = new Map<string, number>();
for (const u of unhandled) byPart.set(u.part, (byPart.get(u.part) ?? 0) + 1);
log(
  `Unhandled promise rejections: ${unhandled.length} (${[...byPart].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}); the bench records them instead of letting Node end the process, which is what a production process (no unhandledRejection handler in src/) would do, with every call on it. ` +
    (unhandled.length ? `Distinct: ${[...new Set(unhandled.map((u) => `${u.msg} at ${u.stack}`))].map((x) => `\`${x}\``).join('; ')}.` : ''),
);
log();
log(
  unhandled.length
    ? `1. **Unhandled rejections ended what would be a production process** (above); see their stacks.`
    : '1. **Fixed since a4ca341: a response aborted while its LLM stream was open and a TTS request in flight ended the process.** An earlier run of this bench, on the tree before commit a4ca341, saw 3 unhandled `AbortError`s (from the TTS fetch, postForAudio in src/providers/tts/stream.ts) when the load runs stopped their sessions: `PipelineSession.make()` awaited the TTS loop `speakAll` only after `llm.stream()` returned, so when the abort (hangup `stop()`, `interrupt()`, a confirmed barge-in, a provider failure) made `llm.stream()` reject first, `speakAll`\'s rejection had no handler and Node ended the process (src/ installs no unhandledRejection handler). Reproduced then deterministically (LLM fake streaming slowly, chunkDelayMs 40; TTS fake headerDelayMs 2000; `session.stop(\'hangup\')` or `session.interrupt()` 600 ms after `start()`). a4ca341 attaches a handler (`speakAll.finally(...).catch(...)`); the same repro, through HTTP and WebSocket TTS, no longer ends the process, and this run saw none.',
);
log(
  `2. **With min_interruption_words > 0, words that arrive after the VAD's stop never interrupt, and are thrown away** (configuration B: ${pB.fn} of ${pB.tp + pB.fn} real interruptions missed, none of them answered). \`onSpeechEnd\` clears \`pendingBargeIn\`, so the STT final with the words (here at p50 ${f0(summary(sttAfter).p50 - summary(vadAfter).p50)} ms after the VAD's stop: the fake STT ends an utterance after 300 ms of quiet, the VAD after stop_secs 200 ms) finds the AI still speaking, is taken for a backchannel by \`decideTurn\` (\`clearTurn()\`), and the caller's "Wait a second." is lost. It works when an interim carries the words before the VAD's stop (C). An STT whose interims lag behind the speech makes short interruptions fail the same way.`,
);
const echoTaken = bargeOk.reduce((a, b) => a + b.echoFrames, 0);
if (echoTaken > 0) log(
  `3. **The echo gate takes the caller's own speech for echo when the caller talks over the AI at the AI's level, with no echo on the line** (parts 1-2: ${bargeOk.reduce((a, b) => a + b.echoFrames, 0)} caller frames at speech onsets, up to ${Math.max(0, ...bargeOk.map((b) => b.echoFrames))} in one barge-in). Those frames reach the VAD and the STT as silence (a real STT loses those words): the barge-in comes up to ${f0(Math.max(0, ...bargeMs) - START_SECS * 1000)} ms after start_secs (p95 ${f0(bargeS.p95)} ms against ${f0(summary(bargeMsOff).p95)} ms for the same audio with echo_gate false).` +
    (turns.some((x) => !x.ok && x.echoGate && /barge_in/.test(x.why ?? '') && !/user "/.test(x.why ?? ''))
      ? ' The part-1 turn without an answer (its timeline is in part 1) shows what follows: its words came while the VAD had not yet confirmed speech (the onset taken for echo), the 800 ms that words without VAD speech wait (WORDS_WITHOUT_VAD_WAIT_MS, counted from the first interim) ran out while the AI was speaking, `decideTurn` dropped them as a backchannel, the VAD\'s late start then paused the AI, and with no words left the false-interruption timeout resumed it: the caller\'s sentence was lost.'
      : ''),
);
log();

writeBenchmarkSection('pipeline.ts', md.lines);
process.exit(0);
