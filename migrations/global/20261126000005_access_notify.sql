-- Servers remember briefly who may follow which group (for live requests);
-- ending a membership or a session names the user on `courtyard_access`,
-- so they forget that user's access at once.
CREATE FUNCTION notify_access_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('courtyard_access', user_id::text) FROM (SELECT DISTINCT user_id FROM ended) AS users;
    RETURN NULL;
END
$$;

CREATE TRIGGER notify_access_on_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION notify_access_change();
CREATE TRIGGER notify_access_on_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION notify_access_change();
CREATE TRIGGER notify_access_on_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION notify_access_change();
