-- The residents' app: notice board, maintenance requests, shared rooms and
-- their bookings, and the record of applied mutations (idempotency).
-- Runs with search_path = <group schema>, public (btree_gist lives in public).

CREATE TABLE announcements (
    id         uuid PRIMARY KEY,
    author_id  uuid NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    pinned     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE requests (
    id          uuid PRIMARY KEY,
    author_id   uuid NOT NULL,
    title       text NOT NULL,
    description text NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'resolved')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE request_comments (
    id         uuid PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    author_id  uuid NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_comments_request_id ON request_comments (request_id);

CREATE TABLE resources (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bookings (
    id          uuid PRIMARY KEY,
    resource_id uuid NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    member_id   uuid NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_at < ends_at),
    -- Two bookings of one resource never overlap, whatever writes them.
    CONSTRAINT bookings_no_overlap
        EXCLUDE USING gist (resource_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
);

CREATE TABLE applied_mutations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    result     jsonb NOT NULL
);
