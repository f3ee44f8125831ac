-- 042: plays batches that never wait on each other in a circle, checked
-- as sets; the catalogue by tag read through a btree of its own.
--
-- Plays.  040's statement trigger updated media.plays_count in the order
-- of its hash join, so two nginx workers sending batches that share media
-- (a widely shared link's viewers reach both) could lock the same rows in
-- opposite orders and deadlock: PostgreSQL waited deadlock_timeout (1 s)
-- with those media rows locked, then refused one batch, which was sent
-- again (bench/search's token case: about one a run).  The rows are now
-- locked in id order first.  And media_plays_add() checked and locked each
-- play in a PL/pgSQL loop, a statement per play; it now takes the locks in
-- one statement, in one order, and checks and inserts the plays that
-- count in a second (its own snapshot, taken once the locks are held, so
-- a play another batch committed meanwhile is seen).

CREATE OR REPLACE FUNCTION media_plays_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM media m
      WHERE m.id IN (SELECT media_id FROM added)
      ORDER BY m.id
      FOR NO KEY UPDATE;

    UPDATE media m SET plays_count = m.plays_count + a.n
      FROM (SELECT media_id, count(*) AS n FROM added GROUP BY media_id) a
     WHERE m.id = a.media_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION media_plays_add(t text[], m uuid[], v text[],
                                           u uuid[], at bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n  integer;
BEGIN
    -- one lock per (viewer, media), taken in one order by every batch
    PERFORM pg_advisory_xact_lock(k.h)
       FROM (SELECT DISTINCT hashtextextended(b.v || '/' || b.m::text, 18)
                    AS h
               FROM unnest(m, v) AS b (m, v)
              ORDER BY 1) k;

    -- each viewer's first play of a media in the batch, unless one is
    -- counted in the 30 minutes before it; one statement, so one UPDATE of
    -- plays_count per media
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


-- The catalogue by tag (GET /api/v1/catalog?tag=drama, newest first).
-- tags @> ARRAY[...] is not leakproof, so under row security 019's GIN
-- index is never read: the statement read the whole catalogue's newest-
-- first btree and kept the rows with the tag, about 150 rows read for each
-- one shown when a tag is on one media in 150 (5 to 15 ms a page at
-- 100,000 media).  Each tag of a listed media (public, ready, not
-- deleted) is now a row here, kept by a trigger on media, read by
-- (tag, listed_at, media_id): a page reads its own rows.

CREATE TABLE media_tags (
    tag        text NOT NULL,
    listed_at  timestamptz NOT NULL,
    media_id   uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    -- as 031 does for every table before it
    tenant     text NOT NULL DEFAULT media_tenant()
               CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    PRIMARY KEY (media_id, tag, tenant)
);

CREATE INDEX media_tags_new ON media_tags (tag, listed_at DESC, media_id DESC);

ALTER TABLE media_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON media_tags
    USING (tenant = current_setting('media.tenant')
           OR current_setting('media.tenant') = '*');

-- a media's rows, changed: none unless it is listed, then one per tag
CREATE FUNCTION media_tags_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM media_tags WHERE media_id = NEW.id;

    IF NEW.deleted_at IS NULL AND NEW.privacy = 'public'
       AND NEW.status = 'ready'
    THEN
        INSERT INTO media_tags (tag, listed_at, media_id, kind, tenant)
        SELECT DISTINCT g.tag, NEW.listed_at, NEW.id, NEW.kind, NEW.tenant
          FROM unnest(NEW.tags) AS g (tag);
    END IF;

    RETURN NULL;
END $$;

CREATE FUNCTION media_tags_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_tags (tag, listed_at, media_id, kind, tenant)
    SELECT DISTINCT g.tag, a.listed_at, a.id, a.kind, a.tenant
      FROM added a, unnest(a.tags) AS g (tag)
     WHERE a.deleted_at IS NULL AND a.privacy = 'public'
       AND a.status = 'ready';
    RETURN NULL;
END $$;

-- one statement for the rows an INSERT adds (bench/search: 100,000)
CREATE TRIGGER media_tags_added AFTER INSERT ON media
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION media_tags_added();

-- listed_at is generated from published_at and created_at: watched
-- through them
CREATE TRIGGER media_tags_changed
    AFTER UPDATE OF tags, privacy, status, deleted_at, published_at,
                    created_at, kind ON media
    FOR EACH ROW
    WHEN (OLD.tags IS DISTINCT FROM NEW.tags
          OR OLD.privacy IS DISTINCT FROM NEW.privacy
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.listed_at IS DISTINCT FROM NEW.listed_at
          OR OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION media_tags_keep();

INSERT INTO media_tags (tag, listed_at, media_id, kind, tenant)
SELECT DISTINCT g.tag, m.listed_at, m.id, m.kind, m.tenant
  FROM media m, unnest(m.tags) AS g (tag)
 WHERE m.deleted_at IS NULL AND m.privacy = 'public' AND m.status = 'ready';
