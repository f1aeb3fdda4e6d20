-- Accounts, the group registry, memberships, invites and sessions (schema public).

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash text NOT NULL,
    name          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{3,40}$'),
    name        text NOT NULL,
    -- Generated from the id, never from user text: g_ + 32 hex digits.
    schema_name text NOT NULL UNIQUE CHECK (schema_name ~ '^g_[0-9a-f]{32}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'resident')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_group_id ON memberships (group_id);

CREATE TABLE invites (
    code       text PRIMARY KEY,
    group_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    created_by uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invites_group_id ON invites (group_id);

-- Only a SHA-256 of the session token is stored: a leaked table is no login.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
