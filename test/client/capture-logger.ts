import type { Logger } from '../../src/util/logger.js';

/**
 * A Logger that keeps every line as JSON *without* redaction, so a test can prove the client
 * itself never hands a secret to the logger (the real logger's redaction would hide a leak).
 */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const write = (level: string, msg: string, fields?: Record<string, unknown>): void => {
      lines.push(JSON.stringify({ level, msg, ...base, ...fields }));
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return { logger: make({}), lines };
}
