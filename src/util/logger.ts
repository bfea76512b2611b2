/**
 * A small structured logger that writes one JSON line per event to stderr.
 *
 * stdout is reserved: in `voipbin-ai mcp` it is the MCP protocol channel. Every line passes
 * through {@link redact}, so a secret that was registered with {@link registerSecret} (engine
 * keys, provider keys, access keys) never reaches a log even if a caller logs it by mistake.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Shortest value treated as a secret: shorter strings would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;

/**
 * Most secrets remembered (least recently registered are forgotten first). Each AI's engine key,
 * each provider key and each access key in use is one entry (two or three with its escaped
 * forms), so 100,000 is far above what one process meets, while bounding memory (~10 MB worst
 * case). A forgotten secret is re-registered whenever it is used again (resolving an AI's key
 * registers it), which moves it back to the front.
 */
export const MAX_SECRETS = 100_000;

/**
 * Registered secrets, bucketed by their last {@link MIN_SECRET_LENGTH} characters. One scan of a
 * line looks each window of that length up in the index, so the cost of {@link redact} depends on
 * the line's length, not on how many secrets are registered. Map order is the LRU order.
 */
const secretOrder = new Map<string, true>();
const secretIndex = new Map<string, string[]>();

function indexAdd(s: string): void {
  const k = s.slice(-MIN_SECRET_LENGTH);
  const bucket = secretIndex.get(k);
  if (!bucket) secretIndex.set(k, [s]);
  else {
    bucket.push(s);
    // Longest first: a secret that contains another is redacted whole.
    bucket.sort((a, b) => b.length - a.length);
  }
}

function indexRemove(s: string): void {
  const k = s.slice(-MIN_SECRET_LENGTH);
  const bucket = secretIndex.get(k);
  if (!bucket) return;
  const i = bucket.indexOf(s);
  if (i >= 0) bucket.splice(i, 1);
  if (bucket.length === 0) secretIndex.delete(k);
}

function remember(s: string): void {
  if (secretOrder.has(s)) {
    secretOrder.delete(s);
    secretOrder.set(s, true);
    return;
  }
  secretOrder.set(s, true);
  indexAdd(s);
  while (secretOrder.size > MAX_SECRETS) {
    const oldest = secretOrder.keys().next().value as string;
    secretOrder.delete(oldest);
    indexRemove(oldest);
  }
}

/**
 * Registers a value that must never appear in a log line, with the forms it takes in a log line
 * too: JSON-escaped (lines are JSON) and percent-encoded (URLs).
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  remember(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) remember(escaped);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) remember(encoded);
}

/** How many secrets are registered (tests and the benchmark). */
export function registeredSecretCount(): number {
  return secretOrder.size;
}

/** Names of query parameters whose values are secrets. */
const SECRET_PARAMS = ['accesskey', 'access_key', 'token', 'api_key', 'apikey', 'key', 'secret', 'password'];

/** `a` or its percent-encoding (`%61`), in either case: `access%6Bey=` is `accesskey=` to a server. */
function encodedChar(c: string): string {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
  const lit = /[A-Za-z0-9]/.test(c) ? c : `\\${c}`;
  return `(?:${lit}|%${hex})`;
}

/**
 * `?accesskey=...` and friends, decode-aware: the separator (`?`, `&`, `%3F`, `%26`), each letter
 * of the name (literal or `%XX`, any case) and the `=` (or `%3D`) may each be percent-encoded.
 */
const QUERY_SECRET_RE = new RegExp(
  `((?:[?&]|%3F|%26)(?:${SECRET_PARAMS.map((n) => [...n].map(encodedChar).join('')).join('|')})(?:=|%3D))[^&\\s"]*`,
  'gi',
);
const BEARER_RE = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Replaces every registered secret in `text` with `[redacted]` (one pass over the text). */
function redactSecrets(text: string): string {
  if (secretIndex.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
  let spans: [number, number][] | undefined;
  for (let end = MIN_SECRET_LENGTH; end <= text.length; end++) {
    const bucket = secretIndex.get(text.slice(end - MIN_SECRET_LENGTH, end));
    if (!bucket) continue;
    for (const s of bucket) {
      const start = end - s.length;
      if (start >= 0 && text.startsWith(s, start)) {
        (spans ??= []).push([start, end]);
        break; // the bucket is longest first
      }
    }
  }
  if (!spans) return text;
  // Overlapping secrets (one inside or across another) become one redacted span.
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let copied = 0;
  let spanEnd = -1;
  for (const [start, end] of spans) {
    if (start < spanEnd) {
      spanEnd = Math.max(spanEnd, end);
      continue;
    }
    if (spanEnd >= 0) {
      out += '[redacted]';
      copied = spanEnd;
    }
    out += text.slice(copied, start);
    copied = start;
    spanEnd = end;
  }
  return out + '[redacted]' + text.slice(spanEnd);
}

/** Removes registered secrets, `?accesskey=`-style query values and bearer tokens from text. */
export function redact(text: string): string {
  return redactSecrets(text.replace(QUERY_SECRET_RE, '$1[redacted]').replace(BEARER_RE, '$1[redacted]'));
}

export type LogSink = (line: string) => void;

let defaultSink: LogSink = (line) => process.stderr.write(line + '\n');

/** Replaces where log lines go (tests capture them to prove secrets never appear). */
export function setLogSink(sink: LogSink): LogSink {
  const prev = defaultSink;
  defaultSink = sink;
  return prev;
}

/** Creates a logger at `level` (default from `LOG_LEVEL`, else `info`). */
export function createLogger(
  level: LogLevel = (process.env.LOG_LEVEL as LogLevel) ?? 'info',
  base: Record<string, unknown> = {},
): Logger {
  const min = LEVELS[level] ?? LEVELS.info;
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < min) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields });
    defaultSink(redact(line));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}
