/**
 * L16 (16-bit linear PCM) byte helpers.
 *
 * Media streams carry L16 as bytes: little-endian for VoIPBIN `slin`/audiosocket-style payloads,
 * big-endian ("network order", RFC 3551 L16) for RTP. Inside the process audio is Int16Array in host
 * order. On a little-endian host (every platform Node ships for in practice) an aligned
 * little-endian byte buffer can be viewed as Int16Array without copying; an unaligned one (a Buffer
 * sliced at an odd offset, e.g. after a 1-byte header) cannot, so it is copied into a caller-owned
 * array.
 */

/** True when the host stores Int16Array little-endian, so LE bytes can be viewed without swapping. */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x02;

function checkEven(byteLength: number): void {
  if ((byteLength & 1) !== 0) throw new RangeError(`l16: odd byte length ${byteLength}; L16 needs 2 bytes per sample`);
}

function checkRoom(needed: number, have: number, what: string): void {
  if (needed > have) throw new RangeError(`l16: ${what} holds ${have}, needs ${needed}`);
}

/**
 * A zero-copy Int16Array view of little-endian L16 bytes, or `undefined` when a view is impossible
 * (odd byte offset, or a big-endian host). Aliases `bytes`: it changes when they do.
 */
export function viewL16Le(bytes: Uint8Array): Int16Array | undefined {
  checkEven(bytes.byteLength);
  if (!HOST_IS_LITTLE_ENDIAN || (bytes.byteOffset & 1) !== 0) return undefined;
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
}

/**
 * Copies little-endian L16 bytes into `dst` (host order). Works at any alignment.
 * @returns the number of samples written (`bytes.length / 2`).
 */
export function l16LeToInt16(bytes: Uint8Array, dst: Int16Array): number {
  checkEven(bytes.byteLength);
  const n = bytes.byteLength >> 1;
  checkRoom(n, dst.length, 'dst');
  // (hi << 24) >> 16 sign-extends the high byte without a branch.
  for (let i = 0, j = 0; i < n; i++, j += 2) dst[i] = (bytes[j + 1] << 24) >> 16 | bytes[j];
  return n;
}

/**
 * Little-endian L16 bytes as Int16Array: a zero-copy view when aligned, otherwise a copy into
 * `scratch` (which must hold `bytes.length / 2` samples). Both results are only valid until
 * `bytes` or `scratch` is reused.
 */
export function l16LeAsInt16(bytes: Uint8Array, scratch: Int16Array): Int16Array {
  const view = viewL16Le(bytes);
  if (view) return view;
  const n = l16LeToInt16(bytes, scratch);
  return n === scratch.length ? scratch : scratch.subarray(0, n);
}

/**
 * A zero-copy little-endian byte view of `samples` (a Buffer over the same memory) on a
 * little-endian host; on a big-endian host, a swapped copy.
 */
export function int16AsL16Le(samples: Int16Array): Buffer {
  if (HOST_IS_LITTLE_ENDIAN) return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = Buffer.allocUnsafe(samples.byteLength);
  int16ToL16Le(samples, out);
  return out;
}

/**
 * Writes `n` (default all) samples as little-endian L16 bytes into `dst` (any alignment).
 * @returns the number of bytes written.
 */
export function int16ToL16Le(src: Int16Array, dst: Uint8Array, n: number = src.length): number {
  checkRoom(n, src.length, 'src');
  checkRoom(n * 2, dst.byteLength, 'dst');
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    const s = src[i];
    dst[j] = s & 0xff;
    dst[j + 1] = (s >> 8) & 0xff;
  }
  return n * 2;
}

/**
 * Copies big-endian (network order) L16 bytes into `dst` (host order).
 * @returns the number of samples written.
 */
export function l16BeToInt16(bytes: Uint8Array, dst: Int16Array): number {
  checkEven(bytes.byteLength);
  const n = bytes.byteLength >> 1;
  checkRoom(n, dst.length, 'dst');
  for (let i = 0, j = 0; i < n; i++, j += 2) dst[i] = (bytes[j] << 24) >> 16 | bytes[j + 1];
  return n;
}

/**
 * Writes `n` (default all) samples as big-endian (network order) L16 bytes into `dst`.
 * @returns the number of bytes written.
 */
export function int16ToL16Be(src: Int16Array, dst: Uint8Array, n: number = src.length): number {
  checkRoom(n, src.length, 'src');
  checkRoom(n * 2, dst.byteLength, 'dst');
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    const s = src[i];
    dst[j] = (s >> 8) & 0xff;
    dst[j + 1] = s & 0xff;
  }
  return n * 2;
}

/** Swaps each byte pair in place (LE <-> BE L16). */
export function swapL16InPlace(bytes: Uint8Array): void {
  checkEven(bytes.byteLength);
  for (let j = 0; j < bytes.length; j += 2) {
    const t = bytes[j];
    bytes[j] = bytes[j + 1];
    bytes[j + 1] = t;
  }
}
