-- Each contact counts its category links and custom values, so that a listing reads the
-- two detail tables only for the contacts that have rows there (most have none): before,
-- every listed contact ran two correlated subqueries, about a third of a page's cost.
-- The counts are kept by the triggers below, in the statement that changes a detail row,
-- so they also follow the cascades (a deleted category or custom field definition) that
-- no application code sees. The listing runs a subquery whenever a count is not zero.
-- The functions keep the search path they were created with (the server's schema), so a
-- change made by a session with another search path still updates this schema's contacts.
-- Keep in step with sql/sqlite/V7__addressbook_detail_counts.sql.

ALTER TABLE addressbook_contacts ADD COLUMN category_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE addressbook_contacts ADD COLUMN custom_count INTEGER NOT NULL DEFAULT 0;

UPDATE addressbook_contacts c SET
    category_count = (SELECT count(*) FROM addressbook_contact_categories l
                      WHERE l.contact_id = c.id),
    custom_count = (SELECT count(*) FROM addressbook_customfield_values v
                    WHERE v.contact_id = c.id)
WHERE EXISTS (SELECT 1 FROM addressbook_contact_categories l WHERE l.contact_id = c.id)
   OR EXISTS (SELECT 1 FROM addressbook_customfield_values v WHERE v.contact_id = c.id);

CREATE FUNCTION addressbook_contact_categories_count() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE addressbook_contacts SET category_count = category_count - 1
        WHERE id = OLD.contact_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE addressbook_contacts SET category_count = category_count + 1
        WHERE id = NEW.contact_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER addressbook_contact_categories_count
AFTER INSERT OR DELETE OR UPDATE OF contact_id ON addressbook_contact_categories
FOR EACH ROW EXECUTE FUNCTION addressbook_contact_categories_count();

CREATE FUNCTION addressbook_customfield_values_count() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE addressbook_contacts SET custom_count = custom_count - 1
        WHERE id = OLD.contact_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE addressbook_contacts SET custom_count = custom_count + 1
        WHERE id = NEW.contact_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER addressbook_customfield_values_count
AFTER INSERT OR DELETE OR UPDATE OF contact_id ON addressbook_customfield_values
FOR EACH ROW EXECUTE FUNCTION addressbook_customfield_values_count();
