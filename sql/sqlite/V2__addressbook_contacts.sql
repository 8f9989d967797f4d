-- Addressbook: contacts with every stock field of the eGroupWare addressbook, their
-- categories, custom fields, sharing grants and the tombstones of deleted contacts.
-- Flags are integers 0/1, times are unix seconds (UTC), every integer is INTEGER.
-- Text fields are NOT NULL DEFAULT '' so that '' is the one "empty" value and ordering is
-- the same on both backends. Keep in step with sql/postgres/V2__addressbook_contacts.sql.

-- AUTOINCREMENT/identity so a deleted contact's id is never reused: a tombstone must name
-- one contact forever.
CREATE TABLE addressbook_contacts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    owner                INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'n' for a normal contact (eGroupWare's type id).
    tid                  TEXT NOT NULL DEFAULT 'n',
    -- eGroupWare's login-id column; kept for clients that read it.
    lid                  TEXT NOT NULL DEFAULT '',
    private              INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    -- A date without zone, 'YYYY-MM-DD', or '' when unknown.
    bday                 TEXT NOT NULL DEFAULT '',
    fn                   TEXT NOT NULL DEFAULT '',
    n_given              TEXT NOT NULL DEFAULT '',
    n_family             TEXT NOT NULL DEFAULT '',
    n_middle             TEXT NOT NULL DEFAULT '',
    n_prefix             TEXT NOT NULL DEFAULT '',
    n_suffix             TEXT NOT NULL DEFAULT '',
    sound                TEXT NOT NULL DEFAULT '',
    note                 TEXT NOT NULL DEFAULT '',
    tz                   TEXT NOT NULL DEFAULT '',
    geo                  TEXT NOT NULL DEFAULT '',
    url                  TEXT NOT NULL DEFAULT '',
    pubkey               TEXT NOT NULL DEFAULT '',
    org_name             TEXT NOT NULL DEFAULT '',
    org_unit             TEXT NOT NULL DEFAULT '',
    title                TEXT NOT NULL DEFAULT '',
    adr_one_street       TEXT NOT NULL DEFAULT '',
    adr_one_locality     TEXT NOT NULL DEFAULT '',
    adr_one_region       TEXT NOT NULL DEFAULT '',
    adr_one_postalcode   TEXT NOT NULL DEFAULT '',
    adr_one_countryname  TEXT NOT NULL DEFAULT '',
    adr_one_type         TEXT NOT NULL DEFAULT '',
    label                TEXT NOT NULL DEFAULT '',
    adr_two_street       TEXT NOT NULL DEFAULT '',
    adr_two_locality     TEXT NOT NULL DEFAULT '',
    adr_two_region       TEXT NOT NULL DEFAULT '',
    adr_two_postalcode   TEXT NOT NULL DEFAULT '',
    adr_two_countryname  TEXT NOT NULL DEFAULT '',
    adr_two_type         TEXT NOT NULL DEFAULT '',
    tel_work             TEXT NOT NULL DEFAULT '',
    tel_home             TEXT NOT NULL DEFAULT '',
    tel_voice            TEXT NOT NULL DEFAULT '',
    tel_fax              TEXT NOT NULL DEFAULT '',
    tel_msg              TEXT NOT NULL DEFAULT '',
    tel_cell             TEXT NOT NULL DEFAULT '',
    tel_pager            TEXT NOT NULL DEFAULT '',
    tel_bbs              TEXT NOT NULL DEFAULT '',
    tel_modem            TEXT NOT NULL DEFAULT '',
    tel_car              TEXT NOT NULL DEFAULT '',
    tel_isdn             TEXT NOT NULL DEFAULT '',
    tel_video            TEXT NOT NULL DEFAULT '',
    tel_prefer           TEXT NOT NULL DEFAULT '',
    email                TEXT NOT NULL DEFAULT '',
    email_type           TEXT NOT NULL DEFAULT '',
    email_home           TEXT NOT NULL DEFAULT '',
    email_home_type      TEXT NOT NULL DEFAULT '',
    -- Lower-cased text of every stock field and custom value, kept by the application
    -- on each write: the one column `query` searches, and what the text index covers.
    search_text          TEXT NOT NULL DEFAULT '',
    created              INTEGER NOT NULL,
    last_mod             INTEGER NOT NULL
);

CREATE INDEX addressbook_contacts_owner_last_mod ON addressbook_contacts (owner, last_mod);
CREATE INDEX addressbook_contacts_owner_name ON addressbook_contacts (owner, n_family, n_given, id);
CREATE INDEX addressbook_contacts_owner_fn ON addressbook_contacts (owner, fn, id);
CREATE INDEX addressbook_contacts_owner_org ON addressbook_contacts (owner, org_name, id);

-- Substring search (`query`) through a trigram full-text index over search_text. It is an
-- external-content table: the triggers keep it in step with the contacts.
CREATE VIRTUAL TABLE addressbook_contacts_search USING fts5 (
    search_text,
    content = 'addressbook_contacts',
    content_rowid = 'id',
    tokenize = 'trigram'
);

CREATE TRIGGER addressbook_contacts_search_insert AFTER INSERT ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (rowid, search_text) VALUES (new.id, new.search_text);
END;

CREATE TRIGGER addressbook_contacts_search_delete AFTER DELETE ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (addressbook_contacts_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
END;

CREATE TRIGGER addressbook_contacts_search_update AFTER UPDATE OF search_text ON addressbook_contacts BEGIN
    INSERT INTO addressbook_contacts_search (addressbook_contacts_search, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO addressbook_contacts_search (rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Categories of the addressbook. owner NULL is a global category every user sees.
CREATE TABLE addressbook_categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner       INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    app         TEXT NOT NULL DEFAULT 'addressbook',
    name        TEXT NOT NULL CHECK (name <> ''),
    parent      INTEGER REFERENCES addressbook_categories (id) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    last_mod    INTEGER NOT NULL
);

CREATE INDEX addressbook_categories_owner_name ON addressbook_categories (owner, name);
CREATE INDEX addressbook_categories_parent ON addressbook_categories (parent);

CREATE TABLE addressbook_contact_categories (
    contact_id  INTEGER NOT NULL REFERENCES addressbook_contacts (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES addressbook_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, category_id)
);

CREATE INDEX addressbook_contact_categories_category ON addressbook_contact_categories (category_id, contact_id);

-- Custom field definitions (shared by all users, created by administrators) and values.
CREATE TABLE addressbook_customfields (
    name    TEXT PRIMARY KEY CHECK (name <> ''),
    label   TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL
);

-- eGroupWare 1.2 created this one for XML-RPC clients (KDE stores free/busy URLs in it).
INSERT INTO addressbook_customfields (name, label, created) VALUES ('freebusy_url', 'Free/busy URL', 0);

CREATE TABLE addressbook_customfield_values (
    contact_id INTEGER NOT NULL REFERENCES addressbook_contacts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL REFERENCES addressbook_customfields (name) ON DELETE CASCADE,
    value      TEXT NOT NULL,
    PRIMARY KEY (contact_id, name)
);

-- What was deleted, so a syncing client can ask for deletions since a time.
CREATE TABLE addressbook_tombstones (
    contact_id INTEGER PRIMARY KEY,
    owner      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    private    INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    deleted_at INTEGER NOT NULL
);

CREATE INDEX addressbook_tombstones_owner_deleted ON addressbook_tombstones (owner, deleted_at);

-- Sharing: owner grants grantee the rights bits READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16.
CREATE TABLE addressbook_grants (
    owner   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    grantee INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    rights  INTEGER NOT NULL CHECK (rights BETWEEN 1 AND 31),
    PRIMARY KEY (owner, grantee)
);

CREATE INDEX addressbook_grants_grantee ON addressbook_grants (grantee, owner);
