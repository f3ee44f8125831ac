-- 032: search in bounded time.
--
-- Since 031 every table has forced row level security, and PostgreSQL
-- will not evaluate a condition that is not leakproof before the policy's
-- (it could tell a row's contents to another tenant through an error): a
-- non-leakproof condition is no index condition.  tsvector @@ tsquery
-- (ts_match_vq) is not leakproof, and only a superuser may say it is; so
-- 019's GIN index on media.search was never read again, and each search
-- read and matched every media row (224 ms p99 on 100,000 rows, bench/
-- search).  Text comparisons (texteq, text_ge, text_lt) are leakproof, so
-- a btree over the words is an index PostgreSQL still uses:
--
--   media_words  one row per distinct lexeme of a media's search vector
--                (title, tags, description as 019 makes it), kept by
--                triggers; a word typed whole is a range of one key, a
--                prefix a range of keys (the "C" collation: byte order,
--                so that every word starting with p lies in [p, p||max))
--
-- media_search_media() is the search as one statement (a function, so
-- that the module sends one prepared statement and it runs in one round
-- trip), at most MEDIA_SEARCH_CANDIDATES (100) matches ranked, whatever
-- the query:
--
--   broad    a query matching at least 25 of the 200 most played public
--            media (a prefix still being typed, "kri", which matches a
--            third of all rows): its candidates are the first matches
--            among the 5,000 most played, read through the catalogue's
--            btree (media_catalog_popular), which suits a word still being
--            typed, with the caller's own matches (by owner);
--   narrow   otherwise: the media having the rarest of its words (each
--            word's rows counted up to 2,000, in the index), filtered by
--            the whole query and the caller's right to see them.
--
-- The same rows take the same path on every page, so cursors hold.
-- Beyond the candidates nothing is ranked: a query that broad is refined
-- by typing on.  019's GIN index on media goes: nothing read it, and every
-- write of a media row (each counted play) paid for it.

CREATE TABLE media_words (
    word      text COLLATE "C" NOT NULL,
    media_id  uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    tenant    text NOT NULL DEFAULT media_tenant()
              CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    -- unique per tenant, as 031 makes every key; the tenant in the key
    -- also lets the policy be checked from the index alone
    PRIMARY KEY (word, media_id, tenant)
);

CREATE INDEX media_words_media ON media_words (media_id);

ALTER TABLE media_words ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_words FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON media_words USING (tenant = current_setting(
    'media.tenant') OR current_setting('media.tenant') = '*');

-- the media there are (as the tenant of each)
INSERT INTO media_words (word, media_id, tenant)
SELECT DISTINCT w.w, m.id, m.tenant
  FROM media m, unnest(tsvector_to_array(m.search)) w(w);

-- new media, a statement at a time (an import of many rows is one insert)
CREATE FUNCTION media_words_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_words (word, media_id, tenant)
    SELECT DISTINCT w.w, a.id, a.tenant
      FROM added a, unnest(tsvector_to_array(a.search)) w(w);
    RETURN NULL;
END $$;

CREATE TRIGGER media_words_added AFTER INSERT ON media
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION media_words_added();

-- a media whose words changed (PATCH title, tags, description)
CREATE FUNCTION media_words_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.search IS DISTINCT FROM OLD.search THEN
        DELETE FROM media_words WHERE media_id = NEW.id;
        INSERT INTO media_words (word, media_id, tenant)
        SELECT DISTINCT w.w, NEW.id, NEW.tenant
          FROM unnest(tsvector_to_array(NEW.search)) w(w);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER media_words_changed
    AFTER UPDATE OF title, tags, description ON media
    FOR EACH ROW EXECUTE FUNCTION media_words_changed();

DROP INDEX media_search_gin;


-- what a media is shown with in a list (search, the catalogue): no
-- private field of its owner
CREATE FUNCTION media_list_json(m media, u users) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'title', m.title,
        'kind', m.kind, 'privacy', m.privacy,
        'duration_ms', m.duration_ms,
        'description', left(m.description, 300),
        'tags', m.tags,
        'created_at', media_iso8601(m.created_at),
        'published_at', media_iso8601(m.published_at),
        'plays_count', m.plays_count,
        'likes_count', m.likes_count,
        'owner', json_build_object('id', u.id, 'handle', u.handle,
                                   'display_name', u.display_name))
$$;


-- The search, a page of it: (cursor, item) rows as the module sends them,
-- best first; head the words typed whole, last the one being typed, viewer
-- the caller (NULL: anonymous), after the cursor "<score>.<id>" (NULL:
-- the first page), lim the page's size.
CREATE FUNCTION media_search_media(head text, last text, viewer uuid,
                                   after text, lim integer)
RETURNS TABLE (cursor text, item json)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    q         tsquery := media_search_query(head, last);
    broad     boolean;
    t_from    text;            -- a word's key range: [t_from, t_to)
    t_to      text;
    w_from    text;            -- the rarest word's
    w_to      text;
    n         integer;
    best      integer;
    s         bigint;
    i         uuid;
BEGIN
    IF q IS NULL THEN
        RETURN;
    END IF;

    s := coalesce(split_part(after, '.', 1)::bigint, 9223372036854775807);
    i := coalesce(split_part(after, '.', 2)::uuid,
                  'ffffffff-ffff-ffff-ffff-ffffffffffff');

    SELECT count(*) >= 25 INTO broad
      FROM (SELECT 1
              FROM (SELECT m.search FROM media m
                     WHERE m.deleted_at IS NULL AND m.privacy = 'public'
                       AND m.status = 'ready'
                     ORDER BY m.plays_count DESC, m.id DESC LIMIT 200) m
             WHERE m.search @@ q LIMIT 25) x;

    IF NOT broad THEN
        -- the rarest word, each counted up to 2,000 in the index; a word
        -- typed whole is the range [w, w || chr(1)), which holds w alone,
        -- a prefix [p, p || the last code point); a single letter being
        -- typed is a whole word, as in media_search_query
        FOR t_from, t_to IN
            SELECT t.l, t.l || CASE WHEN t.p AND length(t.l) > 1
                                    THEN chr(1114111) ELSE chr(1) END
              FROM (SELECT unnest(tsvector_to_array(to_tsvector(
                               'media_search', coalesce(head, '')))) AS l,
                           false AS p
                    UNION ALL
                    SELECT unnest(tsvector_to_array(to_tsvector(
                               'media_search', coalesce(last, '')))),
                           true) t
        LOOP
            SELECT count(*) INTO n
              FROM (SELECT 1 FROM media_words w
                     WHERE w.word >= t_from COLLATE "C"
                       AND w.word < t_to COLLATE "C"
                     LIMIT 2000) x;

            IF best IS NULL OR n < best THEN
                best := n;
                w_from := t_from;
                w_to := t_to;
            END IF;
        END LOOP;

        IF best IS NULL THEN
            RETURN;
        END IF;
    END IF;

    RETURN QUERY
    WITH c AS MATERIALIZED (
        (SELECT m.id, m.search
           FROM (SELECT * FROM media m
                  WHERE m.deleted_at IS NULL AND m.privacy = 'public'
                    AND m.status = 'ready'
                  ORDER BY m.plays_count DESC, m.id DESC LIMIT 5000) m
          WHERE broad AND m.search @@ q
          LIMIT 100)
        UNION ALL
        -- the caller's own, whatever their privacy, read by owner
        (SELECT m.id, m.search
           FROM media m
          WHERE broad AND m.owner_id = viewer AND m.deleted_at IS NULL
            AND NOT (m.privacy = 'public' AND m.status = 'ready')
            -- taken down: in its owner's library only
            AND m.status <> 'blocked'
            AND m.search @@ q
          LIMIT 100)
        UNION ALL
        -- each of the word's media by its key, until 100 match (OFFSET
        -- 0: looked up one at a time, never a hash of every media row)
        (SELECT m.id, m.search
           FROM (SELECT w.media_id FROM media_words w
                  WHERE NOT broad AND w.word >= w_from COLLATE "C"
                    AND w.word < w_to COLLATE "C"
                  LIMIT 5000) w,
                LATERAL (SELECT m.id, m.search FROM media m
                          WHERE m.id = w.media_id AND m.search @@ q
                            AND m.deleted_at IS NULL
                            AND ((m.privacy = 'public'
                                  AND m.status = 'ready')
                                 OR (m.owner_id = viewer
                                     AND m.status <> 'blocked'))
                         OFFSET 0) m
          LIMIT 100)),
    r AS (
        SELECT DISTINCT ON (c.id) c.*,
               (ts_rank(c.search, q) * 1000000000)::bigint AS score
          FROM c),
    p AS MATERIALIZED (
        SELECT * FROM r
         WHERE (r.score, r.id) < (s, i)
         ORDER BY r.score DESC, r.id DESC LIMIT lim)
    SELECT p.score || '.' || p.id, media_list_json(m, u)
      FROM p JOIN media m ON m.id = p.id JOIN users u ON u.id = m.owner_id
     ORDER BY p.score DESC, p.id DESC;
END $$;
