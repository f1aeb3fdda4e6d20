-- Outgoing mail, links sent by email (password resets, email
-- verification) and the counters that limit how often they are asked for.

-- Mail is written here in the transaction of the action that causes it, and
-- sent by the mail job (server/src/mail.rs): a message is never lost with a
-- rolled-back action, nor sent for one. Each is sent under its row's lock
-- (SKIP LOCKED), so several server processes never send one twice.
CREATE TABLE mail_queue (
    id              bigserial PRIMARY KEY,
    to_address      text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    -- Sent: the bodies are emptied (they may hold a link that signs in).
    sent_at         timestamptz,
    -- Given up on (mail.give_up_after): last_error says why.
    failed_at       timestamptz
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_queue_done ON mail_queue (id) WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

-- Accounts made before verification existed count as unverified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Single-use links sent by email; only a SHA-256 of the token is kept.
-- `email` is the address the link went to: a reset works only while it is
-- still the account's address, and a verification verifies that address.
CREATE TABLE email_links (
    token_hash bytea PRIMARY KEY,
    purpose    text NOT NULL CHECK (purpose IN ('reset', 'verify')),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expires ON email_links (expires_at);

-- Requests counted for rate limits other than sign-in and sign-up (password
-- resets per address and per email, ...): rows older than their window go
-- as new ones come.
CREATE TABLE throttle_events (
    id   bigserial PRIMARY KEY,
    kind text NOT NULL,
    key  text NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX throttle_events_key ON throttle_events (kind, key, at);
