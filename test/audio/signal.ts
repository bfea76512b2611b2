/**
 * Signal-analysis helpers shared by the audio tests and bench/audio.ts (not a test file).
 * Everything is measured by least-squares fits of sinusoids at known frequencies, which needs no
 * windowing and no integer number of periods.
 */

/** A sine of `freqHz` at `rateHz`, rounded to Int16. `amplitude` is in linear units (0..32767). */
export function tone(samples: number, rateHz: number, freqHz: number, amplitude: number, phaseRad = 0): Int16Array {
  const out = new Int16Array(samples);
  const w = (2 * Math.PI * freqHz) / rateHz;
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin(w * i + phaseRad));
  return out;
}

/** Result of {@link fitSines}. */
export interface SineFit {
  /** Peak amplitude of each requested frequency, in input units. */
  amplitudes: number[];
  /** Mean square of what the fit (sines + DC) does not explain. */
  residualPower: number;
  /** The fitted model (DC + sines) at sample index i. */
  evaluate(i: number): number;
}

/**
 * Least-squares fit of DC plus a sine/cosine pair per frequency over x[start..end).
 * Solves the normal equations (2k+1 unknowns) by Gaussian elimination with partial pivoting.
 */
export function fitSines(x: ArrayLike<number>, start: number, end: number, rateHz: number, freqsHz: number[]): SineFit {
  const k = freqsHz.length * 2 + 1;
  const ata = Array.from({ length: k }, () => new Float64Array(k));
  const atb = new Float64Array(k);
  const row = new Float64Array(k);
  const ws = freqsHz.map((f) => (2 * Math.PI * f) / rateHz);
  for (let i = start; i < end; i++) {
    row[0] = 1;
    for (let j = 0; j < ws.length; j++) {
      row[1 + 2 * j] = Math.sin(ws[j] * i);
      row[2 + 2 * j] = Math.cos(ws[j] * i);
    }
    const v = x[i];
    for (let a = 0; a < k; a++) {
      atb[a] += row[a] * v;
      const ra = row[a];
      const r = ata[a];
      for (let b = 0; b < k; b++) r[b] += ra * row[b];
    }
  }
  const coef = solve(ata, atb);
  const evaluate = (i: number): number => {
    let model = coef[0];
    for (let j = 0; j < ws.length; j++) model += coef[1 + 2 * j] * Math.sin(ws[j] * i) + coef[2 + 2 * j] * Math.cos(ws[j] * i);
    return model;
  };
  let residual = 0;
  for (let i = start; i < end; i++) {
    const e = x[i] - evaluate(i);
    residual += e * e;
  }
  return {
    amplitudes: ws.map((_, j) => Math.hypot(coef[1 + 2 * j], coef[2 + 2 * j])),
    residualPower: residual / (end - start),
    evaluate,
  };
}

function solve(a: Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const m = a.map((r) => Float64Array.from(r));
  const y = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    [y[c], y[p]] = [y[p], y[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      if (f === 0) continue;
      for (let j = c; j < n; j++) m[r][j] -= f * m[c][j];
      y[r] -= f * y[c];
    }
  }
  const out = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = y[r];
    for (let j = r + 1; j < n; j++) s -= m[r][j] * out[j];
    out[r] = s / m[r][r];
  }
  return out;
}

/** SNR in dB of a tone of `freqHz` in x[start..end): best-fit sine power over residual power. */
export function toneSnrDb(x: ArrayLike<number>, start: number, end: number, rateHz: number, freqHz: number): number {
  const fit = fitSines(x, start, end, rateHz, [freqHz]);
  return 10 * Math.log10((fit.amplitudes[0] ** 2 / 2) / fit.residualPower);
}

/** Concatenates Int16Arrays. */
export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Frequencies (Hz, inside the output band) where a tone of `freqHz` resampled from `inRateHz` to
 * `outRateHz` can leave images or aliases, excluding the tone itself: the input spectrum repeats at
 * k * inRate +- f, and whatever lies above the output Nyquist folds back modulo the output rate.
 */
export function spuriousFrequencies(freqHz: number, inRateHz: number, outRateHz: number): number[] {
  const nyquistOut = outRateHz / 2;
  const periods = (inRateHz * outRateHz) / gcd(inRateHz, outRateHz) / inRateHz;
  const fold = (f: number): number => {
    const m = ((f % outRateHz) + outRateHz) % outRateHz;
    return m > nyquistOut ? outRateHz - m : m;
  };
  const out = new Set<number>();
  for (let k = 0; k <= periods; k++) {
    for (const f of [k * inRateHz - freqHz, k * inRateHz + freqHz]) {
      const folded = fold(f);
      // Skip DC/Nyquist (not fittable as a sine) and the wanted tone.
      if (folded > 1 && folded < nyquistOut - 1 && Math.abs(folded - freqHz) > 1) out.add(Math.round(folded * 1000) / 1000);
    }
  }
  return [...out];
}
