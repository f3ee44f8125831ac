-- 037: the catalogue's sort=new pages through its index again.
--
-- Under row level security (031), a condition is an index condition only
-- if every function and operator in it is leakproof (pg_proc.proleakproof);
-- any other is checked row by row after the tenant policy.  coalesce() is
-- never leakproof, so (coalesce(published_at, created_at), id) < (cursor)
-- on 026's expression index media_catalog_new read the catalogue from its
-- newest row down to the cursor on every page (page 3,000 of 100,000
-- media: a scan of 70,000 rows).  A stored copy compared with < is read
-- through its index as a range.

ALTER TABLE media
    ADD COLUMN listed_at timestamptz
        GENERATED ALWAYS AS (coalesce(published_at, created_at)) STORED;

DROP INDEX media_catalog_new;
CREATE INDEX media_catalog_new
    ON media (listed_at DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';


-- Searching playlists (GET /api/v1/search?type=playlists) read every
-- playlist of every tenant: search @@ query is not leakproof, so 019's GIN
-- index playlists_search_gin is never read under row security (a
-- sequential scan, 37 ms at 20,000 playlists, growing with them).  Their
-- words go to a btree as 032 did for media and users, and the statement
-- reads the playlists holding the query's longest word by key.

CREATE TABLE playlists_words (
    word         text COLLATE "C" NOT NULL,
    playlist_id  uuid NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    tenant       text NOT NULL DEFAULT media_tenant()
                 CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    PRIMARY KEY (word, playlist_id, tenant)
);

CREATE INDEX playlists_words_playlist ON playlists_words (playlist_id);

ALTER TABLE playlists_words ENABLE ROW LEVEL SECURITY;
ALTER TABLE playlists_words FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON playlists_words USING (tenant = current_setting(
    'media.tenant') OR current_setting('media.tenant') = '*');

INSERT INTO playlists_words (word, playlist_id, tenant)
SELECT DISTINCT w.w, p.id, p.tenant
  FROM playlists p, unnest(tsvector_to_array(p.search)) w(w);

CREATE FUNCTION playlists_words_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO playlists_words (word, playlist_id, tenant)
    SELECT DISTINCT w.w, a.id, a.tenant
      FROM added a, unnest(tsvector_to_array(a.search)) w(w);
    RETURN NULL;
END $$;

CREATE TRIGGER playlists_words_added AFTER INSERT ON playlists
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION playlists_words_added();

CREATE FUNCTION playlists_words_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.search IS DISTINCT FROM OLD.search THEN
        DELETE FROM playlists_words WHERE playlist_id = NEW.id;
        INSERT INTO playlists_words (word, playlist_id, tenant)
        SELECT DISTINCT w.w, NEW.id, NEW.tenant
          FROM unnest(tsvector_to_array(NEW.search)) w(w);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER playlists_words_changed
    AFTER UPDATE OF title ON playlists
    FOR EACH ROW EXECUTE FUNCTION playlists_words_changed();

DROP INDEX playlists_search_gin;


-- A first sign-in through an identity provider asked whether an account
-- holds the provider's email with lower(u.email) = lower(p_email), which
-- read every user of every tenant (lower() of a column is not leakproof;
-- 49 ms at 50,000 users).  036's email_key is the same test through its
-- index (0.06 ms).  The function is 004's otherwise.
CREATE OR REPLACE FUNCTION media_identity_user(p_issuer text,
                                               p_subject text, p_email text)
    RETURNS TABLE (id uuid, role text, plan text, email text)
LANGUAGE plpgsql AS $$
DECLARE
    uid uuid;
BEGIN
    SELECT i.user_id INTO uid FROM identities i
     WHERE i.issuer = p_issuer AND i.subject = p_subject;
    IF FOUND THEN
        RETURN QUERY SELECT u.id, u.role, u.plan, u.email
                       FROM users u WHERE u.id = uid;
        RETURN;
    END IF;

    IF p_email IS NOT NULL AND EXISTS (SELECT 1 FROM users u
                                        WHERE u.email_key = lower(p_email))
    THEN
        p_email := NULL;
    END IF;

    INSERT INTO users AS u (email, password_hash) VALUES (p_email, NULL)
        RETURNING u.id INTO uid;

    INSERT INTO identities (issuer, subject, user_id)
        VALUES (p_issuer, p_subject, uid)
        ON CONFLICT DO NOTHING;

    IF NOT FOUND THEN
        DELETE FROM users u WHERE u.id = uid;
        SELECT i.user_id INTO uid FROM identities i
         WHERE i.issuer = p_issuer AND i.subject = p_subject;
    END IF;

    RETURN QUERY SELECT u.id, u.role, u.plan, u.email
                   FROM users u WHERE u.id = uid;
END $$;
