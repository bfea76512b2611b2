/**
 * Frame loudness on Pipecat's 0..1 "volume" scale, which `vad_config.min_volume` is expressed in.
 *
 * Pipecat computes pyloudnorm's integrated loudness (ITU-R BS.1770: K-weighted, gated LUFS) of the
 * raw int16 sample values — not normalised to ±1, so the figure sits 20·log10(32768) ≈ 90.3 dB
 * above LUFS — maps it linearly from [-20, 80] to [0, 1] (clamped) and smooths it exponentially
 * with factor 0.2 per analysis window. So min_volume 0.6 means about -50 LUFS.
 *
 * This is an approximation: plain RMS in dBFS stands in for K-weighted LUFS (no shelf/high-pass
 * pre-filter, no 400 ms gating blocks). On band-limited 8 kHz phone speech the two differ by a few
 * dB at most, well inside the tolerance a 0..1 threshold like min_volume is set with, and RMS costs
 * one pass over the samples with no filter state.
 */

/** dB from int16 RMS to dBFS: 20·log10(32768). */
export const INT16_FULL_SCALE_DB = 20 * Math.log10(32768);
/** Pipecat's loudness range mapped to volume 0..1 (in dB of raw int16 values, i.e. dBFS + 90.3). */
export const VOLUME_MIN_DB = -20;
export const VOLUME_MAX_DB = 80;
/** Pipecat's exponential smoothing factor (weight of the newest window). */
export const VOLUME_SMOOTHING = 0.2;

/**
 * RMS level of `samples[start, start + length)` in dBFS (0 dBFS = RMS of 32768). Digital silence
 * gives -Infinity.
 */
export function rmsDbfs(samples: Int16Array, start = 0, length = samples.length - start): number {
  let sum = 0;
  const end = start + length;
  for (let i = start; i < end; i++) {
    const s = samples[i];
    sum += s * s;
  }
  if (sum === 0 || length <= 0) return -Infinity;
  return 10 * Math.log10(sum / length) - INT16_FULL_SCALE_DB;
}

/** Maps an RMS level in dBFS to Pipecat's 0..1 volume (clamped). */
export function volumeFromDbfs(dbfs: number): number {
  const v = (dbfs + INT16_FULL_SCALE_DB - VOLUME_MIN_DB) / (VOLUME_MAX_DB - VOLUME_MIN_DB);
  return v <= 0 || Number.isNaN(v) ? 0 : v >= 1 ? 1 : v;
}

/** The RMS level in dBFS a volume corresponds to (inverse of {@link volumeFromDbfs}). */
export function dbfsFromVolume(volume: number): number {
  return VOLUME_MIN_DB + volume * (VOLUME_MAX_DB - VOLUME_MIN_DB) - INT16_FULL_SCALE_DB;
}

/**
 * Unsmoothed volume (0..1) of one frame or window of int16 samples; see the module comment for
 * the mapping and how it approximates Pipecat's.
 */
export function frameVolume(frame: Int16Array): number {
  return volumeFromDbfs(rmsDbfs(frame));
}

/** Exponential smoother: `value += factor · (x − value)`, starting at 0 (as Pipecat's). */
export class VolumeSmoother {
  private current = 0;

  /** @param factor weight of the newest value, 0 < factor ≤ 1 (default Pipecat's 0.2). */
  constructor(readonly factor = VOLUME_SMOOTHING) {
    if (!(factor > 0 && factor <= 1)) throw new RangeError(`volume: smoothing factor must be in (0, 1], got ${factor}`);
  }

  /** The smoothed value so far. */
  get value(): number {
    return this.current;
  }

  /** Folds in the next unsmoothed volume and returns the smoothed one. */
  update(volume: number): number {
    this.current += this.factor * (volume - this.current);
    return this.current;
  }

  /** Back to 0. */
  reset(): void {
    this.current = 0;
  }
}
