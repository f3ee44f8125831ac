-- 041: a signed-in caller's own media in search, apart from the rest.
--
-- A search's page of media is what everyone may see (public and ready)
-- and, for a signed-in caller, their own media besides (drafts, private,
-- unlisted, still processing).  The first part is the same for every
-- caller, so nginx keeps it in shared memory for a few seconds
-- (media_search_cache, ngx_http_media_search.c) and asks PostgreSQL only
-- for the second, which reads the caller's own rows by owner: a
-- signed-in search costs a lookup of a few rows instead of the whole
-- search.  The module merges the two by (score, id), as one page.
--
-- media_search_own(): the caller's own media matching the query that are
-- not already among the public ones (not public and ready), taken down
-- ones left out (in their owner's library only, as 032), ranked as
-- media_search_media() ranks, after the cursor, at most lim.

CREATE FUNCTION media_search_own(head text, last text, viewer uuid,
                                 after text, lim integer)
RETURNS TABLE (cursor text, item json)
LANGUAGE sql STABLE AS $$
    WITH q AS MATERIALIZED (SELECT media_search_query(head, last) AS q),
    c AS MATERIALIZED (
        SELECT m.id, (ts_rank(m.search, q.q) * 1000000000)::bigint AS score
          FROM q, media m
         WHERE q.q IS NOT NULL
           AND m.owner_id = viewer AND m.deleted_at IS NULL
           AND NOT (m.privacy = 'public' AND m.status = 'ready')
           AND m.status <> 'blocked'
           AND m.search @@ q.q
         LIMIT 100),
    p AS MATERIALIZED (
        SELECT c.* FROM c
         WHERE (c.score, c.id)
               < ((SELECT coalesce(split_part(after, '.', 1)::bigint,
                                   9223372036854775807)),
                  (SELECT coalesce(split_part(after, '.', 2)::uuid,
                          'ffffffff-ffff-ffff-ffff-ffffffffffff')))
         ORDER BY c.score DESC, c.id DESC LIMIT lim)
    SELECT p.score || '.' || p.id, media_list_json(m, u)
      FROM p JOIN media m ON m.id = p.id JOIN users u ON u.id = m.owner_id
     ORDER BY p.score DESC, p.id DESC
$$;
