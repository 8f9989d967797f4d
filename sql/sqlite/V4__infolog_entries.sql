-- InfoLog: tasks, notes and phone calls, their responsible users, links to other
-- applications' entries, and the tombstones of deleted entries. Column names are
-- eGroupWare's egw_infolog columns; the wire names are these without the info_ prefix.
-- Times are unix seconds (UTC), 0 for "not set". Categories live in addressbook_categories
-- with app = 'infolog' (InfoLog keeps one category per entry); sharing grants in
-- app_grants with app = 'infolog'. Keep in step with sql/postgres/V4__infolog_entries.sql.

CREATE TABLE infolog_entries (
    info_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    info_type          TEXT    NOT NULL DEFAULT 'task',
    info_owner         INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    info_from          TEXT    NOT NULL DEFAULT '',
    info_addr          TEXT    NOT NULL DEFAULT '',
    info_subject       TEXT    NOT NULL DEFAULT '',
    info_des           TEXT    NOT NULL DEFAULT '',
    info_location      TEXT    NOT NULL DEFAULT '',
    info_private       INTEGER NOT NULL DEFAULT 0 CHECK (info_private IN (0, 1)),
    info_cat           INTEGER REFERENCES addressbook_categories (id) ON DELETE SET NULL,
    -- 0 low, 1 normal, 2 high, 3 urgent.
    info_priority      INTEGER NOT NULL DEFAULT 1,
    info_status        TEXT    NOT NULL DEFAULT 'ongoing',
    info_percent       INTEGER NOT NULL DEFAULT 0 CHECK (info_percent BETWEEN 0 AND 100),
    info_confirm       TEXT    NOT NULL DEFAULT 'not',
    info_startdate     INTEGER NOT NULL DEFAULT 0,
    info_enddate       INTEGER NOT NULL DEFAULT 0,
    info_datecompleted INTEGER NOT NULL DEFAULT 0,
    info_datemodified  INTEGER NOT NULL,
    info_created       INTEGER NOT NULL,
    info_modifier      INTEGER NOT NULL DEFAULT 0,
    info_id_parent     INTEGER NOT NULL DEFAULT 0,
    -- Minutes.
    info_planned_time  INTEGER NOT NULL DEFAULT 0,
    info_used_time     INTEGER NOT NULL DEFAULT 0,
    info_link_id       INTEGER NOT NULL DEFAULT 0,
    info_uid           TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX infolog_entries_owner_type ON infolog_entries (info_owner, info_type, info_datemodified);
CREATE INDEX infolog_entries_owner_start ON infolog_entries (info_owner, info_startdate);
CREATE INDEX infolog_entries_parent ON infolog_entries (info_id_parent);
CREATE INDEX infolog_entries_uid ON infolog_entries (info_uid);

CREATE TABLE infolog_responsible (
    info_id    INTEGER NOT NULL REFERENCES infolog_entries (info_id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (info_id, account_id)
);

CREATE INDEX infolog_responsible_account ON infolog_responsible (account_id, info_id);

-- Links to entries of other applications ('addressbook' contacts, 'calendar' events).
CREATE TABLE infolog_links (
    info_id INTEGER NOT NULL REFERENCES infolog_entries (info_id) ON DELETE CASCADE,
    app     TEXT    NOT NULL,
    app_id  INTEGER NOT NULL,
    PRIMARY KEY (info_id, app, app_id)
);

CREATE INDEX infolog_links_target ON infolog_links (app, app_id);

-- What was deleted, so a syncing client can ask for deletions since a time.
-- responsible lists the responsible account ids as ',1,2,'.
CREATE TABLE infolog_tombstones (
    info_id     INTEGER PRIMARY KEY,
    owner       INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    info_type   TEXT    NOT NULL,
    private     INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    responsible TEXT    NOT NULL DEFAULT '',
    deleted_at  INTEGER NOT NULL
);

CREATE INDEX infolog_tombstones_deleted ON infolog_tombstones (deleted_at);
