-- The group's directory. Runs with search_path set to the group's schema:
-- never schema-qualify names here.
CREATE TABLE members (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL,
    unit         text,
    role         text NOT NULL CHECK (role IN ('admin', 'resident')),
    joined_at    timestamptz NOT NULL DEFAULT now()
);
