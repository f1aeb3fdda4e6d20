-- Secret iCalendar feeds of a group's bookings, one per member and group
-- (a new link replaces the old one); only a SHA-256 of the token is kept.
CREATE TABLE calendar_feeds (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, group_id)
);
CREATE INDEX calendar_feeds_group ON calendar_feeds (group_id);
