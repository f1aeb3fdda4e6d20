-- A group database other than the registry's: what the tenant migrations
-- use from `public` (the registry's own database has them from its global
-- migrations 0002 and 0003). Numbered apart from the registry's (dated)
-- migrations: if a group database is the registry's own after all (listed
-- under another spelling of its URL), both sets share sqlx's table there.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;
