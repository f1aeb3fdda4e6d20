-- Files: photos on maintenance requests (and their comments) and the
-- group's documents library (app/src/backend/files). The bytes live in the
-- object store; here are what names them.
-- Runs with search_path = <group schema>, public.

-- The writers' lock first, as every writer takes it (0004).
SELECT 1 FROM change_head FOR UPDATE;

-- Each stored content, by the SHA-256 of the bytes its uploader sent (the
-- upload's idempotency key): what the server stored after checking it
-- (images re-encoded without their metadata, with a thumbnail). Server
-- only, never synced. `uploaders`: the members who sent all of it (while
-- no file names it, only they may). `released_at`: since when no file
-- names it (null while one does); released longer than the log's
-- retention, it is deleted with its objects.
CREATE TABLE blobs (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL,
    size         integer NOT NULL CHECK (size >= 0),
    thumb        boolean NOT NULL,
    uploaders    uuid[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz DEFAULT now()
);
CREATE INDEX blobs_released ON blobs (released_at) WHERE released_at IS NOT NULL;

-- Uploads under way, each member's own (nobody else can spoil one), sent
-- in chunks (each a temporary object) and resumed from `received`. Server
-- only. Dropped when finished, or a day after the last chunk.
-- `finishing_until`: one request puts the chunks together and checks
-- them at a time (a claim that lapses if that request dies).
CREATE TABLE uploads (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploader_id     uuid NOT NULL,
    total           integer NOT NULL CHECK (total > 0),
    received        integer NOT NULL DEFAULT 0 CHECK (received BETWEEN 0 AND total),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finishing_until timestamptz,
    UNIQUE (uploader_id, sha256)
);

-- A file as members see it: on a request (and perhaps one of its
-- comments), or in the documents library (no request). Synced. Removing a
-- request or a comment removes its files; content and size are the
-- server's (from the blob), the name the uploader's.
CREATE TABLE files (
    id           uuid PRIMARY KEY,
    uploader_id  uuid NOT NULL,
    request_id   uuid REFERENCES requests (id) ON DELETE CASCADE,
    comment_id   uuid REFERENCES request_comments (id) ON DELETE CASCADE,
    name         text NOT NULL,
    content_type text NOT NULL,
    size         integer NOT NULL,
    sha256       text NOT NULL,
    thumb        boolean NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (comment_id IS NULL OR request_id IS NOT NULL)
);
-- The views' orders (0005): a request's photos oldest first; the library
-- newest first.
CREATE INDEX files_request ON files (request_id, created_at, id) WHERE request_id IS NOT NULL;
CREATE INDEX files_library ON files (created_at DESC, id) WHERE request_id IS NULL;
CREATE INDEX files_comment ON files (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_uploader ON files (uploader_id);

SELECT make_synced('files', 'id');

-- A blob no file names any more is released (kept for the log's retention,
-- then deleted: app/src/backend/files/sweep.rs). However the files went:
-- removed, with their request or comment, with a departing member.
CREATE FUNCTION release_blobs() RETURNS trigger LANGUAGE plpgsql AS $release$
BEGIN
    EXECUTE format(
        'UPDATE %1$I.blobs b SET released_at = now()
          WHERE b.sha256 IN (SELECT sha256 FROM old_rows)
            AND NOT EXISTS (SELECT 1 FROM %1$I.files f WHERE f.sha256 = b.sha256)',
        TG_TABLE_SCHEMA);
    RETURN NULL;
END
$release$;
CREATE TRIGGER release_blobs AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION release_blobs();
