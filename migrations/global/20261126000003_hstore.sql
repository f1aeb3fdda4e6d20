-- Group change logs record each row as its columns' Postgres text output
-- (hstore(record) gives exactly that).
CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;
