-- 023: roles and the audit trail's writers and readers.
--
-- Every change an admin makes to a role or a plan, every admin read of
-- other people's rows, every use of a download link, every refresh-token
-- reuse and every account deletion appends its audit_log row (021) in the
-- same transaction as what it records.  media_audit() holds an advisory
-- lock until the transaction ends, so each writer here calls it last.

-- 021's media_audit_text() and media_audit_hash(), the same text and
-- hash, in PL/pgSQL: as SQL functions taking a row they are not inlined
-- and are planned again on every call, two thirds of what media_audit()
-- cost (0.73 ms a call before, 0.07 ms after, measured with 2000 calls;
-- bench/audit has pgbench numbers).  Every audited statement holds the
-- chain's lock that long, so this bounds how many the trail takes a
-- second.  Rows already written hash the same (t/audit.t checks every
-- row's hash against 021's SQL expression).
CREATE OR REPLACE FUNCTION media_audit_text(a audit_log) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_build_array(
        a.id,
        (extract(epoch FROM a.created_at) * 1000000)::bigint,
        a.actor_id, a.actor_role, a.action, a.target_type, a.target_id,
        a.reason, host(a.address), a.before, a.after)::text;
END $$;

CREATE OR REPLACE FUNCTION media_audit_hash(a audit_log) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN sha256(a.prev_hash || convert_to(media_audit_text(a), 'UTF8'));
END $$;

-- PATCH /api/v1/admin/users/{id} and `media-admin user|roles grant`: the
-- change of 014's media_user_set() and one audit row per value that
-- changed ('role.grant' with {"role"}, 'plan.change' with {"plan",
-- "creator_plan"} before and after).  Setting a value it already has
-- changes nothing and writes nothing.  An unknown user returns no row; an
-- unknown plan fails the foreign key (23503), as before.
CREATE FUNCTION media_user_change(p_user uuid, p_role text, p_plan text,
    p_actor uuid, p_actor_role text, p_reason text, p_address inet)
RETURNS SETOF users
LANGUAGE plpgsql AS $$
DECLARE
    old  users;
    new  users;
BEGIN
    SELECT * INTO old FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    SELECT * INTO new FROM media_user_set(p_user, p_role, p_plan);

    IF new.role IS DISTINCT FROM old.role THEN
        PERFORM media_audit(p_actor, p_actor_role, 'role.grant', 'user',
                            p_user::text, p_reason, p_address,
                            jsonb_build_object('role', old.role),
                            jsonb_build_object('role', new.role));
    END IF;

    IF new.plan IS DISTINCT FROM old.plan
       OR new.creator_plan IS DISTINCT FROM old.creator_plan
    THEN
        PERFORM media_audit(p_actor, p_actor_role, 'plan.change', 'user',
                            p_user::text, p_reason, p_address,
                            jsonb_build_object('plan', old.plan,
                                               'creator_plan',
                                               old.creator_plan),
                            jsonb_build_object('plan', new.plan,
                                               'creator_plan',
                                               new.creator_plan));
    END IF;

    RETURN NEXT new;
END $$;

-- a LIKE pattern matching s literally, inside %...%
CREATE FUNCTION media_like_contains(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '%' || replace(replace(replace(s, '\', '\\'), '%', '\%'), '_',
                          '\_') || '%'
$$;

-- GET /api/v1/admin/users[?q=]: the newest hundred accounts whose email,
-- handle or display name holds q (or whose id is q), and the 'admin.read'
-- row that says who looked, for what, and how many accounts it showed
CREATE FUNCTION media_admin_users(p_actor uuid, p_actor_role text,
    p_address inet, p_q text)
RETURNS TABLE (id uuid, email text, role text, plan text,
               created_at timestamptz, handle text)
LANGUAGE plpgsql AS $$
DECLARE
    n  bigint;
BEGIN
    RETURN QUERY
        SELECT u.id, u.email, u.role, u.plan, u.created_at, u.handle
          FROM users u
         WHERE p_q IS NULL
            OR u.id::text = lower(p_q)
            OR u.email ILIKE media_like_contains(p_q)
            OR u.handle ILIKE media_like_contains(p_q)
            OR u.display_name ILIKE media_like_contains(p_q)
         ORDER BY u.created_at DESC, u.id
         LIMIT 100;

    GET DIAGNOSTICS n = ROW_COUNT;

    PERFORM media_audit(p_actor, p_actor_role, 'admin.read', 'users', NULL,
                        NULL, p_address, NULL,
                        jsonb_build_object('route', 'GET /api/v1/admin/users',
                                           'q', p_q, 'rows', n));
END $$;

-- a CSV cell (RFC 4180), with a cell a spreadsheet would run as a formula
-- (=, +, -, @, tab, CR first) prefixed by ' (OWASP's CSV injection advice)
CREATE FUNCTION media_csv(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN s IS NULL THEN ''
                ELSE '"' || replace(CASE WHEN s ~ '^[=+\-@\t\r]'
                                         THEN '''' || s ELSE s END,
                                    '"', '""') || '"' END
$$;

-- GET /api/v1/admin/audit: one page of the trail, newest first, filtered;
-- rows (cursor, item JSON, CSV line).  p_cursor is the id of the last row
-- of the page before; p_limit asks one more row than shown, so the caller
-- knows a next page exists.  The read is itself recorded ('admin.read' on
-- target 'audit_log', with the filter): who looked at the trail, and for
-- what, is part of it.
CREATE FUNCTION media_audit_page(p_reader uuid, p_reader_role text,
    p_address inet, p_actor uuid, p_target_type text, p_target text,
    p_action text, p_since timestamptz, p_cursor bigint, p_limit integer,
    p_format text)
RETURNS TABLE (cur text, item text, line text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
        SELECT l.id::text,
               CASE WHEN p_format = 'json' THEN
               jsonb_build_object(
                   'id', l.id,
                   'created_at', to_char(l.created_at AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   'actor_id', l.actor_id,
                   'actor_email', u.email,
                   'actor_role', l.actor_role,
                   'action', l.action,
                   'target_type', l.target_type,
                   'target_id', l.target_id,
                   'reason', l.reason,
                   'address', host(l.address),
                   'before', l.before,
                   'after', l.after)::text END,
               CASE WHEN p_format = 'csv' THEN
               concat_ws(',', l.id::text,
                   to_char(l.created_at AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   coalesce(l.actor_id::text, ''),
                   media_csv(u.email), media_csv(l.actor_role),
                   l.action, l.target_type, media_csv(l.target_id),
                   media_csv(l.reason), coalesce(host(l.address), ''),
                   media_csv(l.before::text), media_csv(l.after::text),
                   encode(l.hash, 'hex')) END
          FROM audit_log l
          LEFT JOIN users u ON u.id = l.actor_id
         WHERE (p_actor IS NULL OR l.actor_id = p_actor)
           AND (p_target_type IS NULL OR l.target_type = p_target_type)
           AND (p_target IS NULL OR l.target_id = p_target)
           AND (p_action IS NULL OR l.action = p_action)
           AND (p_since IS NULL OR l.created_at >= p_since)
           AND (p_cursor IS NULL OR l.id < p_cursor)
         ORDER BY l.id DESC
         LIMIT p_limit;

    PERFORM media_audit(p_reader, p_reader_role, 'admin.read', 'audit_log',
                        NULL, NULL, p_address, NULL,
                        jsonb_strip_nulls(jsonb_build_object(
                            'route', 'GET /api/v1/admin/audit',
                            'format', p_format,
                            'actor', p_actor, 'target_type', p_target_type,
                            'target', p_target, 'action', p_action,
                            'since', p_since, 'cursor', p_cursor)));
END $$;

-- the media whose rows went with a deleted account: media-sweeper's purge
-- step (workers/sweeper/purge.c) removes their files, then the row
CREATE TABLE media_purge (
    media_id    uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- DELETE /api/v1/me: the account goes, and with it what the schema's ON
-- DELETE rules take (media, sessions, identities, playlists, likes,
-- follows, subscriptions' rows: CASCADE; jobs and plays keep their rows,
-- user_id SET NULL); the media's files are listed in media_purge for the
-- sweeper.  A play's viewer text names the user too; it is
-- anonymized here.  The audit row keeps the id, the role and the plan,
-- never the email: the trail must not keep what the person asked us to
-- forget.  Returns the refresh families that were live (the caller drops
-- them from its user cache at once), or no row when the user is gone.
CREATE FUNCTION media_account_delete(p_user uuid, p_address inet,
    p_how text)
RETURNS TABLE (sid text)
LANGUAGE plpgsql AS $$
DECLARE
    old     users;
    nmedia  bigint;
    fams    text[];
BEGIN
    SELECT * INTO old FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    SELECT count(*) INTO nmedia FROM media m WHERE m.owner_id = p_user;

    SELECT coalesce(array_agg(DISTINCT 's:' || t.family_id), '{}')
      INTO fams
      FROM refresh_tokens t
     WHERE t.user_id = p_user AND t.revoked_at IS NULL;

    UPDATE plays SET viewer = 'd:deleted'
     WHERE viewer = 'u:' || p_user::text;

    -- their files outlive the rows: the sweeper's purge step
    INSERT INTO media_purge (media_id)
    SELECT m.id FROM media m WHERE m.owner_id = p_user
    ON CONFLICT DO NOTHING;

    DELETE FROM users WHERE id = p_user;

    PERFORM media_audit(p_user, old.role, 'account.delete', 'user',
                        p_user::text, NULL, p_address,
                        jsonb_build_object('role', old.role,
                                           'plan', old.plan,
                                           'creator_plan', old.creator_plan,
                                           'media', nmedia,
                                           'sessions',
                                           coalesce(array_length(fams, 1),
                                                    0),
                                           'created_at', old.created_at),
                        jsonb_build_object('confirmed_by', p_how));

    RETURN QUERY SELECT unnest(fams);

    IF NOT FOUND THEN
        -- the row the caller needs to know the account went
        sid := NULL;
        RETURN NEXT;
    END IF;
END $$;
