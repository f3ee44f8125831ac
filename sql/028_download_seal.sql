-- 028: download uses sealed into the audit trail in batches.
--
-- A download link's every use writes its download_uses row in the same
-- statement as the use (ngx_http_media_downloads.c).  Chaining each use
-- into audit_log as it happens put every download behind the chain's one
-- lock (pgbench, the /dl/ statement at 16 clients: 4,986 tps without, 585
-- with).  Instead download_uses is append-only like audit_log (a trigger
-- refuses UPDATE, DELETE and TRUNCATE, whoever asks), and the sweeper
-- seals it: one 'download.seal' row in the chain covering the uses with
-- ids from_id to to_id, their count and the SHA-256 of their canonical
-- text, in id order.  media_download_verify() recomputes every seal;
-- `media-admin audit verify` reports both.
--
-- Ids are taken when a use's statement starts and become visible when it
-- commits, so a use with a smaller id can commit after one with a larger
-- id was sealed.  A seal therefore stops at the newest use older than a
-- margin (60 s by default; a /dl/ statement is one short autocommit
-- statement, and media_pg_timeout gives up waiting for it long before).

CREATE TRIGGER download_uses_append_only
    BEFORE UPDATE OR DELETE ON download_uses
    FOR EACH ROW EXECUTE FUNCTION media_audit_refuse();

CREATE TRIGGER download_uses_no_truncate
    BEFORE TRUNCATE ON download_uses
    FOR EACH STATEMENT EXECUTE FUNCTION media_audit_refuse();

REVOKE UPDATE, DELETE, TRUNCATE ON download_uses FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON download_uses FROM CURRENT_USER;

-- a use as a seal's hash covers it: every column, in a fixed order, as a
-- JSON array (strings escaped, NULL apart from ''), independent of the
-- session's settings
CREATE FUNCTION media_download_json(d download_uses) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(d.id, d.link_id, d.user_id, d.media_id,
        d.export_id, host(d.address), d.user_agent, d.range, d.status,
        (extract(epoch FROM d.created_at) * 1000000)::bigint)
$$;

-- count and hash of the uses from_id..to_id, as a seal records them: the
-- SHA-256 of their JSON array, in id order
CREATE FUNCTION media_download_digest(from_id bigint, to_id bigint,
    OUT n bigint, OUT digest text)
LANGUAGE sql STABLE AS $$
    SELECT count(*),
           encode(sha256(convert_to(coalesce(jsonb_agg(
               media_download_json(d) ORDER BY d.id), '[]'::jsonb)::text,
               'UTF8')), 'hex')
      FROM download_uses d
     WHERE d.id BETWEEN from_id AND to_id
$$;

-- seals the uses not sealed yet, older than margin, at most max_rows of
-- them; returns the seal's audit id, or NULL when there was nothing
CREATE FUNCTION media_download_seal(max_rows integer,
    margin interval DEFAULT interval '60 seconds')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    last   bigint;
    upto   bigint;
    n      bigint;
    dig    text;
BEGIN
    -- one sealer at a time (two sweepers on two machines)
    PERFORM pg_advisory_xact_lock(hashtext('media download_uses seal'));

    SELECT coalesce(max((l.after->>'to_id')::bigint), 0) INTO last
      FROM audit_log l WHERE l.action = 'download.seal';

    SELECT max(id) INTO upto FROM (
        SELECT d.id FROM download_uses d
         WHERE d.id > last
           AND d.created_at < now() - margin
         ORDER BY d.id LIMIT max_rows) x;

    IF upto IS NULL THEN
        RETURN NULL;
    END IF;

    SELECT g.n, g.digest INTO n, dig
      FROM media_download_digest(last + 1, upto) g;

    RETURN media_audit(NULL, 'operator', 'download.seal', 'download_uses',
                       (last + 1)::text || '-' || upto::text,
                       'the download uses of this range, sealed',
                       NULL, NULL,
                       jsonb_build_object('from_id', last + 1,
                                          'to_id', upto, 'count', n,
                                          'sha256', dig));
END $$;

-- the seals whose uses no longer match (a use altered, removed or added
-- under them), in id order; none: every sealed use is as it was
CREATE FUNCTION media_download_verify()
RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    a  audit_log;
    g  record;
BEGIN
    FOR a IN SELECT * FROM audit_log l WHERE l.action = 'download.seal'
              ORDER BY l.id
    LOOP
        SELECT * INTO g FROM media_download_digest(
            (a.after->>'from_id')::bigint, (a.after->>'to_id')::bigint);

        IF g.n <> (a.after->>'count')::bigint
           OR g.digest <> a.after->>'sha256'
        THEN
            id := a.id;
            problem := format('the download uses %s to %s no longer match '
                              'their seal (%s now, %s sealed)',
                              a.after->>'from_id', a.after->>'to_id', g.n,
                              a.after->>'count');
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;
