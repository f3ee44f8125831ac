-- 002: refresh tokens.
-- Stored hashed (SHA-256 of the random token), rotated on every use.  All
-- tokens descending from one login share a family; presenting a token that
-- was already rotated means it leaked, and revokes the whole family.

CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    uuid NOT NULL,
    token_hash   text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rotated_at   timestamptz,       -- used once; its successor is live
    revoked_at   timestamptz        -- logout, or reuse detected
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
