-- 021: roles and the audit trail, shared by the moderation rooms.
--
-- Roles: user (listener/viewer), creator, moderator, admin.
--
-- audit_log: who did what to what, why, from where, when, and the
-- before/after where it applies.  Rows are written by media_audit(), in
-- the same transaction as the change they record.  The table is
-- append-only in the database itself: a trigger refuses UPDATE, DELETE
-- and TRUNCATE whoever asks (the service's own role included), and the
-- owner's UPDATE, DELETE and TRUNCATE privileges are revoked too.  A
-- superuser can still disable the trigger; the hash chain makes that
-- detectable: each row carries prev_hash (its predecessor's hash, 32 zero
-- bytes for the first row) and hash = SHA-256(prev_hash || the row's
-- canonical text, media_audit_text()).  `media-admin audit verify` walks
-- the rows in id order and recomputes both.
--
-- The chain needs one writer at a time: media_audit() takes a transaction
-- advisory lock, so audited transactions serialize on their last steps;
-- write the audit row last in a transaction, just before COMMIT.

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('user', 'creator', 'moderator', 'admin'));

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    actor_id     uuid,             -- no reference: outlives its user
    actor_role   text,             -- the role the actor acted with
    action       text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{1,63}$'),
    target_type  text NOT NULL CHECK (target_type ~ '^[a-z_]{1,32}$'),
    target_id    text CHECK (length(target_id) <= 200),
    reason       text CHECK (length(reason) <= 2000),
    address      inet,
    before       jsonb,
    after        jsonb,
    prev_hash    bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea NOT NULL CHECK (length(hash) = 32)
);

CREATE INDEX audit_log_actor ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
CREATE INDEX audit_log_time ON audit_log (created_at);

-- the text a row's hash covers: every column but hash, in a fixed order,
-- as a JSON array (jsonb's text form: strings escaped, so no value can
-- pass for a separator; NULL apart from ''; the before and after objects
-- with their keys sorted), independent of the session's TimeZone and
-- DateStyle (epoch microseconds)
CREATE FUNCTION media_audit_text(a audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(
        a.id,
        (extract(epoch FROM a.created_at) * 1000000)::bigint,
        a.actor_id, a.actor_role, a.action, a.target_type, a.target_id,
        a.reason, host(a.address), a.before, a.after)::text
$$;

CREATE FUNCTION media_audit_hash(a audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(a.prev_hash || convert_to(media_audit_text(a), 'UTF8'))
$$;

-- append one row to the chain; returns its id
CREATE FUNCTION media_audit(p_actor uuid, p_actor_role text, p_action text,
    p_target_type text, p_target_id text, p_reason text, p_address inet,
    p_before jsonb, p_after jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    a  audit_log;
BEGIN
    -- one writer at a time, until this transaction ends: the row read as
    -- the predecessor is the last committed one
    PERFORM pg_advisory_xact_lock(hashtext('media audit_log chain'));

    SELECT l.hash INTO a.prev_hash
      FROM audit_log l ORDER BY l.id DESC LIMIT 1;

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

-- append-only, whoever asks
CREATE FUNCTION media_audit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION media_audit_refuse();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION media_audit_refuse();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER;

-- the rows whose chain does not hold, in id order (none: the chain is
-- intact); what `media-admin audit verify` reports
CREATE FUNCTION media_audit_verify()
RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql AS $$
DECLARE
    a     audit_log;
    prev  bytea := decode(repeat('00', 32), 'hex');
BEGIN
    FOR a IN SELECT * FROM audit_log ORDER BY audit_log.id LOOP
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
