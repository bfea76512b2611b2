/**
 * One database, one live engine: the discovery file `<db>.serve.json`.
 *
 * Live calls, registered phones and media streams exist only in the memory of the process that
 * runs the call engine. Two processes on one SQLite file (a `serve` and an `mcp`) would each run
 * an engine: a phone registered with one never rings for a call placed through the other. So the
 * process that runs the engine on a database (`serve`, or `mcp` when no serve runs) claims the
 * database with this file, and every later process either acts through it over HTTP (`mcp`) or
 * refuses to start (`serve`).
 *
 * The file holds `{version, pid, role, url, customer_id, token}`:
 * - `token` is the owner's per-process internal token (LocalContext.internalToken; sent as the
 *   INTERNAL_TOKEN_HEADER with INTERNAL_CUSTOMER_HEADER = `customer_id`), so a client acts as the
 *   local customer without an access key being created or stored. It is random per process, never
 *   in the database and never logged (registered as a secret), and dies with the process.
 * - The file is created with mode 0600 in the database's directory: whoever can read it can
 *   already read the SQLite file itself (every row, the write-only secrets included), so it
 *   grants nothing the database does not.
 * - It is written to a temporary name and linked into place: the link fails if the file exists,
 *   which makes the claim exclusive (two processes starting at once cannot both own the database),
 *   and a reader never sees half a file.
 * - A file whose pid is dead, or whose URL does not answer as that owner (connection refused, a
 *   different server, a reused pid), is stale and removed.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { INTERNAL_CUSTOMER_HEADER, INTERNAL_TOKEN_HEADER } from './app.js';
import { registerSecret } from '../util/logger.js';
import type { Logger } from '../util/logger.js';

/** Which command owns the database. */
export type OwnerRole = 'serve' | 'mcp';

/** The content of a discovery file. `url` and `token` are '' while the owner is still starting. */
export interface DiscoveryRecord {
  version: 1;
  pid: number;
  role: OwnerRole;
  /** `http://127.0.0.1:port` (a wildcard listen address is written as the loopback one). */
  url: string;
  /** The local customer the token acts for. */
  customer_id: string;
  /** The owner's internal token (see the module comment). */
  token: string;
  /** Random per claim, so an owner removes only its own file. */
  nonce: string;
}

/** Where the discovery file of the database at `dbPath` lives. */
export function discoveryPath(dbPath: string): string {
  return `${dbPath}.serve.json`;
}

/** The database at `dbPath` is run by another live process. */
export class DatabaseInUseError extends Error {
  /** Who owns it (never the token: an error may be logged or shown whole). */
  readonly owner: Pick<DiscoveryRecord, 'pid' | 'role' | 'url'>;

  constructor(owner: DiscoveryRecord, dbPath: string) {
    super(
      owner.url
        ? `the database ${dbPath} is already in use by voipbin-ai ${owner.role} (pid ${owner.pid}) at ${owner.url}: ` +
            `use that server (phones, the REST API and \`voipbin-ai mcp\` all share it), or stop pid ${owner.pid} first`
        : `the database ${dbPath} is being opened by voipbin-ai ${owner.role} (pid ${owner.pid}); ` +
            `wait for it, or stop pid ${owner.pid} (if pid ${owner.pid} is not voipbin-ai, remove ${discoveryPath(dbPath)})`,
    );
    this.name = 'DatabaseInUseError';
    this.owner = { pid: owner.pid, role: owner.role, url: owner.url };
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to another user: alive (and not ours to trust, see read).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The discovery file's record, or undefined when there is none or it cannot be trusted (not
 * valid JSON, not owned by this user, readable by others).
 */
export function readDiscovery(dbPath: string, logger?: Logger): DiscoveryRecord | undefined {
  const path = discoveryPath(dbPath);
  let text: string;
  try {
    // Another user's file could point this process at a server of theirs: only trust our own.
    const st = statSync(path);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      logger?.warn('ignoring a discovery file owned by another user', { path });
      return undefined;
    }
    if ((st.mode & 0o077) !== 0) {
      logger?.warn('ignoring a discovery file readable by other users', { path });
      return undefined;
    }
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as Partial<DiscoveryRecord>;
    if (r.version !== 1 || typeof r.pid !== 'number' || typeof r.url !== 'string' || typeof r.token !== 'string') return undefined;
    registerSecret(r.token);
    return {
      version: 1,
      pid: r.pid,
      role: r.role === 'mcp' ? 'mcp' : 'serve',
      url: r.url,
      customer_id: typeof r.customer_id === 'string' ? r.customer_id : '',
      token: r.token,
      nonce: typeof r.nonce === 'string' ? r.nonce : '',
    };
  } catch {
    return undefined;
  }
}

/** Headers that make a request to the owner act as its local customer. */
export function ownerHeaders(r: DiscoveryRecord): Record<string, string> {
  return { [INTERNAL_TOKEN_HEADER]: r.token, [INTERNAL_CUSTOMER_HEADER]: r.customer_id };
}

/**
 * Whether the owner answers at its URL as itself: `GET /v1.0/customer` with its token returns
 * the local customer (`yes`). A refused connection or any other answer (another program on a
 * reused port, a reused pid) is `no`. `busy` is a timeout: the process is alive and something
 * listens, so it is treated as the owner rather than risk a second engine.
 */
export async function ownerAnswers(r: DiscoveryRecord, timeoutMs = 5000): Promise<'yes' | 'no' | 'busy'> {
  if (!r.url || !r.token) return 'no';
  try {
    const res = await fetch(`${r.url}/v1.0/customer`, { headers: ownerHeaders(r), signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return 'no';
    const body = (await res.json()) as { id?: unknown };
    return body.id === r.customer_id ? 'yes' : 'no';
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'busy' : 'no';
  }
}

function removeIfSame(dbPath: string, nonce: string): void {
  try {
    const now = JSON.parse(readFileSync(discoveryPath(dbPath), 'utf8')) as { nonce?: unknown };
    if (now.nonce === nonce) unlinkSync(discoveryPath(dbPath));
  } catch {
    /* gone already, or unreadable: nothing to remove */
  }
}

export interface FindOwnerOptions {
  /** How long to wait for an owner that is still starting (no URL yet) to publish one. */
  waitStartingMs?: number;
  logger?: Logger;
}

/**
 * The live process that owns the database at `dbPath`, if any. A stale file is removed and
 * undefined returned. An owner still starting is waited for (`waitStartingMs`, default 0): if it
 * has not published its URL by then, its record is returned with `url` ''.
 */
export async function findLiveOwner(dbPath: string, opts: FindOwnerOptions = {}): Promise<DiscoveryRecord | undefined> {
  const deadline = Date.now() + (opts.waitStartingMs ?? 0);
  for (;;) {
    const r = readDiscovery(dbPath, opts.logger);
    if (!r) return undefined;
    if (r.pid === process.pid && !r.url) {
      // Our own claim in progress (tests start servers in one process): never stale, never ours to use.
      return r;
    }
    if (!pidAlive(r.pid)) {
      opts.logger?.info('removing a stale discovery file (its process is gone)', { path: discoveryPath(dbPath), pid: r.pid });
      removeIfSame(dbPath, r.nonce);
      return undefined;
    }
    if (r.url) {
      const answer = await ownerAnswers(r);
      if (answer === 'yes') return r;
      if (answer === 'busy') {
        opts.logger?.warn('the process named by the discovery file is alive but slow to answer; treating it as the owner', { pid: r.pid, url: r.url });
        return r;
      }
      opts.logger?.info('removing a stale discovery file (its URL does not answer)', { path: discoveryPath(dbPath), pid: r.pid, url: r.url });
      removeIfSame(dbPath, r.nonce);
      return undefined;
    }
    if (Date.now() >= deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** This process's claim on a database; see {@link claimDatabase}. */
export interface DatabaseClaim {
  readonly path: string;
  /** Makes the owner reachable: writes its URL, local customer and token into the file. */
  publish(fields: { url: string; customerId: string; token: string }): void;
  /** Removes the file (only if it is still this claim's). Idempotent. */
  release(): void;
}

function writePrivate(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  // The umask can only remove bits from 0600, but be explicit: the file carries a token.
  chmodSync(path, 0o600);
}

/**
 * Claims the database at `dbPath` for this process, or throws {@link DatabaseInUseError} when a
 * live process owns it. A stale file is removed first. Call before opening the call engine (and
 * before recovery, which would otherwise end another process's live calls).
 */
export async function claimDatabase(dbPath: string, role: OwnerRole, logger?: Logger): Promise<DatabaseClaim> {
  const path = discoveryPath(dbPath);
  const nonce = randomBytes(12).toString('hex');
  const base: DiscoveryRecord = { version: 1, pid: process.pid, role, url: '', customer_id: '', token: '', nonce };
  // The claim comes before the database is opened (which would create its folder): on a fresh
  // clone the default `data/` folder does not exist yet.
  mkdirSync(dirname(dbPath), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const owner = await findLiveOwner(dbPath, { logger });
    if (owner) throw new DatabaseInUseError(owner, dbPath);
    const tmp = `${path}.${process.pid}.${nonce}.tmp`;
    writePrivate(tmp, JSON.stringify(base));
    try {
      linkSync(tmp, path); // fails with EEXIST when another process claimed it meanwhile
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!readDiscovery(dbPath) || attempt >= 2) {
        // A file we do not trust (another user's, readable by others, not ours in format) is not
        // removed behind the user's back: say what it is and what to do.
        throw new Error(
          `${path} exists but is not a discovery file this user can trust (owned by another user, readable by others, or not valid); ` +
            'make sure no voipbin-ai runs on this database, then remove it',
        );
      }
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    }
  }
  let released = false;
  return {
    path,
    publish({ url, customerId, token }) {
      if (released) return;
      registerSecret(token);
      const tmp = `${path}.${process.pid}.${nonce}.tmp`;
      writePrivate(tmp, JSON.stringify({ ...base, url, customer_id: customerId, token }));
      renameSync(tmp, path);
    },
    release() {
      if (released) return;
      released = true;
      removeIfSame(dbPath, nonce);
    },
  };
}
