-- 006: the media read is one row.
--
-- GET /api/v1/media/{id} and the library list used to join the latest
-- transcode job (LATERAL) and aggregate the renditions (json_agg) on every
-- read; the executor's set-up for those subplans was most of PostgreSQL's
-- time per request (bench/api).  Reads are far more frequent than the
-- writes that change these answers, so the writes keep them on the media
-- row instead:
--   media.renditions  the rungs as the API shows them, highest first,
--                     rewritten when a renditions row changes;
--   media.job_id      the latest transcode job, set when one is created;
--   media.progress    that job's progress, copied when it moves.

ALTER TABLE media
    ADD COLUMN renditions json NOT NULL DEFAULT '[]',
    ADD COLUMN job_id uuid,
    ADD COLUMN progress smallint NOT NULL DEFAULT 0;

CREATE FUNCTION media_renditions_json(m uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'name', r.name, 'width', r.width, 'height', r.height,
               'frame_rate', r.frame_rate, 'bandwidth', r.bandwidth,
               'average_bandwidth', r.average_bandwidth, 'codecs', r.codecs)
               ORDER BY r.bandwidth DESC, r.name), '[]')
      FROM renditions r WHERE r.media_id = m
$$;

CREATE FUNCTION media_renditions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE media SET renditions = media_renditions_json(OLD.media_id)
         WHERE id = OLD.media_id;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT'
                              OR NEW.media_id <> OLD.media_id) THEN
        UPDATE media SET renditions = media_renditions_json(NEW.media_id)
         WHERE id = NEW.media_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER renditions_changed
    AFTER INSERT OR UPDATE OR DELETE ON renditions
    FOR EACH ROW EXECUTE FUNCTION media_renditions_changed();

CREATE FUNCTION media_job_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE media SET job_id = NEW.id, progress = NEW.progress
         WHERE id = NEW.media_id;
    ELSE
        UPDATE media SET progress = NEW.progress
         WHERE id = NEW.media_id AND job_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_created AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.type = 'transcode' AND NEW.media_id IS NOT NULL)
    EXECUTE FUNCTION media_job_changed();

CREATE TRIGGER jobs_progressed AFTER UPDATE OF progress ON jobs
    FOR EACH ROW WHEN (NEW.type = 'transcode' AND NEW.media_id IS NOT NULL
                       AND NEW.progress IS DISTINCT FROM OLD.progress)
    EXECUTE FUNCTION media_job_changed();

-- what is there already
UPDATE media m SET renditions = media_renditions_json(m.id)
 WHERE EXISTS (SELECT 1 FROM renditions r WHERE r.media_id = m.id);

UPDATE media m SET job_id = j.id, progress = j.progress
  FROM (SELECT DISTINCT ON (media_id) media_id, id, progress FROM jobs
         WHERE type = 'transcode' AND media_id IS NOT NULL
         ORDER BY media_id, created_at DESC) j
 WHERE j.media_id = m.id;
