-- 043: plays in larger batches, with at most 1,024 locks each.
--
-- bench/search's anonymous token case (each token a new viewer, so each a
-- play: 44,000 a second on 2 cores) spent half of both cores in
-- PostgreSQL once the tokens themselves stopped asking it anything.  A
-- quarter of it was the statement trigger (042): every batch of 1,024
-- plays over the case's 200 media updated each of those 200 media rows
-- (plays_count is in media_catalog_popular, so no update is HOT: each
-- writes every index of the row).  nginx now sends up to 8,192 plays a
-- batch (ngx_http_media_plays.h), a batch a second per worker unless more
-- come, so a media row is updated about once a second per worker.
--
-- 042 took a lock per (viewer, media) in a batch, as many as its plays;
-- 8,192 of them in one transaction, beside other sessions' locks, would
-- crowd PostgreSQL's shared lock table (max_locks_per_transaction times
-- the connections, 6,400 by default).  A play now locks one of 1,024
-- buckets of (viewer, media), in the two-key space of advisory locks with
-- its own first key (no other lock of ours uses two keys), in one order:
-- two batches that share a bucket wait for each other, which only delays
-- the second by the first's few milliseconds.  The check and the insert
-- are 042's.

CREATE OR REPLACE FUNCTION media_plays_add(t text[], m uuid[], v text[],
                                           u uuid[], at bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n  integer;
BEGIN
    PERFORM pg_advisory_xact_lock(43, k.b)
       FROM (SELECT DISTINCT (hashtextextended(b.v || '/' || b.m::text, 18)
                              & 1023)::integer AS b
               FROM unnest(m, v) AS b (m, v)
              ORDER BY 1) k;

    INSERT INTO plays (media_id, viewer, user_id, created_at, tenant)
    SELECT mm.id, p.v, uu.id, p.at, p.t
      FROM (SELECT DISTINCT ON (b.v, b.m) b.t, b.m, b.v, b.u,
                   to_timestamp(b.at / 1000.0) AS at
              FROM unnest(t, m, v, u, at) AS b (t, m, v, u, at)
             ORDER BY b.v, b.m, b.at) p
      JOIN media mm ON mm.id = p.m AND mm.tenant = p.t
      LEFT JOIN users uu ON uu.id = p.u
     WHERE NOT EXISTS (SELECT 1 FROM plays x
                        WHERE x.viewer = p.v AND x.media_id = p.m
                          AND x.created_at > p.at - interval '30 minutes');

    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
