-- Every write to a synced table takes the group's log-position lock (the
-- change_head row) before any row lock: a statement-level trigger runs
-- before the statement locks its rows. Writers of one group then queue on
-- one lock in one order and cannot deadlock on each other's rows (the
-- mutation pipeline takes the same lock first thing, before it reads rows
-- FOR UPDATE). The row-level capture trigger (0003) finds the lock held.
-- Runs with search_path = <group schema>, public.

DO $migration$
BEGIN
    EXECUTE format($create$
        CREATE FUNCTION %1$I.lock_change_head() RETURNS trigger
        LANGUAGE plpgsql
        AS $body$
        BEGIN
            PERFORM 1 FROM %1$I.change_head FOR UPDATE;
            RETURN NULL;
        END
        $body$
    $create$, current_schema());
END
$migration$;

CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();
CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON announcements
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();
CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON requests
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();
CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON request_comments
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();
CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();
CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head();

-- A shape's catch-up reads one table's changes after a position: by this
-- index it reads only that table's entries, however long the log.
CREATE INDEX changes_relation_position ON changes (relation, position);
