-- 008: quotas, checked by the module before work is done.
--
-- media_quota_state(user) is every metered quantity with its limit (from
-- the plan of the audience that meters it: storage, media and exports from
-- users.creator_plan, downloads from users.plan) and the plan that would
-- lift it.  media_storage_reserve() is the upload's gate: under a lock on
-- the user's row it checks the media count and storage (what is stored,
-- plus live reservations, plus this upload) and reserves the bytes.
-- Usage crossing 80% or 100% of a limit raises an alert once per period.

CREATE FUNCTION media_period_start(t timestamptz DEFAULT now()) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT date_trunc('month', t AT TIME ZONE 'UTC')::date
$$;

-- a plan's limit on a quantity; NULL is unlimited
CREATE FUNCTION media_plan_limit(p plans, q text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE q WHEN 'storage' THEN p.storage_bytes
                  WHEN 'media' THEN p.media_count
                  WHEN 'exports' THEN p.exports_per_month
                  WHEN 'downloads' THEN p.downloads_per_month END
$$;

CREATE FUNCTION media_quota_state(u uuid)
RETURNS TABLE (quantity text, used bigint, limit_value bigint, plan text,
               lifted_by text)
LANGUAGE sql STABLE AS $$
    WITH me AS (
        SELECT id, plan, creator_plan, storage_used FROM users WHERE id = u
    ), q AS (
        SELECT 'storage' AS quantity, 1 AS n, me.creator_plan AS plan,
               me.storage_used + coalesce((SELECT sum(bytes)
                   FROM storage_reservations r
                  WHERE r.user_id = u AND r.expires_at > now()), 0) AS used
          FROM me
        UNION ALL
        SELECT 'media', 2, me.creator_plan,
               (SELECT count(*) FROM media m
                 WHERE m.owner_id = u AND m.deleted_at IS NULL)
          FROM me
        UNION ALL
        SELECT 'exports', 3, me.creator_plan,
               coalesce((SELECT c.used FROM usage_counters c
                          WHERE c.user_id = u AND c.quantity = 'exports'
                            AND c.period = media_period_start()), 0)
          FROM me
        UNION ALL
        SELECT 'downloads', 4, me.plan,
               coalesce((SELECT c.used FROM usage_counters c
                          WHERE c.user_id = u AND c.quantity = 'downloads'
                            AND c.period = media_period_start()), 0)
          FROM me
    )
    SELECT q.quantity, q.used::bigint, media_plan_limit(p, q.quantity), p.id,
           (SELECT l.id FROM plans l
             WHERE l.audience = p.audience AND l.id <> p.id
               AND l.price_cents > p.price_cents
               AND (media_plan_limit(l, q.quantity) IS NULL
                    OR media_plan_limit(l, q.quantity) > q.used)
             ORDER BY l.price_cents, l.position LIMIT 1)
      FROM q JOIN plans p ON p.id = q.plan
     ORDER BY q.n
$$;

-- raises the 80% and 100% alerts a user's usage has reached, once per
-- period (the row's key); returns how many were new
CREATE FUNCTION media_usage_alerts(u uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO usage_alerts (user_id, period, quantity, threshold, used,
                              limit_value)
    SELECT u, media_period_start(), s.quantity, t.threshold, s.used,
           s.limit_value
      FROM media_quota_state(u) s
     CROSS JOIN (VALUES (80), (100)) t (threshold)
     WHERE s.limit_value IS NOT NULL
       AND s.used * 100 >= s.limit_value * t.threshold
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- The upload's gate, before its body is read.  One row: reservation is
-- the new reservation's id when the upload may go ahead; otherwise NULL,
-- with the quantity that refuses it, what is used, the limit, the plan
-- and the plan that would lift it.  The lock on the user's row makes two
-- uploads at the same moment take their turns, so they cannot both pass
-- the last gigabyte.  A reservation is settled (deleted) when the media
-- row is written or the upload refused; one a broken-off upload leaves
-- behind stops counting when it expires: an hour, plus a second per MB.
CREATE FUNCTION media_storage_reserve(u uuid, bytes bigint,
    OUT reservation uuid, OUT quantity text, OUT used bigint,
    OUT limit_value bigint, OUT plan text, OUT lifted_by text)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    more bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = u FOR UPDATE;

    DELETE FROM storage_reservations r
     WHERE r.user_id = u AND r.expires_at <= now();

    FOR s IN SELECT * FROM media_quota_state(u) q
              WHERE q.quantity IN ('media', 'storage')
    LOOP
        more := CASE s.quantity WHEN 'media' THEN 1 ELSE bytes END;
        IF s.limit_value IS NOT NULL AND s.used + more > s.limit_value THEN
            quantity := s.quantity;
            used := s.used;
            limit_value := s.limit_value;
            plan := s.plan;
            lifted_by := s.lifted_by;
            RETURN;
        END IF;
    END LOOP;

    INSERT INTO storage_reservations (user_id, bytes, expires_at)
    VALUES (u, bytes, now() + interval '1 hour'
                          + (bytes / 1048576) * interval '1 second')
    RETURNING id INTO reservation;
END
$$;

-- storage_used follows the media a user keeps (a deleted media stops
-- counting when it is deleted, not when its files are swept); crossing a
-- mark raises its alert as the media row is written
CREATE OR REPLACE FUNCTION media_storage_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_bytes bigint := 0;
    new_bytes bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        old_bytes := coalesce(OLD.source_size, 0);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
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
    AFTER INSERT OR UPDATE OF source_size, deleted_at, owner_id OR DELETE
    ON media FOR EACH ROW EXECUTE FUNCTION media_storage_changed();

UPDATE users u SET storage_used = coalesce((SELECT sum(source_size)
                                              FROM media m
                                             WHERE m.owner_id = u.id
                                               AND m.deleted_at IS NULL), 0);

-- RFC 3339 in UTC with microseconds, as every API answer writes times
CREATE FUNCTION media_iso8601(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
