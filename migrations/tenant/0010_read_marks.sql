-- Read marks: how far each member has seen a notice or a request (the
-- subject's last change they saw), so what changed since shows as new to
-- them, on every device of theirs. Scoped to the member (the shape server
-- shows each member their own rows only). The subject is a notice or a
-- request (no foreign key: either table); deleting a notice deletes its
-- marks. Runs with search_path = <group schema>, public.

CREATE TABLE read_marks (
    id         uuid PRIMARY KEY,
    member_id  uuid NOT NULL,
    subject_id uuid NOT NULL,
    seen_at    timestamptz NOT NULL,
    UNIQUE (member_id, subject_id)
);
CREATE INDEX read_marks_subject ON read_marks (subject_id);

-- Makes a table synced like the others: the writers' lock (0004, 0008) and
-- the change capture (0006). For this and later tables.
CREATE FUNCTION make_synced(name text, pk text) RETURNS void LANGUAGE plpgsql AS $make$
BEGIN
    EXECUTE format('CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON %I
        FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head()', name);
    EXECUTE format('CREATE TRIGGER capture_insert AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', name, pk);
    EXECUTE format('CREATE TRIGGER capture_update AFTER UPDATE ON %I
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', name, pk);
    EXECUTE format('CREATE TRIGGER capture_delete AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION capture_changes(%L)', name, pk);
END
$make$;

SELECT make_synced('read_marks', 'id');
