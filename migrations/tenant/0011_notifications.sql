-- For the notification job (app/src/backend/notify).
-- Runs with search_path = <group schema>, public.

-- The writers' lock first, as every writer takes it (0004): the changes
-- below then never wait on a writer that waits on them.
SELECT 1 FROM change_head FOR UPDATE;

-- Who made each logged change: the member a mutation ran for (the mutation
-- sets `courtyard.actor` for its transaction, app/src/backend/mutate), or
-- null for a change made by anything else (the server's own jobs, a
-- directory update, psql; a value that is not an id is taken as none, so
-- a stray setting never stops writes). A column default, so the capture
-- triggers (0006) stay as they are. No one is mailed about what they did.
ALTER TABLE changes ADD COLUMN actor uuid DEFAULT CASE
    WHEN current_setting('courtyard.actor', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN current_setting('courtyard.actor', true)::uuid
END;

-- Bookings by start, for the reminders' window.
CREATE INDEX bookings_starts_at ON bookings (starts_at);
