-- No index changes on PostgreSQL. SQLite's V8 puts search_text into the name-order
-- indexes so that a text search's walk reads the index alone; a PostgreSQL B-tree entry
-- may not exceed about a third of a page (2,704 bytes), and search_text (every field of
-- a contact, notes included) has no such bound, so an INCLUDE of it would refuse to
-- store a contact with a long note. The version exists on both backends so that one
-- schema history describes both; its one statement records the reason in the catalog.

COMMENT ON INDEX addressbook_contacts_owner_name IS 'Name order of an addressbook. Unlike SQLite''s (V8) it carries no search_text: an index entry is limited to about a third of a page, and search_text is unbounded.';
