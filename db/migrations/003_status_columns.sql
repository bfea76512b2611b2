-- A `status` column beside `data` for the resources whose unfinished rows a restart must end
-- (src/local/recovery.ts): found with `WHERE status = ?` on an index instead of scanning JSON.
-- The repositories keep the column equal to the row's `status` field on every insert/update.
-- The backfill reads the JSON with SQLite's json_extract; a PostgreSQL store would write the
-- same step as `SET status = data::jsonb ->> 'status'`. Everything else here is portable SQL.

ALTER TABLE calls ADD COLUMN status TEXT;
ALTER TABLE activeflows ADD COLUMN status TEXT;
ALTER TABLE aicalls ADD COLUMN status TEXT;
ALTER TABLE transcribes ADD COLUMN status TEXT;
ALTER TABLE aisummaries ADD COLUMN status TEXT;

UPDATE calls SET status = json_extract(data, '$.status');
UPDATE activeflows SET status = json_extract(data, '$.status');
UPDATE aicalls SET status = json_extract(data, '$.status');
UPDATE transcribes SET status = json_extract(data, '$.status');
UPDATE aisummaries SET status = json_extract(data, '$.status');

CREATE INDEX idx_calls_status ON calls (status);
CREATE INDEX idx_activeflows_status ON activeflows (status);
CREATE INDEX idx_aicalls_status ON aicalls (status);
CREATE INDEX idx_transcribes_status ON transcribes (status);
CREATE INDEX idx_aisummaries_status ON aisummaries (status);
