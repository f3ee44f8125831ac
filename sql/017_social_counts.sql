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
