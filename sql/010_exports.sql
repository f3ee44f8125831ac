-- 010: exports, limited-use download links and their uses, prices and
-- what buyers own.  The tables of the exports issue; the rooms that use
-- them (exports, downloads, purchases) and the workers (transcoder for
-- exports, billing for purchases, sweeper for expiry) add what they need
-- in later migrations of their own.

-- a creator's price on a media, for the marketplace; both or neither
ALTER TABLE media
    ADD COLUMN price_cents  integer CHECK (price_cents > 0
                                           AND price_cents <= 99999999),
    ADD COLUMN currency     text CHECK (currency ~ '^[a-z]{3}$'),
    ADD CONSTRAINT media_price_pair
        CHECK ((price_cents IS NULL) = (currency IS NULL));

-- a converted (and perhaps enhanced) copy of a media, made by an export job
-- into exports/<export id>.<ext> under media_storage
CREATE TABLE exports (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    media_id     uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL,
    format       text NOT NULL CHECK (format IN ('mp3', 'wav', 'flac', 'ogg',
                                                 'm4a', 'mp4', 'webm')),
    codec        text NOT NULL,      -- audio codec: mp3, pcm_s16le, flac,
                                     -- vorbis, opus, aac (+ video's h264, vp9)
    audio_only   boolean NOT NULL DEFAULT false,
    bitrate      integer CHECK (bitrate > 0),        -- audio, b/s
    sample_rate  integer CHECK (sample_rate > 0),    -- Hz
    enhance      text[] NOT NULL DEFAULT '{}',       -- preset names, in order
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'processing', 'ready', 'failed',
                                   'deleted')),
    progress     smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    size         bigint CHECK (size >= 0),
    duration_ms  integer CHECK (duration_ms >= 0),
    error        text,
    expires_at   timestamptz,        -- set when ready: + media_export_ttl
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz         -- gone from the API; file swept later
);

CREATE INDEX exports_media ON exports (media_id, created_at DESC);
CREATE INDEX exports_user ON exports (user_id, created_at DESC);
CREATE INDEX exports_expiry ON exports (expires_at)
    WHERE deleted_at IS NULL AND expires_at IS NOT NULL;

CREATE TRIGGER exports_touch BEFORE UPDATE ON exports
    FOR EACH ROW EXECUTE FUNCTION media_touch();

-- what a buyer owns: granted by a verified checkout.session.completed
-- (payment mode), once per session
CREATE TABLE entitlements (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_id        uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    source          text NOT NULL DEFAULT 'purchase'
                    CHECK (source IN ('purchase', 'grant')),
    stripe_session  text UNIQUE,       -- cs_...
    amount_cents    integer CHECK (amount_cents >= 0),
    currency        text CHECK (currency ~ '^[a-z]{3}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_id)
);

CREATE INDEX entitlements_media ON entitlements (media_id);

-- A limited-use download link: the token in its URL is an HMAC over
-- (user | asset | grant | expiry); the grant is this row's id.  Uses are
-- counted in Redis (atomically); the row is the truth for listing and
-- revoking, and holds the count Redis last reported.
CREATE TABLE download_links (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    export_id   uuid REFERENCES exports (id) ON DELETE CASCADE,  -- NULL: the
                                                     -- original upload
    grant_kind  text NOT NULL CHECK (grant_kind IN ('owner', 'purchase',
                                                    'subscription')),
    filename    text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    max_uses    integer NOT NULL CHECK (max_uses BETWEEN 1 AND 100),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX download_links_user ON download_links (user_id, created_at DESC);
CREATE INDEX download_links_expiry ON download_links (expires_at);

-- one row per use of a link (kept when the link's bookkeeping is swept)
CREATE TABLE download_uses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id     uuid,              -- no reference: outlives its link
    user_id     uuid,
    media_id    uuid,
    export_id   uuid,
    address     inet,
    user_agent  text CHECK (length(user_agent) <= 512),
    range       text CHECK (length(range) <= 256),
    status      smallint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX download_uses_link ON download_uses (link_id, created_at);
CREATE INDEX download_uses_user ON download_uses (user_id, created_at DESC);
