-- The default listing order is eGroupWare's n_family, n_given, email (then id). The
-- (owner, n_family, n_given, id) index of V2 leaves email out, so every first page sorted
-- the owner's rows by email within equal names (SQLite: a temporary b-tree per page;
-- PostgreSQL: a sort of the whole addressbook without statistics, an incremental sort
-- with them). With this index the default page is a walk of its own rows.
-- Keep in step with sql/postgres/V6__addressbook_default_order_index.sql.

CREATE INDEX addressbook_contacts_owner_default_order
    ON addressbook_contacts (owner, n_family, n_given, email, id);
