import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';

/** A better-sqlite3 connection (kept as a type alias so callers need not import the driver). */
export type SqliteDatabase = Database.Database;

/** Where the `.sql` migrations live (they are not compiled: dist/ reads them from db/). */
function migrationsDir(): string {
  return join(packageRoot(), 'db', 'migrations');
}

/**
 * Opens (creating if needed) the SQLite database at `path` in WAL mode and applies every
 * migration not applied yet, in version order, each in its own transaction.
 */
export function openDatabase(path: string): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode and much faster than FULL.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  applyMigrations(db);
  return db;
}

/** Applies the pending `NNN_name.sql` migrations; returns the versions applied. */
export function applyMigrations(db: SqliteDatabase): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const done = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const files = readdirSync(migrationsDir())
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const applied: number[] = [];
  for (const file of files) {
    const version = parseInt(file, 10);
    if (done.has(version)) continue;
    const sql = readFileSync(join(migrationsDir(), file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        version,
        file,
        new Date().toISOString(),
      );
    })();
    applied.push(version);
  }
  return applied;
}
