-- 033: resumable uploads (tus 1.0 at /api/v1/uploads, ngx_http_media_tus.c).
--
-- An upload is a row and a file, <media_storage>/uploads/<id>.tus, that
-- PATCH requests append to.  The row holds what the file should become
-- (upload_length, the metadata), how much of it is on disk and final
-- (upload_offset: a PATCH moves it only after its bytes are written and
-- synced), and when it expires (media_tus_expires after creation).
--
-- Storage is reserved at creation for the whole length, as a
-- single-request upload reserves its Content-Length (sql/008), and held
-- until the upload expires (plus an hour, so the sweeper removes the
-- upload before its reservation stops counting).  The reservation owns
-- the row (ON DELETE CASCADE): when the last PATCH stores the media, the
-- statement that writes the media row settles the reservation and the
-- upload row goes with it, in the same transaction.
--
-- A PATCH holds a lease (lease, lease_until) while it appends, so that two
-- requests never write the same file at once: the second is answered 423.
-- A lease runs out by itself (a minute, plus a second per MB appended), so
-- a worker that died holding one blocks the upload for that long only.

CREATE TABLE uploads (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reservation    uuid NOT NULL UNIQUE
                   REFERENCES storage_reservations (id) ON DELETE CASCADE,
    upload_length  bigint NOT NULL CHECK (upload_length > 0),
    upload_offset  bigint NOT NULL DEFAULT 0
                   CHECK (upload_offset BETWEEN 0 AND upload_length),
    metadata       text CHECK (length(metadata) <= 4096),  -- as sent
    filename       text CHECK (length(filename) <= 255),
    filetype       text CHECK (length(filetype) <= 255),
    draft          boolean NOT NULL DEFAULT false,  -- POST ?draft=1
    expires_at     timestamptz NOT NULL,
    lease          uuid,
    lease_until    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- as 031 does for every table before it
    tenant         text NOT NULL DEFAULT media_tenant()
                   CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,31}$')
);

CREATE INDEX uploads_expires ON uploads (expires_at);
CREATE INDEX uploads_user ON uploads (user_id);

ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON uploads
    USING (tenant = current_setting('media.tenant')
           OR current_setting('media.tenant') = '*');


-- POST /uploads: the quota as a single-request upload meets it (402 with
-- the limit otherwise), then the row.  upload_id is NULL when refused.
CREATE FUNCTION media_tus_create(u uuid, len bigint, meta text,
    fname text, ftype text, is_draft boolean, ttl interval,
    OUT upload_id uuid, OUT expires bigint, OUT quantity text,
    OUT used bigint, OUT limit_value bigint, OUT plan text,
    OUT lifted_by text)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM media_storage_reserve(u, len);

    IF r.reservation IS NULL THEN
        quantity := r.quantity;
        used := r.used;
        limit_value := r.limit_value;
        plan := r.plan;
        lifted_by := r.lifted_by;
        RETURN;
    END IF;

    UPDATE storage_reservations
       SET expires_at = now() + ttl + interval '1 hour'
     WHERE id = r.reservation;

    INSERT INTO uploads (user_id, reservation, upload_length, metadata,
                         filename, filetype, draft, expires_at)
    VALUES (u, r.reservation, len, meta, fname, ftype, is_draft,
            now() + ttl)
    RETURNING uploads.id, extract(epoch FROM uploads.expires_at)::bigint
         INTO upload_id, expires;
END
$$;


-- HEAD and PATCH: the caller's upload and whether it may be written.
-- verdict: ok, not_found, expired, leased (a PATCH is appending), offset
-- (off is not where the upload is), too_long (off + bytes passes
-- upload_length).  With take, an ok upload is leased to the caller.
CREATE FUNCTION media_tus_take(upload uuid, u uuid, off bigint,
    bytes bigint, take boolean)
RETURNS TABLE (verdict text, upload_offset bigint, upload_length bigint,
               expires bigint, lease uuid, metadata text, filename text,
               filetype text, reservation uuid, draft boolean)
LANGUAGE plpgsql AS $$
DECLARE
    t  uploads%ROWTYPE;
    v  text := 'ok';
BEGIN
    SELECT * INTO t FROM uploads x WHERE x.id = upload AND x.user_id = u
       FOR UPDATE;

    IF NOT FOUND THEN
        verdict := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;

    IF t.expires_at <= now() THEN
        v := 'expired';
    ELSIF off IS NULL THEN
        v := 'ok';
    ELSIF t.lease_until > now() THEN
        v := 'leased';
    ELSIF off <> t.upload_offset THEN
        v := 'offset';
    ELSIF off + bytes > t.upload_length THEN
        v := 'too_long';
    END IF;

    IF v = 'ok' AND take THEN
        t.lease := gen_random_uuid();
        UPDATE uploads x
           SET lease = t.lease,
               lease_until = now() + interval '1 minute'
                             + (bytes / 1048576) * interval '1 second'
         WHERE x.id = upload;
    END IF;

    RETURN QUERY SELECT v, t.upload_offset, t.upload_length,
                        extract(epoch FROM t.expires_at)::bigint,
                        CASE WHEN v = 'ok' AND take THEN t.lease END,
                        t.metadata, t.filename, t.filetype, t.reservation,
                        t.draft;
END
$$;
