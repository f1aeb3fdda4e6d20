-- The group's change log: every insert, update and delete of a synced table,
-- captured by triggers (so writes from any path are logged) in commit order.
-- Runs with search_path = <group schema>, public.

-- The last position handed out. Each logged row takes the next one while
-- holding this row's lock until its transaction ends, so writers of one group
-- are serialised: positions are gap-free and follow commit order, and a
-- reader never sees position N+1 while N is still uncommitted.
CREATE TABLE change_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL
);
INSERT INTO change_head (position) VALUES (0);

CREATE TABLE changes (
    position  bigint PRIMARY KEY,
    txid      xid8 NOT NULL,
    op        text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    relation  text NOT NULL,
    -- The primary key's text form.
    key       text NOT NULL,
    -- Column -> Postgres text output (or null); the new row, or the old one
    -- for a delete.
    value     jsonb NOT NULL,
    -- The row before an update.
    old_value jsonb
);

-- Written with the schema's name spliced in (current_schema() is this group's
-- schema while tenant migrations run), so it works whatever the writer's
-- search_path. TimeZone and DateStyle are pinned so timestamps are logged the
-- same way from every session: ISO, in UTC.
DO $migration$
BEGIN
    EXECUTE format($create$
        CREATE FUNCTION %1$I.capture_change() RETURNS trigger
        LANGUAGE plpgsql
        SET timezone = 'UTC'
        SET datestyle = 'ISO, YMD'
        AS $body$
        DECLARE
            next_position bigint;
            row_value jsonb;
        BEGIN
            UPDATE %1$I.change_head SET position = position + 1 RETURNING position INTO next_position;
            IF TG_OP = 'DELETE' THEN
                row_value := public.hstore_to_jsonb(public.hstore(OLD));
            ELSE
                row_value := public.hstore_to_jsonb(public.hstore(NEW));
            END IF;
            INSERT INTO %1$I.changes (position, txid, op, relation, key, value, old_value)
            VALUES (
                next_position,
                pg_current_xact_id(),
                lower(TG_OP),
                TG_TABLE_NAME,
                row_value ->> TG_ARGV[0],
                row_value,
                CASE WHEN TG_OP = 'UPDATE' THEN public.hstore_to_jsonb(public.hstore(OLD)) END
            );
            -- One wake-up per transaction and group: identical notifications fold.
            PERFORM pg_notify('courtyard_changes', %2$L);
            RETURN NULL;
        END
        $body$
    $create$, current_schema(), current_schema());
END
$migration$;

CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION capture_change('user_id');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON announcements
    FOR EACH ROW EXECUTE FUNCTION capture_change('id');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON requests
    FOR EACH ROW EXECUTE FUNCTION capture_change('id');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON request_comments
    FOR EACH ROW EXECUTE FUNCTION capture_change('id');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION capture_change('id');
CREATE TRIGGER capture_change AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION capture_change('id');
