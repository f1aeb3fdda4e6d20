-- Email notifications (app/src/backend/notify): what the notification job
-- has read of each group's change log, the notices waiting for the daily
-- digest, each member's choices, and one-click unsubscribe links.

-- Per group: the log position read up to (0 for a group made from now on;
-- for one made before, its log's head when the job first meets it: nothing
-- from before is mailed), when its last digest went (a new cursor's is
-- spread over the day, so the groups' digests do not all fall due at once),
-- up to when bookings have been reminded of, and when the next booking's
-- reminder is due (null: none booked).
CREATE TABLE notify_cursors (
    group_id         uuid PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    position         bigint NOT NULL,
    digest_sent_at   timestamptz NOT NULL DEFAULT now(),
    reminded_through timestamptz NOT NULL DEFAULT now(),
    next_reminder_at timestamptz DEFAULT now()
);

-- Notices posted since the group's last digest (read at digest time, so an
-- edited notice goes out as it is then, and a deleted one not at all).
CREATE TABLE notify_digest (
    group_id  uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    notice_id uuid NOT NULL,
    PRIMARY KEY (group_id, notice_id)
);

-- A member's choices of mail from a group; no row: everything on. Gone
-- with the membership.
CREATE TABLE mail_preferences (
    user_id  uuid NOT NULL,
    group_id uuid NOT NULL,
    notices  boolean NOT NULL DEFAULT true,
    requests boolean NOT NULL DEFAULT true,
    bookings boolean NOT NULL DEFAULT true,
    PRIMARY KEY (user_id, group_id),
    FOREIGN KEY (user_id, group_id) REFERENCES memberships (user_id, group_id) ON DELETE CASCADE
);

-- One-click unsubscribe links (RFC 8058): one per member, group and kind
-- of mail, the same in every message of that kind (so there are at most
-- three per membership), gone with the membership. The token is kept as
-- is: every message must carry it, and all it can do is stop that mail.
CREATE TABLE unsubscribe_links (
    token    text PRIMARY KEY,
    user_id  uuid NOT NULL,
    group_id uuid NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('notices', 'requests', 'bookings')),
    UNIQUE (user_id, group_id, kind),
    FOREIGN KEY (user_id, group_id) REFERENCES memberships (user_id, group_id) ON DELETE CASCADE
);

-- The one-click unsubscribe address a message carries (List-Unsubscribe);
-- and the queue's order: notifications (priority 1) after the mail people
-- wait for (sign-in links, verification: 0), however many are queued.
ALTER TABLE mail_queue
    ADD COLUMN unsubscribe_url text,
    ADD COLUMN priority smallint NOT NULL DEFAULT 0;
DROP INDEX mail_queue_due;
CREATE INDEX mail_queue_due ON mail_queue (priority, next_attempt_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
