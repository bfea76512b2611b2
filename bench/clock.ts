/**
 * Media-clock benchmark: `npx tsx bench/clock.ts` (or `npm run bench -- clock`).
 *
 * Measures the per-call cost of one 20 ms tick of the local call engine's hot path, with N live
 * calls ticked in one loop as the engine's `tickAll` does. Each call has one tap encoding what it
 * hears as `rtp` (what a media_stream socket does, minus the socket write), one outbound source
 * and a party whose `sendAudio` reads the frame. Two scenarios:
 *   talking: the party sends one 20 ms frame per tick (`fromParty`), then the tick runs
 *   silent:  the party sends nothing; the tick still hands the taps a frame of silence
 * CPU = process.cpuUsage (user+system), best of 7 runs after warm-up (the machine is shared: other
 * load only adds time). Heap = bytes allocated per call-tick in steady state (no GC in between).
 * Then a real-time run: N calls on the real MediaClock for a few seconds: CPU share of one core
 * and how late ticks fire.
 *
 * Prints tables only (it does not rewrite BENCHMARKS.md). Set CLOCK_BENCH_CALLS=1,100,1000 to
 * choose N, CLOCK_BENCH_REALTIME_S to change the real-time run (0 skips it).
 */
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LiveCall } from '../src/local/engine/live-call.js';
import type { Party } from '../src/local/engine/live-call.js';
import { FRAME_SAMPLES, MediaClock } from '../src/local/engine/media-clock.js';
import { createEncapsulationCodec } from '../streams/protocols/encapsulation.js';
import type { Row } from '../db/store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CALLS = (process.env.CLOCK_BENCH_CALLS ?? '1,100,1000').split(',').map(Number);
const REALTIME_S = Number(process.env.CLOCK_BENCH_REALTIME_S ?? 5);

let sink = 0;

/** A party that reads what it hears (so the work is not optimised away). */
function party(): Party {
  return {
    sendAudio(frame) {
      sink = (sink + frame[80]!) | 0;
    },
    ended() {},
  };
}

interface Fixture {
  calls: LiveCall[];
  tickAll: () => void;
  /** One frame of the party's audio per call, then the tick (the talking scenario). */
  talkAndTick: () => void;
}

function fixture(n: number): Fixture {
  const calls: LiveCall[] = [];
  const voice = new Int16Array(FRAME_SAMPLES);
  for (let i = 0; i < FRAME_SAMPLES; i++) voice[i] = Math.round(3000 * Math.sin((2 * Math.PI * i) / 8));
  for (let i = 0; i < n; i++) {
    const c = new LiveCall({ id: `call-${i}` } as Row, party());
    c.answered = true;
    const codec = createEncapsulationCodec('rtp', { ssrc: i, sequenceNumber: 0, timestamp: 0 });
    c.tap((f) => {
      sink = (sink + codec.encodeAudio(f)[20]!) | 0;
    });
    c.addSource('bench');
    calls.push(c);
  }
  const tickAll = (): void => {
    for (let i = 0; i < calls.length; i++) calls[i]!.tick();
  };
  return {
    calls,
    tickAll,
    talkAndTick: () => {
      for (let i = 0; i < calls.length; i++) calls[i]!.fromParty(voice);
      tickAll();
    },
  };
}

function measure(fn: () => void, iterations: number, reps = 7): number {
  for (let i = 0; i < Math.min(iterations, 500); i++) fn();
  const cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / iterations);
  }
  return Math.min(...cpu);
}

function heapPerCall(fn: () => void, n: number): number {
  const ticks = Math.max(200, Math.round(200_000 / n));
  for (let i = 0; i < ticks; i++) fn();
  gc();
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < ticks; i++) fn();
  return (process.memoryUsage().heapUsed - h0) / (ticks * n);
}

async function realtime(n: number, seconds: number): Promise<{ cpuPct: number; ticks: number; maxLateMs: number; p99LateMs: number }> {
  const f = fixture(n);
  const clock = new MediaClock();
  const lateness: number[] = [];
  const t0 = performance.now();
  let ticks = 0;
  const listener = (): void => {
    lateness.push(performance.now() - (t0 + (ticks + 1) * 20));
    ticks++;
    f.talkAndTick();
  };
  const c0 = process.cpuUsage();
  clock.add(listener);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clock.remove(listener);
  const c = process.cpuUsage(c0);
  lateness.sort((a, b) => a - b);
  return {
    cpuPct: ((c.user + c.system) / 1000 / (seconds * 1000)) * 100,
    ticks,
    maxLateMs: lateness.at(-1) ?? 0,
    p99LateMs: lateness[Math.floor(lateness.length * 0.99)] ?? 0,
  };
}

const f2 = (x: number): string => x.toFixed(2);
console.log(
  `Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')}`,
);
console.log();
console.log('| calls | talking: CPU µs/call-tick | silent: CPU µs/call-tick | talking: heap B/call-tick | silent: heap B/call-tick |');
console.log('|---|---|---|---|---|');
for (const n of CALLS) {
  const f = fixture(n);
  const iterations = Math.max(50, Math.round(100_000 / n));
  const talking = measure(f.talkAndTick, iterations) / n;
  const silent = measure(f.tickAll, iterations) / n;
  const talkingHeap = heapPerCall(f.talkAndTick, n);
  const silentHeap = heapPerCall(f.tickAll, n);
  console.log(`| ${n} | ${f2(talking)} | ${f2(silent)} | ${talkingHeap.toFixed(1)} | ${silentHeap.toFixed(1)} |`);
}
console.log();
if (REALTIME_S > 0) {
  console.log(`Real time: N talking calls on the real MediaClock for ${REALTIME_S} s.`);
  console.log();
  console.log('| calls | ticks | CPU % of one core | tick lateness p99 ms | max ms |');
  console.log('|---|---|---|---|---|');
  for (const n of CALLS) {
    const r = await realtime(n, REALTIME_S);
    console.log(`| ${n} | ${r.ticks} | ${r.cpuPct.toFixed(1)} | ${f2(r.p99LateMs)} | ${f2(r.maxLateMs)} |`);
  }
}
if (sink === 42) console.log('');
