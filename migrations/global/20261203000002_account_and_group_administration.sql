-- Managing one's account and a group: the browser a session started in, a
-- change of address confirmed by a link to the new one, invites by email,
-- members leaving (their directory entries taken out after the fact, on
-- the group's own database) and groups closing.

ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';

-- 'change': a link to a new address, which becomes the account's when followed.
ALTER TABLE email_links DROP CONSTRAINT email_links_purpose_check;
ALTER TABLE email_links ADD CONSTRAINT email_links_purpose_check CHECK (purpose IN ('reset', 'verify', 'change'));

-- Set: an invite sent to this address, for the account that has it (verified).
ALTER TABLE invites ADD COLUMN email text CHECK (email = lower(email));
CREATE INDEX invites_created_by ON invites (created_by);
-- An admin's account deleted, the invites they made stay the group's.
ALTER TABLE invites ALTER COLUMN created_by DROP NOT NULL;
ALTER TABLE invites DROP CONSTRAINT invites_created_by_fkey;
ALTER TABLE invites ADD CONSTRAINT invites_created_by_fkey
    FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL;

-- A membership that ended still has its directory entry (on the group's
-- database, so not in this transaction) until `directory_synced`; with
-- `remove_content`, what the person wrote goes too. Entries of memberships
-- ended before now were left as they were.
ALTER TABLE ended_memberships ADD COLUMN directory_synced boolean NOT NULL DEFAULT false;
ALTER TABLE ended_memberships ADD COLUMN remove_content boolean NOT NULL DEFAULT false;
-- Removed by an admin (not left, nor the account deleted): shareable invite
-- links made before it are withdrawn, and an emailed one to their address.
ALTER TABLE ended_memberships ADD COLUMN removed boolean NOT NULL DEFAULT true;
UPDATE ended_memberships SET directory_synced = true;
CREATE INDEX ended_memberships_unsynced ON ended_memberships (group_id) WHERE NOT directory_synced;

CREATE OR REPLACE FUNCTION record_ended_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ended_memberships (user_id, group_id)
    SELECT user_id, group_id FROM ended WHERE group_id IN (SELECT id FROM groups)
    ON CONFLICT (user_id, group_id)
        DO UPDATE SET ended_at = now(), directory_synced = false, remove_content = false, removed = true;
    RETURN NULL;
END
$$;

CREATE INDEX memberships_unsynced ON memberships (group_id) WHERE NOT directory_synced;

-- A closed group is read-only until its schema is dropped, a grace period
-- (groups.close_grace) after `closed_at`.
ALTER TABLE groups ADD COLUMN closed_at timestamptz;
CREATE INDEX groups_closed_at ON groups (closed_at) WHERE closed_at IS NOT NULL;
