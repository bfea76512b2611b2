/**
 * The one error every wire-protocol parser throws on malformed input.
 *
 * It carries the WebSocket close code (RFC 6455 §7.4.1) and a reason short enough for a close
 * frame, so the connection owner can do `ws.close(err.closeCode, err.message)` without thinking.
 */

/** RFC 6455 close code 1003: a type of data the endpoint cannot accept (unknown kind/event, text frame). */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** RFC 6455 close code 1007: data inconsistent with the message type (malformed packet or JSON). */
export const CLOSE_INVALID_PAYLOAD = 1007;
/** RFC 6455 close code 1009: a message too big to process. */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** The close codes a {@link MediaProtocolError} may carry. */
export type MediaProtocolCloseCode =
  | typeof CLOSE_UNSUPPORTED_DATA
  | typeof CLOSE_INVALID_PAYLOAD
  | typeof CLOSE_MESSAGE_TOO_BIG;

/** Longest close reason in UTF-8 bytes (a close frame allows 123; keep a margin). */
export const MAX_CLOSE_REASON_BYTES = 120;

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number = MAX_CLOSE_REASON_BYTES): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Malformed or unsupported media-stream input. `message` is already cut to
 * {@link MAX_CLOSE_REASON_BYTES} so it can be used as a close-frame reason as is; it never
 * contains payload bytes or secrets, only sizes, kinds and field names.
 */
export class MediaProtocolError extends Error {
  /** The WebSocket close code to answer with: 1003, 1007 or 1009. */
  readonly closeCode: MediaProtocolCloseCode;

  constructor(closeCode: MediaProtocolCloseCode, reason: string) {
    super(truncateUtf8(reason));
    this.name = 'MediaProtocolError';
    this.closeCode = closeCode;
  }
}

/** Shorthand for a 1007 (invalid payload) error. */
export function invalidPayload(reason: string): MediaProtocolError {
  return new MediaProtocolError(CLOSE_INVALID_PAYLOAD, reason);
}

/** Shorthand for a 1003 (unsupported data) error. */
export function unsupportedData(reason: string): MediaProtocolError {
  return new MediaProtocolError(CLOSE_UNSUPPORTED_DATA, reason);
}

/** Shorthand for a 1009 (message too big) error. */
export function messageTooBig(reason: string): MediaProtocolError {
  return new MediaProtocolError(CLOSE_MESSAGE_TOO_BIG, reason);
}
