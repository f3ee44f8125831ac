-- 018: the listening side: plays counted once per viewer per media per
-- 30 minutes (media.plays_count kept by a trigger), the trending table the
-- sweeper refreshes, and the functions the playlists, history, stats and
-- trending rooms share.  The tables are 015's.

-- trending and stats read plays by time across all media
CREATE INDEX plays_time ON plays (created_at);

-- stats read comments by media and time
CREATE INDEX comments_media_time ON comments (media_id, created_at)
    WHERE deleted_at IS NULL;

CREATE FUNCTION media_plays_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE media SET plays_count = plays_count + 1 WHERE id = NEW.media_id;
    RETURN NULL;
END $$;

CREATE TRIGGER plays_counted AFTER INSERT ON plays
    FOR EACH ROW EXECUTE FUNCTION media_plays_counted();

-- A play, when a playback token is issued: one row per viewer ('u:<user
-- id>' or 'a:<address>') per media per 30 minutes.  The advisory lock
-- makes two tokens asked for at once by one viewer count once; it is held
-- to the end of the statement that issues the token (autocommit).
-- Returns true when this call counted.
CREATE FUNCTION media_play_count(m uuid, v text, u uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(v || '/' || m::text, 18));

    IF EXISTS (SELECT 1 FROM plays
                WHERE viewer = v AND media_id = m
                  AND created_at > now() - interval '30 minutes')
    THEN
        RETURN false;
    END IF;

    INSERT INTO plays (media_id, viewer, user_id) VALUES (m, v, u);
    RETURN true;
END $$;

-- the ranking the sweeper refreshes (media_trending_refresh); the API
-- reads it joined to media, checking privacy again, so a media made
-- private or deleted since the last refresh is never shown
CREATE TABLE trending (
    rank          integer PRIMARY KEY,
    media_id      uuid NOT NULL UNIQUE REFERENCES media (id)
                  ON DELETE CASCADE,
    score         double precision NOT NULL,
    plays         bigint NOT NULL,     -- in the window
    likes         bigint NOT NULL,     -- in the window
    refreshed_at  timestamptz NOT NULL DEFAULT now()
);

-- score = sum over the last 7 days of w(age) for each play
--       + 3 * sum of w(age) for each like,   w(age) = 2 ^ (-age / 24 h)
-- (a play or like loses half its weight each day); public, ready,
-- undeleted media only; the best 1000 kept, ties to the newer media.
-- In float8: extract() gives numeric, whose power() is slow (with 16,000
-- plays in the week the refresh took 410 ms in numeric).
-- Two sweepers at once: the second skips (the advisory lock).  Returns the
-- rows ranked, or -1 when another refresh held the lock.
CREATE FUNCTION media_trending_refresh() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n  integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('media_trending', 18))
    THEN
        RETURN -1;
    END IF;

    DELETE FROM trending;

    INSERT INTO trending (rank, media_id, score, plays, likes)
    SELECT row_number() OVER (ORDER BY s.score DESC, m.created_at DESC,
                                       m.id DESC),
           s.media_id, s.score, s.plays, s.likes
      FROM (SELECT e.media_id, sum(e.weight * e.w) AS score,
                   count(*) FILTER (WHERE e.w = 1) AS plays,
                   count(*) FILTER (WHERE e.w = 3) AS likes
              FROM (SELECT p.media_id, 1 AS w,
                           power(2.0::float8, -extract(epoch FROM
                             now() - p.created_at)::float8 / 86400) AS weight
                      FROM plays p
                     WHERE p.created_at > now() - interval '7 days'
                    UNION ALL
                    SELECT l.media_id, 3,
                           power(2.0::float8, -extract(epoch FROM
                             now() - l.created_at)::float8 / 86400)
                      FROM likes l
                     WHERE l.created_at > now() - interval '7 days') e
             GROUP BY e.media_id) s
      JOIN media m ON m.id = s.media_id
     WHERE m.privacy = 'public' AND m.status = 'ready'
       AND m.deleted_at IS NULL
     ORDER BY s.score DESC, m.created_at DESC, m.id DESC
     LIMIT 1000;

    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- a media as the listening rooms show it, to whoever may see it
CREATE FUNCTION media_listen_json(m media) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'title', m.title, 'kind', m.kind,
        'status', m.status, 'privacy', m.privacy,
        'duration_ms', m.duration_ms, 'owner_id', m.owner_id,
        'plays_count', m.plays_count, 'likes_count', m.likes_count)
$$;

-- Adding an item and making a playlist count what is there: plpgsql, so
-- that each query inside takes a snapshot of its own (READ COMMITTED) and
-- the count, made after the row lock is had, sees what a concurrent add or
-- creation committed while this one waited.  A single statement would
-- count from its starting snapshot, and two at once could both pass.

-- m_owner: the caller; the verdict: 'ok' (added or already there),
-- 'not_owner', 'missing', 'no_media', 'full'
CREATE FUNCTION media_playlist_add(m_owner uuid, p_id uuid, m_id uuid)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n    bigint;
    top  integer;
BEGIN
    PERFORM 1 FROM playlists WHERE id = p_id AND owner_id = m_owner
        FOR UPDATE;

    IF NOT FOUND THEN
        RETURN CASE WHEN EXISTS (SELECT 1 FROM playlists WHERE id = p_id
                                    AND privacy <> 'private')
                    THEN 'not_owner' ELSE 'missing' END;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM media WHERE id = m_id
                      AND deleted_at IS NULL
                      AND (privacy <> 'private' OR owner_id = m_owner))
    THEN
        RETURN 'no_media';
    END IF;

    IF EXISTS (SELECT 1 FROM playlist_items
                WHERE playlist_id = p_id AND media_id = m_id)
    THEN
        RETURN 'ok';
    END IF;

    SELECT count(*), coalesce(max(position), 0) INTO n, top
      FROM playlist_items WHERE playlist_id = p_id;

    IF n >= 500 THEN
        RETURN 'full';
    END IF;

    INSERT INTO playlist_items (playlist_id, media_id, position)
    VALUES (p_id, m_id, top + 1);

    RETURN 'ok';
END $$;

-- the new playlist's id, or NULL when the owner has 200 already
CREATE FUNCTION media_playlist_create(m_owner uuid, p_title text,
    p_privacy text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    id  uuid;
BEGIN
    PERFORM 1 FROM users WHERE users.id = m_owner FOR UPDATE;

    IF (SELECT count(*) FROM playlists WHERE owner_id = m_owner) >= 200 THEN
        RETURN NULL;
    END IF;

    INSERT INTO playlists (owner_id, title, privacy)
    VALUES (m_owner, p_title, coalesce(p_privacy, 'private'))
    RETURNING playlists.id INTO id;

    RETURN id;
END $$;
