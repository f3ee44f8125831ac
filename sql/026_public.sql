-- 026: the public side's last parts.
--
-- published_at: when a ready media first became public or unlisted (the
-- moment it could first be seen by others), set by a trigger whatever
-- statement did it (the PATCH making it public, the transcoder making a
-- public upload ready), and never set again by it nor cleared: a media made
-- private and public again keeps its first date, so it does not jump to
-- the top of feeds.  The feed and the catalogue's sort=new order by it
-- (coalesce(published_at, created_at), the feed's index media_feed_new).
--
-- Avatars: PUT /api/v1/me/avatar keeps the upload as
-- covers/avatar-<user id> and queues a 'cover' job with payload
-- {"avatar": <key>} (no media); the transcoder makes it into
-- avatars/<key>-256.jpg and avatars/<key>-64.jpg and then sets
-- users.avatar_key, so a new avatar is a new URL (cached for ever) and
-- the key says nothing of the user's id.

CREATE FUNCTION media_published_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.published_at IS NOT NULL THEN
        -- never cleared; a date given on purpose (an import) is taken
        NEW.published_at := coalesce(NEW.published_at, OLD.published_at);
    ELSIF NEW.published_at IS NULL AND NEW.status = 'ready'
          AND NEW.privacy IN ('public', 'unlisted')
    THEN
        -- a row born ready and public (an import) was published as made
        NEW.published_at := CASE TG_OP WHEN 'INSERT' THEN NEW.created_at
                                       ELSE now() END;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER media_published BEFORE INSERT OR UPDATE ON media
    FOR EACH ROW EXECUTE FUNCTION media_published_keep();

-- what was published before: its upload time is the best there is
UPDATE media SET published_at = created_at
 WHERE published_at IS NULL AND status = 'ready'
   AND privacy IN ('public', 'unlisted');

-- the catalogue's sort=new, newest published first (instead of 019's
-- by upload time)
DROP INDEX media_catalog_new;
CREATE INDEX media_catalog_new
    ON media ((coalesce(published_at, created_at)) DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';


ALTER TABLE users
    ADD COLUMN avatar_key text CHECK (avatar_key ~ '^[0-9a-f]{32}$');

-- {"256": url, "64": url} or null: the avatars location's files
CREATE FUNCTION media_avatar_json(k text) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN k IS NULL THEN NULL
           ELSE json_build_object('256', '/avatars/' || k || '-256.jpg',
                                  '64', '/avatars/' || k || '-64.jpg') END
$$;

-- a user as comments, the feed and reposts show them
CREATE OR REPLACE FUNCTION media_social_user_json(u uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', id, 'handle', handle,
                             'display_name', display_name,
                             'avatar', media_avatar_json(avatar_key))
      FROM users WHERE id = u
$$;
