-- Moving a group to another group database (`server admin move-group`).
-- Runs with search_path = <group schema>, public.

-- Set on the old copy when the group has moved: from then on every write
-- to it fails (SQLSTATE CY001, answered 503: the writer's next try goes to
-- the new database), so nothing written late is left behind.
ALTER TABLE change_head ADD COLUMN moved_to text;

-- The log's head when each mutation was claimed: a move copies the claims
-- made since its snapshot (every writer holds the head's lock from before
-- its claim to its commit, so a claim the snapshot missed has a head at
-- least the snapshot's). Null for claims from before this column.
DO $migration$
BEGIN
    EXECUTE format($create$
        CREATE FUNCTION %1$I.log_head() RETURNS bigint
        LANGUAGE sql STABLE
        AS 'SELECT position FROM %1$I.change_head'
    $create$, current_schema());
    EXECUTE format($alter$
        ALTER TABLE %1$I.applied_mutations ADD COLUMN head bigint DEFAULT %1$I.log_head()
    $alter$, current_schema());
    -- The writers' lock (0004), refusing writes to a moved group.
    EXECUTE format($create$
        CREATE OR REPLACE FUNCTION %1$I.lock_change_head() RETURNS trigger
        LANGUAGE plpgsql
        AS $body$
        DECLARE
            moved text;
        BEGIN
            SELECT moved_to INTO moved FROM %1$I.change_head FOR UPDATE;
            IF moved IS NOT NULL THEN
                RAISE EXCEPTION 'this group has moved to the group database %%', moved USING ERRCODE = 'CY001';
            END IF;
            RETURN NULL;
        END
        $body$
    $create$, current_schema());
END
$migration$;
CREATE INDEX applied_mutations_head ON applied_mutations (head);
