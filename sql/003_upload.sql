-- 003: what an upload records, and the jobs' lookups.

ALTER TABLE media
    ADD COLUMN source_name   text CHECK (length(source_name) <= 255),
    ADD COLUMN source_format text;          -- the container sniffed at upload

-- a media's latest job, for its progress
CREATE INDEX jobs_media_latest ON jobs (media_id, created_at DESC);

-- when the reconciler last put the job on its stream
ALTER TABLE jobs ADD COLUMN enqueued_at timestamptz;
