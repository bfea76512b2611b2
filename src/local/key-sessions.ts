/**
 * What an access key opened beyond single requests: upgraded WebSockets (local phones,
 * media streams) and MCP HTTP sessions. Every HTTP request re-checks its key, but a socket or
 * an MCP session outlives the check made when it opened; without this registry a deleted or
 * expired key would keep a phone ringing and a stream flowing for as long as the client likes.
 *
 * Each long-lived session binds itself to the id of the key that authenticated it, with the
 * code that ends it. `DELETE /v1.0/accesskeys/{id}` revokes the key's sessions at once, and a
 * timer at the key's `tm_expire` revokes them when it expires.
 */
import type { Logger } from '../util/logger.js';
import { TM_NEVER } from '../util/time.js';

/** Why a key's sessions end. */
export type KeyRevocation = 'deleted' | 'expired';

/** The access key a session was opened with. */
export interface KeyRef {
  /** The access key's id (never the token). */
  keyId: string;
  /** The key's `tm_expire` (`TM_NEVER` when it never expires). */
  tmExpire: string;
}

/** Ends one session; it may finish in the background (a phone ends its call, then closes). */
export type SessionEnder = (cause: KeyRevocation) => void | Promise<void>;

/**
 * The largest delay `setTimeout` accepts (about 24.8 days). A longer one fires at once, so a
 * key that expires in 30 days waits in steps and the timer is re-armed until the key is due.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The text a client is told when its key ends its session (a WebSocket close reason, a log line). */
export function revocationMessage(cause: KeyRevocation): string {
  return cause === 'deleted' ? 'the access key was deleted' : 'the access key expired';
}

/** Epoch milliseconds of a VoIPBIN timestamp; Infinity for `TM_NEVER` or an unreadable value. */
function expiryMs(tmExpire: string): number {
  if (!tmExpire || tmExpire === TM_NEVER) return Infinity;
  const ms = Date.parse(tmExpire);
  return Number.isFinite(ms) ? ms : Infinity;
}

interface KeyEntry {
  enders: Set<SessionEnder>;
  expireAt: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** The registry of sessions per access key id (one per process, on the LocalContext). */
export class KeySessions {
  private readonly byKey = new Map<string, KeyEntry>();
  /**
   * Ids of keys deleted while this process runs. A session that authenticated just before the
   * delete but binds just after it is ended at once instead of outliving its key. Ids are UUIDs
   * and a deleted key never comes back, so the set only grows by one per deleted key.
   */
  private readonly deleted = new Set<string>();
  private readonly logger: Logger | undefined;

  constructor(opts: { logger?: Logger } = {}) {
    this.logger = opts.logger;
  }

  /**
   * Binds a session to the key that opened it; `end` runs when the key is deleted or expires.
   * Returns the unbind, to call when the session ends on its own. A key that is already
   * deleted or expired ends the session on the next tick.
   */
  bind(key: KeyRef, end: SessionEnder): () => void {
    const expireAt = expiryMs(key.tmExpire);
    const late: KeyRevocation | undefined = this.deleted.has(key.keyId) ? 'deleted' : expireAt <= Date.now() ? 'expired' : undefined;
    if (late) {
      queueMicrotask(() => void this.runEnder(key.keyId, end, late));
      return () => undefined;
    }
    let entry = this.byKey.get(key.keyId);
    if (!entry) {
      entry = { enders: new Set(), expireAt };
      this.byKey.set(key.keyId, entry);
      this.arm(key.keyId, entry);
    }
    entry.enders.add(end);
    return () => {
      const e = this.byKey.get(key.keyId);
      if (!e) return;
      e.enders.delete(end);
      if (e.enders.size === 0) this.drop(key.keyId, e);
    };
  }

  /**
   * Ends every session of `keyId` (its key was deleted, or expired) and resolves when each has
   * finished ending. Returns how many sessions there were.
   */
  async revoke(keyId: string, cause: KeyRevocation): Promise<number> {
    if (cause === 'deleted') this.deleted.add(keyId);
    const entry = this.byKey.get(keyId);
    if (!entry) return 0;
    this.drop(keyId, entry);
    const enders = [...entry.enders];
    await Promise.all(enders.map((end) => this.runEnder(keyId, end, cause)));
    if (enders.length > 0) this.logger?.info('access key sessions ended', { key_id: keyId, why: cause, sessions: enders.length });
    return enders.length;
  }

  /** How many sessions are bound to `keyId` now. */
  count(keyId: string): number {
    return this.byKey.get(keyId)?.enders.size ?? 0;
  }

  /** Stops every expiry timer (shutdown); bound sessions are left to their owners to close. */
  close(): void {
    for (const [id, e] of this.byKey) this.drop(id, e);
  }

  private drop(keyId: string, entry: KeyEntry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (this.byKey.get(keyId) === entry) this.byKey.delete(keyId);
  }

  private arm(keyId: string, entry: KeyEntry): void {
    if (entry.expireAt === Infinity) return;
    const wait = Math.max(0, Math.min(entry.expireAt - Date.now(), MAX_TIMER_MS));
    entry.timer = setTimeout(() => {
      if (this.byKey.get(keyId) !== entry) return;
      // A far expiry waits in capped steps: re-arm until the key is really due.
      if (Date.now() < entry.expireAt) return this.arm(keyId, entry);
      void this.revoke(keyId, 'expired');
    }, wait);
    // An expiry far ahead must not keep the process alive.
    entry.timer.unref?.();
  }

  private async runEnder(keyId: string, end: SessionEnder, cause: KeyRevocation): Promise<void> {
    try {
      await end(cause);
    } catch (err) {
      this.logger?.error('ending a session of an access key failed', { key_id: keyId, why: cause, error: String(err) });
    }
  }
}
