-- Every listing tests tid (only 'n' rows are contacts) besides the owner and its order.
-- The name-order indexes carry tid since V8/V9; the other indexes a listing walks gain it
-- here, so a page chosen over them (a deep page in organisation or full-name order, a
-- sync listing by last_mod) reads the index alone instead of each passed-over row from
-- the table. Costs: each index is rebuilt once, at the first start (about 1.5 s per index
-- per million contacts). Keep in step with
-- sql/postgres/V11__addressbook_order_indexes_carry_tid.sql.

DROP INDEX addressbook_contacts_owner_fn;
CREATE INDEX addressbook_contacts_owner_fn ON addressbook_contacts (owner, fn, id, tid);

DROP INDEX addressbook_contacts_owner_org;
CREATE INDEX addressbook_contacts_owner_org ON addressbook_contacts (owner, org_name, id, tid);

DROP INDEX addressbook_contacts_owner_last_mod;
CREATE INDEX addressbook_contacts_owner_last_mod
    ON addressbook_contacts (owner, last_mod, id, tid);
