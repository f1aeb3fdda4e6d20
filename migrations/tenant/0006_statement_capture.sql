-- Capture one log write per statement, and a log that can be trimmed.
-- Runs with search_path = <group schema>, public.
--
-- * The row trigger `capture_change` (0003) becomes three statement
--   triggers per synced table (`capture_insert`, `capture_update`,
--   `capture_delete`) reading the statement's transition tables: one
--   INSERT into `changes` and one move of `change_head` per statement,
--   positions still handed out under the `change_head` lock (0004), so
--   still gap-free and in commit order. An update that changes a primary
--   key is logged as the delete of the old key and the insert of the new.
-- * `changes.at`: when the entry was written (its transaction's start), by
--   which the retention job (server/src/shapes/retention.rs) removes old
--   entries; `changes.merged_from`: on an update that stands for several
--   merged ones (compaction), the position of the first it replaced.
-- * `change_floor`: every position up to it has been removed from the log.
--   Only the retention job moves it (never the writers: they do not wait
--   for it); a client whose offset is below it gets 409 and refetches.

ALTER TABLE changes
    ADD COLUMN at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN merged_from bigint;

CREATE TABLE change_floor (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL
);
INSERT INTO change_floor (position) VALUES (0);

-- Values are logged as Postgres prints them in UTC and ISO style. The
-- server's sessions already print so; any other session (psql in another
-- time zone) has both settings pinned for the trigger's own statement only
-- and put back after (a function-level SET would cost every statement).
DO $migration$
BEGIN
    EXECUTE format($create$
        CREATE FUNCTION %1$I.capture_changes() RETURNS trigger
        LANGUAGE plpgsql
        AS $body$
        DECLARE
            zone text := current_setting('TimeZone');
            style text := current_setting('DateStyle');
            pinned boolean := zone <> 'UTC' OR style NOT LIKE 'ISO%%';
            base bigint;
            logged bigint;
            pk text := TG_ARGV[0];
        BEGIN
            IF pinned THEN
                PERFORM set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true);
            END IF;
            -- The lock on this row is held since the statement began (0004);
            -- taking it again costs nothing and does not depend on that.
            SELECT position INTO base FROM %1$I.change_head FOR UPDATE;
            IF TG_OP = 'INSERT' THEN
                INSERT INTO %1$I.changes (position, txid, op, relation, key, value)
                SELECT base + row_number() OVER (), pg_current_xact_id(), 'insert', TG_TABLE_NAME, v ->> pk, v
                FROM (SELECT public.hstore_to_jsonb(public.hstore(r)) AS v FROM new_rows r) s;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO %1$I.changes (position, txid, op, relation, key, value)
                SELECT base + row_number() OVER (), pg_current_xact_id(), 'delete', TG_TABLE_NAME, v ->> pk, v
                FROM (SELECT public.hstore_to_jsonb(public.hstore(r)) AS v FROM old_rows r) s;
            ELSE
                -- Old and new rows paired by primary key; an unpaired one
                -- is a key that went away (delete) or came (insert).
                INSERT INTO %1$I.changes (position, txid, op, relation, key, value, old_value)
                SELECT base + row_number() OVER (ORDER BY CASE op WHEN 'delete' THEN 0 WHEN 'update' THEN 1 ELSE 2 END, key),
                       pg_current_xact_id(), op, TG_TABLE_NAME, key, value, old_value
                FROM (
                    SELECT CASE WHEN o.v IS NULL THEN 'insert' WHEN n.v IS NULL THEN 'delete' ELSE 'update' END AS op,
                           coalesce(n.v, o.v) ->> pk AS key,
                           coalesce(n.v, o.v) AS value,
                           CASE WHEN n.v IS NOT NULL THEN o.v END AS old_value
                    FROM (SELECT public.hstore_to_jsonb(public.hstore(r)) AS v FROM new_rows r) n
                    FULL JOIN (SELECT public.hstore_to_jsonb(public.hstore(r)) AS v FROM old_rows r) o
                        ON (n.v ->> pk) = (o.v ->> pk)
                ) paired;
            END IF;
            GET DIAGNOSTICS logged = ROW_COUNT;
            IF pinned THEN
                PERFORM set_config('TimeZone', zone, true), set_config('DateStyle', style, true);
            END IF;
            IF logged > 0 THEN
                UPDATE %1$I.change_head SET position = base + logged;
                -- One wake-up per transaction and group: identical notifications fold.
                PERFORM pg_notify('courtyard_changes', %2$L);
            END IF;
            RETURN NULL;
        END
        $body$
    $create$, current_schema(), current_schema());
END
$migration$;

-- Each synced table (its name and primary key): the row trigger goes, the
-- three statement triggers come.
DO $triggers$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('members', 'user_id'), ('announcements', 'id'), ('requests', 'id'),
        ('request_comments', 'id'), ('resources', 'id'), ('bookings', 'id')
    ) AS synced (name, pk) LOOP
        EXECUTE format('DROP TRIGGER capture_change ON %I', t.name);
        EXECUTE format('CREATE TRIGGER capture_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', t.name, t.pk);
        EXECUTE format('CREATE TRIGGER capture_update AFTER UPDATE ON %I
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', t.name, t.pk);
        EXECUTE format('CREATE TRIGGER capture_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', t.name, t.pk);
    END LOOP;
END
$triggers$;
DROP FUNCTION capture_change();
