-- Group databases: each group's schema lives on one of the group databases
-- the servers are configured with, by name; `main` is the registry's own
-- (every group's until now).
ALTER TABLE groups ADD COLUMN database text NOT NULL DEFAULT 'main';
CREATE INDEX groups_database ON groups (database);

-- A membership whose entry in the group's directory (`members`, on the
-- group's database) is still to be written: the two are written one after
-- the other, not in one transaction, and the member's next request finishes
-- what a failure in between left undone. Existing memberships are listed.
ALTER TABLE memberships ADD COLUMN directory_synced boolean NOT NULL DEFAULT true;
