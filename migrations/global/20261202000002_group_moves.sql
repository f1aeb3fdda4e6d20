-- Moves of groups between group databases (`server admin move-group`):
-- the old copy of a moved group's schema stays, refusing writes, for a
-- grace period (`database.move_grace`), then a server drops it.
CREATE TABLE group_moves (
    id            bigserial PRIMARY KEY,
    group_id      uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    schema_name   text NOT NULL,
    from_database text NOT NULL,
    to_database   text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the group's placement flipped; null: the move did not finish
    -- (the copy on to_database, if any, is dropped by the next move).
    finished_at   timestamptz,
    -- When the old copy on from_database was dropped.
    dropped_at    timestamptz
);
CREATE INDEX group_moves_to_drop ON group_moves (finished_at) WHERE dropped_at IS NULL;
