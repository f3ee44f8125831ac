-- 017: the social room's counts (media.likes_count, reposts_count,
-- comments_count, from 015) kept by triggers on the rows that make them,
-- so that a media's read is one row and no request counts by hand.
--
-- A comment is deleted softly (deleted_at set): it leaves the count then;
-- a row removed outright (its media or author deleted) leaves it only if
-- it was still counted.  The media row is locked by each update, so two
-- likes at once add two.

CREATE FUNCTION media_social_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d  integer := 0;
    m  uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        d := 1;
        m := NEW.media_id;
    ELSIF TG_OP = 'DELETE' THEN
        d := -1;
        m := OLD.media_id;
    END IF;

    IF TG_TABLE_NAME = 'comments' THEN
        IF TG_OP = 'UPDATE' THEN
            m := NEW.media_id;
            IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
                d := -1;
            ELSIF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
                d := 1;
            END IF;
        ELSIF TG_OP = 'DELETE' AND OLD.deleted_at IS NOT NULL THEN
            d := 0;
        END IF;
        IF d <> 0 THEN
            UPDATE media SET comments_count = comments_count + d
             WHERE id = m;
        END IF;
    ELSIF TG_TABLE_NAME = 'likes' THEN
        UPDATE media SET likes_count = likes_count + d WHERE id = m;
    ELSE
        UPDATE media SET reposts_count = reposts_count + d WHERE id = m;
    END IF;

    RETURN NULL;
END
$$;

CREATE TRIGGER comments_count AFTER INSERT OR DELETE OR UPDATE OF deleted_at
    ON comments FOR EACH ROW EXECUTE FUNCTION media_social_count();

CREATE TRIGGER likes_count AFTER INSERT OR DELETE
    ON likes FOR EACH ROW EXECUTE FUNCTION media_social_count();

CREATE TRIGGER reposts_count AFTER INSERT OR DELETE
    ON reposts FOR EACH ROW EXECUTE FUNCTION media_social_count();

-- who a comment, a repost or a follow names, as every answer shows them
CREATE FUNCTION media_social_user_json(u uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', id, 'handle', handle,
                             'display_name', display_name)
      FROM users WHERE id = u
$$;

CREATE FUNCTION media_comment_json(c comments) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', c.id, 'media_id', c.media_id,
                             'body', c.body, 'at_ms', c.at_ms,
                             'created_at', media_iso8601(c.created_at),
                             'user', media_social_user_json(c.user_id))
$$;

-- a media as the feed shows it: what a player needs to start, and counts
CREATE FUNCTION media_feed_media_json(m media) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'title', m.title, 'kind', m.kind,
                             'duration_ms', m.duration_ms,
                             'created_at', media_iso8601(m.created_at),
                             'owner', media_social_user_json(m.owner_id),
                             'likes_count', m.likes_count,
                             'reposts_count', m.reposts_count,
                             'comments_count', m.comments_count)
$$;

-- the feed reads each followee's public media newest first, at the time
-- it shows them (published, else uploaded): a page is an index range per
-- followee, not a sort of all they ever made
CREATE INDEX media_feed_new
    ON media (owner_id, (coalesce(published_at, created_at)) DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';
