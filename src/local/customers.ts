import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccesskeyRow, Row, Store } from '../../db/store.js';
import { newId } from '../util/ids.js';
import { TM_NEVER, nowTimestamp } from '../util/time.js';
import { registerSecret } from '../util/logger.js';

/** Only the SHA-256 of an access key is stored; the key itself is shown once at creation. */
export function hashAccessKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random access key. */
export function generateAccessKey(): string {
  return 'vbl_' + randomBytes(24).toString('base64url');
}

/** Constant-time string comparison for bearer tokens. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export interface NewCustomer {
  customer: Row;
  accesskey: AccesskeyRow;
  /** The plaintext key: returned to the caller once, never stored. */
  token: string;
}

/** Creates a customer with a billing account holding `initialBalanceCredit` and one access key. */
export async function createCustomer(
  store: Store,
  opts: { name: string; initialBalanceCredit: number; token?: string },
): Promise<NewCustomer> {
  const now = nowTimestamp();
  const customerId = newId();
  const billingId = newId();
  const customer: Row = {
    id: customerId,
    customer_id: customerId,
    name: opts.name,
    detail: '',
    email: '',
    phone_number: '',
    address: '',
    webhook_method: '',
    webhook_uri: '',
    billing_account_id: billingId,
    metadata: { rtp_debug: false },
    email_verified: false,
    status: 'active',
    identity_verification_status: 'none',
    tm_deletion_scheduled: TM_NEVER,
    tm_create: now,
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  await store.customers.insert(customer);
  await store.billingAccounts.insert({
    id: billingId,
    customer_id: customerId,
    status: 'active',
    name: 'local',
    detail: 'local VoIPBIN billing account',
    plan_type: 'unlimited',
    plan_status: 'active',
    balance_credit: opts.initialBalanceCredit,
    balance_token: 0,
    payment_type: 'prepaid',
    payment_method: '',
    paddle_subscription_id: '',
    paddle_customer_id: '',
    tm_last_topup: TM_NEVER,
    tm_next_topup: TM_NEVER,
    tm_create: now,
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  });
  const { row, token } = await createAccessKey(store, customerId, { name: 'default', detail: 'created at first start', token: opts.token });
  return { customer, accesskey: row, token };
}

/** Creates an access key for a customer; the plaintext `token` is returned once. */
export async function createAccessKey(
  store: Store,
  customerId: string,
  opts: { name?: string; detail?: string; expireSec?: number; token?: string },
): Promise<{ row: AccesskeyRow; token: string }> {
  const token = opts.token ?? generateAccessKey();
  registerSecret(token);
  const now = nowTimestamp();
  const row: AccesskeyRow = {
    id: newId(),
    customer_id: customerId,
    name: opts.name ?? '',
    detail: opts.detail ?? '',
    token_prefix: token.slice(0, 8),
    tm_expire: opts.expireSec ? new Date(Date.now() + opts.expireSec * 1000).toISOString().replace('Z', '000Z') : TM_NEVER,
    tm_create: now,
    tm_update: TM_NEVER,
    tm_delete: TM_NEVER,
  };
  await store.accesskeys.insertWithHash(row, hashAccessKey(token));
  return { row, token };
}

/** Who an access key is: its customer, and the key itself (to end what it opened when it goes). */
export interface AuthenticatedKey {
  customerId: string;
  /** The access key's id (never the token). */
  keyId: string;
  /** The key's `tm_expire` (`TM_NEVER` when it never expires). */
  tmExpire: string;
}

/** The access key a token is, or undefined (unknown, deleted or expired key). */
export async function authenticateKey(store: Store, token: string): Promise<AuthenticatedKey | undefined> {
  const key = await store.accesskeys.findByTokenHash(hashAccessKey(token));
  if (!key) return undefined;
  if (key.tm_expire !== TM_NEVER && key.tm_expire < new Date().toISOString().replace('Z', '000Z')) return undefined;
  return { customerId: key.customer_id, keyId: key.id, tmExpire: key.tm_expire };
}

/** The customer an access key belongs to, or undefined (unknown, deleted or expired key). */
export async function authenticate(store: Store, token: string): Promise<string | undefined> {
  return (await authenticateKey(store, token))?.customerId;
}

/** The setting that names the local customer. */
const LOCAL_CUSTOMER_SETTING = 'local_customer_id';

/**
 * Makes sure the local customer exists. On first start it is created with a new key (or the
 * pinned `VOIPBIN_LOCAL_ACCESSKEY`) and the plaintext key is returned, for printing once. A pinned
 * key that is not known yet is added to the existing local customer.
 */
export async function ensureLocalCustomer(
  store: Store,
  opts: { pinnedKey?: string; initialBalanceCredit: number },
): Promise<{ customerId: string; newToken?: string }> {
  if (opts.pinnedKey) registerSecret(opts.pinnedKey);
  const existingId = await store.settings.get(LOCAL_CUSTOMER_SETTING);
  if (existingId && (await store.customers.get(existingId, existingId))) {
    if (opts.pinnedKey && !(await authenticate(store, opts.pinnedKey))) {
      await createAccessKey(store, existingId, { name: 'pinned', detail: 'VOIPBIN_LOCAL_ACCESSKEY', token: opts.pinnedKey });
      return { customerId: existingId, newToken: opts.pinnedKey };
    }
    return { customerId: existingId };
  }
  const created = await createCustomer(store, {
    name: 'local',
    initialBalanceCredit: opts.initialBalanceCredit,
    token: opts.pinnedKey,
  });
  await store.settings.set(LOCAL_CUSTOMER_SETTING, created.customer.id);
  return { customerId: created.customer.id, newToken: created.token };
}
