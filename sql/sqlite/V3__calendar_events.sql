-- Calendar: events, their participants, alarms and categories, the tombstones of deleted
-- events, and the per-application sharing grants the calendar and InfoLog use.
-- Times are unix seconds (UTC); the wall clock of an event is that of tzid, where its
-- recurrence is expanded. Categories live in addressbook_categories with app = 'calendar'.
-- Keep in step with sql/postgres/V3__calendar_events.sql.

-- Sharing of applications other than the addressbook (eGroupWare's egw_acl): owner grants
-- grantee the rights bits READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16 on their data of app.
CREATE TABLE app_grants (
    app     TEXT    NOT NULL,
    owner   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    grantee INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    rights  INTEGER NOT NULL CHECK (rights BETWEEN 1 AND 31),
    PRIMARY KEY (app, owner, grantee)
);

CREATE INDEX app_grants_grantee ON app_grants (app, grantee, owner);

CREATE TABLE calendar_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uid              TEXT    NOT NULL,
    owner            INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title            TEXT    NOT NULL DEFAULT '',
    description      TEXT    NOT NULL DEFAULT '',
    location         TEXT    NOT NULL DEFAULT '',
    start_time       INTEGER NOT NULL,
    end_time         INTEGER NOT NULL,
    all_day          INTEGER NOT NULL DEFAULT 0 CHECK (all_day IN (0, 1)),
    priority         INTEGER NOT NULL DEFAULT 2,
    private          INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    non_blocking     INTEGER NOT NULL DEFAULT 0 CHECK (non_blocking IN (0, 1)),
    reference        INTEGER NOT NULL DEFAULT 0,
    tzid             TEXT    NOT NULL DEFAULT 'UTC',
    -- 0 none, 1 daily, 2 weekly, 3 monthly by date, 4 monthly by weekday, 5 yearly.
    recur_type       INTEGER NOT NULL DEFAULT 0,
    recur_interval   INTEGER NOT NULL DEFAULT 1,
    recur_data       INTEGER NOT NULL DEFAULT 0,
    -- Last local date an occurrence may start on ('YYYY-MM-DD', '' for none), and the end
    -- of that day as unix seconds (NULL for none) for range searches.
    recur_enddate    TEXT    NOT NULL DEFAULT '',
    recur_until      INTEGER,
    -- Local dates without an occurrence, 'YYYY-MM-DD' joined by ','.
    recur_exceptions TEXT    NOT NULL DEFAULT '',
    created          INTEGER NOT NULL,
    modified         INTEGER NOT NULL,
    modifier         INTEGER NOT NULL DEFAULT 0
);

-- Single events of a month view: owner, then start (a search reads starts from a month
-- before the range; longer events come from the next index).
CREATE INDEX calendar_events_owner_range ON calendar_events (owner, start_time, end_time)
    WHERE recur_type = 0;
-- Single events longer than 31 days (2678400 s), by end.
CREATE INDEX calendar_events_owner_long ON calendar_events (owner, end_time)
    WHERE recur_type = 0 AND end_time - start_time > 2678400;
-- Recurring series are few and searched by how long they run.
CREATE INDEX calendar_events_owner_series ON calendar_events (owner, recur_until, start_time)
    WHERE recur_type <> 0;
CREATE INDEX calendar_events_uid ON calendar_events (uid);
CREATE INDEX calendar_events_modified ON calendar_events (owner, modified);

CREATE TABLE calendar_participants (
    event_id   INTEGER NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- U needs action, A accepted, R rejected, T tentative.
    status     TEXT    NOT NULL DEFAULT 'U' CHECK (status IN ('U', 'A', 'R', 'T')),
    role       TEXT    NOT NULL DEFAULT 'REQ-PARTICIPANT',
    -- 1 when the participant is not the event's owner: invitations are searched apart.
    invited    INTEGER NOT NULL DEFAULT 1 CHECK (invited IN (0, 1)),
    PRIMARY KEY (event_id, account_id)
);

CREATE INDEX calendar_participants_invited ON calendar_participants (account_id, event_id)
    WHERE invited = 1;

CREATE TABLE calendar_alarms (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    owner    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Seconds before each occurrence's start.
    offset_seconds INTEGER NOT NULL,
    enabled  INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

CREATE INDEX calendar_alarms_event ON calendar_alarms (event_id, owner);

CREATE TABLE calendar_event_categories (
    event_id    INTEGER NOT NULL REFERENCES calendar_events (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES addressbook_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (event_id, category_id)
);

CREATE INDEX calendar_event_categories_category ON calendar_event_categories (category_id, event_id);

-- What was deleted, so a syncing client can ask for deletions since a time.
-- participants lists the participants' account ids as ',1,2,'.
CREATE TABLE calendar_tombstones (
    event_id     INTEGER PRIMARY KEY,
    uid          TEXT    NOT NULL,
    owner        INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    private      INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    participants TEXT    NOT NULL DEFAULT '',
    deleted_at   INTEGER NOT NULL
);

CREATE INDEX calendar_tombstones_deleted ON calendar_tombstones (deleted_at);
