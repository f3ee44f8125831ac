-- 022: takedowns.  A taken-down media has status 'blocked': gone from
-- every listing (they all list status = 'ready'), refused by playback,
-- downloads and pages, and (through the module's blocked set in shared
-- memory, fed by Redis pub/sub and reloaded from media_blocked_ids()) on
-- the segment path.  Restore puts back the status it had.
--
-- media_takedown() and media_restore() change the row and append the audit
-- row in one statement, so a takedown is never unrecorded.  They return
-- the media's id when something changed, no row when the media was
-- already in that state (idempotent: no second audit row) or does not
-- exist.

ALTER TABLE media DROP CONSTRAINT media_status_check;
ALTER TABLE media ADD CONSTRAINT media_status_check
    CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'blocked'));

ALTER TABLE media
    ADD COLUMN blocked_at      timestamptz,
    ADD COLUMN blocked_reason  text CHECK (length(blocked_reason) <= 2000),
    -- the status to restore
    ADD COLUMN blocked_from    text CHECK (blocked_from IN ('queued',
                                   'processing', 'ready', 'failed'));

CREATE INDEX media_blocked ON media (id) WHERE status = 'blocked';

-- a worker finishing a job on a taken-down media (the transcoder's UPDATE
-- to 'ready' or 'failed') changes what restore will give back, not the
-- block itself; only media_restore() lifts it
CREATE FUNCTION media_blocked_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'blocked' AND NEW.status <> 'blocked'
       AND coalesce(current_setting('media.restoring', true), '') <> 'on'
    THEN
        NEW.blocked_from := NEW.status;
        NEW.status := 'blocked';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER media_blocked_keep BEFORE UPDATE OF status ON media
    FOR EACH ROW EXECUTE FUNCTION media_blocked_keep();

CREATE FUNCTION media_takedown(p_media uuid, p_actor uuid, p_actor_role text,
    p_reason text, p_address inet, p_report bigint)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    was  text;
BEGIN
    SELECT status INTO was FROM media
     WHERE id = p_media AND deleted_at IS NULL FOR UPDATE;

    IF NOT FOUND OR was = 'blocked' THEN
        RETURN;
    END IF;

    UPDATE media SET status = 'blocked', blocked_from = was,
                     blocked_at = now(), blocked_reason = p_reason
     WHERE id = p_media;

    PERFORM media_audit(p_actor, p_actor_role, 'media.takedown', 'media',
                        p_media::text, p_reason, p_address,
                        jsonb_build_object('status', was),
                        jsonb_build_object('status', 'blocked',
                                           'report_id', p_report));
    RETURN NEXT p_media;
END $$;

CREATE FUNCTION media_restore(p_media uuid, p_actor uuid, p_actor_role text,
    p_reason text, p_address inet, p_report bigint)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    back  text;
BEGIN
    SELECT blocked_from INTO back FROM media
     WHERE id = p_media AND status = 'blocked' FOR UPDATE;

    IF NOT FOUND THEN
        RETURN;
    END IF;

    PERFORM set_config('media.restoring', 'on', true);
    UPDATE media SET status = coalesce(back, 'ready'), blocked_from = NULL,
                     blocked_at = NULL, blocked_reason = NULL
     WHERE id = p_media;
    PERFORM set_config('media.restoring', '', true);

    PERFORM media_audit(p_actor, p_actor_role, 'media.restore', 'media',
                        p_media::text, p_reason, p_address,
                        jsonb_build_object('status', 'blocked'),
                        jsonb_build_object('status', coalesce(back, 'ready'),
                                           'report_id', p_report));
    RETURN NEXT p_media;
END $$;

-- what the module's blocked set is reloaded from
CREATE FUNCTION media_blocked_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT id FROM media WHERE status = 'blocked'
$$;

-- suspensions and bans (POST /api/v1/admin/actions): a suspended user may
-- read but not write or upload until suspended_until; a banned user's
-- sessions are revoked and every token naming them is refused, on the
-- segment path too (the same blocked set holds banned users)
ALTER TABLE users
    ADD COLUMN suspended_until   timestamptz,
    ADD COLUMN suspended_reason  text CHECK (length(suspended_reason) <= 2000),
    ADD COLUMN banned_at         timestamptz,
    ADD COLUMN banned_reason     text CHECK (length(banned_reason) <= 2000);

CREATE INDEX users_banned ON users (id) WHERE banned_at IS NOT NULL;

-- what the module's blocked set is reloaded from, beside the media
CREATE FUNCTION media_banned_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT id FROM users WHERE banned_at IS NOT NULL
$$;
