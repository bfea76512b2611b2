-- Transcriptions of calls (transcribe_start) and their transcripts.

CREATE TABLE transcribes (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  reference_id TEXT,
  data TEXT NOT NULL
);

CREATE TABLE transcripts (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  tm_create TEXT NOT NULL,
  tm_update TEXT NOT NULL,
  tm_delete TEXT NOT NULL,
  transcribe_id TEXT NOT NULL,
  data TEXT NOT NULL
);

CREATE INDEX idx_transcribes_customer ON transcribes (customer_id, tm_create);
CREATE INDEX idx_transcribes_reference ON transcribes (reference_id);
CREATE INDEX idx_transcripts_transcribe ON transcripts (customer_id, transcribe_id, tm_create);
