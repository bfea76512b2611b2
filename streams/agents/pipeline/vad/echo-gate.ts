/**
 * The echo gate: tells the line echo of our own voice (what the agent plays, coming back on the
 * caller's channel) from the caller, so our echo never opens a turn or barges in.
 *
 * Cheap by design — no per-sample cross-correlation over long lags: it works on per-frame energy
 * envelopes (one level in dB per 20 ms frame). The agent tells it what it plays
 * ({@link EchoGate.reference}) and asks about every caller frame ({@link EchoGate.isEcho}).
 *
 * The rule, for the caller frame at tick t with level `in[t]` (dBFS), with `ref[t-l]` our level
 * l frames earlier:
 *
 * 1. No reference: if our level stayed below `refActiveDbfs` over the whole lag window
 *    (0..`maxLagMs`), the frame is not echo (we were silent, there is nothing to echo).
 * 2. It is echo when, at some lag l in 0..maxLagMs:
 *    a. the level is explained by ours at that lag attenuated by at least `minEchoLossDb`:
 *       `in[t] ≤ max(ref[t-l], ref[t-l-1]) − minEchoLossDb` (two neighbours, as an echo delay is
 *       not a whole number of frames), and
 *    b. the caller-side envelope over the last `correlationMs` (400 ms) follows ours at that
 *       lag: Pearson correlation of the dB envelopes `in[t-k]` and `ref[t-l-k]`,
 *       k < correlationMs / 20 ms, ≥ `minCorrelation` (0.7), and
 *    c. it stays a steady distance below ours over that span (spread ≤ `maxResidualStdDb`).
 *
 * 3. Once rule 2 has found the echo, its path (the lag, and the loss, smoothed) is remembered for
 *    `pathHoldMs`: a frame whose level is at most the echo that path predicts plus
 *    `pathMarginDb` is echo even while the correlation window is disturbed — after a cough or a
 *    click over our voice, the 400 ms envelope no longer follows ours, but the echo under it is
 *    still only our voice. (An echo canceller's double-talk detector compares with the predicted
 *    echo the same way.) Anything louder than the prediction (the caller) is not echo.
 *
 * So the echo of our voice, 10..20 dB down after 0..300 ms, is echo (its envelope is ours,
 * shifted and scaled); a caller talking over us at a normal level is not (louder than our level −
 * minEchoLossDb, and anyway their envelope does not follow ours); double talk (caller plus our
 * echo) is not (the caller dominates level and envelope); with no reference nothing is echo.
 * Levels below `floorDbfs` are clamped to it, so line noise does not drive the correlation.
 *
 * Time: one {@link EchoGate.isEcho} call is one tick (a 20 ms frame). Call `reference()` with the
 * frame of ours being played at that tick (or not at all, or with silence, when we are quiet)
 * BEFORE `isEcho()` for the caller frame of the same tick: lag 0 is then "played this tick".
 * Several `reference()` calls in one tick add up. No allocation per frame.
 */
import { INT16_FULL_SCALE_DB } from './volume.js';

/** Options of {@link EchoGate}. */
export interface EchoGateOptions {
  /** Least attenuation of our voice for caller audio to count as its echo (default 6 dB). */
  minEchoLossDb?: number;
  /** Longest echo delay searched (default 400 ms). */
  maxLagMs?: number;
  /**
   * Envelope span the correlation is measured over (default 400 ms: measured against 200 and
   * 300 ms on espeak speech, it lets 84 % of a caller's voiced frames over our voice through
   * instead of 67 %, with the same echo leakage, well under 1 %).
   */
  correlationMs?: number;
  /** Least Pearson correlation of the envelopes (default 0.7). */
  minCorrelation?: number;
  /** Our level below which we count as silent (default -55 dBFS). */
  refActiveDbfs?: number;
  /** Levels are clamped up to this (default -70 dBFS). */
  floorDbfs?: number;
  /** Duration of one tick (default 20 ms). */
  frameMs?: number;
  /** How long a found echo path is trusted without a new correlated match (default 3000 ms; 0: rule 3 off). */
  pathHoldMs?: number;
  /** How far above the path's predicted echo a frame may be and still be echo (default 4 dB). */
  pathMarginDb?: number;
  /** Largest spread of the caller's level below ours over the correlation span, dB (default 6). */
  maxResidualStdDb?: number;
}

/** Neighbouring reference levels further apart than this mark a syllable edge (see steadyLoss). */
const EDGE_DB = 6;

function levelDbfs(frame: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < frame.length; i++) sum += frame[i] * frame[i];
  return sum === 0 ? -Infinity : 10 * Math.log10(sum / frame.length) - INT16_FULL_SCALE_DB;
}

/** Echo detector for one call; see the module comment for the rule. */
export class EchoGate {
  readonly minEchoLossDb: number;
  readonly minCorrelation: number;
  readonly refActiveDbfs: number;
  readonly floorDbfs: number;
  private readonly maxLag: number;
  private readonly corrN: number;
  /** Our power (mean square, int16 units) this tick, summed over its reference() calls. */
  private refPower = 0;
  /** Our level per tick in dBFS (clamped), newest first: index l = l ticks ago. */
  private readonly refDb: Float64Array;
  /** Caller level per tick in dBFS (clamped), newest first. */
  private readonly inDb: Float64Array;
  /** The caller envelope minus its mean, this tick (scratch). */
  private readonly inCentered: Float64Array;
  private echoFrames = 0;
  private frames = 0;
  private readonly pathHold: number;
  private readonly maxResidualVar: number;
  private readonly pathMarginDb: number;
  /** The echo path rule 2 last found: its lag in ticks (-1: none), its loss in dB, its age in ticks. */
  private pathLag = -1;
  private pathLossDb = 0;
  private pathAge = 0;

  constructor(options: EchoGateOptions = {}) {
    const frameMs = options.frameMs ?? 20;
    this.minEchoLossDb = options.minEchoLossDb ?? 6;
    this.minCorrelation = options.minCorrelation ?? 0.7;
    this.refActiveDbfs = options.refActiveDbfs ?? -55;
    this.floorDbfs = options.floorDbfs ?? -70;
    this.maxLag = Math.max(0, Math.round((options.maxLagMs ?? 400) / frameMs));
    this.corrN = Math.max(3, Math.round((options.correlationMs ?? 400) / frameMs));
    this.pathHold = Math.max(0, Math.round((options.pathHoldMs ?? 3000) / frameMs));
    this.pathMarginDb = options.pathMarginDb ?? 4;
    const std = options.maxResidualStdDb ?? 6;
    this.maxResidualVar = std * std;
    // Lags up to maxLag + 1 (the neighbour), each over corrN ticks of history.
    this.refDb = new Float64Array(this.maxLag + this.corrN + 1).fill(this.floorDbfs);
    this.inDb = new Float64Array(this.corrN).fill(this.floorDbfs);
    this.inCentered = new Float64Array(this.corrN);
  }

  /** Caller frames asked about so far. */
  get framesChecked(): number {
    return this.frames;
  }

  /** Of those, the ones found to be echo. */
  get framesEcho(): number {
    return this.echoFrames;
  }

  /** A frame of our audio (8 kHz) being played in the current tick. */
  reference(frame8k: Int16Array): void {
    if (frame8k.length === 0) return;
    let sum = 0;
    for (let i = 0; i < frame8k.length; i++) sum += frame8k[i] * frame8k[i];
    this.refPower += sum / frame8k.length;
    const db = this.refPower === 0 ? -Infinity : 10 * Math.log10(this.refPower) - INT16_FULL_SCALE_DB;
    this.refDb[0] = db > this.floorDbfs ? db : this.floorDbfs;
  }

  /** Whether this caller frame (8 kHz) is the echo of our audio; ends the tick. */
  isEcho(inbound8k: Int16Array): boolean {
    // The histories are short (tens of values), so shifting them each tick costs less than ring
    // index arithmetic in the lag loop, and keeps that loop plain.
    const inDb = this.inDb;
    inDb.copyWithin(1, 0, inDb.length - 1);
    const raw = levelDbfs(inbound8k);
    inDb[0] = raw > this.floorDbfs ? raw : this.floorDbfs;
    const echo = this.judge();
    this.frames++;
    if (echo) this.echoFrames++;
    // Next tick: its reference starts silent.
    this.refDb.copyWithin(1, 0, this.refDb.length - 1);
    this.refDb[0] = this.floorDbfs;
    this.refPower = 0;
    return echo;
  }

  /** Forgets all history; the next ticks start from silence. */
  reset(): void {
    this.refPower = 0;
    this.refDb.fill(this.floorDbfs);
    this.inDb.fill(this.floorDbfs);
    this.pathLag = -1;
  }

  private judge(): boolean {
    this.pathAge++;
    if (this.correlated()) return true;
    // Rule 3: the echo the remembered path predicts.
    const l = this.pathLag;
    if (l < 0 || this.pathAge > this.pathHold) return false;
    const { refDb } = this;
    const level = this.inDb[0];
    const ref = refDb[l] > refDb[l + 1] ? refDb[l] : refDb[l + 1];
    return ref >= this.refActiveDbfs && level <= ref - this.pathLossDb + this.pathMarginDb && level <= ref - this.minEchoLossDb;
  }

  /**
   * Whether the caller envelope sits a steady distance below ours at lag `l`: the spread (standard
   * deviation, dB) of `in[t-k] − max(ref[t-l-k], ref[t-l-k-1])` over the frames where both are
   * above the floor is at most `maxResidualStdDb`. Pearson alone ignores scale and offset, so two
   * different voices of the same rhythm (the caller over us) can correlate by chance at one of
   * the 20 lags; the echo of our voice also keeps its level relative to ours.
   */
  private steadyLoss(l: number): boolean {
    const { corrN, refDb, inDb } = this;
    const floor = this.floorDbfs + 3;
    let n = 0;
    let sum = 0;
    let sum2 = 0;
    for (let k = 0; k < corrN; k++) {
      const a = refDb[l + k];
      const b = refDb[l + k + 1] ?? a;
      const ref = a > b ? a : b;
      const x = inDb[k];
      // Frames at a syllable edge (ours jumps between neighbours) say little about the loss: a
      // delay that is not a whole number of frames mixes the two.
      if (ref < this.refActiveDbfs || x < floor || a - b > EDGE_DB || b - a > EDGE_DB) continue;
      const d = x - ref;
      n++;
      sum += d;
      sum2 += d * d;
    }
    // Too few frames to tell (the start of our speech): no veto, the correlation decides.
    if (n < 3) return true;
    const mean = sum / n;
    return sum2 / n - mean * mean <= this.maxResidualVar;
  }

  /** Rules 1 and 2; a match remembers its path. */
  private correlated(): boolean {
    const { maxLag, corrN, refDb, inDb, inCentered } = this;
    const level = inDb[0];

    // Rule 1: were we audible at all in the lag window?
    let maxRef = -Infinity;
    for (let l = 0; l <= maxLag + 1; l++) if (refDb[l] > maxRef) maxRef = refDb[l];
    if (maxRef < this.refActiveDbfs) return false;
    // Louder than our loudest minus the least loss: the caller, whatever the lag.
    if (level > maxRef - this.minEchoLossDb) return false;

    let mean = 0;
    for (let k = 0; k < corrN; k++) mean += inDb[k];
    mean /= corrN;
    let sxx = 0;
    for (let k = 0; k < corrN; k++) {
      const x = inDb[k] - mean;
      inCentered[k] = x;
      sxx += x * x;
    }
    // A flat envelope (steady noise, silence) follows nothing.
    if (sxx < 1e-6) return false;

    const need2 = this.minCorrelation * this.minCorrelation;
    for (let l = 0; l <= maxLag; l++) {
      const a = refDb[l];
      const b = refDb[l + 1];
      if (level > (a > b ? a : b) - this.minEchoLossDb) continue;
      let sy = 0;
      for (let k = 0; k < corrN; k++) sy += refDb[l + k];
      const my = sy / corrN;
      let syy = 0;
      let sxy = 0;
      for (let k = 0; k < corrN; k++) {
        const y = refDb[l + k] - my;
        syy += y * y;
        sxy += inCentered[k] * y;
      }
      // Pearson ≥ minCorrelation, without the square root; and the level follows ours with a
      // steady loss (see maxResidualStdDb).
      if (syy > 1e-6 && sxy > 0 && sxy * sxy >= need2 * sxx * syy && this.steadyLoss(l)) {
        const loss = (a > b ? a : b) - level;
        this.pathLossDb = this.pathLag === l && this.pathAge <= this.pathHold ? this.pathLossDb * 0.8 + loss * 0.2 : loss;
        this.pathLag = l;
        this.pathAge = 0;
        return true;
      }
    }
    return false;
  }
}
