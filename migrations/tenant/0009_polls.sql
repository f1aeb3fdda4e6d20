-- Polls: a question, its options, and each member's ballot (one per member
-- and poll: the unique constraint, whatever path writes). A ballot names its
-- choices as a JSON array of option ids; the counts are written into
-- `poll_options.votes` when the results show (live, or once the poll closes).
-- Runs with search_path = <group schema>, public.

CREATE TABLE polls (
    id           uuid PRIMARY KEY,
    author_id    uuid NOT NULL,
    question     text NOT NULL,
    multiple     boolean NOT NULL,
    anonymous    boolean NOT NULL,
    live_results boolean NOT NULL,
    closes_at    timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX polls_newest ON polls (created_at DESC, id);

CREATE TABLE poll_options (
    id       uuid PRIMARY KEY,
    poll_id  uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    label    text NOT NULL,
    votes    integer CHECK (votes >= 0),
    UNIQUE (poll_id, position)
);

CREATE TABLE ballots (
    id        uuid PRIMARY KEY,
    poll_id   uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    member_id uuid NOT NULL,
    choices   text NOT NULL CHECK (jsonb_typeof(choices::jsonb) = 'array'),
    cast_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ballots_one_per_member UNIQUE (poll_id, member_id)
);
CREATE INDEX ballots_member ON ballots (member_id);

-- Synced like the others: the writers' lock (0004, 0008) and the change
-- capture (0006) on each table.
DO $triggers$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('polls', 'id'), ('poll_options', 'id'), ('ballots', 'id')) AS synced (name, pk) LOOP
        EXECUTE format('CREATE TRIGGER lock_change_head BEFORE INSERT OR UPDATE OR DELETE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION lock_change_head()', t.name);
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
