-- 009: the free tier's ads.
--
-- An admin marks an uploaded media as an ad, with a weight and an optional
-- date range.  Viewers whose plan carries ads (plans.ads) get, with their
-- playback URL, a schedule: a pre-roll, and for content over 20 minutes a
-- mid-roll every 10 minutes, each ad drawn by weight among the live ones.
-- Impressions are counted per ad and per day (UTC).

CREATE TABLE ads (
    media_id    uuid PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
    weight      integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
    starts_at   timestamptz,
    ends_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE TABLE ad_impressions (
    media_id     uuid NOT NULL REFERENCES ads (media_id) ON DELETE CASCADE,
    day          date NOT NULL,
    impressions  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (media_id, day)
);

-- the schedule for content of content_ms: [{"id", "offset_ms",
-- "duration_ms"}], offset 0 for the pre-roll; empty without live ads.
-- PL/pgSQL, so that its plans are kept per connection: it runs with every
-- playback URL of a plan with ads, and most often finds no ad at all.
CREATE FUNCTION media_ad_schedule(content_id uuid, content_ms integer)
RETURNS json
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    offsets  integer[] := ARRAY[0];
    slot     integer := 600000;
    schedule json;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ads a
                    WHERE a.media_id <> content_id
                      AND (a.ends_at IS NULL OR a.ends_at > now()))
    THEN
        RETURN '[]';
    END IF;

    IF coalesce(content_ms, 0) > 1200000 THEN
        WHILE slot < content_ms - 60000 LOOP
            offsets := offsets || slot;
            slot := slot + 600000;
        END LOOP;
    END IF;

    SELECT coalesce(json_agg(json_build_object('id', pick.media_id,
                                               'offset_ms', o.offset_ms,
                                               'duration_ms', pick.duration_ms)
                             ORDER BY o.offset_ms), '[]')
      INTO schedule
      FROM unnest(offsets) AS o (offset_ms)
     CROSS JOIN LATERAL (
        -- weighted draw (Efraimidis-Spirakis): smallest -ln(u)/w wins;
        -- the slot in the expression makes it a draw per slot, not one
        -- draw the planner would reuse for all
        SELECT a.media_id, m.duration_ms
          FROM ads a JOIN media m ON m.id = a.media_id
         WHERE m.status = 'ready' AND m.deleted_at IS NULL
           AND m.id <> content_id
           AND (a.starts_at IS NULL OR a.starts_at <= now())
           AND (a.ends_at IS NULL OR a.ends_at > now())
         ORDER BY -ln(1.0 - random() + o.offset_ms * 0) / a.weight
         LIMIT 1) pick;

    RETURN schedule;
END
$$;
