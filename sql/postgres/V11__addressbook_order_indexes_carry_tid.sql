-- Every listing tests tid (only 'n' rows are contacts) besides the owner and its order, so
-- a page chosen over an index still read each passed-over row from the table to check
-- tid: a page at row 10,000 of a million-contact addressbook read 10,050 table rows
-- (6 ms; 2 ms with the index alone). Each index a listing walks now carries tid (INCLUDE:
-- not a key, so the order it delivers is unchanged), and such a page is an index-only
-- scan wherever autovacuum has marked the table's pages all-visible. The last_mod index
-- also gains id as a key, so a sync listing (ORDER BY last_mod, id) needs no sort.
-- Costs: each index is rebuilt once, at the first start (about 2 s per index per million
-- contacts). SQLite's name-order indexes carry tid since V8/V9; its others gain it in
-- sql/sqlite/V11__addressbook_order_indexes_carry_tid.sql (keep the two in step).

DROP INDEX addressbook_contacts_owner_name;
CREATE INDEX addressbook_contacts_owner_name
    ON addressbook_contacts (owner, n_family, n_given, id) INCLUDE (tid);
COMMENT ON INDEX addressbook_contacts_owner_name IS 'Name order of an addressbook. Unlike SQLite''s (V8) it carries no search_text: an index entry is limited to about a third of a page, and search_text is unbounded. tid is included (V11) so that a page chosen over it reads the index alone.';

DROP INDEX addressbook_contacts_owner_default_order;
CREATE INDEX addressbook_contacts_owner_default_order
    ON addressbook_contacts (owner, n_family, n_given, email, id) INCLUDE (tid);

DROP INDEX addressbook_contacts_owner_given;
CREATE INDEX addressbook_contacts_owner_given
    ON addressbook_contacts (owner, n_given, id) INCLUDE (tid);

DROP INDEX addressbook_contacts_owner_fn;
CREATE INDEX addressbook_contacts_owner_fn
    ON addressbook_contacts (owner, fn, id) INCLUDE (tid);

DROP INDEX addressbook_contacts_owner_org;
CREATE INDEX addressbook_contacts_owner_org
    ON addressbook_contacts (owner, org_name, id) INCLUDE (tid);

DROP INDEX addressbook_contacts_owner_last_mod;
CREATE INDEX addressbook_contacts_owner_last_mod
    ON addressbook_contacts (owner, last_mod, id) INCLUDE (tid);
