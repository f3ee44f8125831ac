-- 015: the public and listening side: handles and profiles, descriptions
-- and tags, comments on a moment, likes, reposts, follows, playlists,
-- plays and watch progress.  The tables of the public-side issue; the rooms
-- that use them (public pages, social, playlists, history and stats,
-- search) add what they need in later migrations of their own.

-- a profile: /u/<handle>; the handle is chosen by the user (PATCH /me)
ALTER TABLE users
    ADD COLUMN handle        text CHECK (handle ~ '^[a-z0-9_]{3,30}$'),
    ADD COLUMN display_name  text CHECK (length(display_name) <= 80),
    ADD COLUMN bio           text CHECK (length(bio) <= 1000);

CREATE UNIQUE INDEX users_handle_key ON users (handle);

-- what a share page, search and the catalogue show; counts kept by
-- triggers (the rooms' migrations) so that a read is one row
ALTER TABLE media
    ADD COLUMN description     text NOT NULL DEFAULT ''
                               CHECK (length(description) <= 5000),
    ADD COLUMN tags            text[] NOT NULL DEFAULT '{}'
                               CHECK (cardinality(tags) <= 20),
    ADD COLUMN published_at    timestamptz,   -- first made public/unlisted
    ADD COLUMN plays_count     bigint NOT NULL DEFAULT 0,
    ADD COLUMN likes_count     bigint NOT NULL DEFAULT 0,
    ADD COLUMN reposts_count   bigint NOT NULL DEFAULT 0,
    ADD COLUMN comments_count  bigint NOT NULL DEFAULT 0;

-- public media newest first: profiles, the catalogue, feeds
CREATE INDEX media_public_new ON media (owner_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL AND privacy = 'public' AND status = 'ready';

-- a comment anchored to a moment of the media
CREATE TABLE comments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000),
    at_ms       integer NOT NULL CHECK (at_ms >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE INDEX comments_media_at ON comments (media_id, at_ms, id)
    WHERE deleted_at IS NULL;

CREATE TABLE likes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_id)
);

CREATE INDEX likes_media ON likes (media_id, created_at);

CREATE TABLE reposts (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_id)
);

CREATE INDEX reposts_user_new ON reposts (user_id, created_at DESC);

CREATE TABLE follows (
    follower_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);

CREATE INDEX follows_followee ON follows (followee_id, created_at);

CREATE TABLE playlists (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    privacy     text NOT NULL DEFAULT 'private'
                CHECK (privacy IN ('public', 'unlisted', 'private')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX playlists_owner ON playlists (owner_id, created_at DESC);

CREATE TRIGGER playlists_touch BEFORE UPDATE ON playlists
    FOR EACH ROW EXECUTE FUNCTION media_touch();

-- position orders the items; gaps are fine, ties broken by added_at
CREATE TABLE playlist_items (
    playlist_id  uuid NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    media_id     uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (playlist_id, media_id)
);

CREATE INDEX playlist_items_order ON playlist_items (playlist_id, position);

-- a play: counted when a playback token is issued, once per viewer (a
-- user, or an anonymous address) per media per 30 minutes
CREATE TABLE plays (
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    viewer      text NOT NULL,           -- 'u:<user id>' or 'a:<address>'
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX plays_media_time ON plays (media_id, created_at);
CREATE INDEX plays_viewer ON plays (viewer, media_id, created_at DESC);

-- where a signed-in viewer stopped
CREATE TABLE watch_progress (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_id     uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    position_ms  integer NOT NULL CHECK (position_ms >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_id)
);

CREATE INDEX watch_progress_user ON watch_progress (user_id, updated_at DESC);
