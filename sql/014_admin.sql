-- 014: an admin's change to a user's role or plan, in one place for the
-- API (PATCH /api/v1/admin/users/{id}) and media-admin.
--
-- A plan id names its audience: a creator plan sets users.creator_plan, a
-- viewer plan users.plan.  NULL leaves a value as it is.  An unknown plan
-- fails the foreign key (23503); an unknown user returns no row.

CREATE FUNCTION media_user_set(u uuid, new_role text, new_plan text)
RETURNS SETOF users
LANGUAGE sql AS $$
    UPDATE users
       SET role = coalesce(new_role, role),
           plan = CASE WHEN p.audience = 'creator' THEN plan
                       ELSE coalesce(new_plan, plan) END,
           creator_plan = CASE WHEN p.audience = 'creator' THEN new_plan
                               ELSE creator_plan END
      FROM (SELECT (SELECT audience FROM plans WHERE id = new_plan)
                   AS audience) p
     WHERE id = u
    RETURNING users.*
$$;
