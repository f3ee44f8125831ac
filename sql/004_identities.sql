-- 004: people from an identity provider, and revocations that outlive Redis.
--
-- A token verified against a provider's JWKS names a person by (issuer,
-- subject); identities maps that pair to a local user, created on first
-- sight.  Role and plan are the local row's, never the provider's claims.

-- a provider's user has no password here, and may have no email we trust
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL,
                  ALTER COLUMN email DROP NOT NULL;

CREATE TABLE identities (
    issuer      text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 255),
    subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX identities_user ON identities (user_id);

-- The local user of (issuer, subject), made on first sight.  The email is
-- kept only when the provider says it verified it and no account holds it
-- already: a provider's say-so never takes over someone else's account.
-- Two first requests at once: the loser of the insert reads the winner's.
-- It returns the users row itself: a statement calling it could not see a
-- row the call inserted.
CREATE FUNCTION media_identity_user(p_issuer text, p_subject text,
                                    p_email text)
    RETURNS TABLE (id uuid, role text, plan text, email text)
LANGUAGE plpgsql AS $$
DECLARE
    uid uuid;
BEGIN
    SELECT i.user_id INTO uid FROM identities i
     WHERE i.issuer = p_issuer AND i.subject = p_subject;
    IF FOUND THEN
        RETURN QUERY SELECT u.id, u.role, u.plan, u.email
                       FROM users u WHERE u.id = uid;
        RETURN;
    END IF;

    IF p_email IS NOT NULL AND EXISTS (SELECT 1 FROM users u
                                        WHERE lower(u.email) = lower(p_email))
    THEN
        p_email := NULL;
    END IF;

    INSERT INTO users AS u (email, password_hash) VALUES (p_email, NULL)
        RETURNING u.id INTO uid;

    INSERT INTO identities (issuer, subject, user_id)
        VALUES (p_issuer, p_subject, uid)
        ON CONFLICT DO NOTHING;

    IF NOT FOUND THEN
        DELETE FROM users u WHERE u.id = uid;
        SELECT i.user_id INTO uid FROM identities i
         WHERE i.issuer = p_issuer AND i.subject = p_subject;
    END IF;

    RETURN QUERY SELECT u.id, u.role, u.plan, u.email
                   FROM users u WHERE u.id = uid;
END $$;

-- Revoked sessions and tokens, until the last token they cover expires.
-- key: "s:<session id>" (our tokens: a refresh family and its access
-- tokens), "t:<issuer> <jti>" or "h:<sha-256 of the token>" (a provider's
-- token with or without a jti).
CREATE TABLE revocations (
    key         text PRIMARY KEY CHECK (length(key) BETWEEN 3 AND 600),
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    reason      text NOT NULL CHECK (reason IN ('logout', 'reuse', 'admin')),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX revocations_expiry ON revocations (expires_at);
