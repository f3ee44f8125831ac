-- 007: plans, subscriptions, usage and Stripe's events.
--
-- Plans are rows an admin edits (SQL or `media-admin plans`).  A user has
-- one plan per audience: users.plan (viewer: the highest rung, ads,
-- downloads a month) and users.creator_plan (creator: storage, media
-- count, exports a month).  Without a subscription it is the audience's
-- default plan; the billing worker sets both from Stripe's subscriptions.
-- A NULL limit is unlimited.

CREATE TABLE plans (
    id                   text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    audience             text NOT NULL CHECK (audience IN ('viewer', 'creator')),
    price_cents          integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency             text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    stripe_price_id      text UNIQUE CHECK (stripe_price_id ~ '^[A-Za-z0-9_]{1,255}$'),
    storage_bytes        bigint CHECK (storage_bytes >= 0),
    media_count          integer CHECK (media_count >= 0),
    exports_per_month    integer CHECK (exports_per_month >= 0),
    downloads_per_month  integer CHECK (downloads_per_month >= 0),
    max_rung             integer CHECK (max_rung > 0),   -- short side, px
    ads                  boolean NOT NULL DEFAULT false,
    is_default           boolean NOT NULL DEFAULT false,
    position             integer NOT NULL DEFAULT 0,     -- order on /plans
    -- the plan without a subscription costs nothing; a priced one is sold
    -- through Stripe
    CHECK (NOT is_default OR price_cents = 0),
    CHECK (price_cents = 0 OR stripe_price_id IS NOT NULL)
);

-- one default (the plan without a subscription) per audience
CREATE UNIQUE INDEX plans_default ON plans (audience) WHERE is_default;

INSERT INTO plans (id, name, audience, price_cents, stripe_price_id,
                   storage_bytes, media_count, exports_per_month,
                   downloads_per_month, max_rung, ads, is_default, position)
VALUES
    ('free',         'Free',         'viewer',     0, NULL,
     NULL, NULL, NULL,   10,  720, true,  true,  10),
    ('basic',        'Basic',        'viewer',   299, 'price_basic_monthly',
     NULL, NULL, NULL,  100, 1080, false, false, 20),
    ('premium',      'Premium',      'viewer',   499, 'price_premium_monthly',
     NULL, NULL, NULL, 1000, NULL, false, false, 30),
    ('starter',      'Starter',      'creator',    0, NULL,
     5368709120, 10, 50,     NULL, NULL, false, true,  40),
    ('creator',      'Creator',      'creator', 1499, 'price_creator_monthly',
     53687091200, 100, 500,  NULL, NULL, false, false, 50),
    ('professional', 'Professional', 'creator', 4999, 'price_professional_monthly',
     536870912000, NULL, NULL, NULL, NULL, false, false, 60);

-- users.plan was free text; it now names a viewer plan
UPDATE users SET plan = 'free' WHERE plan NOT IN (SELECT id FROM plans);
ALTER TABLE users
    ADD CONSTRAINT users_plan FOREIGN KEY (plan) REFERENCES plans (id),
    ADD COLUMN creator_plan text NOT NULL DEFAULT 'starter'
        REFERENCES plans (id),
    ADD COLUMN stripe_customer_id text UNIQUE,
    -- bytes of the user's media (uploads as stored), kept by a trigger
    -- (sql/008_quotas.sql)
    ADD COLUMN storage_used bigint NOT NULL DEFAULT 0;

-- a subscription as Stripe last said it was (the billing worker writes it)
CREATE TABLE subscriptions (
    id                    text PRIMARY KEY,              -- Stripe's sub_...
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id               text NOT NULL REFERENCES plans (id),
    status                text NOT NULL CHECK (status IN ('incomplete',
                              'incomplete_expired', 'trialing', 'active',
                              'past_due', 'canceled', 'unpaid', 'paused')),
    current_period_start  timestamptz,
    current_period_end    timestamptz,
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    stripe_updated        bigint NOT NULL DEFAULT 0,   -- event time applied
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX subscriptions_user ON subscriptions (user_id);

CREATE TRIGGER subscriptions_touch BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION media_touch();

-- Stripe's events, each stored once (its id), then applied by a job
CREATE TABLE billing_events (
    id           text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
    type         text NOT NULL,
    created      bigint NOT NULL,        -- Stripe's "created", seconds
    payload      jsonb NOT NULL,
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz
);

-- storage an upload holds while its body arrives: from Content-Length at
-- the start, settled (deleted) when the media row is written or the upload
-- is refused; a reservation left by a crash stops counting when it expires
CREATE TABLE storage_reservations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX storage_reservations_user ON storage_reservations (user_id);

-- metered quantities per calendar month (UTC): exports, downloads
CREATE TABLE usage_counters (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period    date NOT NULL,          -- the month's first day
    quantity  text NOT NULL CHECK (quantity IN ('exports', 'downloads')),
    used      bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (user_id, period, quantity)
);

-- a limit's 80% and 100% marks, raised once per period
CREATE TABLE usage_alerts (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period      date NOT NULL,
    quantity    text NOT NULL CHECK (quantity IN ('storage', 'media',
                                                  'exports', 'downloads')),
    threshold   integer NOT NULL CHECK (threshold IN (80, 100)),
    used        bigint NOT NULL,
    limit_value bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, period, quantity, threshold)
);
