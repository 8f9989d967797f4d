-- Addressbook listings read a contact's stock fields from one column instead of 45.
-- fields_json holds the non-empty stock fields as one JSON object ({"n_family": "Lovelace",
-- ...}; an empty field is left out). Like search_text it is kept by the application on
-- every write (groupware_addressbook::repo); the 45 columns stay the source for filters,
-- sorting, indexes and export. Most of the 45 fields are empty in real addressbooks, and
-- each column read costs the same whether empty or not.
-- Keep in step with sql/postgres/V5__addressbook_fields_json.sql.

ALTER TABLE addressbook_contacts ADD COLUMN fields_json TEXT NOT NULL DEFAULT '{}';

UPDATE addressbook_contacts SET fields_json = (
    SELECT json_group_object(key, value) FROM json_each(json_object(
        'fn', fn,
        'n_given', n_given,
        'n_family', n_family,
        'n_middle', n_middle,
        'n_prefix', n_prefix,
        'n_suffix', n_suffix,
        'sound', sound,
        'note', note,
        'tz', tz,
        'geo', geo,
        'url', url,
        'pubkey', pubkey,
        'org_name', org_name,
        'org_unit', org_unit,
        'title', title,
        'adr_one_street', adr_one_street,
        'adr_one_locality', adr_one_locality,
        'adr_one_region', adr_one_region,
        'adr_one_postalcode', adr_one_postalcode,
        'adr_one_countryname', adr_one_countryname,
        'adr_one_type', adr_one_type,
        'label', label,
        'adr_two_street', adr_two_street,
        'adr_two_locality', adr_two_locality,
        'adr_two_region', adr_two_region,
        'adr_two_postalcode', adr_two_postalcode,
        'adr_two_countryname', adr_two_countryname,
        'adr_two_type', adr_two_type,
        'tel_work', tel_work,
        'tel_home', tel_home,
        'tel_voice', tel_voice,
        'tel_fax', tel_fax,
        'tel_msg', tel_msg,
        'tel_cell', tel_cell,
        'tel_pager', tel_pager,
        'tel_bbs', tel_bbs,
        'tel_modem', tel_modem,
        'tel_car', tel_car,
        'tel_isdn', tel_isdn,
        'tel_video', tel_video,
        'tel_prefer', tel_prefer,
        'email', email,
        'email_type', email_type,
        'email_home', email_home,
        'email_home_type', email_home_type
    )) WHERE value <> ''
);
