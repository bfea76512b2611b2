-- Initial schema. Portable SQL only (TEXT/INTEGER, no SQLite-specific functions) so a
-- PostgreSQL store can run the same statements. Every resource row carries its customer_id,
-- its VoIPBIN timestamps and the resource itself as JSON text in `data`; the columns beside
-- `data` exist only to be filtered or indexed on.

CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE accesskeys (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  data TEXT NOT NULL
);

CREATE TABLE billing_accounts (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  -- the balance is a column, not JSON, so a debit is one atomic conditional UPDATE
  balance_credit INTEGER NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE ais (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  -- write-only secret (engine_key): kept out of `data` so no serialisation of a row can leak it
  secret TEXT,
  data TEXT NOT NULL
);

CREATE TABLE aicalls (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  reference_id TEXT,
  activeflow_id TEXT,
  data TEXT NOT NULL
);

CREATE TABLE aimessages (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  aicall_id TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  activeflow_id TEXT,
  data TEXT NOT NULL
);

CREATE TABLE flows (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE activeflows (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  reference_id TEXT,
  data TEXT NOT NULL
);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE emails (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE numbers (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  number TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE aisummaries (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  reference_id TEXT,
  data TEXT NOT NULL
);

CREATE INDEX idx_accesskeys_customer ON accesskeys (customer_id, tm_create);
CREATE INDEX idx_billing_accounts_customer ON billing_accounts (customer_id, tm_create);
CREATE INDEX idx_ais_customer ON ais (customer_id, tm_create);
CREATE INDEX idx_aicalls_customer ON aicalls (customer_id, tm_create);
CREATE INDEX idx_aimessages_aicall ON aimessages (customer_id, aicall_id, tm_create);
CREATE INDEX idx_calls_customer ON calls (customer_id, tm_create);
CREATE INDEX idx_flows_customer ON flows (customer_id, tm_create);
CREATE INDEX idx_activeflows_customer ON activeflows (customer_id, tm_create);
CREATE INDEX idx_messages_customer ON messages (customer_id, tm_create);
CREATE INDEX idx_emails_customer ON emails (customer_id, tm_create);
CREATE INDEX idx_numbers_customer ON numbers (customer_id, tm_create);
CREATE INDEX idx_numbers_number ON numbers (number);
CREATE INDEX idx_aisummaries_customer ON aisummaries (customer_id, tm_create);

-- Platform settings (e.g. which customer is the local one).
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
