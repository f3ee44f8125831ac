-- 013: purchases and the lifecycle.
--
-- What buyers own is sql/010's entitlements; here: the index that lists a
-- buyer's purchases and their activity, and what the sweeper needs to let
-- originals go after media_source_retention.

-- GET /api/v1/library/purchases and /activity: a buyer's, newest first
CREATE INDEX entitlements_user ON entitlements (user_id, created_at DESC,
                                                media_id DESC);

-- GET /api/v1/activity: a user's uploads, deleted ones too (the library's
-- media_owner_page leaves those out)
CREATE INDEX media_owner_all ON media (owner_id, created_at DESC);

-- the original upload was removed by the sweeper (media_source_retention):
-- the renditions stay and play; the upload no longer counts in the owner's
-- storage, and a download link to it finds it gone
ALTER TABLE media ADD COLUMN source_removed_at timestamptz;

-- the sweeper's scan for originals past their retention
CREATE INDEX media_source_age ON media (created_at)
    WHERE deleted_at IS NULL AND source_removed_at IS NULL;

-- storage_used follows the uploads a user keeps: as in sql/008, and an
-- upload the sweeper removed stops counting at once
CREATE OR REPLACE FUNCTION media_storage_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_bytes bigint := 0;
    new_bytes bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL
       AND OLD.source_removed_at IS NULL THEN
        old_bytes := coalesce(OLD.source_size, 0);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL
       AND NEW.source_removed_at IS NULL THEN
        new_bytes := coalesce(NEW.source_size, 0);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.owner_id <> NEW.owner_id THEN
        UPDATE users SET storage_used = storage_used - old_bytes
         WHERE id = OLD.owner_id;
        old_bytes := 0;
    END IF;
    IF new_bytes <> old_bytes THEN
        UPDATE users SET storage_used = storage_used + new_bytes - old_bytes
         WHERE id = coalesce(NEW.owner_id, OLD.owner_id);
    END IF;
    IF TG_OP = 'INSERT' OR new_bytes > old_bytes THEN
        PERFORM media_usage_alerts(NEW.owner_id);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS media_storage ON media;
CREATE TRIGGER media_storage
    AFTER INSERT OR UPDATE OF source_size, deleted_at, owner_id,
                              source_removed_at OR DELETE
    ON media FOR EACH ROW EXECUTE FUNCTION media_storage_changed();
