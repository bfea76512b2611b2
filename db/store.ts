/**
 * The store interface: everything the rest of the project may ask of the database.
 *
 * Callers see only these interfaces (all async), never SQL or a driver, so a PostgreSQL store
 * can replace the SQLite one without touching them. Rows are VoIPBIN resources as JSON objects.
 */

/** Columns every stored resource has. */
export interface StoredResource {
  id: string;
  customer_id: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
}

/** One page of a newest-first listing; `nextPageToken` is '' on the last page. */
export interface StorePage<T> {
  items: T[];
  nextPageToken: string;
}

export interface ListOptions {
  /** 1..100 */
  pageSize: number;
  /** The `tm_create` of the last item of the previous page. */
  pageToken?: string;
  /** Equality filters on the resource's indexed columns (e.g. `aicall_id`). */
  filters?: Record<string, string>;
}

/** Repository of one resource kind, scoped by customer. Soft-deleted rows are invisible. */
export interface ResourceRepository<T extends StoredResource> {
  insert(row: T, secret?: string): Promise<T>;
  /** The row of `customerId` with `id`, or undefined (missing, deleted, or another customer's). */
  get(customerId: string, id: string): Promise<T | undefined>;
  /** Unscoped lookup for the platform's own engines (never for request handlers). */
  getById(id: string): Promise<T | undefined>;
  /** Replaces the stored row (same id and customer) and returns it. */
  update(row: T, secret?: string): Promise<T>;
  /**
   * Marks the row deleted (sets `tm_delete`) and returns it, or undefined when not found. A
   * secret stored beside the row is erased, not kept.
   */
  softDelete(customerId: string, id: string): Promise<T | undefined>;
  list(customerId: string, options: ListOptions): Promise<StorePage<T>>;
  /** Every live row whose indexed column equals the value, unscoped (platform use). */
  findBy(column: string, value: string): Promise<T[]>;
  /** The write-only secret stored beside the row (e.g. an AI's engine_key), for the platform's runtime only. */
  getSecret(customerId: string, id: string): Promise<string | undefined>;
}

/** A customer's billing account with its balance, debited atomically. */
export interface BillingRepository extends ResourceRepository<BillingAccountRow> {
  getByCustomer(customerId: string): Promise<BillingAccountRow | undefined>;
  /** Subtracts `amount` if the balance covers it; false (and no change) when it does not. */
  debit(customerId: string, amount: number): Promise<boolean>;
  credit(customerId: string, amount: number): Promise<void>;
}

export interface BillingAccountRow extends StoredResource {
  balance_credit: number;
  [key: string]: unknown;
}

export interface AccesskeyRow extends StoredResource {
  name: string;
  detail: string;
  token_prefix: string;
  tm_expire: string;
  [key: string]: unknown;
}

/** Access keys are looked up by the hash of the token, never by the token itself. */
export interface AccesskeyRepository extends ResourceRepository<AccesskeyRow> {
  insertWithHash(row: AccesskeyRow, tokenHash: string): Promise<AccesskeyRow>;
  findByTokenHash(tokenHash: string): Promise<AccesskeyRow | undefined>;
}

/** Small named platform settings. */
export interface SettingsRepository {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

/** A generic resource row: the common columns plus the resource's own fields. */
export type Row = StoredResource & Record<string, unknown>;

/** Everything the platform stores. */
export interface Store {
  customers: ResourceRepository<Row>;
  accesskeys: AccesskeyRepository;
  billingAccounts: BillingRepository;
  ais: ResourceRepository<Row>;
  aicalls: ResourceRepository<Row>;
  aimessages: ResourceRepository<Row>;
  calls: ResourceRepository<Row>;
  flows: ResourceRepository<Row>;
  activeflows: ResourceRepository<Row>;
  messages: ResourceRepository<Row>;
  emails: ResourceRepository<Row>;
  numbers: ResourceRepository<Row>;
  aisummaries: ResourceRepository<Row>;
  transcribes: ResourceRepository<Row>;
  transcripts: ResourceRepository<Row>;
  settings: SettingsRepository;
  close(): Promise<void>;
}
