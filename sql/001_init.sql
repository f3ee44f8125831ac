-- 001: users, media, renditions, jobs.
-- Applied by media-migrate inside one transaction; recorded in
-- media_schema_migrations.  Status sets match media_shared.h.

CREATE FUNCTION media_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL CHECK (email = btrim(email) AND email <> ''),
    -- "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>": parameters kept
    -- beside the hash so they can be raised later
    password_hash  text NOT NULL,
    role           text NOT NULL DEFAULT 'user'
                   CHECK (role IN ('user', 'creator', 'admin')),
    plan           text NOT NULL DEFAULT 'free',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- emails compare case-insensitively
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION media_touch();

CREATE TABLE media (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    kind           text CHECK (kind IN ('audio', 'video')),  -- set by probe
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'processing', 'ready',
                                     'failed')),
    privacy        text NOT NULL DEFAULT 'private'
                   CHECK (privacy IN ('public', 'unlisted', 'private')),
    content_type   text,
    source_size    bigint CHECK (source_size >= 0),
    duration_ms    integer CHECK (duration_ms >= 0),
    loudness_lufs  real,
    loudnorm_mode  text CHECK (loudnorm_mode IN ('linear', 'dynamic')),
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz      -- gone from the API; files swept later
);

-- a user's library, newest first, for cursor pages
CREATE INDEX media_owner_page ON media (owner_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TRIGGER media_touch BEFORE UPDATE ON media
    FOR EACH ROW EXECUTE FUNCTION media_touch();

-- one row per published rung; what master playlists are built from
CREATE TABLE renditions (
    media_id           uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (name ~ '^[a-z0-9]+$'),
    width              integer CHECK (width > 0),
    height             integer CHECK (height > 0),
    frame_rate         numeric(8, 3) CHECK (frame_rate > 0),
    bandwidth          integer NOT NULL CHECK (bandwidth > 0),  -- peak, b/s
    average_bandwidth  integer NOT NULL CHECK (average_bandwidth > 0),
    codecs             text NOT NULL,                            -- RFC 6381
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_id, name)
);

CREATE TABLE jobs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type           text NOT NULL
                   CHECK (type IN ('transcode', 'export', 'enhance',
                                   'billing', 'sweep')),
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'done', 'failed',
                                     'dead')),
    media_id       uuid REFERENCES media (id) ON DELETE CASCADE,
    user_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    progress       smallint NOT NULL DEFAULT 0
                   CHECK (progress BETWEEN 0 AND 100),
    error          text,
    payload        jsonb NOT NULL DEFAULT '{}',
    result         jsonb,
    run_after      timestamptz NOT NULL DEFAULT now(),  -- retry backoff
    lease_until    timestamptz,          -- a worker owns it until then
    worker         text,
    heartbeat_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);

-- the reconciler's scan: what should be in a stream
CREATE INDEX jobs_pending ON jobs (type, run_after)
    WHERE status IN ('queued', 'running');
CREATE INDEX jobs_media ON jobs (media_id);

CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION media_touch();
