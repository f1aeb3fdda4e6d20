-- Sign-ups per client address, for the per-address sign-up limit (rows
-- older than the window are deleted as new ones come).
CREATE TABLE signups (
    id bigserial PRIMARY KEY,
    ip text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signups_ip_at ON signups (ip, at);

-- Who created a group, for the per-user limit on groups created.
ALTER TABLE groups ADD COLUMN created_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX groups_created_by ON groups (created_by);

-- When a membership ended: an invite made before someone was removed does
-- not let them back in.
CREATE TABLE ended_memberships (
    user_id  uuid NOT NULL,
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    ended_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, group_id)
);

CREATE FUNCTION record_ended_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ended_memberships (user_id, group_id)
    SELECT user_id, group_id FROM ended WHERE group_id IN (SELECT id FROM groups)
    ON CONFLICT (user_id, group_id) DO UPDATE SET ended_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER record_ended_membership AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION record_ended_membership();
