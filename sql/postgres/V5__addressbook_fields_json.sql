-- Addressbook listings read a contact's stock fields from one column instead of 45.
-- fields_json holds the non-empty stock fields as one JSON object ({"n_family": "Lovelace",
-- ...}; an empty field is left out). Like search_text it is kept by the application on
-- every write (groupware_addressbook::repo); the 45 columns stay the source for filters,
-- sorting, indexes and export. Most of the 45 fields are empty in real addressbooks, and
-- each column read costs the same whether empty or not.
-- Keep in step with sql/sqlite/V5__addressbook_fields_json.sql.

ALTER TABLE addressbook_contacts ADD COLUMN fields_json TEXT NOT NULL DEFAULT '{}';

UPDATE addressbook_contacts SET fields_json = jsonb_strip_nulls(jsonb_build_object(
    'fn', NULLIF(fn, ''),
    'n_given', NULLIF(n_given, ''),
    'n_family', NULLIF(n_family, ''),
    'n_middle', NULLIF(n_middle, ''),
    'n_prefix', NULLIF(n_prefix, ''),
    'n_suffix', NULLIF(n_suffix, ''),
    'sound', NULLIF(sound, ''),
    'note', NULLIF(note, ''),
    'tz', NULLIF(tz, ''),
    'geo', NULLIF(geo, ''),
    'url', NULLIF(url, ''),
    'pubkey', NULLIF(pubkey, ''),
    'org_name', NULLIF(org_name, ''),
    'org_unit', NULLIF(org_unit, ''),
    'title', NULLIF(title, ''),
    'adr_one_street', NULLIF(adr_one_street, ''),
    'adr_one_locality', NULLIF(adr_one_locality, ''),
    'adr_one_region', NULLIF(adr_one_region, ''),
    'adr_one_postalcode', NULLIF(adr_one_postalcode, ''),
    'adr_one_countryname', NULLIF(adr_one_countryname, ''),
    'adr_one_type', NULLIF(adr_one_type, ''),
    'label', NULLIF(label, ''),
    'adr_two_street', NULLIF(adr_two_street, ''),
    'adr_two_locality', NULLIF(adr_two_locality, ''),
    'adr_two_region', NULLIF(adr_two_region, ''),
    'adr_two_postalcode', NULLIF(adr_two_postalcode, ''),
    'adr_two_countryname', NULLIF(adr_two_countryname, ''),
    'adr_two_type', NULLIF(adr_two_type, ''),
    'tel_work', NULLIF(tel_work, ''),
    'tel_home', NULLIF(tel_home, ''),
    'tel_voice', NULLIF(tel_voice, ''),
    'tel_fax', NULLIF(tel_fax, ''),
    'tel_msg', NULLIF(tel_msg, ''),
    'tel_cell', NULLIF(tel_cell, ''),
    'tel_pager', NULLIF(tel_pager, ''),
    'tel_bbs', NULLIF(tel_bbs, ''),
    'tel_modem', NULLIF(tel_modem, ''),
    'tel_car', NULLIF(tel_car, ''),
    'tel_isdn', NULLIF(tel_isdn, ''),
    'tel_video', NULLIF(tel_video, ''),
    'tel_prefer', NULLIF(tel_prefer, ''),
    'email', NULLIF(email, ''),
    'email_type', NULLIF(email_type, ''),
    'email_home', NULLIF(email_home, ''),
    'email_home_type', NULLIF(email_home_type, '')
))::text;
