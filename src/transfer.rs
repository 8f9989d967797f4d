//! `groupware export` and `groupware import`: a user's own contacts as vCard 4.0
//! (RFC 6350), written and parsed with the `calcard` crate; with `--events` their own
//! calendar events, with `--infolog` their own InfoLog entries, as iCalendar (RFC 5545)
//! through the applications' `ical` modules. This file is the glue: it finds the user,
//! turns ids into keys that mean something in another database and back, and writes.
//!
//! The common contact fields travel as standard properties (`FN`, `N`, `ORG`, `TITLE`,
//! `EMAIL`, `TEL`, `ADR`, `URL`, `NOTE`, `BDAY`, `CATEGORIES` by name); every other
//! non-empty eGroupWare field travels as `X-EGW-<FIELD>` (`tel_car` as `X-EGW-TEL-CAR`) so a
//! round trip through this server loses nothing of the stock fields. Custom field values
//! travel as `X-EGW-CUSTOM-<NAME>`, imported when the custom field exists. Contact imports
//! always create new contacts owned by the user (with `PRIVATE` access when `CLASS:PRIVATE`
//! says so) and create or reuse their categories by name; they never overwrite.

use anyhow::{Context as _, bail};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardVersion,
};
use calcard::{Entry, Parser};
use groupware_addressbook::model::{
    Access, CategoryInput, ContactChanges, ListQuery, STOCK_FIELDS,
};
use groupware_addressbook::repo;
use groupware_api::store::Store;

/// Prefix of the private properties that carry the other stock fields.
const FIELD_PREFIX: &str = "X-EGW-";
/// The private property that marks a private contact (`CLASS:PRIVATE` is read too).
const ACCESS_PROPERTY: &str = "X-EGW-ACCESS";
/// Prefix of the private properties that carry custom field values.
const CUSTOM_PREFIX: &str = "X-EGW-CUSTOM-";

/// Standard single-text properties and the field each one carries.
const TEXT_PROPERTIES: &[(&str, &str)] = &[("TITLE", "title"), ("NOTE", "note"), ("URL", "url")];

/// `(TYPE, field)` for `EMAIL` and `TEL`.
const EMAILS: &[(&str, &str)] = &[("work", "email"), ("home", "email_home")];
const PHONES: &[(&str, &str)] = &[
    ("work", "tel_work"),
    ("home", "tel_home"),
    ("cell", "tel_cell"),
    ("fax", "tel_fax"),
    ("pager", "tel_pager"),
];

/// Fields carried by a structured property (`N`, `ORG`, `ADR`) or above.
const STRUCTURED: &[&str] = &[
    "fn",
    "n_family",
    "n_given",
    "n_middle",
    "n_prefix",
    "n_suffix",
    "org_name",
    "org_unit",
    "adr_one_street",
    "adr_one_locality",
    "adr_one_region",
    "adr_one_postalcode",
    "adr_one_countryname",
    "adr_two_street",
    "adr_two_locality",
    "adr_two_region",
    "adr_two_postalcode",
    "adr_two_countryname",
];

const N_PARTS: [&str; 5] = ["n_family", "n_given", "n_middle", "n_prefix", "n_suffix"];
/// ADR components after the (empty) post office box and extended address.
const ADR_ONE: [&str; 5] = [
    "adr_one_street",
    "adr_one_locality",
    "adr_one_region",
    "adr_one_postalcode",
    "adr_one_countryname",
];
const ADR_TWO: [&str; 5] = [
    "adr_two_street",
    "adr_two_locality",
    "adr_two_region",
    "adr_two_postalcode",
    "adr_two_countryname",
];

async fn account_id(store: &Store, username: &str) -> anyhow::Result<i64> {
    crate::accounts::find_by_username(store, username)
        .await?
        .map(|account| account.id)
        .with_context(|| format!("no account named {username:?}"))
}

fn is_mapped(field: &str) -> bool {
    STRUCTURED.contains(&field)
        || TEXT_PROPERTIES.iter().any(|(_, name)| *name == field)
        || EMAILS.iter().any(|(_, name)| *name == field)
        || PHONES.iter().any(|(_, name)| *name == field)
}

fn text(value: &str) -> VCardValue {
    VCardValue::Text(value.to_owned())
}

fn vcard_type(kind: &str) -> VCardType {
    match kind {
        "work" => VCardType::Work,
        "home" => VCardType::Home,
        "cell" => VCardType::Cell,
        "fax" => VCardType::Fax,
        _ => VCardType::Pager,
    }
}

fn typed(kind: &str) -> VCardParameter {
    VCardParameter::new(VCardParameterName::Type, vcard_type(kind))
}

/// Writes every contact `username` owns as vCard 4.0; returns the text and the count.
pub async fn export_contacts(store: &Store, username: &str) -> anyhow::Result<(String, usize)> {
    let owner = account_id(store, username).await?;
    let contacts = repo::list(store, owner, &ListQuery::default(), true)
        .await
        .context("reading the contacts")?;
    let mut out = String::new();
    let mut count = 0;
    for contact in contacts.iter().filter(|contact| contact.owner == owner) {
        let field = |name: &str| contact.field(name);
        let mut card = VCard::default();
        let mut push = |entry: VCardEntry| card.entries.push(entry);
        push(VCardEntry::new(VCardProperty::Fn).with_value(full_name(contact)));
        push(
            VCardEntry::new(VCardProperty::N)
                .with_values(N_PARTS.iter().map(|name| text(field(name))).collect()),
        );
        if !field("org_name").is_empty() || !field("org_unit").is_empty() {
            push(
                VCardEntry::new(VCardProperty::Org)
                    .with_values(vec![text(field("org_name")), text(field("org_unit"))]),
            );
        }
        for (kind, parts) in [("work", ADR_ONE), ("home", ADR_TWO)] {
            if parts.iter().any(|name| !field(name).is_empty()) {
                let mut values = vec![text(""), text("")];
                values.extend(parts.iter().map(|name| text(field(name))));
                push(
                    VCardEntry::new(VCardProperty::Adr)
                        .with_param(typed(kind))
                        .with_values(values),
                );
            }
        }
        for (property, name) in TEXT_PROPERTIES {
            if !field(name).is_empty() {
                let property = match *property {
                    "TITLE" => VCardProperty::Title,
                    "NOTE" => VCardProperty::Note,
                    _ => VCardProperty::Url,
                };
                push(VCardEntry::new(property).with_value(field(name).to_owned()));
            }
        }
        for (kind, name) in EMAILS {
            if !field(name).is_empty() {
                push(
                    VCardEntry::new(VCardProperty::Email)
                        .with_param(typed(kind))
                        .with_value(field(name).to_owned()),
                );
            }
        }
        for (kind, name) in PHONES {
            if !field(name).is_empty() {
                push(
                    VCardEntry::new(VCardProperty::Tel)
                        .with_param(typed(kind))
                        .with_value(field(name).to_owned()),
                );
            }
        }
        if !contact.categories.is_empty() {
            push(
                VCardEntry::new(VCardProperty::Categories).with_values(
                    contact
                        .categories
                        .iter()
                        .map(|(_, name)| text(name))
                        .collect(),
                ),
            );
        }
        if let Some(bday) = contact.bday {
            push(
                VCardEntry::new(VCardProperty::Bday)
                    .with_param(VCardParameter::new(
                        VCardParameterName::Value,
                        calcard::vcard::VCardValueType::Date,
                    ))
                    .with_value(bday.format("%Y%m%d").to_string()),
            );
        }
        if contact.access.is_private() {
            push(
                VCardEntry::new(VCardProperty::Other(ACCESS_PROPERTY.to_owned()))
                    .with_value("private".to_owned()),
            );
        }
        for (index, name) in STOCK_FIELDS.iter().enumerate() {
            let value = contact.fields.get(index);
            if !value.is_empty() && !is_mapped(name) {
                push(
                    VCardEntry::new(VCardProperty::Other(format!(
                        "{FIELD_PREFIX}{}",
                        name.to_ascii_uppercase().replace('_', "-")
                    )))
                    .with_value(value.to_owned()),
                );
            }
        }
        for (name, value) in &contact.custom {
            if !value.is_empty() && is_custom_name_portable(name) {
                push(
                    VCardEntry::new(VCardProperty::Other(format!(
                        "{CUSTOM_PREFIX}{}",
                        name.to_ascii_uppercase()
                    )))
                    .with_value(value.clone()),
                );
            }
        }
        card.write_to(&mut out, VCardVersion::V4_0)
            .context("writing a vCard")?;
        count += 1;
    }
    Ok((out, count))
}

/// Property names allow letters, digits and `-` only.
fn is_custom_name_portable(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn entry_text(entry: &VCardEntry) -> String {
    entry
        .values
        .iter()
        .filter_map(VCardValue::as_text)
        .collect::<Vec<_>>()
        .join(",")
}

/// The value at `index` of a structured property (`N`, `ORG`, `ADR`).
fn component(entry: &VCardEntry, index: usize) -> String {
    match entry.values.get(index) {
        Some(VCardValue::Component(parts)) => parts.join(","),
        Some(value) => value.as_text().unwrap_or_default().to_owned(),
        None => String::new(),
    }
}

fn has_type(entry: &VCardEntry, kind: &str) -> bool {
    entry.params.iter().any(|param| {
        param.name == VCardParameterName::Type
            && match &param.value {
                VCardParameterValue::Type(value) => *value == vcard_type(kind),
                VCardParameterValue::Text(value) => value.eq_ignore_ascii_case(kind),
                _ => false,
            }
    })
}

/// Turns one parsed vCard into the changes that create its contact.
fn to_changes(card: &VCard, custom_names: &[String]) -> ContactChanges {
    let mut changes = ContactChanges::default();
    let set = |changes: &mut ContactChanges, name: &str, value: String| {
        if let Some(field) = STOCK_FIELDS.iter().find(|field| **field == name)
            && !value.is_empty()
            && !changes.fields.iter().any(|(known, _)| known == field)
        {
            changes.fields.push((*field, value));
        }
    };
    for entry in &card.entries {
        match &entry.name {
            VCardProperty::Fn => set(&mut changes, "fn", entry_text(entry)),
            VCardProperty::N => {
                for (index, name) in N_PARTS.iter().enumerate() {
                    set(&mut changes, name, component(entry, index));
                }
            }
            VCardProperty::Org => {
                set(&mut changes, "org_name", component(entry, 0));
                set(&mut changes, "org_unit", component(entry, 1));
            }
            VCardProperty::Adr => {
                let parts = if has_type(entry, "home") {
                    ADR_TWO
                } else {
                    ADR_ONE
                };
                for (index, name) in parts.iter().enumerate() {
                    set(&mut changes, name, component(entry, index + 2));
                }
            }
            VCardProperty::Categories => {
                // Created or reused by name, as the addressbook's `{id: name}` form does.
                let names: Vec<(String, String)> = entry
                    .values
                    .iter()
                    .filter_map(VCardValue::as_text)
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(|name| ("0".to_owned(), name.to_owned()))
                    .collect();
                if !names.is_empty() {
                    changes.categories = Some(CategoryInput::Named(names));
                }
            }
            VCardProperty::Title => set(&mut changes, "title", entry_text(entry)),
            VCardProperty::Note => set(&mut changes, "note", entry_text(entry)),
            VCardProperty::Url => set(&mut changes, "url", entry_text(entry)),
            VCardProperty::Email => {
                let name = if has_type(entry, "home") {
                    "email_home"
                } else {
                    "email"
                };
                set(&mut changes, name, entry_text(entry));
            }
            VCardProperty::Tel => {
                let name = PHONES
                    .iter()
                    .find(|(kind, _)| has_type(entry, kind))
                    .map_or("tel_work", |(_, name)| *name);
                set(&mut changes, name, entry_text(entry));
            }
            VCardProperty::Bday => {
                let bday = entry.values.first().and_then(|value| match value {
                    VCardValue::PartialDateTime(date) => date
                        .year
                        .zip(date.month)
                        .zip(date.day)
                        .and_then(|((year, month), day)| {
                            chrono::NaiveDate::from_ymd_opt(
                                i32::from(year),
                                u32::from(month),
                                u32::from(day),
                            )
                        }),
                    VCardValue::Text(text) => {
                        chrono::NaiveDate::parse_from_str(text, "%Y%m%d").ok()
                    }
                    _ => None,
                });
                if let Some(bday) = bday {
                    changes.bday = Some(Some(bday));
                }
            }
            VCardProperty::Other(name) => {
                let upper = name.to_ascii_uppercase();
                if upper == ACCESS_PROPERTY || upper == "CLASS" {
                    if entry_text(entry).eq_ignore_ascii_case("private") {
                        changes.access = Some(Access::Private);
                    }
                } else if let Some(custom) = upper.strip_prefix(CUSTOM_PREFIX) {
                    if let Some(known) = custom_names
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(custom))
                    {
                        changes.custom.push((known.clone(), entry_text(entry)));
                    }
                } else if let Some(field) = upper.strip_prefix(FIELD_PREFIX) {
                    let field = field.to_ascii_lowercase().replace('-', "_");
                    if !is_mapped(&field) {
                        set(&mut changes, &field, entry_text(entry));
                    }
                }
            }
            _ => {}
        }
    }
    changes
}

/// Creates one contact per vCard in `text` in `username`'s addressbook; returns how many.
/// Anything that is not a vCard is refused before anything is written.
pub async fn import_contacts(store: &Store, username: &str, text: &str) -> anyhow::Result<usize> {
    let owner = account_id(store, username).await?;
    let mut parser = Parser::new(text);
    let mut cards = Vec::new();
    loop {
        match parser.entry() {
            Entry::VCard(card) => cards.push(card),
            Entry::Eof => break,
            Entry::InvalidLine(line) => {
                bail!(
                    "not a vCard: {:?}",
                    line.chars().take(80).collect::<String>()
                )
            }
            other => bail!("not a vCard: {other:?}"),
        }
    }
    let custom_names: Vec<String> = repo::customfields(store)
        .await
        .context("reading the custom fields")?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let now = chrono::Utc::now().timestamp();
    for (index, card) in cards.iter().enumerate() {
        let mut changes = to_changes(card, &custom_names);
        changes.owner = Some(owner);
        repo::write(store, owner, &changes, now)
            .await
            .with_context(|| format!("importing vCard {} of {}", index + 1, cards.len()))?;
    }
    Ok(cards.len())
}

/// Writes every event `username` owns as one iCalendar document; returns it and the count.
/// Recurring series are written once, with their rule and exceptions.
pub async fn export_events(store: &Store, username: &str) -> anyhow::Result<(String, usize)> {
    use groupware_calendar::model::{Filter, SearchQuery};
    let owner = account_id(store, username).await?;
    let everything = SearchQuery {
        from: i64::MIN / 4,
        to: i64::MAX / 4,
        users: vec![owner],
        category: None,
        filter: Filter::Own,
        query: String::new(),
        show_rejected: true,
    };
    let events: Vec<_> = groupware_calendar::repo::search(store, owner, &everything)
        .await?
        .into_iter()
        .filter(|event| event.owner == owner)
        .collect();
    Ok((groupware_calendar::ical::export(&events), events.len()))
}

/// Reads an iCalendar document into `username`'s calendar: an event whose UID the user
/// already has updates it, any other is created. The whole document is parsed before the
/// first write, so text that does not parse writes nothing. Returns how many were written.
pub async fn import_events(store: &Store, username: &str, text: &str) -> anyhow::Result<usize> {
    let account = crate::accounts::find_by_username(store, username)
        .await?
        .with_context(|| format!("no account named {username:?}"))?;
    let zone = groupware_api::zone::of(&account);
    let parsed = groupware_calendar::ical::import(text, zone)
        .map_err(|error| anyhow::anyhow!("not an iCalendar document we can read: {error}"))?;
    let now = chrono::Utc::now().timestamp();
    let mut written = 0;
    for mut changes in parsed {
        if let Some(uid) = &changes.uid {
            changes.id = groupware_calendar::repo::find_by_uid(store, account.id, uid).await?;
        }
        groupware_calendar::repo::write(store, account.id, &account.timezone, &changes, now)
            .await
            .with_context(|| format!("writing event {} of the document", written + 1))?;
        written += 1;
    }
    Ok(written)
}

/// A contact's name as export writes it in `FN` (and as InfoLog links name contacts).
fn full_name(contact: &groupware_addressbook::model::Contact) -> String {
    if contact.field("fn").is_empty() {
        format!("{} {}", contact.field("n_given"), contact.field("n_family"))
            .trim()
            .to_owned()
    } else {
        contact.field("fn").to_owned()
    }
}

/// Writes every InfoLog entry `username` owns as one iCalendar document (tasks and phone
/// calls as VTODO, notes as VJOURNAL); returns it and the count.
///
/// References become keys that mean something in another database: the parent and linked
/// entries and events by UID, responsible users by account name, linked contacts by full
/// name. A link to something the user cannot read is left out with a warning.
pub async fn export_infolog(store: &Store, username: &str) -> anyhow::Result<(String, usize)> {
    use groupware_infolog::ical::Outgoing;
    use groupware_infolog::model::{Filter, Scope, SearchQuery};
    let owner = account_id(store, username).await?;
    let everything = SearchQuery {
        filter: Filter {
            scope: Scope::Own,
            status: None,
            date: None,
        },
        columns: Vec::new(),
        responsible: None,
        category: None,
        pattern: String::new(),
        order: vec![("id", false)],
        start: None,
        num_rows: None,
        parent: None,
        linked: None,
        subs: true,
        today: (0, 0),
        date_range: (0, 0),
    };
    let entries = groupware_infolog::repo::search(store, owner, &everything)
        .await
        .context("reading the InfoLog entries")?;
    let mut names = std::collections::HashMap::new();
    let mut outgoing = Vec::with_capacity(entries.len());
    for entry in &entries {
        let parent_uid = if entry.id_parent == 0 {
            None
        } else {
            let uid = infolog_uid(store, owner, &entries, entry.id_parent).await;
            if uid.is_none() {
                tracing::warn!(
                    entry = entry.id,
                    "parent {} is not readable",
                    entry.id_parent
                );
            }
            uid
        };
        let mut responsible = Vec::with_capacity(entry.responsible.len());
        for account in &entry.responsible {
            if !names.contains_key(account) {
                let name = crate::accounts::find_by_id(store, *account)
                    .await?
                    .map(|account| account.username);
                names.insert(*account, name);
            }
            if let Some(Some(name)) = names.get(account) {
                responsible.push(name.clone());
            }
        }
        // By name, so that the text does not depend on the database's account ids.
        responsible.sort();
        let mut links = Vec::with_capacity(entry.links.len());
        for link in &entry.links {
            let key = match link.app.as_str() {
                "infolog" => infolog_uid(store, owner, &entries, link.id).await,
                "calendar" => groupware_calendar::repo::read(store, owner, link.id)
                    .await
                    .ok()
                    .map(|event| event.uid),
                "addressbook" => groupware_addressbook::repo::read(store, owner, link.id)
                    .await
                    .ok()
                    .map(|contact| full_name(&contact))
                    .filter(|name| !name.is_empty()),
                _ => None,
            };
            match key {
                Some(key) => links.push((link.app.clone(), key)),
                None => tracing::warn!(
                    entry = entry.id,
                    "link to {}:{} left out: not readable",
                    link.app,
                    link.id
                ),
            }
        }
        outgoing.push(Outgoing {
            entry: entry.clone(),
            parent_uid,
            responsible,
            links,
        });
    }
    Ok((groupware_infolog::ical::export(&outgoing), outgoing.len()))
}

/// The UID of InfoLog entry `id`: from the exported list, else read if `owner` may.
async fn infolog_uid(
    store: &Store,
    owner: i64,
    entries: &[groupware_infolog::model::Entry],
    id: i64,
) -> Option<String> {
    match entries.iter().find(|other| other.id == id) {
        Some(other) => Some(other.uid.clone()),
        None => groupware_infolog::repo::read(store, owner, id)
            .await
            .ok()
            .map(|other| other.uid),
    }
}

/// An application error for the command line, which (unlike a client) may see what the
/// database said.
fn with_detail(error: groupware_api::Error) -> anyhow::Error {
    match error.log_detail() {
        Some(detail) => anyhow::anyhow!("{error}: {detail}"),
        None => anyhow::Error::new(error),
    }
}

/// What an InfoLog import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfologImport {
    pub created: usize,
    pub updated: usize,
    /// References that could not be resolved (unknown account names, parents, links);
    /// the entries were written without them.
    pub warnings: Vec<String>,
}

/// Reads an iCalendar document's VTODOs and VJOURNALs into `username`'s InfoLog, in one
/// transaction: an entry whose UID the user already owns is updated, any other created;
/// parents and links are re-made by UID (to entries of the same document or ones the user
/// can read), responsible users by account name, contact links by full name when exactly
/// one visible contact has it. Text that does not parse, or any entry that cannot be
/// written, writes nothing.
pub async fn import_infolog(
    store: &Store,
    username: &str,
    text: &str,
) -> anyhow::Result<InfologImport> {
    use groupware_infolog::model::{EntryChanges, Link};
    use groupware_infolog::repo as infolog;
    use std::collections::HashMap;
    let account = crate::accounts::find_by_username(store, username)
        .await?
        .with_context(|| format!("no account named {username:?}"))?;
    let owner = account.id;
    let parsed = groupware_infolog::ical::import(text, groupware_api::zone::of(&account))
        .map_err(|error| anyhow::anyhow!("not an iCalendar document we can read: {error}"))?;
    let mut report = InfologImport::default();

    // Everything outside InfoLog is looked up before the transaction starts.
    let mut accounts: HashMap<String, Option<i64>> = HashMap::new();
    let mut contacts: Option<HashMap<String, Vec<i64>>> = None;
    let mut outside: Vec<(Vec<i64>, Vec<Link>)> = Vec::with_capacity(parsed.len());
    for incoming in &parsed {
        let mut responsible = Vec::new();
        for name in &incoming.responsible {
            if !accounts.contains_key(name) {
                let found = crate::accounts::find_by_username(store, name)
                    .await?
                    .map(|account| account.id);
                accounts.insert(name.clone(), found);
            }
            match accounts.get(name) {
                Some(Some(id)) => responsible.push(*id),
                _ => report
                    .warnings
                    .push(format!("responsible user {name:?} does not exist here")),
            }
        }
        let mut links = Vec::new();
        for (app, key) in &incoming.links {
            let id = match app.as_str() {
                "calendar" => groupware_calendar::repo::find_by_uid(store, owner, key).await?,
                "addressbook" => {
                    if contacts.is_none() {
                        let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
                        for contact in repo::list(store, owner, &ListQuery::default(), true)
                            .await
                            .context("reading the contacts")?
                        {
                            by_name
                                .entry(full_name(&contact))
                                .or_default()
                                .push(contact.id);
                        }
                        contacts = Some(by_name);
                    }
                    contacts
                        .as_ref()
                        .and_then(|by_name| by_name.get(key))
                        .and_then(|ids| match ids.as_slice() {
                            [only] => Some(*only),
                            _ => None,
                        })
                }
                // InfoLog links are re-made once the document's entries exist.
                _ => continue,
            };
            match id {
                Some(id) => links.push(Link {
                    app: app.clone(),
                    id,
                }),
                None => report
                    .warnings
                    .push(format!("link to {app} {key:?} left out: not found")),
            }
        }
        outside.push((responsible, links));
    }

    let now = chrono::Utc::now().timestamp();
    let mut transaction = store.begin().await?;
    let tx = &mut *transaction;
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut written = Vec::with_capacity(parsed.len());
    for (index, (incoming, (responsible, links))) in parsed.iter().zip(&outside).enumerate() {
        let mut changes = incoming.changes.clone();
        if let Some(uid) = &changes.uid
            && let Some((id, entry_owner)) = infolog::find_by_uid_in(tx, owner, uid).await?
            && entry_owner == owner
        {
            changes.id = Some(id);
        }
        changes.id_parent = Some(0);
        changes.responsible = Some(responsible.clone());
        changes.links = Some(links.clone());
        let id = infolog::write_in(tx, owner, &changes, now)
            .await
            .map_err(with_detail)
            .with_context(|| format!("writing entry {} of the document", index + 1))?;
        if changes.id.is_some() {
            report.updated += 1;
        } else {
            report.created += 1;
        }
        if let Some(uid) = &changes.uid {
            ids.insert(uid.clone(), id);
        }
        written.push(id);
    }
    // Second pass: parents and InfoLog links, now that every entry has an id.
    for (index, (incoming, (_, links))) in parsed.iter().zip(&outside).enumerate() {
        let mut resolve = async |uid: &str| -> anyhow::Result<Option<i64>> {
            Ok(match ids.get(uid) {
                Some(id) => Some(*id),
                None => infolog::find_by_uid_in(tx, owner, uid)
                    .await?
                    .map(|(id, _)| id),
            })
        };
        let mut parent = None;
        if let Some(uid) = &incoming.parent_uid {
            parent = resolve(uid).await?;
            if parent.is_none() {
                report
                    .warnings
                    .push(format!("parent {uid:?} of entry {} not found", index + 1));
            }
        }
        let mut all_links = links.clone();
        for (app, key) in incoming.links.iter().filter(|(app, _)| app == "infolog") {
            match resolve(key).await? {
                Some(id) => all_links.push(Link {
                    app: app.clone(),
                    id,
                }),
                None => report
                    .warnings
                    .push(format!("link to infolog {key:?} left out: not found")),
            }
        }
        if parent.is_none() && all_links.len() == links.len() {
            continue;
        }
        let relink = EntryChanges {
            id: Some(written[index]),
            id_parent: parent,
            links: Some(all_links),
            check_defaults: false,
            touch_modified: false,
            ..EntryChanges::default()
        };
        infolog::write_in(tx, owner, &relink, now)
            .await
            .map_err(with_detail)
            .with_context(|| format!("linking entry {} of the document", index + 1))?;
    }
    transaction.commit().await?;
    Ok(report)
}
