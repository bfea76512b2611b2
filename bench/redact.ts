/**
 * Log redaction cost: `redact()` on a typical 300-byte JSON log line with many registered
 * secrets (one engine key per AI), against the previous approach (scan every secret per line
 * with includes + split/join). The cost should depend on the line's length, not on the number
 * of secrets.
 *
 *   npm run bench -- redact
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MAX_SECRETS, redact, registerSecret, registeredSecretCount } from '../src/util/logger.js';

const key = (prefix: string) => prefix + randomBytes(24).toString('base64url');

/** The old redact(): every secret scanned per line. */
function oldRedact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

function lineOf(extra: string): string {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level: 'info',
    msg: 'http',
    method: 'POST',
    url: '/v1.0/calls?page_size=10&accesskey=vbl_0123456789abcdef',
    status: 200,
    ms: 3,
    request_id: 'req_0123456789abcdef01234567',
    call_id: '0b5a3f7e-1111-4222-8333-444455556666',
    note: extra,
  });
  return line.length < 300 ? line.slice(0, -2) + ' '.repeat(300 - line.length) + line.slice(-2) : line;
}

function measure(label: string, fn: () => string, iterations: number): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn(); // warm up
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < iterations; i++) sink += fn().length;
  const perCallMs = (performance.now() - t0) / iterations;
  console.log(`${label.padEnd(62)} ${(perCallMs * 1000).toFixed(2).padStart(9)} µs/line  (${iterations} lines, ${sink > 0 ? 'ok' : ''})`);
  return perCallMs;
}

const secrets: string[] = [];
for (const [n, prefix] of [
  [4000, 'sk-proj-'],
  [3000, 'sk-ant-api03-'],
  [3000, 'vbl_'],
] as const) {
  for (let i = 0; i < n; i++) secrets.push(key(prefix));
}
for (const s of secrets) registerSecret(s);
console.log(`registered secrets: ${registeredSecretCount()} (bound ${MAX_SECRETS})`);

const clean = lineOf('nothing secret here, just an ordinary log line about a call');
const leaky = lineOf(`oops ${secrets[1234]} and ${secrets[9876]}`);
console.log(`line length: ${clean.length} / ${leaky.length} bytes`);

const results = {
  clean: measure(`redact(), ${clean.length}-byte line without a secret, 10,000 secrets`, () => redact(clean), 50_000),
  leaky: measure(`redact(), ${leaky.length}-byte line with 2 secrets, 10,000 secrets`, () => redact(leaky), 50_000),
  oldClean: measure('old per-secret scan, line without a secret, 10,000 secrets', () => oldRedact(clean, secrets), 300),
  oldLeaky: measure('old per-secret scan, line with 2 secrets, 10,000 secrets', () => oldRedact(leaky, secrets), 300),
};
if (redact(leaky).includes(secrets[1234]!) || redact(leaky).includes(secrets[9876]!)) throw new Error('a secret was not redacted');

// At the bound: 100,000 secrets cost the same per line.
for (let i = registeredSecretCount(); i < MAX_SECRETS; i++) registerSecret(key('sk-'));
console.log(`registered secrets: ${registeredSecretCount()}`);
measure(`redact(), ${leaky.length}-byte line with 2 secrets, 100,000 secrets`, () => redact(leaky), 50_000);

const budgetMs = 0.1;
console.log(
  `\nbudget ${budgetMs * 1000} µs/line: ${results.clean < budgetMs && results.leaky < budgetMs ? 'met' : 'NOT met'} ` +
    `(${(results.oldClean / results.clean).toFixed(0)}x faster than the old scan on a clean line)`,
);
