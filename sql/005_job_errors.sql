-- 005: a failed job's error in two voices.
--
-- jobs.error and media.error are what users read (the API returns them):
-- a sentence saying what is wrong with their file and what to do, or that
-- the fault is ours; never an internal path.  jobs.error_detail keeps what
-- the worker saw (the library's text, paths) for admins.

ALTER TABLE jobs ADD COLUMN error_detail text;
