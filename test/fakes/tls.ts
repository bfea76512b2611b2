/**
 * A self-signed TLS certificate for loopback fakes, made at test time with the `openssl` CLI.
 *
 * Why: the OpenAI Realtime client (`OpenAIRealtimeWS`) always dials `wss:` (it rewrites the base
 * URL's scheme), so a fake of the Realtime API on 127.0.0.1 must serve TLS.
 *
 * How a client trusts it:
 * - A **spawned** Node process (e.g. `voipbin-ai serve` in a black-box test): start it with
 *   `NODE_EXTRA_CA_CERTS=<certPath>` in its environment. Node reads that variable once, at
 *   process start, so setting `process.env.NODE_EXTRA_CA_CERTS` inside a running process has no
 *   effect on that process.
 * - **In-process** code: pass the PEM as `ca` in the `ws` client options; `OpenAIRealtimeWS`
 *   forwards `props.options` (a `ws` `ClientOptions`, which extends Node's TLS
 *   `SecureContextOptions`) to `new WebSocket(url, options)`. `connectRealtime({ ca })` does this.
 *
 * The certificate is a self-signed CA:TRUE certificate with `subjectAltName = IP:127.0.0.1,
 * DNS:localhost`, so hostname verification passes for both names without `rejectUnauthorized:
 * false` anywhere.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  /** PEM private key (for the server). */
  key: string;
  /** PEM certificate (for the server, and as the client's `ca`). */
  cert: string;
  /** File holding `cert`: the value for a spawned process's `NODE_EXTRA_CA_CERTS`. */
  certPath: string;
  /** The temp directory holding both files. */
  dir: string;
}

let cached: TestTls | undefined;

/**
 * Returns this process's test certificate, generating it on first use (one `openssl` run per
 * test worker). The files live in a temp directory removed when the process exits.
 */
export function testTls(): TestTls {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'voipbin-ai-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
        '-addext', 'extendedKeyUsage=serverAuth',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`could not make a test certificate with openssl${stderr ? `: ${stderr}` : ''}`);
  }
  cached = { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath, dir };
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return cached;
}
