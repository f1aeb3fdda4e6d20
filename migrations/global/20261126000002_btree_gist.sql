-- Group schemas' bookings use an exclusion constraint over (uuid, tstzrange).
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
