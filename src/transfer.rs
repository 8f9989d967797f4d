//! `groupware export` and `groupware import`: a user's own contacts as vCard 4.0
//! (RFC 6350), written and parsed with the `calcard` crate, and (with `--events`) their
//! own calendar events as iCalendar (RFC 5545) through the calendar's `ical` module.
//!
//! The common fields travel as standard properties (`FN`, `N`, `ORG`, `TITLE`, `EMAIL`,
//! `TEL`, `ADR`, `URL`, `NOTE`, `BDAY`, `CATEGORIES`); every other non-empty eGroupWare field
//! travels as `X-EGW-<FIELD>` (`tel_car` as `X-EGW-TEL-CAR`) so a round trip through this server loses nothing of the
//! stock fields. Custom field values travel as `X-EGW-CUSTOM-<NAME>`, imported when the
//! custom field exists. Imports always create new contacts owned by the user (with
//! `PRIVATE` access when `CLASS:PRIVATE` says so); they never overwrite.

use anyhow::{Context as _, bail};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardVersion,
};
use calcard::{Entry, Parser};
use groupware_addressbook::model::{Access, ContactChanges, ListQuery, STOCK_FIELDS};
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
        let full_name = if field("fn").is_empty() {
            format!("{} {}", field("n_given"), field("n_family"))
                .trim()
                .to_owned()
        } else {
            field("fn").to_owned()
        };
        push(VCardEntry::new(VCardProperty::Fn).with_value(full_name));
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
            let value = contact.fields.get(index).map_or("", String::as_str);
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
