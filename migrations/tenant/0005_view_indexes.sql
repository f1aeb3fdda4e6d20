-- Each page reads one view of the group (its board page, one status of
-- requests, one request's thread, the directory), by one query with a LIMIT
-- that one of these indexes serves in its order: a page costs the rows it
-- shows, however long the group's history. (A room's week of bookings is
-- served by the exclusion constraint's GiST index on (resource_id, range).)
-- Runs with search_path = <group schema>, public.

CREATE INDEX announcements_board ON announcements (pinned DESC, created_at DESC, id);
CREATE INDEX requests_by_status ON requests (status, created_at DESC, id);
DROP INDEX request_comments_request_id;
CREATE INDEX request_comments_thread ON request_comments (request_id, created_at, id);
-- Names sort by their ASCII-lowercased bytes (COLLATE "C"), whatever the
-- database's locale, so that the browser's copy sorts them the same way.
CREATE INDEX members_by_name ON members (lower(display_name COLLATE "C"), user_id);
CREATE INDEX resources_by_name ON resources (lower(name COLLATE "C"), id);
