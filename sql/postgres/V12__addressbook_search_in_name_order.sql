-- SQLite's text index is keyed by each contact's place in the default name order from
-- this version on (sql/sqlite/V12__addressbook_search_in_name_order.sql), so that a text
-- search there yields its matches in order. PostgreSQL's trigram index is a GIN index,
-- which yields matches in no order; only the column's comment changes here.
-- The column's comment says so for whoever reads the catalog.

COMMENT ON COLUMN addressbook_contacts.search_text IS 'Lower-cased text of every stock field and custom value, kept by the application on each write; query searches it through the pg_trgm GIN index, which yields matches in no order (SQLite keys its text index by the name order instead, migration V12).';
