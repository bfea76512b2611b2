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

const secrets = new Set<string>();
/** Shortest value treated as a secret: shorter strings would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Registers a value that must never appear in a log line. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

const QUERY_SECRET_RE = /([?&](?:accesskey|token|api_key|key)=)[^&\s"]*/gi;
const BEARER_RE = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Removes registered secrets, `?accesskey=`-style query values and bearer tokens from text. */
export function redact(text: string): string {
  let out = text.replace(QUERY_SECRET_RE, '$1[redacted]').replace(BEARER_RE, '$1[redacted]');
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('[redacted]');
  }
  return out;
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
