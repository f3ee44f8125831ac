-- 012: making a limited-use download link, in one call.
--
-- media_download_create() decides who may download what (the shared
-- agreement of issue 13): the media's owner (grant 'owner'); a user with an
-- entitlement to it (grant 'purchase'); a viewer whose plan has downloads
-- left this month, for a public media (grant 'subscription', counted in
-- usage_counters 'downloads' as the link is made).  Anyone else does not
-- learn that the media exists.  A priced media is not had by a
-- subscription: only by buying it.  The asset is a ready export (export_id),
-- or the original upload (media_id alone), which only its owner gets.
--
-- outcome: 'created' (the link's row is written), 'not_found',
-- 'not_ready' (the export is not ready yet: detail says its status),
-- 'gone' (the original upload was removed by the sweeper), or
-- 'quota' (a public media, but the viewer's downloads are used up: the
-- quota columns say which limit and the plan that lifts it).

CREATE FUNCTION media_download_name(title text, source_name text,
    ext text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- the saved name: the title (else the uploaded file's name, else
    -- "download") with the asset's extension; no control characters or
    -- path separators, at most 200 characters before the extension
    SELECT left(regexp_replace(coalesce(nullif(btrim(title), ''),
                                        nullif(regexp_replace(source_name,
                                            '\.[A-Za-z0-9]{1,8}$', ''), ''),
                                        'download'),
                               '[[:cntrl:]/\\]', '_', 'g'), 200)
           || coalesce('.' || ext, '')
$$;

CREATE FUNCTION media_download_create(u uuid, p_media uuid, p_export uuid,
    ttl_s integer, p_max_uses integer,
    OUT outcome text, OUT link_id uuid, OUT expires_epoch bigint,
    OUT expires_at timestamptz, OUT filename text, OUT grant_kind text,
    OUT media_id uuid, OUT export_id uuid, OUT detail text,
    OUT quantity text, OUT used bigint, OUT limit_value bigint,
    OUT plan text, OUT lifted_by text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m record;
    e record;
    s record;
    ext text;
BEGIN
    outcome := 'not_found';

    IF p_export IS NOT NULL THEN
        SELECT x.* INTO e FROM exports x
         WHERE x.id = p_export AND x.deleted_at IS NULL
           AND x.status <> 'deleted'
           AND (x.expires_at IS NULL OR x.expires_at > now());
        IF NOT FOUND THEN
            RETURN;
        END IF;
        p_media := e.media_id;
        ext := e.format;
    END IF;

    SELECT x.* INTO m FROM media x
     WHERE x.id = p_media AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    IF m.owner_id = u THEN
        grant_kind := 'owner';
    ELSIF EXISTS (SELECT 1 FROM entitlements n
                   WHERE n.user_id = u AND n.media_id = m.id) THEN
        grant_kind := 'purchase';
    ELSIF m.privacy = 'public' AND m.price_cents IS NULL THEN
        -- what is for sale is had by buying it, not by a subscription
        grant_kind := 'subscription';
    ELSE
        RETURN;
    END IF;

    -- the original upload is its owner's only (issue 13); buyers and
    -- subscribers download exports
    IF p_export IS NULL AND grant_kind <> 'owner' THEN
        RETURN;
    END IF;

    -- an original the sweeper removed (media_source_retention)
    IF p_export IS NULL AND m.source_removed_at IS NOT NULL THEN
        outcome := 'gone';
        RETURN;
    END IF;

    -- an export of someone else's: only its maker and the media's owner
    -- know it; buyers and subscribers download what the owner exported
    IF p_export IS NOT NULL THEN
        IF e.user_id <> u AND m.owner_id <> e.user_id THEN
            RETURN;
        END IF;

        IF e.status <> 'ready' THEN
            outcome := 'not_ready';
            detail := e.status;
            RETURN;
        END IF;
    END IF;

    IF grant_kind = 'subscription' THEN
        -- two links at once take their turns for the last download
        PERFORM 1 FROM users x WHERE x.id = u FOR UPDATE;

        SELECT * INTO s FROM media_quota_state(u) q
         WHERE q.quantity = 'downloads';
        IF s.limit_value IS NOT NULL AND s.used + 1 > s.limit_value THEN
            outcome := 'quota';
            quantity := s.quantity;
            used := s.used;
            limit_value := s.limit_value;
            plan := s.plan;
            lifted_by := s.lifted_by;
            RETURN;
        END IF;

        INSERT INTO usage_counters AS c (user_id, period, quantity, used)
        VALUES (u, media_period_start(), 'downloads', 1)
        ON CONFLICT ON CONSTRAINT usage_counters_pkey
        DO UPDATE SET used = c.used + 1;

        PERFORM media_usage_alerts(u);
    END IF;

    IF ext IS NULL THEN
        ext := substring(m.source_name FROM '\.([A-Za-z0-9]{1,8})$');
    END IF;

    INSERT INTO download_links AS l (user_id, media_id, export_id,
                                     grant_kind, filename, max_uses,
                                     expires_at)
    VALUES (u, m.id, p_export, grant_kind,
            media_download_name(m.title, m.source_name, lower(ext)),
            p_max_uses,
            date_trunc('second', now()) + ttl_s * interval '1 second')
    RETURNING l.id, l.expires_at, l.filename
         INTO link_id, expires_at, filename;

    outcome := 'created';
    media_id := m.id;
    export_id := p_export;
    expires_epoch := floor(extract(epoch FROM expires_at))::bigint;
END
$$;
