-- 019: search and the catalogue.
--
-- Full text over media (title, tags, description), users (handle, display
-- name) and playlists (title), accent-insensitive and with the last word
-- typed matched as a prefix, each kept in a stored tsvector that a GIN
-- index reads.
--
-- Accents: the unaccent dictionary inside a text search configuration of
-- our own.  to_tsvector(regconfig, text) is immutable, so the configuration
-- is the immutable wrapper around unaccent that a generated column and an
-- index need (unaccent(text) itself is only stable: it looks its rules up
-- through search_path).  The 'simple' dictionary after it lowercases and
-- does not stem: a stemmed word ("running" -> "run") would not match its
-- own prefix being typed ("runn"), and names and titles are not English.

-- trusted since PostgreSQL 13: the database's owner may create it
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION media_search (COPY = simple);

ALTER TEXT SEARCH CONFIGURATION media_search
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,
                      word, hword, hword_part
    WITH unaccent, simple;

-- array_to_string is stable (it calls the elements' output function); on
-- text[] it cannot change, so this wrapper may say immutable
CREATE FUNCTION media_tags_text(tags text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_string(tags, ' ')
$$;

-- tags as PATCH sends them (a JSON array of strings): trimmed, lower-case
-- (a case-insensitive ICU collation's rules, so "ÉTÉ" becomes "été"
-- whatever the database's locale), first spelling of a duplicate kept, in
-- the order given
CREATE FUNCTION media_tags_from_json(j json) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(t ORDER BY n), '{}')
      FROM (SELECT lower(btrim(e.t) COLLATE "und-x-icu") AS t,
                   min(e.n) AS n
              FROM json_array_elements_text(j) WITH ORDINALITY AS e(t, n)
             GROUP BY 1) x
$$;

-- a lexeme as tsquery input: quoted, so that no character of it is read
-- as an operator
CREATE FUNCTION media_tsquery_quote(lexeme text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || ''''
$$;

-- What a typed query matches: every word of head whole, every lexeme of
-- last (the word being typed) as a prefix, all of them (AND).  A single
-- letter being typed is matched whole: as a prefix it would match nearly
-- every row, and rank them all.  NULL when the query holds no word at all
-- ("!!!"): it then matches nothing, and no NOTICE about an empty tsquery
-- reaches the server's log.
CREATE FUNCTION media_search_query(head text, last text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(media_tsquery_quote(w.l)
                      || CASE WHEN w.p AND length(w.l) > 1 THEN ':*'
                              ELSE '' END, ' & ')::tsquery
      FROM (SELECT unnest(tsvector_to_array(
                       to_tsvector('media_search', coalesce(head, ''))))
                   AS l, false AS p
            UNION ALL
            SELECT unnest(tsvector_to_array(
                       to_tsvector('media_search', coalesce(last, '')))),
                   true) w
$$;

-- a title outranks a tag, a tag outranks the description (ts_rank's
-- weights: A 1.0, B 0.4, C 0.2)
ALTER TABLE media ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('media_search'::regconfig, title), 'A')
    || setweight(to_tsvector('media_search'::regconfig,
                             media_tags_text(tags)), 'B')
    || setweight(to_tsvector('media_search'::regconfig, description), 'C')
) STORED;

CREATE INDEX media_search_gin ON media USING gin (search)
    WHERE deleted_at IS NULL;

ALTER TABLE users ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('media_search'::regconfig,
                          coalesce(handle, '')), 'A')
    || setweight(to_tsvector('media_search'::regconfig,
                             coalesce(display_name, '')), 'B')
) STORED;

-- a user is found by their profile, and a profile is a handle
CREATE INDEX users_search_gin ON users USING gin (search)
    WHERE handle IS NOT NULL;

ALTER TABLE playlists ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('media_search'::regconfig, title)
) STORED;

CREATE INDEX playlists_search_gin ON playlists USING gin (search);

-- the catalogue: public media ready to play, newest or most played first,
-- by kind and by tag
CREATE INDEX media_catalog_new ON media (created_at DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';

CREATE INDEX media_catalog_popular ON media (plays_count DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';

CREATE INDEX media_catalog_tags ON media USING gin (tags)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';
