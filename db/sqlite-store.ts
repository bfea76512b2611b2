import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './connection.js';
import { openDatabase } from './connection.js';
import type {
  AccesskeyRepository,
  AccesskeyRow,
  BillingAccountRow,
  BillingRepository,
  ListOptions,
  ResourceRepository,
  Row,
  SettingsRepository,
  Store,
  StoredResource,
  StorePage,
} from './store.js';
import { TM_NEVER, nowTimestamp } from '../src/util/time.js';

/** How a resource kind maps onto its table. */
interface TableSpec {
  table: string;
  /** Row fields copied into columns of the same name, for filtering. */
  indexColumns: readonly string[];
  /** True when the table has a `secret` column for a write-only value. */
  hasSecret?: boolean;
  /** Column values that are not row fields, supplied at insert. */
  extraInsertColumns?: readonly string[];
}

interface DbRow {
  data: string;
  tm_delete: string;
  [column: string]: unknown;
}

const COMMON = ['id', 'customer_id', 'tm_create', 'tm_update', 'tm_delete'] as const;

/** A ResourceRepository over one table; the resource itself lives in `data` as JSON. */
class SqliteRepository<T extends StoredResource> implements ResourceRepository<T> {
  protected readonly db: SqliteDatabase;
  protected readonly spec: TableSpec;
  private readonly stmts: {
    get: Database.Statement;
    getById: Database.Statement;
    secret?: Database.Statement;
  };

  constructor(db: SqliteDatabase, spec: TableSpec) {
    this.db = db;
    this.spec = spec;
    this.stmts = {
      get: db.prepare(`SELECT * FROM ${spec.table} WHERE id = ? AND customer_id = ? AND tm_delete = ?`),
      getById: db.prepare(`SELECT * FROM ${spec.table} WHERE id = ? AND tm_delete = ?`),
      secret: spec.hasSecret
        ? db.prepare(`SELECT secret FROM ${spec.table} WHERE id = ? AND customer_id = ? AND tm_delete = ?`)
        : undefined,
    };
  }

  /** Turns a stored row back into the resource, letting subclasses merge column-held fields. */
  protected decode(r: DbRow): T {
    return JSON.parse(r.data) as T;
  }

  /** The JSON stored in `data`: the row minus anything held in a dedicated column. */
  protected encode(row: T): string {
    return JSON.stringify(row);
  }

  protected insertColumns(row: T, extra: Record<string, unknown>): Record<string, unknown> {
    const cols: Record<string, unknown> = {};
    for (const c of COMMON) cols[c] = row[c];
    for (const c of this.spec.indexColumns) cols[c] = (row as Record<string, unknown>)[c] ?? null;
    Object.assign(cols, extra);
    cols.data = this.encode(row);
    return cols;
  }

  protected runInsert(row: T, extra: Record<string, unknown>): T {
    const cols = this.insertColumns(row, extra);
    const names = Object.keys(cols);
    this.db
      .prepare(`INSERT INTO ${this.spec.table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`)
      .run(...names.map((n) => cols[n]));
    return row;
  }

  async insert(row: T, secret?: string): Promise<T> {
    return this.runInsert(row, this.spec.hasSecret ? { secret: secret ?? null } : {});
  }

  async get(customerId: string, id: string): Promise<T | undefined> {
    const r = this.stmts.get.get(id, customerId, TM_NEVER) as DbRow | undefined;
    return r ? this.decode(r) : undefined;
  }

  async getById(id: string): Promise<T | undefined> {
    const r = this.stmts.getById.get(id, TM_NEVER) as DbRow | undefined;
    return r ? this.decode(r) : undefined;
  }

  async update(row: T, secret?: string): Promise<T> {
    const sets = ['tm_update = ?', 'tm_delete = ?', 'data = ?'];
    const values: unknown[] = [row.tm_update, row.tm_delete, this.encode(row)];
    for (const c of this.spec.indexColumns) {
      sets.push(`${c} = ?`);
      values.push((row as Record<string, unknown>)[c] ?? null);
    }
    if (this.spec.hasSecret && secret !== undefined) {
      sets.push('secret = ?');
      values.push(secret);
    }
    this.db
      .prepare(`UPDATE ${this.spec.table} SET ${sets.join(', ')} WHERE id = ? AND customer_id = ?`)
      .run(...values, row.id, row.customer_id);
    return row;
  }

  async softDelete(customerId: string, id: string): Promise<T | undefined> {
    const row = await this.get(customerId, id);
    if (!row) return undefined;
    const now = nowTimestamp();
    const deleted = { ...row, tm_update: now, tm_delete: now };
    await this.update(deleted);
    if (this.spec.hasSecret) this.eraseSecret(customerId, id);
    return deleted;
  }

  /**
   * A deleted row's secret (an AI's engine_key) is erased, not kept: the column is set to NULL,
   * secure_delete (see SqliteStore) zeroes the old bytes in the page, and a checkpoint moves the
   * page into the main file and empties the WAL, whose older frames still hold the secret.
   */
  private eraseSecret(customerId: string, id: string): void {
    this.db.prepare(`UPDATE ${this.spec.table} SET secret = NULL WHERE id = ? AND customer_id = ?`).run(id, customerId);
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* a busy database checkpoints later by itself; the secret is already gone from the row */
    }
  }

  async list(customerId: string, options: ListOptions): Promise<StorePage<T>> {
    const where = ['customer_id = ?', 'tm_delete = ?'];
    const values: unknown[] = [customerId, TM_NEVER];
    for (const [col, value] of Object.entries(options.filters ?? {})) {
      if (!this.spec.indexColumns.includes(col)) throw new Error(`cannot filter ${this.spec.table} on ${col}`);
      where.push(`${col} = ?`);
      values.push(value);
    }
    if (options.pageToken) {
      where.push('tm_create < ?');
      values.push(options.pageToken);
    }
    // One row more than asked tells whether another page exists without a COUNT.
    const rows = this.db
      .prepare(`SELECT * FROM ${this.spec.table} WHERE ${where.join(' AND ')} ORDER BY tm_create DESC LIMIT ?`)
      .all(...values, options.pageSize + 1) as DbRow[];
    const more = rows.length > options.pageSize;
    const items = rows.slice(0, options.pageSize).map((r) => this.decode(r));
    return { items, nextPageToken: more ? items[items.length - 1]!.tm_create : '' };
  }

  async findBy(column: string, value: string): Promise<T[]> {
    if (!this.spec.indexColumns.includes(column)) throw new Error(`cannot search ${this.spec.table} by ${column}`);
    const rows = this.db
      .prepare(`SELECT * FROM ${this.spec.table} WHERE ${column} = ? AND tm_delete = ? ORDER BY tm_create DESC`)
      .all(value, TM_NEVER) as DbRow[];
    return rows.map((r) => this.decode(r));
  }

  async getSecret(customerId: string, id: string): Promise<string | undefined> {
    if (!this.stmts.secret) return undefined;
    const r = this.stmts.secret.get(id, customerId, TM_NEVER) as { secret: string | null } | undefined;
    return r?.secret ?? undefined;
  }
}

/** Billing accounts keep `balance_credit` in its own column so a debit is one conditional UPDATE. */
class SqliteBillingRepository extends SqliteRepository<BillingAccountRow> implements BillingRepository {
  protected override decode(r: DbRow): BillingAccountRow {
    return { ...(JSON.parse(r.data) as BillingAccountRow), balance_credit: Number(r.balance_credit) };
  }

  override async insert(row: BillingAccountRow): Promise<BillingAccountRow> {
    return this.runInsert(row, { balance_credit: row.balance_credit });
  }

  async getByCustomer(customerId: string): Promise<BillingAccountRow | undefined> {
    const r = this.db
      .prepare('SELECT * FROM billing_accounts WHERE customer_id = ? AND tm_delete = ? ORDER BY tm_create LIMIT 1')
      .get(customerId, TM_NEVER) as DbRow | undefined;
    return r ? this.decode(r) : undefined;
  }

  async debit(customerId: string, amount: number): Promise<boolean> {
    const res = this.db
      .prepare(
        'UPDATE billing_accounts SET balance_credit = balance_credit - ?, tm_update = ? WHERE customer_id = ? AND tm_delete = ? AND balance_credit >= ?',
      )
      .run(amount, nowTimestamp(), customerId, TM_NEVER, amount);
    return res.changes > 0;
  }

  async credit(customerId: string, amount: number): Promise<void> {
    this.db
      .prepare('UPDATE billing_accounts SET balance_credit = balance_credit + ?, tm_update = ? WHERE customer_id = ? AND tm_delete = ?')
      .run(amount, nowTimestamp(), customerId, TM_NEVER);
  }
}

class SqliteAccesskeyRepository extends SqliteRepository<AccesskeyRow> implements AccesskeyRepository {
  async insertWithHash(row: AccesskeyRow, tokenHash: string): Promise<AccesskeyRow> {
    return this.runInsert(row, { token_hash: tokenHash });
  }

  async findByTokenHash(tokenHash: string): Promise<AccesskeyRow | undefined> {
    const r = this.db
      .prepare('SELECT * FROM accesskeys WHERE token_hash = ? AND tm_delete = ?')
      .get(tokenHash, TM_NEVER) as DbRow | undefined;
    return r ? this.decode(r) : undefined;
  }

  override async insert(): Promise<AccesskeyRow> {
    throw new Error('access keys are inserted with insertWithHash');
  }
}

/** The SQLite implementation of {@link Store}. */
export class SqliteStore implements Store {
  readonly db: SqliteDatabase;
  readonly customers: ResourceRepository<Row>;
  readonly accesskeys: AccesskeyRepository;
  readonly billingAccounts: BillingRepository;
  readonly ais: ResourceRepository<Row>;
  readonly aicalls: ResourceRepository<Row>;
  readonly aimessages: ResourceRepository<Row>;
  readonly calls: ResourceRepository<Row>;
  readonly flows: ResourceRepository<Row>;
  readonly activeflows: ResourceRepository<Row>;
  readonly messages: ResourceRepository<Row>;
  readonly emails: ResourceRepository<Row>;
  readonly numbers: ResourceRepository<Row>;
  readonly aisummaries: ResourceRepository<Row>;
  readonly transcribes: ResourceRepository<Row>;
  readonly transcripts: ResourceRepository<Row>;
  readonly settings: SettingsRepository;

  constructor(db: SqliteDatabase) {
    this.db = db;
    // Freed bytes are zeroed, so an erased or replaced secret does not linger in the file's free space.
    db.pragma('secure_delete = ON');
    const repo = (table: string, indexColumns: readonly string[] = [], hasSecret = false) =>
      new SqliteRepository<Row>(db, { table, indexColumns, hasSecret });
    this.customers = repo('customers');
    this.accesskeys = new SqliteAccesskeyRepository(db, { table: 'accesskeys', indexColumns: [] });
    this.billingAccounts = new SqliteBillingRepository(db, { table: 'billing_accounts', indexColumns: [] });
    this.ais = repo('ais', [], true);
    this.aicalls = repo('aicalls', ['reference_id', 'activeflow_id', 'status']);
    this.aimessages = repo('aimessages', ['aicall_id']);
    this.calls = repo('calls', ['activeflow_id', 'status']);
    this.flows = repo('flows');
    this.activeflows = repo('activeflows', ['reference_id', 'status']);
    this.messages = repo('messages');
    this.emails = repo('emails');
    this.numbers = repo('numbers', ['number']);
    this.aisummaries = repo('aisummaries', ['reference_id', 'status']);
    this.transcribes = repo('transcribes', ['reference_id', 'status']);
    this.transcripts = repo('transcripts', ['transcribe_id']);
    const getSetting = db.prepare('SELECT value FROM settings WHERE name = ?');
    const setSetting = db.prepare(
      'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
    this.settings = {
      get: async (name) => (getSetting.get(name) as { value: string } | undefined)?.value,
      set: async (name, value) => {
        setSetting.run(name, value);
      },
    };
  }

  /** Opens the database file (WAL, migrations applied) and wraps it. */
  static open(path: string): SqliteStore {
    return new SqliteStore(openDatabase(path));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
