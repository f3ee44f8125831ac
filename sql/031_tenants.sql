-- 031: tenants.  Several sites on one database: `media_tenant name;` in a
-- server {} block (ngx_http_media_module.c).
--
-- Every table gains `tenant text NOT NULL`, and row level security, forced
-- on the owner too, shows a session the rows of its tenant only.  The
-- session says which tenant it is with the setting media.tenant, which the
-- module sets when it connects (options=-c media.tenant=<name>, one pool per
-- tenant), so no query text names a tenant and none can forget to:
--
--   media.tenant = 'default'   the rows of the default tenant (a server
--                              without media_tenant; every row written
--                              before this migration)
--   media.tenant = 'a'         the rows of tenant a
--   media.tenant = '*'         every row: the workers, which work by job or
--                              media id (a job's own work runs under the
--                              job's tenant: workers/common/queue.c), and
--                              media-migrate
--   media.tenant unset         every statement on a table fails (current_
--                              setting raises): a session that did not say
--                              who it is sees nothing, rather than all
--
-- A row written without a tenant takes the session's (media_tenant());
-- under '*' that is refused, since no one tenant is meant.
--
-- This must stay the last migration: it loops over every table there is,
-- so a table added before it is covered without naming it here.  A table
-- added after it must do the same (t/tenants.t fails on a table without
-- forced row security).
--
-- RLS scopes; it does not stop a session from choosing its tenant.  The
-- module never runs SQL it did not prepare, so a request cannot change it.

CREATE FUNCTION media_tenant() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t  text := current_setting('media.tenant');
BEGIN
    IF t = '*' THEN
        RAISE EXCEPTION 'media.tenant is ''*'' (every tenant): a new row '
                        'must name its tenant'
            USING ERRCODE = 'not_null_violation';
    END IF;
    RETURN t;
END $$;

DO $$
DECLARE
    t  regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace
           AND c.relkind IN ('r', 'p')
           AND c.relname <> 'media_schema_migrations'
         ORDER BY c.relname
    LOOP
        -- a constant first: existing rows are the default tenant's, and
        -- the table is not rewritten
        EXECUTE format('ALTER TABLE %s ADD COLUMN tenant text NOT NULL '
                       'DEFAULT ''default'' CHECK (tenant ~ '
                       '''^[a-z0-9][a-z0-9_-]{0,31}$'')', t);
        EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant '
                       'SET DEFAULT media_tenant()', t);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant ON %s USING (tenant = '
                       'current_setting(''media.tenant'') OR '
                       'current_setting(''media.tenant'') = ''*'')', t);
    END LOOP;
END $$;


-- what is unique per site becomes unique per tenant; the tenant comes
-- last, so a lookup by the old columns still uses the index

DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email), tenant);

DROP INDEX users_handle_key;
CREATE UNIQUE INDEX users_handle_key ON users (handle, tenant);

ALTER TABLE users DROP CONSTRAINT users_stripe_customer_id_key,
    ADD CONSTRAINT users_stripe_customer_id_key
        UNIQUE (stripe_customer_id, tenant);

ALTER TABLE identities DROP CONSTRAINT identities_pkey,
    ADD PRIMARY KEY (issuer, subject, tenant);

-- plans: each tenant names its own; a user's and a subscription's plan is
-- one of its tenant's
ALTER TABLE users DROP CONSTRAINT users_plan,
    DROP CONSTRAINT users_creator_plan_fkey;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_plan_id_fkey;

ALTER TABLE plans DROP CONSTRAINT plans_pkey,
    ADD PRIMARY KEY (id, tenant),
    DROP CONSTRAINT plans_stripe_price_id_key,
    ADD CONSTRAINT plans_stripe_price_id_key
        UNIQUE (stripe_price_id, tenant);

DROP INDEX plans_default;
CREATE UNIQUE INDEX plans_default ON plans (audience, tenant)
    WHERE is_default;

ALTER TABLE users
    ADD CONSTRAINT users_plan FOREIGN KEY (plan, tenant)
        REFERENCES plans (id, tenant),
    ADD CONSTRAINT users_creator_plan_fkey FOREIGN KEY (creator_plan, tenant)
        REFERENCES plans (id, tenant);
ALTER TABLE subscriptions
    ADD CONSTRAINT subscriptions_plan_id_fkey FOREIGN KEY (plan_id, tenant)
        REFERENCES plans (id, tenant);

-- a new tenant starts with the two free plans 007 made (users.plan and
-- users.creator_plan default to them); priced plans name prices of a
-- Stripe account, so each tenant adds its own (`media-admin -t name
-- plans import`).  Done when its first user is written.
CREATE FUNCTION media_tenant_plans() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM plans p WHERE p.tenant = NEW.tenant) THEN
        INSERT INTO plans (tenant, id, name, audience, price_cents,
                           downloads_per_month, max_rung, ads, is_default,
                           position, storage_bytes, media_count,
                           exports_per_month)
        VALUES (NEW.tenant, 'free', 'Free', 'viewer', 0, 10, 720, true,
                true, 10, NULL, NULL, NULL),
               (NEW.tenant, 'starter', 'Starter', 'creator', 0, NULL, NULL,
                false, true, 40, 5368709120, 10, 50)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER users_tenant_plans BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION media_tenant_plans();


-- trending: a ranking per tenant, refreshed for all of them at once by the
-- sweeper (media.tenant '*')
ALTER TABLE trending DROP CONSTRAINT trending_pkey,
    ADD PRIMARY KEY (rank, tenant);

CREATE OR REPLACE FUNCTION media_trending_refresh() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n  integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('media_trending', 18))
    THEN
        RETURN -1;
    END IF;

    DELETE FROM trending;

    INSERT INTO trending (tenant, rank, media_id, score, plays, likes)
    SELECT r.tenant, r.rank, r.media_id, r.score, r.plays, r.likes
      FROM (SELECT m.tenant, s.media_id, s.score, s.plays, s.likes,
                   row_number() OVER (PARTITION BY m.tenant
                                      ORDER BY s.score DESC,
                                               m.created_at DESC,
                                               m.id DESC) AS rank
              FROM (SELECT e.media_id, sum(e.weight * e.w) AS score,
                           count(*) FILTER (WHERE e.w = 1) AS plays,
                           count(*) FILTER (WHERE e.w = 3) AS likes
                      FROM (SELECT p.media_id, 1 AS w,
                                   power(2.0::float8, -extract(epoch FROM
                                     now() - p.created_at)::float8 / 86400)
                                   AS weight
                              FROM plays p
                             WHERE p.created_at > now() - interval '7 days'
                            UNION ALL
                            SELECT l.media_id, 3,
                                   power(2.0::float8, -extract(epoch FROM
                                     now() - l.created_at)::float8 / 86400)
                              FROM likes l
                             WHERE l.created_at > now() - interval '7 days')
                           e
                     GROUP BY e.media_id) s
              JOIN media m ON m.id = s.media_id
             WHERE m.privacy = 'public' AND m.status = 'ready'
               AND m.deleted_at IS NULL) r
     WHERE r.rank <= 1000;

    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;


-- The audit trail: one hash chain per tenant.  A session sees only its
-- tenant's rows, so the predecessor media_audit() reads is its tenant's
-- last row; the chain, its lock and its verification follow.  The hashed
-- text names the tenant (so a row cannot move to another tenant's chain
-- unnoticed), except for the default tenant's rows, which hash as they
-- did before this migration (rows already written still verify).
CREATE OR REPLACE FUNCTION media_audit_text(a audit_log) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF a.tenant IS DISTINCT FROM 'default' THEN
        RETURN jsonb_build_array(
            a.id,
            (extract(epoch FROM a.created_at) * 1000000)::bigint,
            a.actor_id, a.actor_role, a.action, a.target_type, a.target_id,
            a.reason, host(a.address), a.before, a.after, a.tenant)::text;
    END IF;

    RETURN jsonb_build_array(
        a.id,
        (extract(epoch FROM a.created_at) * 1000000)::bigint,
        a.actor_id, a.actor_role, a.action, a.target_type, a.target_id,
        a.reason, host(a.address), a.before, a.after)::text;
END $$;

CREATE OR REPLACE FUNCTION media_audit(p_actor uuid, p_actor_role text,
    p_action text, p_target_type text, p_target_id text, p_reason text,
    p_address inet, p_before jsonb, p_after jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    a  audit_log;
BEGIN
    a.tenant := media_tenant();

    -- one writer per chain at a time, until this transaction ends: the
    -- row read as the predecessor is the tenant's last committed one
    PERFORM pg_advisory_xact_lock(hashtext('media audit_log chain'
                                           || a.tenant));

    SELECT l.hash INTO a.prev_hash
      FROM audit_log l WHERE l.tenant = a.tenant
     ORDER BY l.id DESC LIMIT 1;

    a.prev_hash := coalesce(a.prev_hash, decode(repeat('00', 32), 'hex'));
    a.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    a.created_at := clock_timestamp();
    a.actor_id := p_actor;
    a.actor_role := p_actor_role;
    a.action := p_action;
    a.target_type := p_target_type;
    a.target_id := p_target_id;
    a.reason := p_reason;
    a.address := p_address;
    a.before := p_before;
    a.after := p_after;
    a.hash := media_audit_hash(a);

    INSERT INTO audit_log OVERRIDING SYSTEM VALUE
    VALUES (a.*);

    RETURN a.id;
END $$;

CREATE INDEX audit_log_chain ON audit_log (tenant, id DESC);

-- every chain the session sees (all of them under '*'), each from its
-- first row
CREATE OR REPLACE FUNCTION media_audit_verify()
RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    a     audit_log;
    zero  bytea := decode(repeat('00', 32), 'hex');
    prev  bytea;
    cur   text;
BEGIN
    FOR a IN SELECT * FROM audit_log ORDER BY audit_log.tenant, audit_log.id
    LOOP
        IF cur IS DISTINCT FROM a.tenant THEN
            cur := a.tenant;
            prev := zero;
        END IF;
        IF a.prev_hash <> prev THEN
            id := a.id;
            problem := 'prev_hash does not match the hash of the row before '
                       '(a row removed or inserted)';
            RETURN NEXT;
        END IF;
        IF a.hash <> media_audit_hash(a) THEN
            id := a.id;
            problem := 'hash does not match the row (the row was altered)';
            RETURN NEXT;
        END IF;
        prev := a.hash;
    END LOOP;
END $$;


-- download seals (028) per tenant: each tenant's uses go into its own
-- chain; the sweeper (media.tenant '*') seals every tenant's in one call
CREATE FUNCTION media_download_digest(p_tenant text, from_id bigint,
    to_id bigint, OUT n bigint, OUT digest text)
LANGUAGE sql STABLE AS $$
    SELECT count(*),
           encode(sha256(convert_to(coalesce(jsonb_agg(
               media_download_json(d) ORDER BY d.id), '[]'::jsonb)::text,
               'UTF8')), 'hex')
      FROM download_uses d
     WHERE d.tenant = p_tenant AND d.id BETWEEN from_id AND to_id
$$;

CREATE OR REPLACE FUNCTION media_download_seal(max_rows integer,
    margin interval DEFAULT interval '60 seconds')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    session  text := current_setting('media.tenant');
    tenants  text[];
    t        text;
    last     bigint;
    upto     bigint;
    n        bigint;
    dig      text;
    sealed   bigint;
BEGIN
    -- one sealer at a time (two sweepers on two machines)
    PERFORM pg_advisory_xact_lock(hashtext('media download_uses seal'));

    SELECT array_agg(DISTINCT d.tenant ORDER BY d.tenant) INTO tenants
      FROM download_uses d
     WHERE d.created_at < now() - margin
       AND d.id > coalesce((SELECT max((l.after->>'to_id')::bigint)
                              FROM audit_log l
                             WHERE l.action = 'download.seal'
                               AND l.tenant = d.tenant), 0);

    FOREACH t IN ARRAY coalesce(tenants, '{}') LOOP
        SELECT coalesce(max((l.after->>'to_id')::bigint), 0) INTO last
          FROM audit_log l
         WHERE l.action = 'download.seal' AND l.tenant = t;

        SELECT max(id) INTO upto FROM (
            SELECT d.id FROM download_uses d
             WHERE d.tenant = t AND d.id > last
               AND d.created_at < now() - margin
             ORDER BY d.id LIMIT max_rows) x;

        CONTINUE WHEN upto IS NULL;

        SELECT g.n, g.digest INTO n, dig
          FROM media_download_digest(t, last + 1, upto) g;

        -- the seal joins the tenant's chain: written as that tenant
        PERFORM set_config('media.tenant', t, true);

        sealed := media_audit(NULL, 'operator', 'download.seal',
                              'download_uses',
                              (last + 1)::text || '-' || upto::text,
                              'the download uses of this range, sealed',
                              NULL, NULL,
                              jsonb_build_object('from_id', last + 1,
                                                 'to_id', upto, 'count', n,
                                                 'sha256', dig));

        PERFORM set_config('media.tenant', session, true);
    END LOOP;

    RETURN sealed;
END $$;

CREATE OR REPLACE FUNCTION media_download_verify()
RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    a  audit_log;
    g  record;
BEGIN
    FOR a IN SELECT * FROM audit_log l WHERE l.action = 'download.seal'
              ORDER BY l.id
    LOOP
        SELECT * INTO g FROM media_download_digest(a.tenant,
            (a.after->>'from_id')::bigint, (a.after->>'to_id')::bigint);

        IF g.n <> (a.after->>'count')::bigint
           OR g.digest <> a.after->>'sha256'
        THEN
            id := a.id;
            problem := format('the download uses %s to %s no longer match '
                              'their seal (%s now, %s sealed)',
                              a.after->>'from_id', a.after->>'to_id', g.n,
                              a.after->>'count');
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;
