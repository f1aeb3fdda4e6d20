-- The tenant migration version each group's schema is at, so start-up finds
-- the groups to migrate with one query instead of asking every schema. 0:
-- not known yet (groups made before this column): start-up looks at their
-- schema once and records it.
ALTER TABLE groups ADD COLUMN tenant_version bigint NOT NULL DEFAULT 0;
CREATE INDEX groups_tenant_version ON groups (tenant_version);
