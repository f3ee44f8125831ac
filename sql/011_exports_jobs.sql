-- 011: export jobs.
--
-- media_export_begin() is POST /media/{id}/exports in one call: under a
-- lock on the user's row it checks the media (theirs, ready, with a
-- picture when the format needs one), checks and counts the plan's exports
-- a month, and writes the export and its job.  Two requests at the same
-- moment take their turns, so they cannot both pass the last export.
--
-- The export row follows its job's progress (a trigger, as media rows do
-- in 006), and its bytes count toward users.storage_used while it is not
-- deleted (a trigger, as media's in 008).

CREATE INDEX exports_job ON exports (job_id);

-- an export as the API shows it
CREATE FUNCTION media_export_json(e exports) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', e.id, 'media_id', e.media_id, 'job_id', e.job_id,
        'format', e.format, 'codec', e.codec, 'audio_only', e.audio_only,
        'bitrate', e.bitrate, 'sample_rate', e.sample_rate,
        'enhance', e.enhance, 'status', e.status, 'progress', e.progress,
        'size', e.size, 'duration_ms', e.duration_ms,
        'expires_at', media_iso8601(e.expires_at), 'error', e.error,
        'created_at', media_iso8601(e.created_at))
$$;

-- One row.  refused is NULL when the export was made (export and job are
-- their JSON, enqueue the job's id for the stream); else 'not_found',
-- 'not_ready' (detail: the media's status), 'source_removed' (detail:
-- when), 'needs_video' (detail: the media's kind) or 'quota' (with the quota's quantity, used, limit, plan
-- and the plan that lifts it).
CREATE FUNCTION media_export_begin(u uuid, m uuid, fmt text, acodec text,
    only_audio boolean, wants_video boolean, rate integer, hz integer,
    presets text[],
    OUT refused text, OUT detail text, OUT quantity text, OUT used bigint,
    OUT limit_value bigint, OUT plan text, OUT lifted_by text,
    OUT export json, OUT job json, OUT enqueue uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    md record;
    q record;
    e exports;
    j jobs;
BEGIN
    PERFORM 1 FROM users WHERE id = u FOR UPDATE;

    -- its owner, or a buyer: what was bought may be exported.  FOR SHARE:
    -- the sweeper removing originals (media_source_retention) skips a
    -- media locked here, and once this commits the queued export keeps it
    SELECT kind, status, source_removed_at INTO md FROM media
     WHERE id = m AND deleted_at IS NULL
       AND (owner_id = u
            OR EXISTS (SELECT 1 FROM entitlements n
                        WHERE n.user_id = u AND n.media_id = m))
       FOR SHARE;

    IF NOT FOUND THEN
        refused := 'not_found';
        RETURN;
    END IF;

    IF md.status <> 'ready' THEN
        refused := 'not_ready';
        detail := md.status;
        RETURN;
    END IF;

    IF md.source_removed_at IS NOT NULL THEN
        refused := 'source_removed';
        detail := media_iso8601(md.source_removed_at);
        RETURN;
    END IF;

    IF wants_video AND md.kind <> 'video' THEN
        refused := 'needs_video';
        detail := md.kind;
        RETURN;
    END IF;

    SELECT * INTO q FROM media_quota_state(u) s WHERE s.quantity = 'exports';

    IF q.limit_value IS NOT NULL AND q.used + 1 > q.limit_value THEN
        refused := 'quota';
        quantity := q.quantity;
        used := q.used;
        limit_value := q.limit_value;
        plan := q.plan;
        lifted_by := q.lifted_by;
        RETURN;
    END IF;

    INSERT INTO usage_counters AS c (user_id, period, quantity, used)
    VALUES (u, media_period_start(), 'exports', 1)
    ON CONFLICT (user_id, period, quantity)
    DO UPDATE SET used = c.used + 1;

    PERFORM media_usage_alerts(u);

    INSERT INTO exports (media_id, user_id, format, codec, audio_only,
                         bitrate, sample_rate, enhance)
    VALUES (m, u, fmt, acodec, only_audio OR md.kind <> 'video', rate, hz,
            presets)
    RETURNING * INTO e;

    INSERT INTO jobs (type, media_id, user_id, payload)
    VALUES ('export', m, u, jsonb_build_object('export', e.id))
    RETURNING * INTO j;

    UPDATE exports SET job_id = j.id WHERE id = e.id RETURNING * INTO e;

    export := media_export_json(e);
    job := json_build_object('id', j.id, 'type', j.type, 'status', j.status,
                             'progress', j.progress, 'attempts', j.attempts);
    enqueue := j.id;
END
$$;

-- the export shows its job's progress, live
CREATE FUNCTION media_export_progressed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE exports SET progress = NEW.progress,
                       status = CASE WHEN status = 'queued'
                                     THEN 'processing' ELSE status END
     WHERE job_id = NEW.id AND status IN ('queued', 'processing');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_export_progressed AFTER UPDATE OF progress ON jobs
    FOR EACH ROW WHEN (NEW.type = 'export'
                       AND NEW.progress IS DISTINCT FROM OLD.progress)
    EXECUTE FUNCTION media_export_progressed();

-- an export's bytes are the user's storage until it is deleted (by the
-- user, or by the sweeper when it expires)
CREATE FUNCTION media_export_storage() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_bytes bigint := 0;
    new_bytes bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL
       AND OLD.status <> 'deleted' THEN
        old_bytes := coalesce(OLD.size, 0);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL
       AND NEW.status <> 'deleted' THEN
        new_bytes := coalesce(NEW.size, 0);
    END IF;
    IF new_bytes <> old_bytes THEN
        UPDATE users SET storage_used = storage_used + new_bytes - old_bytes
         WHERE id = coalesce(NEW.user_id, OLD.user_id);
    END IF;
    IF new_bytes > old_bytes THEN
        PERFORM media_usage_alerts(NEW.user_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER exports_storage
    AFTER INSERT OR UPDATE OF size, status, deleted_at OR DELETE
    ON exports FOR EACH ROW EXECUTE FUNCTION media_export_storage();

-- a failed export gives its place in the month's allowance back
CREATE FUNCTION media_export_refund() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_counters SET used = used - 1
     WHERE user_id = NEW.user_id AND quantity = 'exports'
       AND period = media_period_start(NEW.created_at) AND used > 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER exports_refund
    AFTER UPDATE OF status ON exports FOR EACH ROW
    WHEN (NEW.status = 'failed' AND OLD.status <> 'failed')
    EXECUTE FUNCTION media_export_refund();
