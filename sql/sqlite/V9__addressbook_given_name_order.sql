-- Listings ordered by given name (a common choice in address lists) had no index to walk:
-- every such page sorted the addressbook's matching rows, and a text search in that order
-- could not walk at all (a million contacts, 'berlin' with org_name=Acme by given name:
-- 147 ms through the trigram index). With this index the order is walkable
-- (repo::WALKABLE_ORDERS); like V8's, it carries tid and search_text so that a text
-- search's walk reads the index alone.
-- Keep in step with sql/postgres/V9__addressbook_given_name_order.sql.

CREATE INDEX addressbook_contacts_owner_given
    ON addressbook_contacts (owner, n_given, id, tid, search_text);
