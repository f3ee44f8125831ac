-- 024: what a takedown refuses in the database itself.  A taken-down
-- media (status 'blocked', sql/022) gains no download link and no export,
-- whichever route or function asks: the INSERT fails with SQLSTATE MB451
-- and the media's blocked_reason as its message, which the module answers
-- as 451 media_blocked ("this media was removed: <reason>").  Links made
-- before the takedown are refused where they are used (the download
-- path reads the media's status).

CREATE FUNCTION media_blocked_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why  text;
BEGIN
    SELECT coalesce(nullif(blocked_reason, ''), 'removed by a moderator')
      INTO why
      FROM media WHERE id = NEW.media_id AND status = 'blocked';

    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MB451', MESSAGE = why;
    END IF;

    RETURN NEW;
END $$;

CREATE TRIGGER download_links_blocked BEFORE INSERT ON download_links
    FOR EACH ROW EXECUTE FUNCTION media_blocked_refuse();

CREATE TRIGGER exports_blocked BEFORE INSERT ON exports
    FOR EACH ROW EXECUTE FUNCTION media_blocked_refuse();
