-- Core: accounts, their application run rights, sessions and login throttling records.
-- Flags are integers 0/1, times are unix seconds. Keep in step with
-- sql/postgres/V1__core_accounts.sql.

-- AUTOINCREMENT so an id is never reused: a deleted account's grants and references must
-- not pass to a later account that happens to get the same id.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Canonical form (trimmed, lower-cased), set by the accounts repository.
    username      TEXT    NOT NULL UNIQUE CHECK (username <> ''),
    full_name     TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    timezone      TEXT    NOT NULL DEFAULT 'UTC',
    -- Argon2id PHC string; NULL means the account cannot log in with a password.
    password_hash TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE account_apps (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    app        TEXT    NOT NULL,
    PRIMARY KEY (account_id, app)
);

-- Tokens are stored only as SHA-256 hex digests, never in clear.
CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    sessionid_hash TEXT    NOT NULL UNIQUE,
    kp3_hash       TEXT    NOT NULL,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    login_ip       TEXT,
    user_agent     TEXT
);

CREATE INDEX sessions_account ON sessions (account_id, created_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
CREATE INDEX sessions_created ON sessions (created_at);

-- Failed logins, keyed by the throttle's own key (per user, per client address), kept in
-- the database so every server instance sees the same counts.
CREATE TABLE login_failures (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
);

CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);
