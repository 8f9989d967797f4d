-- Each contact counts its category links and custom values, so that a listing reads the
-- two detail tables only for the contacts that have rows there (most have none): before,
-- every listed contact ran two correlated subqueries, about a third of a page's cost.
-- The counts are kept by the triggers below, in the statement that changes a detail row,
-- so they also follow the cascades (a deleted category or custom field definition) that
-- no application code sees. The listing runs a subquery whenever a count is not zero.
-- Keep in step with sql/postgres/V7__addressbook_detail_counts.sql.

ALTER TABLE addressbook_contacts ADD COLUMN category_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE addressbook_contacts ADD COLUMN custom_count INTEGER NOT NULL DEFAULT 0;

UPDATE addressbook_contacts SET
    category_count = (SELECT count(*) FROM addressbook_contact_categories l
                      WHERE l.contact_id = addressbook_contacts.id),
    custom_count = (SELECT count(*) FROM addressbook_customfield_values v
                    WHERE v.contact_id = addressbook_contacts.id);

CREATE TRIGGER addressbook_contact_categories_count_insert
AFTER INSERT ON addressbook_contact_categories BEGIN
    UPDATE addressbook_contacts SET category_count = category_count + 1 WHERE id = new.contact_id;
END;

CREATE TRIGGER addressbook_contact_categories_count_delete
AFTER DELETE ON addressbook_contact_categories BEGIN
    UPDATE addressbook_contacts SET category_count = category_count - 1 WHERE id = old.contact_id;
END;

CREATE TRIGGER addressbook_contact_categories_count_move
AFTER UPDATE OF contact_id ON addressbook_contact_categories BEGIN
    UPDATE addressbook_contacts SET category_count = category_count - 1 WHERE id = old.contact_id;
    UPDATE addressbook_contacts SET category_count = category_count + 1 WHERE id = new.contact_id;
END;

CREATE TRIGGER addressbook_customfield_values_count_insert
AFTER INSERT ON addressbook_customfield_values BEGIN
    UPDATE addressbook_contacts SET custom_count = custom_count + 1 WHERE id = new.contact_id;
END;

CREATE TRIGGER addressbook_customfield_values_count_delete
AFTER DELETE ON addressbook_customfield_values BEGIN
    UPDATE addressbook_contacts SET custom_count = custom_count - 1 WHERE id = old.contact_id;
END;

CREATE TRIGGER addressbook_customfield_values_count_move
AFTER UPDATE OF contact_id ON addressbook_customfield_values BEGIN
    UPDATE addressbook_contacts SET custom_count = custom_count - 1 WHERE id = old.contact_id;
    UPDATE addressbook_contacts SET custom_count = custom_count + 1 WHERE id = new.contact_id;
END;
