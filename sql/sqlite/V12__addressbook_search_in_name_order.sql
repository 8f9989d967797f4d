-- A text search (`query`) in the default order (family name, given name, email, id) asked
-- the trigram index for every match and sorted them: a surname shared by 37,000 of a
-- million contacts cost ~38 ms for a page of 25. Here the index is keyed by the contact's
-- place in that order instead of its id, so it yields the matches in order and a page
-- stops after its last match (repo::list_page, PageWay::NameOrderSearch).
--
-- order_key: each owner has the band of keys (owner << 40, (owner + 1) << 40); within it
-- the keys of the owner's contacts increase with (n_family, n_given, email, id). Writes
-- keep them so (repo::name_order_key: a free key between the neighbours, or a spread-out
-- window of neighbours when there is none). Existing contacts are spread evenly over their
-- owner's band. Costs: the text index is built once more at the first start (about half a
-- minute per million contacts).
-- PostgreSQL has no such index (sql/postgres/V12__addressbook_search_in_name_order.sql).

ALTER TABLE addressbook_contacts ADD COLUMN order_key INTEGER;

UPDATE addressbook_contacts SET order_key = placed.order_key
FROM (
    SELECT id,
        (owner << 40)
            + row_number() OVER (PARTITION BY owner ORDER BY n_family, n_given, email, id)
            * ((1 << 40) / (count(*) OVER (PARTITION BY owner) + 1)) AS order_key
    FROM addressbook_contacts
) AS placed
WHERE placed.id = addressbook_contacts.id;

CREATE UNIQUE INDEX addressbook_contacts_order_key ON addressbook_contacts (order_key);

-- A contact without a key would be missing from the text index: refused, loudly.
CREATE TRIGGER addressbook_contacts_order_key_required_insert
BEFORE INSERT ON addressbook_contacts WHEN new.order_key IS NULL BEGIN
    SELECT RAISE(ABORT, 'addressbook_contacts.order_key is required (repo::name_order_key)');
END;

CREATE TRIGGER addressbook_contacts_order_key_required_update
BEFORE UPDATE OF order_key ON addressbook_contacts WHEN new.order_key IS NULL BEGIN
    SELECT RAISE(ABORT, 'addressbook_contacts.order_key is required (repo::name_order_key)');
END;

DROP TRIGGER addressbook_contacts_search_insert;
DROP TRIGGER addressbook_contacts_search_delete;
DROP TRIGGER addressbook_contacts_search_update;
DROP TABLE addressbook_contacts_search;

-- External content, as before, with the key as its rowid: the index keeps no copy of the
-- text, and a delete removes the postings of the text the trigger hands it (the
-- contentless_delete variant kept tombstones per segment instead, whose upkeep stalled
-- writes for up to seconds over a million contacts).
CREATE VIRTUAL TABLE addressbook_contacts_search USING fts5 (
    search_text,
    content = 'addressbook_contacts',
    content_rowid = 'order_key',
    tokenize = 'trigram'
);

INSERT INTO addressbook_contacts_search (addressbook_contacts_search) VALUES ('rebuild');

CREATE TRIGGER addressbook_contacts_search_insert AFTER INSERT ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (rowid, search_text)
        VALUES (new.order_key, new.search_text);
END;

CREATE TRIGGER addressbook_contacts_search_delete AFTER DELETE ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (addressbook_contacts_search, rowid, search_text)
        VALUES ('delete', old.order_key, old.search_text);
END;

CREATE TRIGGER addressbook_contacts_search_update
AFTER UPDATE OF search_text, order_key ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (addressbook_contacts_search, rowid, search_text)
        VALUES ('delete', old.order_key, old.search_text);
    INSERT INTO addressbook_contacts_search (rowid, search_text)
        VALUES (new.order_key, new.search_text);
END;
