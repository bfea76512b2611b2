/**
 * Audio-path benchmark: `npx tsx bench/audio.ts` (or `npm run bench`).
 *
 * Measures, per call per 20 ms frame, the duplex path of the issue (8k G.711 -> 16k, and
 * 24k PCM -> 8k G.711: what an STT at 16 kHz and a TTS at 24 kHz need)
 *   inbound  8 kHz mu-law -> decode -> resample to 16 kHz
 *   outbound 24 kHz PCM   -> resample to 8 kHz -> encode mu-law
 * (and, for reference, the inbound side feeding both 16 kHz and 24 kHz)
 * with this project's code (lookup tables + stateful SpeexDSP) against the naive path
 * (`alawmulaw` per-sample calls + `wave-resampler` per 20 ms frame), side by side in one run:
 * CPU time, SNR of a 1 kHz tone, chunked-vs-whole difference, the resampler's frequency response
 * at every SpeexDSP quality level, and memory per call. Prints tables and rewrites the audio section
 * of BENCHMARKS.md (set BENCH_NO_WRITE=1 to skip writing).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import alawmulaw from 'alawmulaw';
import waveResampler from 'wave-resampler';

const waveResample = waveResampler.resample;
import type { Resampler } from '../streams/audio/resampler.js';
import {
  createResampler,
  defaultResamplerQuality,
  loadSpeexModule,
  DOWNSAMPLE_QUALITY,
  UPSAMPLE_QUALITY,
} from '../streams/audio/resampler.js';
import { decodeMulaw, encodeMulaw } from '../streams/audio/g711.js';
import { concat, fitSines, spuriousFrequencies, tone, toneSnrDb } from '../test/audio/signal.js';
import { writeBenchmarkSection } from './_benchmarks-md.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FRAME_MS = 20;
const TONE_HZ = 1000;
const AMPLITUDE = 0.9 * 32767; // -0.9 dBFS: loud, but no clipping after filter ripple
const TARGET = { cpuUs: 8, snrDb: 90, passbandDb: 0.5, spurDb: -60, naiveRatio: 15 };
const PAIRS: [number, number][] = [
  [8000, 16000],
  [8000, 24000],
  [24000, 8000],
  [16000, 8000],
  [16000, 24000],
  [24000, 16000],
];
const PASSBAND_HZ = [100, 200, 300, 500, 700, 1000, 1500, 2000, 2500, 3000, 3200, 3300, 3400];

const out: string[] = [];
function log(line = ''): void {
  console.log(line);
  out.push(line);
}
function table(header: string[], rows: (string | number)[][]): void {
  log(`| ${header.join(' | ')} |`);
  log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) log(`| ${r.join(' | ')} |`);
  log();
}
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const db = (ratio: number): number => 20 * Math.log10(Math.max(ratio, 1e-12));
const frameOf = (rateHz: number): number => (rateHz * FRAME_MS) / 1000;

/**
 * CPU (user+system) and wall µs per iteration: the best of `reps` runs after a warm-up. Best, not
 * median, because the machine is shared: other load only ever adds time, so the fastest run is the
 * closest to the code's own cost.
 */
function measure(fn: () => void, iterations: number, reps = 7): { cpuUs: number; wallUs: number } {
  for (let i = 0; i < Math.min(iterations, 2000); i++) fn();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    wall.push(Number(t1 - t0) / 1000 / iterations);
    cpu.push((c.user + c.system) / iterations);
  }
  return { cpuUs: Math.min(...cpu), wallUs: Math.min(...wall) };
}

/** Runs `x` through `r` in 20 ms chunks; returns a copy of the concatenated output. */
function runChunked(r: Resampler, x: Int16Array, chunk: number): Int16Array {
  const parts: Int16Array[] = [];
  for (let i = 0; i < x.length; i += chunk) parts.push(r.process(x.subarray(i, i + chunk)).slice());
  return concat(parts);
}

function naiveResampleFrame(frame: ArrayLike<number>, inHz: number, outHz: number): Float64Array {
  // wave-resampler filters its input in place when downsampling, so it gets its own copy.
  return waveResample(Float64Array.from(frame), inHz, outHz) as Float64Array;
}
function toInt16(x: ArrayLike<number>): Int16Array {
  const y = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = Math.max(-32768, Math.min(32767, Math.round(x[i])));
  return y;
}
function naiveChunked(x: Int16Array, inHz: number, outHz: number): Int16Array {
  const parts: Int16Array[] = [];
  const n = frameOf(inHz);
  for (let i = 0; i < x.length; i += n) parts.push(toInt16(naiveResampleFrame(x.subarray(i, i + n), inHz, outHz)));
  return concat(parts);
}

// ---------------------------------------------------------------------------------------------
// 1. Quality levels: SNR, passband, images/aliases and CPU for every pair.

interface QualityRow {
  snrDb: number;
  passMinDb: number;
  passMaxDb: number;
  spurDb: number; // worst image (upsampling) or alias (downsampling), relative to the tone
  cpuUsPerFrame: number;
  pass: boolean;
}

async function qualityRow(inHz: number, outHz: number, quality: number): Promise<QualityRow> {
  const r = await createResampler({ inputRateHz: inHz, outputRateHz: outHz, quality });
  // SNR: 1 s of a 1 kHz tone in 20 ms chunks, skipping the first 100 ms (filter delay + warm-up).
  const y = runChunked(r, tone(inHz, inHz, TONE_HZ, AMPLITUDE), frameOf(inHz));
  const snrDb = toneSnrDb(y, outHz / 10, y.length, outHz, TONE_HZ);
  // Passband: gain of tones 100..3400 Hz; spurs: images of those tones at the other frequencies.
  let passMinDb = Infinity;
  let passMaxDb = -Infinity;
  let spurDb = -Infinity;
  const probe = (freqHz: number, wantTone: boolean): void => {
    r.reset();
    const yy = r.process(tone(inHz / 5, inHz, freqHz, AMPLITUDE)).slice();
    const spurs = spuriousFrequencies(freqHz, inHz, outHz);
    const inBand = freqHz < outHz / 2;
    const fit = fitSines(yy, outHz / 20, yy.length, outHz, inBand ? [freqHz, ...spurs] : spurs);
    let j = 0;
    if (inBand && wantTone) {
      const g = db(fit.amplitudes[j++] / AMPLITUDE);
      passMinDb = Math.min(passMinDb, g);
      passMaxDb = Math.max(passMaxDb, g);
    } else if (inBand) j++;
    for (; j < fit.amplitudes.length; j++) spurDb = Math.max(spurDb, db(fit.amplitudes[j] / AMPLITUDE));
  };
  for (const f of PASSBAND_HZ) probe(f, true);
  // Aliases: for downsampling, every tone between the output Nyquist and the input Nyquist.
  if (outHz < inHz) for (let f = outHz / 2 + 50; f < inHz / 2; f += 100) probe(f, false);
  r.reset();
  const frame = tone(frameOf(inHz), inHz, TONE_HZ, AMPLITUDE);
  const { cpuUs } = measure(() => r.process(frame), 5000, 3);
  r.destroy();
  const pass =
    snrDb >= TARGET.snrDb && passMinDb >= -TARGET.passbandDb && passMaxDb <= TARGET.passbandDb && spurDb <= TARGET.spurDb;
  return { snrDb, passMinDb, passMaxDb, spurDb, cpuUsPerFrame: cpuUs, pass };
}

async function qualitySection(): Promise<void> {
  log('### SpeexDSP quality levels (per rate pair)');
  log();
  log(
    `1 kHz tone SNR (1 s in 20 ms chunks, first 100 ms skipped); passband = gain range of tones ${PASSBAND_HZ[0]}..${PASSBAND_HZ.at(-1)} Hz; ` +
      'spur = worst image (upsampling: images of those tones) or alias (downsampling: tones from the output Nyquist + 50 Hz to the input Nyquist, 100 Hz steps, ' +
      'plus images), relative to the tone; CPU = µs per 20 ms frame. Pass = SNR >= 90 dB, passband within ±0.5 dB, spur <= -60 dB.',
  );
  log();
  const lowest = new Map<string, number>();
  const rows: (string | number)[][] = [];
  for (let q = 0; q <= 10; q++) {
    for (const [i, o] of PAIRS) {
      const row = await qualityRow(i, o, q);
      const key = `${i / 1000}k->${o / 1000}k`;
      if (row.pass && !lowest.has(key)) lowest.set(key, q);
      rows.push([q, key, f1(row.snrDb), `${f2(row.passMinDb)}..${f2(row.passMaxDb)}`, f1(row.spurDb), f2(row.cpuUsPerFrame), row.pass ? 'yes' : 'no']);
    }
  }
  table(['q', 'pair', 'SNR dB', 'passband dB', 'spur dB', 'CPU µs/frame', 'pass'], rows);
  log(`Lowest passing quality per pair: ${[...lowest].map(([k, q]) => `${k} q${q}`).join(', ')}.`);
  const up = Math.max(...[...lowest].filter(([k]) => isUp(k)).map(([, q]) => q));
  const down = Math.max(...[...lowest].filter(([k]) => !isUp(k)).map(([, q]) => q));
  log(
    `Chosen: upsampling q${UPSAMPLE_QUALITY} (measured lowest for all up pairs: q${up}), downsampling q${DOWNSAMPLE_QUALITY} ` +
      `(measured: q${down})${up === UPSAMPLE_QUALITY && down === DOWNSAMPLE_QUALITY ? '' : ' -- MISMATCH: update resampler.ts'}.`,
  );
  log();
}
function isUp(key: string): boolean {
  const [a, b] = key.split('->').map((s) => parseInt(s, 10));
  return b > a;
}

// ---------------------------------------------------------------------------------------------
// 2. The duplex call path: ours vs naive.

async function pathSection(): Promise<{ oursUs: number; naiveUs: number }> {
  const n8 = frameOf(8000);
  const n24 = frameOf(24000);
  // 1 s of 1 kHz is a whole number of periods at every rate, so cycling through it is seamless.
  const pcm8 = tone(8000, 8000, TONE_HZ, AMPLITUDE);
  const codes8 = new Uint8Array(pcm8.length);
  encodeMulaw(pcm8, codes8);
  const pcm24 = tone(24000, 24000, TONE_HZ, AMPLITUDE);
  const framesPerSec = 1000 / FRAME_MS;

  // Ours: preallocated everything; one resampler per direction and rate.
  const up16 = await createResampler({ inputRateHz: 8000, outputRateHz: 16000 });
  const up24 = await createResampler({ inputRateHz: 8000, outputRateHz: 24000 });
  const down8 = await createResampler({ inputRateHz: 24000, outputRateHz: 8000 });
  const dec = new Int16Array(n8);
  const enc = new Uint8Array(n8);
  let k = 0;
  let sink = 0;
  // Preslice inputs so the measured loop does not allocate subarray views (the real path gets
  // each frame as its own buffer from the socket anyway).
  const codesFrames = Array.from({ length: framesPerSec }, (_, f) => codes8.subarray(f * n8, f * n8 + n8));
  const pcm24Frames = Array.from({ length: framesPerSec }, (_, f) => pcm24.subarray(f * n24, f * n24 + n24));
  const oursFramePreSliced = (): void => {
    const f = k++ % framesPerSec;
    decodeMulaw(codesFrames[f], dec);
    sink = (sink + up16.process(dec)[0]) | 0;
    encodeMulaw(down8.process(pcm24Frames[f]), enc);
    sink = (sink + enc[0]) | 0;
  };
  const oursBothInbound = (): void => {
    const f = k++ % framesPerSec;
    decodeMulaw(codesFrames[f], dec);
    sink = (sink + up16.process(dec)[0] + up24.process(dec)[0]) | 0;
    encodeMulaw(down8.process(pcm24Frames[f]), enc);
    sink = (sink + enc[0]) | 0;
  };

  const naiveDec = new Int16Array(n8);
  const naiveFrame = (): void => {
    const f = k++ % framesPerSec;
    const c = codesFrames[f];
    for (let i = 0; i < n8; i++) naiveDec[i] = alawmulaw.mulaw.decodeSample(c[i]);
    sink += (waveResample(naiveDec, 8000, 16000) as Float64Array)[0];
    const o = naiveResampleFrame(pcm24Frames[f], 24000, 8000);
    for (let i = 0; i < n8; i++) enc[i] = alawmulaw.mulaw.encodeSample(Math.max(-32768, Math.min(32767, Math.round(o[i]))));
    sink += enc[0];
  };

  // Per-stage costs of ours, to show where the time goes.
  const stage = {
    decode: measure(() => decodeMulaw(codesFrames[k++ % framesPerSec], dec), 50000),
    up16: measure(() => up16.process(dec), 20000),
    up24: measure(() => up24.process(dec), 20000),
    down8: measure(() => down8.process(pcm24Frames[k++ % framesPerSec]), 20000),
    encode: measure(() => encodeMulaw(dec, enc), 50000),
  };
  const ours = measure(oursFramePreSliced, 20000);
  const bothInbound = measure(oursBothInbound, 20000);
  // Most agents need one inbound rate only; these are the duplex paths for a single rate.
  const down16to8 = await createResampler({ inputRateHz: 16000, outputRateHz: 8000 });
  const pcm16Frame = tone(320, 16000, TONE_HZ, AMPLITUDE);
  const only24 = measure(() => {
    const f = k++ % framesPerSec;
    decodeMulaw(codesFrames[f], dec);
    sink = (sink + up24.process(dec)[0]) | 0;
    encodeMulaw(down8.process(pcm24Frames[f]), enc);
  }, 20000);
  const only16 = measure(() => {
    const f = k++ % framesPerSec;
    decodeMulaw(codesFrames[f], dec);
    sink = (sink + up16.process(dec)[0]) | 0;
    encodeMulaw(down16to8.process(pcm16Frame), enc);
  }, 20000);
  down16to8.destroy();
  const naive = measure(naiveFrame, 1000);
  // Heap allocated per frame by ours in steady state: should be 0. The loop runs once first so
  // that JIT compilation (which also allocates on the heap) is done before the measured pass.
  const allocLoop = (frames: number): void => {
    for (let i = 0; i < frames; i++) oursFramePreSliced();
  };
  allocLoop(50000);
  gc();
  const h0 = process.memoryUsage().heapUsed;
  allocLoop(100000);
  const allocPerFrame = (process.memoryUsage().heapUsed - h0) / 100000;

  log('### Duplex call path, per call per 20 ms frame');
  log();
  log(
    'inbound 8 kHz mu-law -> decode -> resample to 16 kHz (an STT rate); outbound 24 kHz PCM (a TTS rate) -> resample to 8 kHz -> encode mu-law. ' +
      `Ours: lookup tables + stateful SpeexDSP (WASM SIMD), up q${UPSAMPLE_QUALITY} / down q${DOWNSAMPLE_QUALITY}. ` +
      'Naive: alawmulaw per-sample calls + wave-resampler (defaults: cubic + IIR LPF) per 20 ms frame. Best of 7 runs after warm-up.',
  );
  log();
  table(
    ['stage (ours)', 'CPU µs/frame', 'wall µs/frame'],
    [
      ['mu-law decode 160', f2(stage.decode.cpuUs), f2(stage.decode.wallUs)],
      [`resample 8k->16k (q${defaultResamplerQuality(8000, 16000)})`, f2(stage.up16.cpuUs), f2(stage.up16.wallUs)],
      [`resample 8k->24k (q${defaultResamplerQuality(8000, 24000)})`, f2(stage.up24.cpuUs), f2(stage.up24.wallUs)],
      [`resample 24k->8k (q${defaultResamplerQuality(24000, 8000)})`, f2(stage.down8.cpuUs), f2(stage.down8.wallUs)],
      ['mu-law encode 160', f2(stage.encode.cpuUs), f2(stage.encode.wallUs)],
    ],
  );
  const ratio = naive.cpuUs / ours.cpuUs;
  table(
    ['path', 'CPU µs/call-frame', 'wall µs/call-frame', 'target'],
    [
      ['ours', f2(ours.cpuUs), f2(ours.wallUs), `<= ${TARGET.cpuUs} µs: ${ours.cpuUs <= TARGET.cpuUs ? 'met' : 'MISSED'}`],
      ['naive', f2(naive.cpuUs), f2(naive.wallUs), ''],
      ['naive / ours', `${f1(ratio)}x`, `${f1(naive.wallUs / ours.wallUs)}x`, `>= ${TARGET.naiveRatio}x: ${ratio >= TARGET.naiveRatio ? 'met' : 'MISSED'}`],
      ['ours, inbound to both 16k and 24k, outbound from 24k', f2(bothInbound.cpuUs), f2(bothInbound.wallUs), '(for reference)'],
      ['ours, 8k<->24k both ways', f2(only24.cpuUs), f2(only24.wallUs), '(for reference)'],
      ['ours, 8k<->16k both ways', f2(only16.cpuUs), f2(only16.wallUs), '(for reference)'],
    ],
  );
  log(`Heap allocated per call-frame by ours in steady state: ${f1(allocPerFrame)} bytes (100,000 frames after warm-up, no GC in between).`);
  log(`At ${f2(ours.cpuUs)} µs per call-frame one core carries about ${Math.floor((FRAME_MS * 1000) / ours.cpuUs)} calls of audio conversion.`);
  log();

  // Quality of both paths on a 1 kHz tone: 2 s, 20 ms chunks.
  const secs = 2;
  const t8 = tone(8000 * secs, 8000, TONE_HZ, AMPLITUDE);
  const t24 = tone(24000 * secs, 24000, TONE_HZ, AMPLITUDE);
  const t8codes = new Uint8Array(t8.length);
  encodeMulaw(t8, t8codes);
  const t8law = new Int16Array(t8.length);
  decodeMulaw(t8codes, t8law);
  const snrRows: (string | number)[][] = [];
  const diffRows: (string | number)[][] = [];
  for (const [inHz, outHz, src] of [
    [8000, 16000, t8],
    [8000, 24000, t8],
    [24000, 8000, t24],
  ] as [number, number, Int16Array][]) {
    const r1 = await createResampler({ inputRateHz: inHz, outputRateHz: outHz });
    const chunked = runChunked(r1, src, frameOf(inHz));
    const r2 = await createResampler({ inputRateHz: inHz, outputRateHz: outHz });
    const whole = r2.process(src).slice();
    r1.destroy();
    r2.destroy();
    const naiveC = naiveChunked(src, inHz, outHz);
    const naiveW = toInt16(naiveResampleFrame(src, inHz, outHz));
    const skip = outHz / 10;
    // End to end through G.711 (what the caller/agent actually gets); G.711 itself limits it to ~38 dB.
    let e2eOurs: number;
    let e2eNaive: number;
    if (inHz === 8000) {
      const r3 = await createResampler({ inputRateHz: inHz, outputRateHz: outHz });
      e2eOurs = toneSnrDb(runChunked(r3, t8law, frameOf(inHz)), skip, t8law.length * (outHz / inHz), outHz, TONE_HZ);
      r3.destroy();
      e2eNaive = toneSnrDb(naiveChunked(t8law, inHz, outHz), skip, t8law.length * (outHz / inHz), outHz, TONE_HZ);
    } else {
      const codes = new Uint8Array(chunked.length);
      encodeMulaw(chunked, codes);
      const back = new Int16Array(codes.length);
      decodeMulaw(codes, back);
      e2eOurs = toneSnrDb(back, skip, back.length, outHz, TONE_HZ);
      const nb = Int16Array.from(naiveC, (s) => alawmulaw.mulaw.decodeSample(alawmulaw.mulaw.encodeSample(s)));
      e2eNaive = toneSnrDb(nb, skip, nb.length, outHz, TONE_HZ);
    }
    const key = `${inHz / 1000}k->${outHz / 1000}k`;
    snrRows.push([
      key,
      f1(toneSnrDb(chunked, skip, chunked.length, outHz, TONE_HZ)),
      f1(toneSnrDb(naiveC, skip, naiveC.length, outHz, TONE_HZ)),
      f1(toneSnrDb(naiveW, skip, naiveW.length, outHz, TONE_HZ)),
      f1(e2eOurs),
      f1(e2eNaive),
    ]);
    const cmp = (a: Int16Array, b: Int16Array): string => {
      let diff = Math.abs(a.length - b.length);
      let maxAbs = 0;
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const d = Math.abs(a[i] - b[i]);
        if (d) diff++;
        maxAbs = Math.max(maxAbs, d);
      }
      return diff === 0 ? 'bit-identical' : `${diff} of ${Math.max(a.length, b.length)} samples differ (max ${maxAbs})`;
    };
    diffRows.push([key, cmp(chunked, whole), cmp(naiveC, naiveW)]);
  }
  log('1 kHz tone SNR (dB), 2 s in 20 ms chunks, first 100 ms skipped. "PCM" = resampler only; "via mu-law" = end to end including G.711 (inbound: tone encoded + decoded before resampling; outbound: resampled output encoded + decoded), where G.711 quantization caps SNR near 38 dB.');
  log();
  table(['pair', 'ours PCM', 'naive PCM (per frame)', 'naive PCM (whole buffer)', 'ours via mu-law', 'naive via mu-law'], snrRows);
  table(['pair', 'ours: 20 ms chunks vs whole', 'naive: 20 ms chunks vs whole'], diffRows);

  up16.destroy();
  up24.destroy();
  down8.destroy();
  if (sink === 0.5) console.log(''); // keep `sink` observable so nothing is optimized away
  return { oursUs: ours.cpuUs, naiveUs: naive.cpuUs };
}

// ---------------------------------------------------------------------------------------------
// 3. Frequency response of the chosen qualities (telephone band).

async function responseSection(): Promise<void> {
  log('### Frequency response at the chosen qualities');
  log();
  const rows: (string | number)[][] = [];
  for (const [inHz, outHz] of [
    [8000, 16000],
    [8000, 24000],
    [24000, 8000],
  ] as [number, number][]) {
    const r = await createResampler({ inputRateHz: inHz, outputRateHz: outHz });
    let gMin = Infinity;
    let gMax = -Infinity;
    for (let f = 100; f <= 3400; f += 100) {
      r.reset();
      const y = r.process(tone(inHz / 5, inHz, f, AMPLITUDE)).slice();
      const g = db(fitSines(y, outHz / 20, y.length, outHz, [f]).amplitudes[0] / AMPLITUDE);
      gMin = Math.min(gMin, g);
      gMax = Math.max(gMax, g);
    }
    // Spurs: images of 100..3400 Hz tones (upsampling), or aliases of tones above 4 kHz (downsampling).
    let worst = -Infinity;
    let worstAt = 0;
    let worstTel = -Infinity;
    const tones: number[] = [];
    if (outHz > inHz) for (let f = 100; f <= 3400; f += 100) tones.push(f);
    else for (let f = outHz / 2 + 50; f < inHz / 2; f += 100) tones.push(f);
    for (const f of tones) {
      r.reset();
      const y = r.process(tone(inHz / 5, inHz, f, AMPLITUDE)).slice();
      const spurs = spuriousFrequencies(f, inHz, outHz);
      const inBand = f < outHz / 2;
      const fit = fitSines(y, outHz / 20, y.length, outHz, inBand ? [f, ...spurs] : spurs);
      const amps = inBand ? fit.amplitudes.slice(1) : fit.amplitudes;
      amps.forEach((a, j) => {
        const d = db(a / AMPLITUDE);
        if (d > worst) {
          worst = d;
          worstAt = f;
        }
        if (spurs[j] <= 3400) worstTel = Math.max(worstTel, d);
      });
    }
    r.destroy();
    const kind = outHz > inHz ? 'images (tones 100..3400 Hz)' : `aliases (tones ${outHz / 2 + 50}..${inHz / 2 - 50} Hz)`;
    rows.push([
      `${inHz / 1000}k->${outHz / 1000}k q${defaultResamplerQuality(inHz, outHz)}`,
      `${f2(gMin)}..${f2(gMax)} (spread ${f2(gMax - gMin)})`,
      kind,
      `${f1(worst)} (tone ${worstAt} Hz)`,
      outHz < inHz ? f1(worstTel) : 'n/a',
    ]);
  }
  table(['pair', 'passband gain 100..3400 Hz, dB', 'spurs measured', 'worst spur dB', 'worst alias landing in 0..3.4 kHz, dB'], rows);
}

// ---------------------------------------------------------------------------------------------
// 4. SIMD vs non-SIMD build, and memory per call.

async function buildSection(): Promise<void> {
  const plain = await (await import('@echogarden/speex-resampler-wasm')).default();
  const simd = await (await import('@echogarden/speex-resampler-wasm/simd')).default();
  const rows: (string | number)[][] = [];
  for (const [name, mod] of [
    ['non-SIMD', plain],
    ['SIMD', simd],
  ] as const) {
    let total = 0;
    for (const [inHz, outHz] of [
      [8000, 16000],
      [8000, 24000],
      [24000, 8000],
    ]) {
      const errPtr = mod._malloc(4);
      const st = mod._speex_resampler_init(1, inHz, outHz, defaultResamplerQuality(inHz, outHz), errPtr);
      const n = frameOf(inHz);
      const inPtr = mod._malloc(n * 2);
      const outPtr = mod._malloc(n * 8);
      const lenPtr = mod._malloc(8);
      const t = measure(() => {
        mod.HEAPU32[lenPtr >> 2] = n;
        mod.HEAPU32[(lenPtr >> 2) + 1] = n * 4;
        mod._speex_resampler_process_int(st, 0, inPtr, lenPtr, outPtr, lenPtr + 4);
      }, 20000);
      total += t.cpuUs;
      mod._speex_resampler_destroy(st);
      for (const p of [errPtr, inPtr, outPtr, lenPtr]) mod._free(p);
    }
    rows.push([name, f2(total)]);
  }
  log('### SpeexDSP WASM build (raw calls, the 3 resamplers of one call-frame)');
  log();
  table(['build', 'CPU µs/call-frame'], rows);
}

async function memorySection(): Promise<void> {
  const mod = await loadSpeexModule();
  const sets = 100;
  const wasmProbe = (): number => {
    const p = mod._malloc(16);
    mod._free(p);
    return p;
  };
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const ext0 = process.memoryUsage().arrayBuffers;
  const wasm0 = wasmProbe();
  const wasmSize0 = mod.HEAPU8.length;
  const all: Resampler[] = [];
  for (let i = 0; i < sets; i++) {
    all.push(await createResampler({ inputRateHz: 8000, outputRateHz: 16000 }));
    all.push(await createResampler({ inputRateHz: 8000, outputRateHz: 24000 }));
    all.push(await createResampler({ inputRateHz: 24000, outputRateHz: 8000 }));
  }
  const frame8 = new Int16Array(160);
  const frame24 = new Int16Array(480);
  for (let i = 0; i < all.length; i += 3) {
    all[i].process(frame8);
    all[i + 1].process(frame8);
    all[i + 2].process(frame24);
  }
  gc();
  const heapPerSet = (process.memoryUsage().heapUsed - heap0) / sets;
  const bufPerSet = (process.memoryUsage().arrayBuffers - ext0 - (mod.HEAPU8.length - wasmSize0)) / sets;
  const wasmPerSet = (wasmProbe() - wasm0) / sets;
  for (const r of all) r.destroy();
  log('### Memory per call (one set = 8k->16k + 8k->24k + 24k->8k resamplers)');
  log();
  table(
    ['what', 'bytes per call'],
    [
      ['JS heap (objects)', Math.round(heapPerSet)],
      ['JS typed-array buffers (owned output buffers)', Math.round(bufPerSet)],
      ['WASM heap (SpeexDSP state + filter tables + in/out buffers)', Math.round(wasmPerSet)],
      ['total', Math.round(heapPerSet + bufPerSet + wasmPerSet)],
    ],
  );
  log(
    `Measured over ${sets} sets (after GC; WASM by the allocator's high-water mark). The WASM module's linear memory is shared by all calls: ` +
      `${(mod.HEAPU8.length / 1048576).toFixed(0)} MiB now (16 MiB initial, grows on demand). G.711 tables: 128 KiB + 1 KiB once per process.`,
  );
  log();
}

// ---------------------------------------------------------------------------------------------
// 5. Codec tables vs per-sample library calls.

function codecSection(): void {
  const pcm = tone(160, 8000, TONE_HZ, AMPLITUDE);
  const codes = new Uint8Array(160);
  encodeMulaw(pcm, codes);
  const dst = new Int16Array(160);
  const enc = new Uint8Array(160);
  const t = {
    tableDec: measure(() => decodeMulaw(codes, dst), 100000),
    libDec: measure(() => {
      for (let i = 0; i < 160; i++) dst[i] = alawmulaw.mulaw.decodeSample(codes[i]);
    }, 20000),
    tableEnc: measure(() => encodeMulaw(pcm, enc), 100000),
    libEnc: measure(() => {
      for (let i = 0; i < 160; i++) enc[i] = alawmulaw.mulaw.encodeSample(pcm[i]);
    }, 20000),
  };
  log('### G.711 mu-law, 160 samples (one 20 ms frame at 8 kHz)');
  log();
  table(
    ['op', 'tables µs', 'alawmulaw per-sample µs', 'speedup'],
    [
      ['decode', f2(t.tableDec.cpuUs), f2(t.libDec.cpuUs), `${f1(t.libDec.cpuUs / t.tableDec.cpuUs)}x`],
      ['encode', f2(t.tableEnc.cpuUs), f2(t.libEnc.cpuUs), `${f1(t.libEnc.cpuUs / t.tableEnc.cpuUs)}x`],
    ],
  );
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const cpu = cpus();
log(`## Audio path (\`npx tsx bench/audio.ts\`)`);
log();
log(
  `Run ${new Date().toISOString().slice(0, 10)} on ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}. ` +
    `Load average at start ${loadavg().map((x) => x.toFixed(1)).join(' / ')}. ` +
    'CPU = process.cpuUsage (user+system) per iteration, best of 7 runs after warm-up (the machine is shared; other load only adds time). ' +
    'Targets are judged on CPU time; wall time also counts time the process sat preempted by other load, so compare it only between rows of one run.',
);
log();
const path = await pathSection();
await responseSection();
codecSection();
await buildSection();
await memorySection();
await qualitySection();
log(`Summary: ${f2(path.oursUs)} µs per call-frame (target <= ${TARGET.cpuUs}), ${f1(path.naiveUs / path.oursUs)}x cheaper than naive (target >= ${TARGET.naiveRatio}x). Bench took ${((Date.now() - started) / 1000).toFixed(0)} s.`);

writeBenchmarkSection('audio.ts', out);
