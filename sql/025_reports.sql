-- 025: reports and DMCA notices, appeals (counter-notices), the
-- moderators' actions, the notices a user is sent, and drafts.
--
-- Every function here that changes something answers one row,
--   (status, code, field, message, body, publish, sessions)
-- which the module sends as it is: status 200 or 201 sends body, any other
-- the error (code, field, message); publish holds the messages for the
-- Redis channel media:blocked ("+m <id>", "-u <id>", ...) to send once the
-- transaction has committed; sessions the revocation keys ("s:<family>")
-- whose entries in the module's user cache must be dropped now.
-- Each action appends its audit row (media_audit, sql/021) in the same
-- transaction, last.

-- a report: on a media, a comment or a user
CREATE TABLE reports (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at     timestamptz NOT NULL DEFAULT now(),
    target_type    text NOT NULL CHECK (target_type IN ('media', 'comment',
                                                        'user')),
    target_id      uuid NOT NULL,
    reason         text NOT NULL CHECK (reason IN ('copyright', 'abuse',
                                                   'spam', 'other')),
    details        text NOT NULL DEFAULT ''
                   CHECK (length(details) <= 5000),
    evidence_urls  text[] NOT NULL DEFAULT '{}'
                   CHECK (cardinality(evidence_urls) <= 10),
    -- signed in, or an anonymous copyright notice with a contact email
    reporter_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    contact_email  text CHECK (length(contact_email) <= 254),
    address        inet,
    -- a copyright notice (17 U.S.C. 512(c)(3)): the work claimed to be
    -- infringed, who claims it, and the statement of good faith
    work_claimed   text CHECK (length(work_claimed) <= 2000),
    claimant       text CHECK (length(claimant) <= 200),
    good_faith     boolean,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'actioned', 'dismissed')),
    resolved_at    timestamptz,
    resolved_by    uuid,
    resolution     text,             -- the action that closed it
    -- the uploader's counter-notice (512(g)(3)), once
    appeal_statement  text CHECK (length(appeal_statement) <= 5000),
    appeal_name       text CHECK (length(appeal_name) <= 200),
    appeal_contact    text CHECK (length(appeal_contact) <= 500),
    appeal_consent    boolean,
    appealed_at       timestamptz,
    appealed_by       uuid,
    -- (signed in, or a contact email: checked by the route, not here, so
    -- that a reporter's account can be deleted: reporter_id becomes NULL)
    CHECK (reason <> 'copyright' OR (work_claimed IS NOT NULL
                                     AND claimant IS NOT NULL
                                     AND good_faith))
);

CREATE INDEX reports_queue ON reports (status, id);
CREATE INDEX reports_target ON reports (target_type, target_id);

-- one open report per reporter and target
CREATE UNIQUE INDEX reports_open_once ON reports (reporter_id, target_type,
                                                  target_id)
    WHERE status = 'open' AND reporter_id IS NOT NULL;

-- what a user is told: warnings, suspensions, takedowns of their media
CREATE TABLE user_notices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('warn', 'suspend', 'unsuspend',
                                              'takedown', 'restore',
                                              'comment_takedown')),
    message     text NOT NULL CHECK (length(message) <= 2000),
    target_type text,
    target_id   text,
    report_id   bigint REFERENCES reports (id) ON DELETE SET NULL,
    until       timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz
);

CREATE INDEX user_notices_user ON user_notices (user_id, created_at DESC);

-- a comment taken down by a moderator (deleted_at set too, so that every
-- list and count drops it); restore brings back only these
ALTER TABLE comments ADD COLUMN blocked_at timestamptz;

-- drafts: draft_privacy not NULL is a draft, the privacy it gets when
-- published; until then it is private (its owner's only, never listed, no
-- share page), whatever an UPDATE of privacy asks
ALTER TABLE media ADD COLUMN draft_privacy text
    CHECK (draft_privacy IN ('public', 'unlisted', 'private'));

CREATE FUNCTION media_draft_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.draft_privacy IS NOT NULL AND NEW.privacy <> 'private' THEN
        NEW.draft_privacy := NEW.privacy;
        NEW.privacy := 'private';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER media_draft_keep BEFORE INSERT OR UPDATE OF privacy,
    draft_privacy ON media
    FOR EACH ROW EXECUTE FUNCTION media_draft_keep();


CREATE TYPE media_moderation_answer AS (
    status    integer,
    code      text,
    field     text,
    message   text,
    body      json,
    publish   text[],
    sessions  text[]
);

CREATE FUNCTION media_answer(p_status integer, p_code text, p_field text,
    p_message text)
RETURNS media_moderation_answer
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_status, p_code, p_field, p_message, NULL, '{}', '{}')
           ::media_moderation_answer
$$;


-- what a report is about, as a moderator's queue shows it
CREATE FUNCTION media_report_target_json(p_type text, p_id uuid)
RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT CASE p_type
    WHEN 'media' THEN (
        SELECT json_build_object('type', 'media', 'id', m.id,
                 'title', m.title, 'kind', m.kind, 'status', m.status,
                 'privacy', m.privacy, 'deleted', m.deleted_at IS NOT NULL,
                 'blocked_reason', m.blocked_reason,
                 'owner', media_social_user_json(m.owner_id))
          FROM media m WHERE m.id = p_id)
    WHEN 'comment' THEN (
        SELECT json_build_object('type', 'comment', 'id', c.id,
                 'body', c.body, 'at_ms', c.at_ms, 'media_id', c.media_id,
                 'deleted', c.deleted_at IS NOT NULL,
                 'blocked', c.blocked_at IS NOT NULL,
                 'author', media_social_user_json(c.user_id))
          FROM comments c WHERE c.id = p_id)
    ELSE (
        SELECT json_build_object('type', 'user', 'id', u.id,
                 'handle', u.handle, 'display_name', u.display_name,
                 'role', u.role,
                 'suspended_until', media_iso8601(u.suspended_until),
                 'banned', u.banned_at IS NOT NULL)
          FROM users u WHERE u.id = p_id)
    END
$$;

CREATE FUNCTION media_report_json(r reports) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', r.id, 'created_at',
             media_iso8601(r.created_at),
             'target_type', r.target_type, 'target_id', r.target_id,
             'target', media_report_target_json(r.target_type, r.target_id),
             'reason', r.reason, 'details', r.details,
             'evidence_urls', r.evidence_urls,
             'reporter', CASE WHEN r.reporter_id IS NOT NULL
                              THEN media_social_user_json(r.reporter_id) END,
             'contact_email', r.contact_email,
             'work_claimed', r.work_claimed, 'claimant', r.claimant,
             'good_faith', r.good_faith,
             'status', r.status, 'resolution', r.resolution,
             'resolved_at', media_iso8601(r.resolved_at),
             'appeal', CASE WHEN r.appealed_at IS NOT NULL THEN
                 json_build_object('statement', r.appeal_statement,
                     'name', r.appeal_name, 'contact', r.appeal_contact,
                     'consent', r.appeal_consent,
                     'at', media_iso8601(r.appealed_at)) END)
$$;


-- POST /api/v1/reports: the C side checked the members' types, lengths
-- and formats; this checks what needs the rows
CREATE FUNCTION media_report_create(p_reporter uuid, p_target_type text,
    p_target_id uuid, p_reason text, p_details text, p_evidence text[],
    p_contact text, p_work text, p_claimant text, p_good_faith boolean,
    p_address inet)
RETURNS media_moderation_answer
LANGUAGE plpgsql AS $$
DECLARE
    r  reports;
BEGIN
    IF p_target_type = 'media' THEN
        PERFORM 1 FROM media m
         WHERE m.id = p_target_id AND m.deleted_at IS NULL
           AND (m.privacy <> 'private' OR m.owner_id = p_reporter);
    ELSIF p_target_type = 'comment' THEN
        PERFORM 1 FROM comments c JOIN media m ON m.id = c.media_id
         WHERE c.id = p_target_id AND c.deleted_at IS NULL
           AND m.deleted_at IS NULL
           AND (m.privacy <> 'private' OR m.owner_id = p_reporter);
    ELSE
        PERFORM 1 FROM users u WHERE u.id = p_target_id;
    END IF;

    IF NOT FOUND THEN
        RETURN media_answer(404, 'not_found', 'target_id',
                            format('no such %s: %s', p_target_type,
                                   p_target_id));
    END IF;

    IF p_target_type = 'user' AND p_target_id = p_reporter THEN
        RETURN media_answer(422, 'invalid_field', 'target_id',
                            'you cannot report yourself');
    END IF;

    BEGIN
        INSERT INTO reports (target_type, target_id, reason, details,
                             evidence_urls, reporter_id, contact_email,
                             address, work_claimed, claimant, good_faith)
        VALUES (p_target_type, p_target_id, p_reason,
                coalesce(p_details, ''), coalesce(p_evidence, '{}'),
                p_reporter, p_contact, p_address, p_work, p_claimant,
                p_good_faith)
        RETURNING * INTO r;
    EXCEPTION WHEN unique_violation THEN
        RETURN media_answer(409, 'already_reported', 'target_id',
                            format('you already reported this %s; a '
                                   'moderator will look at it',
                                   p_target_type));
    END;

    RETURN (201, NULL, NULL, NULL,
            json_build_object('report', json_build_object('id', r.id,
                'status', r.status, 'target_type', r.target_type,
                'target_id', r.target_id, 'reason', r.reason,
                'created_at', media_iso8601(r.created_at))),
            '{}', '{}')::media_moderation_answer;
END $$;


-- POST /api/v1/reports/{id}/appeal: the counter-notice, by the uploader
-- of the reported media, once
CREATE FUNCTION media_report_appeal(p_report bigint, p_user uuid,
    p_statement text, p_name text, p_contact text, p_address inet)
RETURNS media_moderation_answer
LANGUAGE plpgsql AS $$
DECLARE
    r      reports;
    owner  uuid;
BEGIN
    SELECT * INTO r FROM reports WHERE id = p_report FOR UPDATE;

    IF NOT FOUND THEN
        RETURN media_answer(404, 'not_found', NULL, 'no such report');
    END IF;

    IF r.target_type <> 'media' THEN
        RETURN media_answer(409, 'not_appealable', NULL,
                            format('only a report on a media can be '
                                   'appealed; this one is on a %s',
                                   r.target_type));
    END IF;

    SELECT owner_id INTO owner FROM media WHERE id = r.target_id;

    IF owner IS DISTINCT FROM p_user THEN
        RETURN media_answer(403, 'forbidden', NULL,
                            'only the uploader of the reported media may '
                            'appeal');
    END IF;

    IF r.appealed_at IS NOT NULL THEN
        RETURN media_answer(409, 'already_appealed', NULL,
                            format('this report was appealed already, at '
                                   '%s; an appeal is made once',
                                   media_iso8601(r.appealed_at)));
    END IF;

    IF r.status = 'dismissed' THEN
        RETURN media_answer(409, 'not_appealable', NULL,
                            'this report was dismissed; nothing was taken '
                            'down');
    END IF;

    UPDATE reports SET appeal_statement = p_statement, appeal_name = p_name,
                       appeal_contact = p_contact, appeal_consent = true,
                       appealed_at = now(), appealed_by = p_user
     WHERE id = p_report
    RETURNING * INTO r;

    PERFORM media_audit(p_user, NULL, 'report.appeal', 'report',
                        p_report::text, NULL, p_address, NULL,
                        jsonb_build_object('media_id', r.target_id));

    RETURN (200, NULL, NULL, NULL,
            json_build_object('report', media_report_json(r)),
            '{}', '{}')::media_moderation_answer;
END $$;


-- the report's row closed by an action (not when it is closed already)
CREATE FUNCTION media_report_close(p_report bigint, p_status text,
    p_actor uuid, p_action text)
RETURNS void
LANGUAGE sql AS $$
    UPDATE reports SET status = p_status, resolved_at = now(),
                       resolved_by = p_actor, resolution = p_action
     WHERE id = p_report AND status = 'open'
$$;


-- POST /api/v1/admin/actions
--
-- The user actions (warn, suspend, unsuspend, ban, unban) on a media or a
-- comment act on its owner or author.  A moderator acts on users and
-- creators only: warning, suspending or banning a moderator or an admin
-- takes an admin.  Nobody acts on themselves.
CREATE FUNCTION media_moderate(p_actor uuid, p_actor_role text,
    p_target_type text, p_target_id uuid, p_action text, p_reason text,
    p_report bigint, p_until text, p_address inet, p_access_ttl integer)
RETURNS media_moderation_answer
LANGUAGE plpgsql AS $$
DECLARE
    rep       reports;
    who       uuid;          -- the user a user action is on
    u         users;
    changed   boolean := false;
    pub       text[] := '{}';
    keys      text[] := '{}';
    revoked   text[] := '{}';
    ok        uuid;
    audit     text;
    before_j  jsonb;
    after_j   jsonb;
    c         comments;
    v_until     timestamptz;
BEGIN
    IF p_until IS NOT NULL THEN
        BEGIN
            v_until := p_until::timestamptz;
        EXCEPTION WHEN others THEN
            RETURN media_answer(422, 'invalid_field', 'until',
                                format('until is not a date and time: %s; '
                                       'write ISO 8601, e.g. '
                                       '2030-01-31T12:00:00Z', p_until));
        END;
    END IF;

    IF p_report IS NOT NULL THEN
        SELECT * INTO rep FROM reports WHERE id = p_report FOR UPDATE;

        IF NOT FOUND THEN
            RETURN media_answer(404, 'not_found', 'report_id',
                                'no such report: ' || p_report);
        END IF;

        IF rep.target_type <> p_target_type
           OR rep.target_id <> p_target_id
        THEN
            RETURN media_answer(422, 'invalid_field', 'report_id',
                                format('the report is on %s %s, not on '
                                       'this target', rep.target_type,
                                       rep.target_id));
        END IF;
    END IF;

    -- the target, and the user a user action is on
    IF p_target_type = 'media' THEN
        SELECT owner_id INTO who FROM media
         WHERE id = p_target_id AND deleted_at IS NULL;
    ELSIF p_target_type = 'comment' THEN
        SELECT * INTO c FROM comments WHERE id = p_target_id;
        who := c.user_id;
    ELSE
        SELECT id INTO who FROM users WHERE id = p_target_id;
    END IF;

    IF who IS NULL THEN
        RETURN media_answer(404, 'not_found', 'target_id',
                            format('no such %s: %s', p_target_type,
                                   p_target_id));
    END IF;

    -- The user concerned (the owner, the author, the user), locked before
    -- anything takes the audit chain's lock, as every audited change
    -- takes them (users, then the chain): two moderators, or a moderator
    -- and a grant, never wait on each other in a circle.  A user action
    -- changes the row; the others only need it to stay.
    IF p_action IN ('takedown', 'restore', 'dismiss') THEN
        SELECT * INTO u FROM users WHERE id = who FOR KEY SHARE;
    ELSE
        SELECT * INTO u FROM users WHERE id = who FOR UPDATE;
    END IF;

    -- nobody moderates what is theirs, nor undoes what was done to it
    IF u.id = p_actor THEN
        RETURN media_answer(403, 'forbidden', 'target_id',
                            format('you cannot %s your own %s; another '
                                   'moderator or an admin can',
                                   p_action, p_target_type));
    END IF;

    IF p_actor_role <> 'admin' AND u.role IN ('moderator', 'admin') THEN
        RETURN media_answer(403, 'forbidden', 'target_id',
                            format('a moderator may not %s %s; ask an admin',
                                   p_action,
                                   CASE WHEN p_target_type = 'user'
                                        THEN '' ELSE 'what belongs to ' END
                                   || CASE u.role WHEN 'admin' THEN 'an admin'
                                      ELSE 'a moderator' END));
    END IF;

    IF p_action = 'dismiss' THEN
        IF p_report IS NULL THEN
            RETURN media_answer(422, 'invalid_field', 'report_id',
                                'report_id is required to dismiss: the '
                                'report to close');
        END IF;

        IF rep.status <> 'open' THEN
            RETURN media_answer(409, 'report_closed', 'report_id',
                                format('the report is %s already',
                                       rep.status));
        END IF;

        PERFORM media_report_close(p_report, 'dismissed', p_actor,
                                   'dismiss');
        PERFORM media_audit(p_actor, p_actor_role, 'report.dismiss',
                            'report', p_report::text, p_reason, p_address,
                            jsonb_build_object('status', 'open'),
                            jsonb_build_object('status', 'dismissed'));

        RETURN (200, NULL, NULL, NULL,
                json_build_object('action', 'dismiss', 'changed', true,
                                  'report_id', p_report,
                                  'report_status', 'dismissed'),
                '{}', '{}')::media_moderation_answer;
    END IF;

    IF p_action IN ('takedown', 'restore') THEN
        IF p_target_type = 'user' THEN
            RETURN media_answer(422, 'invalid_field', 'action',
                                p_action || ' acts on a media or a comment; '
                                'for a user use suspend, ban, unsuspend or '
                                'unban');
        END IF;

        IF p_target_type = 'media' AND p_action = 'takedown' THEN
            SELECT * INTO ok FROM media_takedown(p_target_id, p_actor,
                p_actor_role, p_reason, p_address, p_report);
            changed := ok IS NOT NULL;
            IF changed THEN
                pub := ARRAY['+m ' || p_target_id];
                INSERT INTO user_notices (user_id, kind, message,
                                          target_type, target_id, report_id)
                VALUES (who, 'takedown', p_reason, 'media',
                        p_target_id::text, p_report);
            END IF;

        ELSIF p_target_type = 'media' THEN
            SELECT * INTO ok FROM media_restore(p_target_id, p_actor,
                p_actor_role, p_reason, p_address, p_report);
            changed := ok IS NOT NULL;
            IF changed THEN
                pub := ARRAY['-m ' || p_target_id];
                INSERT INTO user_notices (user_id, kind, message,
                                          target_type, target_id, report_id)
                VALUES (who, 'restore', p_reason, 'media',
                        p_target_id::text, p_report);
            END IF;

        ELSIF p_action = 'takedown' THEN
            UPDATE comments SET blocked_at = now(),
                                deleted_at = coalesce(deleted_at, now())
             WHERE id = p_target_id AND blocked_at IS NULL
               AND deleted_at IS NULL;
            changed := FOUND;
            audit := 'comment.takedown';
            IF changed THEN
                INSERT INTO user_notices (user_id, kind, message,
                                          target_type, target_id, report_id)
                VALUES (who, 'comment_takedown', p_reason, 'comment',
                        p_target_id::text, p_report);
            END IF;

        ELSE
            UPDATE comments SET blocked_at = NULL, deleted_at = NULL
             WHERE id = p_target_id AND blocked_at IS NOT NULL;
            changed := FOUND;
            audit := 'comment.restore';
        END IF;

        IF changed AND audit IS NOT NULL THEN
            before_j := jsonb_build_object('hidden', p_action = 'restore');
            after_j := jsonb_build_object('hidden', p_action = 'takedown',
                                          'report_id', p_report);
        END IF;

    ELSE
        -- a user action, on the target's owner or author (locked above)

        IF p_action = 'warn' THEN
            INSERT INTO user_notices (user_id, kind, message, target_type,
                                      target_id, report_id)
            VALUES (who, 'warn', p_reason, p_target_type,
                    p_target_id::text, p_report);
            changed := true;
            audit := 'user.warn';
            after_j := jsonb_build_object('report_id', p_report);

        ELSIF p_action = 'suspend' THEN
            IF v_until IS NULL THEN
                RETURN media_answer(422, 'invalid_field', 'until',
                                    'until is required to suspend: when '
                                    'the suspension ends (ISO 8601, e.g. '
                                    '2030-01-31T12:00:00Z)');
            END IF;

            IF v_until <= now() THEN
                RETURN media_answer(422, 'invalid_field', 'until',
                                    'until must be in the future');
            END IF;

            IF v_until > now() + interval '10 years' THEN
                RETURN media_answer(422, 'invalid_field', 'until',
                                    'until may be at most 10 years ahead; '
                                    'for longer, ban');
            END IF;

            before_j := jsonb_build_object('suspended_until',
                                           media_iso8601(u.suspended_until));
            UPDATE users SET suspended_until = v_until,
                             suspended_reason = p_reason
             WHERE id = who;
            INSERT INTO user_notices (user_id, kind, message, target_type,
                                      target_id, report_id, until)
            VALUES (who, 'suspend', p_reason, p_target_type,
                    p_target_id::text, p_report, v_until);
            changed := true;
            audit := 'user.suspend';
            after_j := jsonb_build_object('suspended_until',
                                          media_iso8601(v_until),
                                          'report_id', p_report);

        ELSIF p_action = 'unsuspend' THEN
            changed := u.suspended_until IS NOT NULL
                       AND u.suspended_until > now();
            IF changed THEN
                before_j := jsonb_build_object('suspended_until',
                                media_iso8601(u.suspended_until));
                UPDATE users SET suspended_until = NULL,
                                 suspended_reason = NULL
                 WHERE id = who;
                INSERT INTO user_notices (user_id, kind, message,
                                          target_type, target_id,
                                          report_id)
                VALUES (who, 'unsuspend', p_reason, p_target_type,
                        p_target_id::text, p_report);
                audit := 'user.unsuspend';
                after_j := jsonb_build_object('suspended_until', NULL);
            END IF;

        ELSIF p_action = 'ban' THEN
            changed := u.banned_at IS NULL;
            IF changed THEN
                UPDATE users SET banned_at = now(), banned_reason = p_reason
                 WHERE id = who;

                -- every session: its refresh tokens, and its access
                -- tokens until the last one issued has expired
                WITH f AS (
                    UPDATE refresh_tokens SET revoked_at = now()
                     WHERE user_id = who AND revoked_at IS NULL
                       AND expires_at > now()
                    RETURNING family_id)
                SELECT coalesce(array_agg(DISTINCT 's:' || family_id),
                                '{}')
                  INTO revoked FROM f;

                INSERT INTO revocations (key, user_id, reason, expires_at)
                SELECT k, who, 'admin',
                       now() + p_access_ttl * interval '1 second'
                  FROM unnest(revoked) k
                ON CONFLICT (key) DO UPDATE
                   SET expires_at = greatest(revocations.expires_at,
                                             EXCLUDED.expires_at);

                pub := ARRAY['+u ' || who];
                audit := 'user.ban';
                before_j := jsonb_build_object('banned', false);
                after_j := jsonb_build_object('banned', true,
                                              'sessions_revoked',
                                              cardinality(revoked),
                                              'report_id', p_report);
            END IF;

        ELSE   -- unban
            changed := u.banned_at IS NOT NULL;
            IF changed THEN
                UPDATE users SET banned_at = NULL, banned_reason = NULL
                 WHERE id = who;
                pub := ARRAY['-u ' || who];
                audit := 'user.unban';
                before_j := jsonb_build_object('banned', true);
                after_j := jsonb_build_object('banned', false);
            END IF;
        END IF;
    END IF;

    IF p_report IS NOT NULL AND rep.status = 'open' THEN
        PERFORM media_report_close(p_report, 'actioned', p_actor, p_action);
    END IF;

    -- what the user's sessions may do changed: the module's cache reads
    -- their row again on the next request
    IF changed AND p_action IN ('suspend', 'unsuspend', 'ban', 'unban') THEN
        keys := media_user_sessions(who);
    END IF;

    -- media_takedown and media_restore wrote theirs; the report's own row
    -- when the action changed nothing but closed it
    IF changed AND audit IS NOT NULL THEN
        PERFORM media_audit(p_actor, p_actor_role, audit,
                            CASE WHEN audit LIKE 'user.%' THEN 'user'
                                 ELSE p_target_type END,
                            CASE WHEN audit LIKE 'user.%' THEN who::text
                                 ELSE p_target_id::text END,
                            p_reason, p_address, before_j, after_j);
    ELSIF p_report IS NOT NULL AND rep.status = 'open' THEN
        PERFORM media_audit(p_actor, p_actor_role, 'report.action',
                            'report', p_report::text, p_reason, p_address,
                            jsonb_build_object('status', 'open'),
                            jsonb_build_object('status', 'actioned',
                                               'action', p_action,
                                               'changed', changed));
    END IF;

    RETURN (200, NULL, NULL, NULL,
            json_build_object('action', p_action, 'changed', changed,
                              'target_type', p_target_type,
                              'target_id', p_target_id,
                              'user_id', CASE WHEN p_action NOT IN
                                  ('takedown', 'restore') THEN who END,
                              'report_id', p_report,
                              'report_status',
                              CASE WHEN p_report IS NOT NULL
                                   THEN 'actioned' END),
            pub, keys)::media_moderation_answer;
END $$;


-- the sessions whose cached entries must be read again now (a suspension
-- changed what they may do)
CREATE FUNCTION media_user_sessions(p_user uuid) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT 's:' || family_id), '{}')
      FROM refresh_tokens
     WHERE user_id = p_user AND expires_at > now()
$$;


-- POST /api/v1/media/{id}/publish {privacy?}
CREATE FUNCTION media_publish(p_media uuid, p_user uuid, p_privacy text)
RETURNS media_moderation_answer
LANGUAGE plpgsql AS $$
DECLARE
    m  media;
BEGIN
    SELECT * INTO m FROM media
     WHERE id = p_media AND owner_id = p_user AND deleted_at IS NULL
       FOR UPDATE;

    IF NOT FOUND THEN
        RETURN media_answer(404, 'not_found', NULL, 'no such media');
    END IF;

    IF m.status = 'blocked' THEN
        RETURN media_answer(451, 'media_blocked', NULL,
                            'this media was removed: '
                            || coalesce(m.blocked_reason, ''));
    END IF;

    IF m.draft_privacy IS NULL THEN
        RETURN media_answer(409, 'not_draft', NULL,
                            'this media is published already; change its '
                            'privacy with PATCH');
    END IF;

    UPDATE media SET privacy = coalesce(p_privacy, m.draft_privacy),
                     draft_privacy = NULL,
                     published_at = coalesce(published_at, now())
     WHERE id = p_media
    RETURNING * INTO m;

    RETURN (200, NULL, NULL, NULL,
            json_build_object('media', json_build_object('id', m.id,
                'title', m.title, 'status', m.status, 'privacy', m.privacy,
                'draft', false,
                'published_at', media_iso8601(m.published_at))),
            '{}', '{}')::media_moderation_answer;
END $$;

-- GET /api/v1/admin/reports: a page of the queue, and the 'admin.read'
-- row that says who looked (reporters' contact emails, private media and
-- users' standing are in it), for which status, how many rows it showed
CREATE FUNCTION media_admin_reports(p_actor uuid, p_actor_role text,
    p_status text, p_cursor bigint, p_limit integer, p_address inet)
RETURNS TABLE (id bigint, report json)
LANGUAGE plpgsql AS $$
DECLARE
    n  bigint;
BEGIN
    RETURN QUERY
        SELECT r.id, media_report_json(r) FROM reports r
         WHERE r.status = p_status AND (p_cursor IS NULL OR r.id > p_cursor)
         ORDER BY r.id LIMIT p_limit;

    GET DIAGNOSTICS n = ROW_COUNT;

    PERFORM media_audit(p_actor, p_actor_role, 'admin.read', 'reports',
                        NULL, NULL, p_address, NULL,
                        jsonb_build_object('route', 'GET /api/v1/admin/reports',
                                           'status', p_status, 'rows', n));
END $$;
