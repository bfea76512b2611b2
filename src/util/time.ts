/**
 * VoIPBIN timestamps: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, UTC).
 *
 * Cursor paging uses the last item's `tm_create` as the page token, so two rows of one
 * process must never share a `tm_create`: {@link nowTimestamp} is strictly increasing.
 */

/** The value VoIPBIN uses for "has not happened" (e.g. `tm_delete` of a live resource). */
export const TM_NEVER = '9999-01-01T00:00:00.000000Z';

let lastMicros = 0n;

/** Current time in microseconds since the epoch, strictly increasing within this process. */
export function nowMicros(): bigint {
  // performance.timeOrigin + now() gives sub-millisecond resolution on the wall clock.
  const micros = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  lastMicros = micros > lastMicros ? micros : lastMicros + 1n;
  return lastMicros;
}

/** Formats epoch microseconds as a VoIPBIN timestamp. */
export function formatMicros(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const frac = (micros % 1_000_000n).toString().padStart(6, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

/** A fresh, strictly increasing VoIPBIN timestamp. */
export function nowTimestamp(): string {
  return formatMicros(nowMicros());
}

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** True when `s` has the exact VoIPBIN timestamp shape. */
export function isTimestamp(s: string): boolean {
  return TIMESTAMP_RE.test(s);
}
