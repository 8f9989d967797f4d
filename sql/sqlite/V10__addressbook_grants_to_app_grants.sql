-- The addressbook's sharing grants join every other application's in app_grants (app =
-- 'addressbook'), so there is one ACL table and one set of statements for it
-- (apps/api/src/grants.rs), as eGroupWare had one egw_acl. app_grants has the same columns,
-- constraints and foreign keys as addressbook_grants, so every row carries over as it is.
-- Keep in step with sql/postgres/V10__addressbook_grants_to_app_grants.sql.

INSERT INTO app_grants (app, owner, grantee, rights)
    SELECT 'addressbook', owner, grantee, rights FROM addressbook_grants;

DROP TABLE addressbook_grants;
