-- Whether residents (not only admins) may open polls in a group.
ALTER TABLE groups ADD COLUMN residents_open_polls boolean NOT NULL DEFAULT false;

-- When each poll closes, so that one query finds the polls whose results are
-- due, whatever the number of groups (the housekeeping job counts them in
-- the group's schema, then forgets the entry). Written before the poll's
-- own transaction starts: an entry whose poll never came is dropped. An
-- entry whose database failed waits until retry_at.
CREATE TABLE poll_closings (
    group_id  uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    poll_id   uuid NOT NULL,
    closes_at timestamptz NOT NULL,
    retry_at  timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (group_id, poll_id)
);
CREATE INDEX poll_closings_due ON poll_closings (closes_at);
