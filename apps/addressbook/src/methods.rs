//! The method table and thin adapters between wire values and the addressbook model.
//!
//! Each eGroupWare name (and every historical alias) maps to one implementation here; the
//! adapters only convert `Value`s to `model` types and back, and call `repo`.

use chrono::{NaiveDateTime, NaiveTime};
use groupware_api::categories;
use groupware_api::params::{StructExt as _, convert};
use groupware_api::tombstone;
use groupware_api::zone::{self, Tz, unix_now};
use groupware_api::{
    Account, Ctx, Error, Flags, MethodDef, MethodTable, ParamDef, Params, Struct, StructDef, Value,
};
use groupware_api::{ValueSink, WriteValue, Written, written};

use crate::model::{
    self, Access, AccountEntry, CategoryInput, Contact, ContactChanges, IncludeUsers, ListQuery,
    rights,
};
use crate::repo;

const AUTHOR: &str = "groupware";

const SEARCH_HELP: &str = "Lists contacts. Takes one struct: start (0-based offset), limit (page \
     size, 0 or absent: all), fields (struct or array of names), query (text in any field), \
     filter ('name=value,…', 'cat_id=N' with sub-categories, none|yours|private), sort \
     (ASC|DESC), order (columns), lastmod (unix time: only entries modified after it), cquery \
     (family name prefix), include_users (all|calendar|groupmates: accounts as read-only \
     entries with negative ids), customfields (boolean, default true). Returns an array of \
     contact structs.";
const READ_HELP: &str = "Reads one contact: {id, fields?}, a bare id or [id]. Returns the contact \
     struct; a negative id reads an account's pseudo entry.";
const WRITE_HELP: &str = "Creates (no id) or updates (with id; needs the EDIT right) a contact \
     from a struct of fields; members left out of an update stay unchanged. cat_id as struct \
     {id: name} creates or renames categories. Returns the contact's id.";
const DELETE_HELP: &str = "Deletes a contact (id as string, int, [id] or {id}; needs the DELETE \
     right) and leaves a tombstone for syncing clients. Returns true.";
const CATEGORIES_HELP: &str = "Lists the addressbook's categories: {id: name}, or with true the \
     complete records {id: {id, owner, access, app_name, main, level, parent, name, \
     description, data, last_mod}}.";
const CUSTOMFIELDS_HELP: &str = "Lists custom fields as {name: label}. A non-empty array of names \
     (or {name, label} structs) creates them first; administrators only.";
const DELETED_HELP: &str = "Sync extension: contacts deleted after a unix time. Takes {lastmod} \
     or an int; returns an array of {id, owner, deleted (dateTime), deleted_at (unix time)}.";
const GET_GRANTS_HELP: &str = "Extension: the rights the caller granted on their addressbook, \
     {account id: rights} (READ 1, ADD 2, EDIT 4, DELETE 8, PRIVATE 16).";
const SET_GRANTS_HELP: &str = "Extension: grants rights on the caller's addressbook: {account id \
     or username: rights}; 0 revokes. Returns the grants as get_grants does.";

const SEARCH_SIGNATURES: &[&[&str]] = &[&["array", "struct"], &["array"]];
const READ_SIGNATURES: &[&[&str]] = &[
    &["struct", "struct"],
    &["struct", "string"],
    &["struct", "int"],
    &["struct", "array"],
];
const WRITE_SIGNATURES: &[&[&str]] = &[&["int", "struct"]];
const DELETE_SIGNATURES: &[&[&str]] = &[
    &["boolean", "string"],
    &["boolean", "int"],
    &["boolean", "array"],
    &["boolean", "struct"],
];

/// One method definition of the `addressbook.boaddressbook` class.
fn def(
    name: &'static str,
    function: &'static str,
    signatures: &'static [&'static [&'static str]],
    help: &'static str,
    flags: Flags,
    handler: groupware_api::Handler,
) -> MethodDef {
    MethodDef {
        name,
        function,
        signatures,
        help,
        author: AUTHOR,
        flags,
        handler,
        params: &[],
        returns: "",
    }
}

/// The structs the addressbook declares for WSDL toolkits.
///
/// `Contact` lists the members a contact carries (all optional: a listing only returns
/// the selected, non-empty ones; custom fields come on top under their own names).
pub const STRUCTS: &[StructDef] = &[
    StructDef {
        name: "Contact",
        description: "A contact. Text fields are empty when absent.",
        members: &[
            (
                "id",
                "int",
                "The contact's id (negative: an account's pseudo entry).",
            ),
            ("lid", "string", "Legacy id."),
            ("tid", "string", "Type: 'n' contact, 'p' account."),
            ("owner", "int", "The owning account's id."),
            ("access", "string", "public or private."),
            ("cat_id", "struct", "Categories: {id: name}."),
            (
                "last_mod",
                "dateTime.iso8601",
                "Last modification, in your time zone.",
            ),
            (
                "rights",
                "int",
                "The caller's rights: READ 1, ADD 2, EDIT 4, DELETE 8.",
            ),
            ("fn", "string", "Full name."),
            ("n_given", "string", "Given name."),
            ("n_family", "string", "Family name."),
            ("n_middle", "string", "Middle name."),
            ("n_prefix", "string", "Name prefix."),
            ("n_suffix", "string", "Name suffix."),
            ("sound", "string", "Pronunciation."),
            ("note", "string", "Note."),
            ("tz", "string", "Time zone."),
            ("geo", "string", "Geographic position."),
            ("url", "string", "Home page."),
            ("pubkey", "string", "Public key."),
            ("org_name", "string", "Organisation."),
            ("org_unit", "string", "Department."),
            ("title", "string", "Job title."),
            ("adr_one_street", "string", "Business street."),
            ("adr_one_locality", "string", "Business city."),
            ("adr_one_region", "string", "Business region."),
            ("adr_one_postalcode", "string", "Business postal code."),
            ("adr_one_countryname", "string", "Business country."),
            ("adr_one_type", "string", "Business address type."),
            ("label", "string", "Address label."),
            ("adr_two_street", "string", "Home street."),
            ("adr_two_locality", "string", "Home city."),
            ("adr_two_region", "string", "Home region."),
            ("adr_two_postalcode", "string", "Home postal code."),
            ("adr_two_countryname", "string", "Home country."),
            ("adr_two_type", "string", "Home address type."),
            ("tel_work", "string", "Work phone."),
            ("tel_home", "string", "Home phone."),
            ("tel_voice", "string", "Voice phone."),
            ("tel_fax", "string", "Fax."),
            ("tel_msg", "string", "Message phone."),
            ("tel_cell", "string", "Mobile phone."),
            ("tel_pager", "string", "Pager."),
            ("tel_bbs", "string", "BBS."),
            ("tel_modem", "string", "Modem."),
            ("tel_car", "string", "Car phone."),
            ("tel_isdn", "string", "ISDN."),
            ("tel_video", "string", "Video phone."),
            ("tel_prefer", "string", "Preferred phone."),
            ("email", "string", "Business e-mail."),
            ("email_type", "string", "Business e-mail type."),
            ("email_home", "string", "Private e-mail."),
            ("email_home_type", "string", "Private e-mail type."),
            ("bday", "dateTime.iso8601", "Birthday."),
        ],
    },
    StructDef {
        name: "ContactQuery",
        description: "What a contact listing returns.",
        members: &[
            ("start", "int", "0-based offset."),
            ("limit", "int", "Page size; 0 or absent: all."),
            ("fields", "string[]", "Field names to return; absent: all."),
            ("query", "string", "Text in any field."),
            (
                "filter",
                "string",
                "'name=value,…', 'cat_id=N', none|yours|private.",
            ),
            ("sort", "string", "ASC or DESC."),
            ("order", "string", "Columns to order by, comma-separated."),
            (
                "lastmod",
                "int",
                "Only entries modified after this unix time.",
            ),
            ("cquery", "string", "Family name prefix."),
            ("include_users", "string", "all|calendar|groupmates."),
            (
                "customfields",
                "boolean",
                "Include custom fields (default true).",
            ),
        ],
    },
    StructDef {
        name: "ContactRef",
        description: "Which contact to read.",
        members: &[
            ("id", "int", "The contact's id."),
            ("fields", "string[]", "Field names to return; absent: all."),
        ],
    },
];

const SEARCH_PARAMS: &[ParamDef] = &[ParamDef {
    name: "params",
    ty: "ContactQuery",
    description: "What to list.",
}];
const READ_PARAMS: &[ParamDef] = &[ParamDef {
    name: "params",
    ty: "ContactRef",
    description: "The contact to read.",
}];
const WRITE_PARAMS: &[ParamDef] = &[ParamDef {
    name: "params",
    ty: "Contact",
    description: "The contact's fields; with id: an update.",
}];
const DELETE_PARAMS: &[ParamDef] = &[ParamDef {
    name: "id",
    ty: "string",
    description: "The contact's id.",
}];

/// Adds the WSDL description to a definition.
fn documented(method: MethodDef, params: &'static [ParamDef], returns: &'static str) -> MethodDef {
    MethodDef {
        params,
        returns,
        ..method
    }
}

/// The addressbook's method table.
pub fn methods() -> MethodTable {
    let search: groupware_api::Handler = |ctx, params| Box::pin(search(ctx, params));
    let read: groupware_api::Handler = |ctx, params| Box::pin(read(ctx, params));
    let write: groupware_api::Handler = |ctx, params| Box::pin(write(ctx, params));
    let delete: groupware_api::Handler = |ctx, params| Box::pin(delete(ctx, params));
    MethodTable {
        app: "addressbook",
        title: "Addressbook",
        version: env!("CARGO_PKG_VERSION"),
        structs: STRUCTS,
        methods: vec![
            documented(
                def(
                    "addressbook.boaddressbook.search",
                    "search",
                    SEARCH_SIGNATURES,
                    SEARCH_HELP,
                    Flags::READ,
                    search,
                ),
                SEARCH_PARAMS,
                "Contact[]",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.read_entries",
                    "search",
                    SEARCH_SIGNATURES,
                    SEARCH_HELP,
                    Flags::READ,
                    search,
                ),
                SEARCH_PARAMS,
                "Contact[]",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.read_list",
                    "search",
                    SEARCH_SIGNATURES,
                    SEARCH_HELP,
                    Flags::READ,
                    search,
                ),
                SEARCH_PARAMS,
                "Contact[]",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.read",
                    "read",
                    READ_SIGNATURES,
                    READ_HELP,
                    Flags::READ,
                    read,
                ),
                READ_PARAMS,
                "Contact",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.read_entry",
                    "read",
                    READ_SIGNATURES,
                    READ_HELP,
                    Flags::READ,
                    read,
                ),
                READ_PARAMS,
                "Contact",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.add",
                    "write",
                    WRITE_SIGNATURES,
                    WRITE_HELP,
                    Flags::WRITE,
                    write,
                ),
                WRITE_PARAMS,
                "int",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.add_entry",
                    "write",
                    WRITE_SIGNATURES,
                    WRITE_HELP,
                    Flags::WRITE,
                    write,
                ),
                WRITE_PARAMS,
                "int",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.save",
                    "write",
                    WRITE_SIGNATURES,
                    WRITE_HELP,
                    Flags::WRITE,
                    write,
                ),
                WRITE_PARAMS,
                "int",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.write",
                    "write",
                    WRITE_SIGNATURES,
                    WRITE_HELP,
                    Flags::WRITE,
                    write,
                ),
                WRITE_PARAMS,
                "int",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.update_entry",
                    "write",
                    WRITE_SIGNATURES,
                    WRITE_HELP,
                    Flags::WRITE,
                    write,
                ),
                WRITE_PARAMS,
                "int",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.delete",
                    "delete",
                    DELETE_SIGNATURES,
                    DELETE_HELP,
                    Flags::WRITE,
                    delete,
                ),
                DELETE_PARAMS,
                "boolean",
            ),
            documented(
                def(
                    "addressbook.boaddressbook.delete_entry",
                    "delete",
                    DELETE_SIGNATURES,
                    DELETE_HELP,
                    Flags::WRITE,
                    delete,
                ),
                DELETE_PARAMS,
                "boolean",
            ),
            def(
                "addressbook.boaddressbook.categories",
                "categories",
                &[&["struct", "boolean"], &["struct"]],
                CATEGORIES_HELP,
                Flags::READ,
                |ctx, params| Box::pin(categories(ctx, params)),
            ),
            def(
                "addressbook.boaddressbook.customfields",
                "customfields",
                &[&["struct", "array"], &["struct"]],
                CUSTOMFIELDS_HELP,
                Flags::WRITE,
                |ctx, params| Box::pin(customfields(ctx, params)),
            ),
            def(
                "addressbook.boaddressbook.deleted",
                "deleted",
                &[&["array", "struct"], &["array", "int"]],
                DELETED_HELP,
                Flags::READ,
                |ctx, params| Box::pin(deleted(ctx, params)),
            ),
            def(
                "addressbook.boaddressbook.get_grants",
                "get_grants",
                &[&["struct"]],
                GET_GRANTS_HELP,
                Flags::READ,
                |ctx, params| Box::pin(get_grants(ctx, params)),
            ),
            def(
                "addressbook.boaddressbook.set_grants",
                "set_grants",
                &[&["struct", "struct"]],
                SET_GRANTS_HELP,
                Flags::WRITE,
                |ctx, params| Box::pin(set_grants(ctx, params)),
            ),
        ],
    }
}

// ---------------------------------------------------------------------------------------
// Listing

/// Which members a listing returns: `None` is every field.
type FieldSelection = Option<Vec<String>>;

fn parse_fields(value: Option<&Value>) -> Result<FieldSelection, Error> {
    let names: Vec<String> = match value {
        None | Some(Value::Nil) => return Ok(None),
        Some(Value::Struct(members)) => members
            .iter()
            .map(|(key, value)| match value.as_str() {
                Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
                _ => key.trim().to_owned(),
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| convert::<String>(item, "member 'fields'").map(|n| n.trim().to_owned()))
            .collect::<Result<_, _>>()?,
        Some(Value::String(text)) => text.split(',').map(|n| n.trim().to_owned()).collect(),
        Some(other) => {
            return Err(Error::invalid(format!(
                "member 'fields': wanted struct or array, got {}",
                other.type_name()
            )));
        }
    };
    let names: Vec<String> = names.into_iter().filter(|name| !name.is_empty()).collect();
    Ok(if names.is_empty() { None } else { Some(names) })
}

fn non_negative(members: &Struct, name: &str) -> Result<Option<u64>, Error> {
    match members.optional_member::<i64>(name)? {
        None => Ok(None),
        Some(number) => u64::try_from(number).map(Some).map_err(|_| {
            Error::invalid(format!(
                "member '{name}': must not be negative, got {number}"
            ))
        }),
    }
}

fn text_member(members: &Struct, name: &str) -> Result<String, Error> {
    Ok(members.optional_member::<String>(name)?.unwrap_or_default())
}

async fn search(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.optional(0)?.unwrap_or_default();
    let descending = model::parse_sort(&text_member(&members, "sort")?)?;
    let query = ListQuery {
        start: non_negative(&members, "start")?.unwrap_or(0),
        limit: non_negative(&members, "limit")?.filter(|limit| *limit > 0),
        query: text_member(&members, "query")?,
        filter: model::parse_filter(&text_member(&members, "filter")?)?,
        order: model::parse_order(&text_member(&members, "order")?, descending)?,
        modified_after: members
            .optional_member::<i64>("lastmod")?
            .filter(|lastmod| *lastmod >= 0),
        name_prefix: text_member(&members, "cquery")?,
    };
    let fields = parse_fields(members.get("fields"))?;
    let custom = members
        .optional_member::<bool>("customfields")?
        .unwrap_or(true);
    let include_users = IncludeUsers::parse(&text_member(&members, "include_users")?)?;
    let store = ctx.store()?;
    let contacts = repo::list(store, caller.id, &query, custom).await?;
    let mut accounts = Vec::new();
    if let Some(which) = include_users {
        for account in repo::accounts(store, which).await? {
            accounts.push(account_to_value(&account, fields.as_deref()));
        }
    }
    Ok(Value::Written(Written::new(Listing {
        shape: RecordShape::new(caller, fields, custom),
        contacts,
        accounts,
    })))
}

/// A page of contacts, and the accounts asked for with `include_users`, written straight
/// into the reply.
struct Listing {
    shape: RecordShape,
    contacts: Vec<Contact>,
    accounts: Vec<Value>,
}

impl WriteValue for Listing {
    fn type_name(&self) -> &'static str {
        "array"
    }

    fn values_hint(&self) -> usize {
        let contacts: usize = self
            .contacts
            .iter()
            .map(|contact| FIXED_MEMBERS + contact.fields.filled())
            .sum();
        contacts + self.accounts.len() * FIXED_MEMBERS
    }

    fn write(&self, sink: &mut dyn ValueSink) {
        sink.begin_array(self.contacts.len() + self.accounts.len());
        for contact in &self.contacts {
            self.shape.write_contact(sink, contact);
        }
        for account in &self.accounts {
            sink.value(account);
        }
        sink.end_array();
    }
}

/// Whether a listing that asked for `fields` (all when `None`) wants member `name`; a
/// custom field may also be asked for as `#name`. Runs for every member of every record,
/// so it compares in place rather than writing `#name` out.
fn selected(fields: Option<&[String]>, name: &str) -> bool {
    fields.is_none_or(|names| {
        names
            .iter()
            .any(|wanted| wanted == name || wanted.strip_prefix('#') == Some(name))
    })
}

/// Members every record carries besides its fields (the id, ownership, access,
/// categories, time of the last change and the caller's rights).
const FIXED_MEMBERS: usize = 8;

/// What the records of one reply share: the caller's time zone, the fields asked for and
/// whether custom fields are wanted.
struct RecordShape {
    zone: Tz,
    fields: FieldSelection,
    custom: bool,
}

impl RecordShape {
    fn new(account: &Account, fields: FieldSelection, custom: bool) -> Self {
        RecordShape {
            zone: zone::of(account),
            fields,
            custom,
        }
    }

    /// A contact as eGroupWare 1.2+ sent it: the always-present members, then every
    /// selected non-empty field. The names are distinct by construction (a unit test);
    /// custom field names cannot be any of them (`validate_customfield_name`), and one
    /// that is anyway (a row written around the application) is left out.
    fn write_contact(&self, sink: &mut dyn ValueSink, contact: &Contact) {
        let fields = self.fields.as_deref();
        sink.begin_struct(FIXED_MEMBERS + contact.fields.filled() + contact.custom.len());
        sink.plain_member("id");
        sink.int(contact.id);
        sink.string_member("lid", &contact.lid);
        sink.string_member("tid", &contact.tid);
        sink.plain_member("owner");
        sink.int(contact.owner);
        sink.string_member("access", contact.access.as_str());
        sink.plain_member("cat_id");
        sink.begin_struct(contact.categories.len());
        for (id, name) in &contact.categories {
            sink.member(&id.to_string());
            sink.string(name);
        }
        sink.end_struct();
        sink.plain_member("last_mod");
        sink.value(&Value::DateTime(zone::to_local(
            self.zone,
            contact.last_mod,
        )));
        sink.plain_member("rights");
        sink.int(contact.rights);
        for (name, value) in contact.fields.iter() {
            if selected(fields, name) {
                sink.string_member(name, value);
            }
        }
        if let Some(bday) = contact.bday
            && selected(fields, "bday")
        {
            sink.plain_member("bday");
            sink.value(&Value::DateTime(NaiveDateTime::new(bday, NaiveTime::MIN)));
        }
        if self.custom {
            for (name, value) in &contact.custom {
                if !value.is_empty() && selected(fields, name) && !is_record_member(name) {
                    sink.member(name);
                    sink.string(value);
                }
            }
        }
        sink.end_struct();
    }

    /// One contact as a value (`read`).
    fn contact_value(&self, contact: &Contact) -> Value {
        written::build(|sink| self.write_contact(sink, contact))
    }
}

/// The names [`RecordShape::write_contact`] writes besides custom fields.
const RECORD_MEMBERS: [&str; FIXED_MEMBERS + 1] = [
    "id", "lid", "tid", "owner", "access", "cat_id", "last_mod", "rights", "bday",
];

fn is_record_member(name: &str) -> bool {
    RECORD_MEMBERS.contains(&name) || model::stock_field(name).is_some()
}

/// An account as a read-only pseudo contact (`tid` `p`, negative id).
fn account_to_value(account: &AccountEntry, fields: Option<&[String]>) -> Value {
    let (given, family) = account.given_and_family();
    let mut record = Struct::default();
    record.insert("id".into(), Value::Int(-account.account_id));
    record.insert("lid".into(), Value::from(account.username.as_str()));
    record.insert("tid".into(), Value::from("p"));
    record.insert("owner".into(), Value::Int(account.account_id));
    record.insert("access".into(), Value::from("public"));
    record.insert("cat_id".into(), Value::Struct(Struct::default()));
    record.insert("rights".into(), Value::Int(rights::READ));
    let full_name = if account.full_name.trim().is_empty() {
        account.username.as_str()
    } else {
        account.full_name.trim()
    };
    for (name, value) in [
        ("fn", full_name),
        ("n_given", given),
        ("n_family", family),
        ("email", account.email.as_str()),
    ] {
        if !value.is_empty() && selected(fields, name) {
            record.insert(name.into(), Value::from(value));
        }
    }
    Value::Struct(record)
}

// ---------------------------------------------------------------------------------------
// Single entries

/// The id of `read`/`delete`: a bare id, `[id]` or `{id}`.
fn entry_id(value: &Value) -> Result<i64, Error> {
    match value {
        Value::Array(items) => match items.as_slice() {
            [single] => entry_id(single),
            _ => Err(Error::invalid(
                "parameter 1: wanted [id] with exactly one id",
            )),
        },
        Value::Struct(members) => members.member::<i64>("id"),
        other => convert::<i64>(other, "parameter 1 (id)"),
    }
}

async fn read(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let id = entry_id(&param)?;
    let fields = match &param {
        Value::Struct(members) => parse_fields(members.get("fields"))?,
        _ => None,
    };
    let store = ctx.store()?;
    if id < 0 {
        let account = repo::account(store, -id).await?;
        return Ok(account_to_value(&account, fields.as_deref()));
    }
    let contact = repo::read(store, caller.id, id).await?;
    Ok(RecordShape::new(caller, fields, true).contact_value(&contact))
}

/// Reads the `cat_id` of a write.
fn category_input(value: &Value) -> Result<CategoryInput, Error> {
    let id_list = |text: &str| -> Result<Vec<i64>, Error> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty() && *part != "0")
            .map(|part| {
                part.parse::<i64>().map_err(|_| {
                    Error::invalid(format!("member 'cat_id': not a category id: {part:?}"))
                })
            })
            .collect()
    };
    match value {
        Value::Struct(members) => members
            .iter()
            .map(|(key, name)| {
                convert::<String>(name, format_args!("member 'cat_id' entry {key:?}"))
                    .map(|name| (key.to_string(), name))
            })
            .collect::<Result<_, _>>()
            .map(CategoryInput::Named),
        Value::String(text) => id_list(text).map(CategoryInput::Ids),
        Value::Int(0) | Value::Nil => Ok(CategoryInput::Ids(Vec::new())),
        Value::Int(id) => Ok(CategoryInput::Ids(vec![*id])),
        Value::Array(items) => items
            .iter()
            .map(|item| convert::<i64>(item, "member 'cat_id' item"))
            .collect::<Result<_, _>>()
            .map(CategoryInput::Ids),
        other => Err(Error::invalid(format!(
            "member 'cat_id': wanted struct, string or array, got {}",
            other.type_name()
        ))),
    }
}

/// Converts a write's struct into changes. Unknown members (`rights`, fields of other
/// eGroupWare versions) are ignored, as eGroupWare did. A `last_mod` sent back with an
/// update makes it conditional (optimistic concurrency, see [`expected_last_mod`]).
fn changes_from_struct(
    members: &Struct,
    customfields: &[(String, String)],
) -> Result<ContactChanges, Error> {
    let mut changes = ContactChanges::default();
    for (name, value) in members {
        let text = |value: &Value| -> Result<String, Error> {
            let text = convert::<String>(value, format_args!("member '{name}'"))?;
            model::validate_text(name, &text)?;
            Ok(text)
        };
        match name.as_ref() {
            "id" => {
                let id = match value {
                    Value::String(text) if text.trim().is_empty() => 0,
                    Value::Nil => 0,
                    other => convert::<i64>(other, "member 'id'")?,
                };
                if id < 0 {
                    return Err(Error::AccessNotPermitted);
                }
                changes.id = (id != 0).then_some(id);
            }
            "owner" => {
                let owner = match value {
                    Value::String(text) if text.trim().is_empty() => 0,
                    other => convert::<i64>(other, "member 'owner'")?,
                };
                changes.owner = (owner > 0).then_some(owner);
            }
            "tid" => {
                let tid = text(value)?;
                if tid.is_empty() || tid.chars().count() > 1 {
                    return Err(Error::invalid("member 'tid': wanted one letter"));
                }
                changes.tid = Some(tid);
            }
            "lid" => changes.lid = Some(text(value)?),
            "access" => {
                let access = text(value)?;
                changes.access = Some(Access::parse(&access).ok_or_else(|| {
                    Error::invalid(format!(
                        "member 'access': wanted public or private, got {access:?}"
                    ))
                })?);
            }
            "bday" => {
                changes.bday = Some(match value {
                    Value::DateTime(moment) => Some(moment.date()),
                    Value::Nil => None,
                    other => model::parse_date(&text(other)?)?,
                });
            }
            "cat_id" => changes.categories = Some(category_input(value)?),
            "last_mod" => changes.expected_last_mod = expected_last_mod(value)?,
            other => {
                if let Some(field) = model::stock_field(other) {
                    changes.fields.push((field, text(value)?));
                } else {
                    let bare = other.strip_prefix('#').unwrap_or(other);
                    if customfields.iter().any(|(known, _)| known == bare) {
                        changes.custom.push((bare.to_owned(), text(value)?));
                    }
                }
            }
        }
    }
    Ok(changes)
}

/// The `last_mod` a client sent back with an update, as unix seconds: the dateTime `read`
/// returned (UTC), or an integer; empty, `0` or nil mean "no check" (last writer wins).
fn expected_last_mod(value: &Value) -> Result<Option<i64>, Error> {
    let seconds = match value {
        Value::Nil => return Ok(None),
        Value::DateTime(moment) => moment.and_utc().timestamp(),
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::invalid("member 'last_mod': wanted a dateTime or a unix time"))?,
        other => convert::<i64>(other, "member 'last_mod'")?,
    };
    Ok((seconds != 0).then_some(seconds))
}

async fn write(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.single()?;
    let store = ctx.store()?;
    let customfields = repo::customfields(store).await?;
    let changes = changes_from_struct(&members, &customfields)?;
    let id = repo::write(store, caller.id, &changes, unix_now()).await?;
    Ok(Value::Int(id))
}

async fn delete(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let param: Value = params.single()?;
    let id = entry_id(&param)?;
    if id < 0 {
        return Err(Error::AccessNotPermitted);
    }
    repo::delete(ctx.store()?, caller.id, id, unix_now()).await?;
    Ok(Value::Bool(true))
}

// ---------------------------------------------------------------------------------------
// Categories, custom fields, tombstones, grants

async fn categories(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let complete = match params.as_slice().first() {
        None | Some(Value::Nil) | Some(Value::Struct(_)) => false,
        Some(value) => convert::<bool>(value, "parameter 1 (complete)")?,
    };
    let all = categories::list(ctx.store()?, repo::APP, caller.id).await?;
    Ok(categories::listing(repo::APP, &all, complete))
}

async fn customfields(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let wanted: Vec<Value> = params.optional(0)?.unwrap_or_default();
    let store = ctx.store()?;
    if !wanted.is_empty() {
        if !caller.is_admin {
            return Err(Error::AccessNotPermitted);
        }
        let mut definitions = Vec::with_capacity(wanted.len());
        for item in &wanted {
            let (name, label) = match item {
                Value::Struct(members) => {
                    let name: String = members.member("name")?;
                    let label = members.optional_member::<String>("label")?;
                    (name.clone(), label.unwrap_or(name))
                }
                other => {
                    let name = convert::<String>(other, "parameter 1 item")?;
                    (name.clone(), name)
                }
            };
            let name = name.trim().trim_start_matches('#').to_owned();
            model::validate_customfield_name(&name)?;
            model::validate_text("label", &label)?;
            definitions.push((name, label));
        }
        repo::create_customfields(store, &definitions, unix_now()).await?;
    }
    let listing: Struct = repo::customfields(store)
        .await?
        .into_iter()
        .map(|(name, label)| (name.into(), Value::from(label)))
        .collect();
    Ok(Value::Struct(listing))
}

async fn deleted(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let since = params.lastmod()?;
    let tombstones = repo::deleted_since(ctx.store()?, caller.id, since).await?;
    Ok(Value::Array(
        tombstones
            .iter()
            .map(|tombstone| {
                tombstone::record(
                    caller,
                    tombstone.id,
                    tombstone.owner,
                    tombstone.deleted_at,
                    [],
                )
            })
            .collect(),
    ))
}

async fn grants_value(ctx: &Ctx, owner: i64) -> Result<Value, Error> {
    let grants = repo::grants(ctx.store()?, owner).await?;
    Ok(Value::Struct(
        grants
            .into_iter()
            .map(|(grantee, _username, granted)| (grantee.to_string().into(), Value::Int(granted)))
            .collect(),
    ))
}

async fn get_grants(ctx: Ctx, params: Params) -> Result<Value, Error> {
    params.expect_count(0, 0)?;
    let caller = ctx.caller()?;
    grants_value(&ctx, caller.id).await
}

async fn set_grants(ctx: Ctx, params: Params) -> Result<Value, Error> {
    let caller = ctx.caller()?;
    let members: Struct = params.single()?;
    let store = ctx.store()?;
    let mut changes = Vec::with_capacity(members.len());
    for (grantee, granted) in &members {
        let granted = convert::<i64>(granted, format_args!("member '{grantee}'"))?;
        if !(0..=rights::ALL).contains(&granted) {
            return Err(Error::invalid(format!(
                "member '{grantee}': rights must be between 0 and {}",
                rights::ALL
            )));
        }
        let grantee_id = repo::find_account(store, grantee).await?;
        if grantee_id == caller.id {
            return Err(Error::invalid(format!(
                "member '{grantee}': an owner always holds every right"
            )));
        }
        changes.push((grantee_id, granted));
    }
    repo::set_grants(store, caller.id, &changes).await?;
    grants_value(&ctx, caller.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_selected_by_its_name_or_as_a_custom_field() {
        let wanted = [
            "n_given".to_owned(),
            "#shoe size".to_owned(),
            "#".to_owned(),
        ];
        let selected = |name: &str| selected(Some(&wanted), name);
        assert!(selected("n_given"));
        assert!(selected("shoe size"));
        assert!(
            selected("#shoe size"),
            "a name given with its # matches as written"
        );
        assert!(selected(""), "`#` alone names the empty custom field");
        assert!(!selected("n_family"));
        assert!(!selected("shoe"));
        assert!(!selected("#n_given"));
        assert!(super::selected(None, "anything"));
        assert!(!super::selected(Some(&[]), "n_given"));
    }

    #[test]
    fn every_alias_is_registered_once() {
        let table = methods();
        let mut names: Vec<_> = table.methods.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        for alias in [
            "search",
            "read_entries",
            "read_list",
            "read",
            "read_entry",
            "add",
            "add_entry",
            "save",
            "write",
            "update_entry",
            "delete",
            "delete_entry",
            "categories",
            "customfields",
        ] {
            let name = format!("addressbook.boaddressbook.{alias}");
            assert!(names.contains(&name.as_str()), "{name} is missing");
        }
    }

    #[test]
    fn record_member_names_are_distinct() {
        // write_contact writes these without looking for an earlier member of the same
        // name, straight into the reply.
        let mut names = RECORD_MEMBERS.to_vec();
        names.extend(crate::model::STOCK_FIELDS);
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        // No custom field can take one of them, and each is written without escaping.
        for name in RECORD_MEMBERS.iter().chain(crate::model::STOCK_FIELDS) {
            assert!(model::validate_customfield_name(name).is_err(), "{name}");
            assert!(is_record_member(name));
            assert!(groupware_api::written::is_plain_name(name), "{name}");
        }
    }

    #[test]
    fn fields_as_struct_or_array() {
        let as_struct =
            Value::structure([("n_given", Value::from("n_given")), ("x", Value::from(""))]);
        assert_eq!(
            parse_fields(Some(&as_struct)).unwrap(),
            Some(vec!["n_given".to_owned(), "x".to_owned()])
        );
        let as_array = Value::Array(vec![Value::from("email")]);
        assert_eq!(
            parse_fields(Some(&as_array)).unwrap(),
            Some(vec!["email".to_owned()])
        );
    }

    #[test]
    fn ids_in_every_form() {
        assert_eq!(entry_id(&Value::from("12")).unwrap(), 12);
        assert_eq!(entry_id(&Value::Int(12)).unwrap(), 12);
        assert_eq!(
            entry_id(&Value::Array(vec![Value::from("12")])).unwrap(),
            12
        );
        assert_eq!(
            entry_id(&Value::structure([("id", Value::Int(12))])).unwrap(),
            12
        );
        assert!(entry_id(&Value::from("x")).is_err());
    }

    #[test]
    fn write_struct_becomes_changes() {
        let members: Struct = [
            ("id".into(), Value::from("")),
            ("n_family".into(), Value::from("O'Brien")),
            ("access".into(), Value::from("private")),
            (
                "cat_id".into(),
                Value::structure([("0", Value::from("Friends"))]),
            ),
            ("freebusy_url".into(), Value::from("http://x")),
            ("last_mod".into(), Value::Int(5)),
        ]
        .into_iter()
        .collect();
        let custom = vec![("freebusy_url".to_owned(), String::new())];
        let changes = changes_from_struct(&members, &custom).unwrap();
        assert_eq!(changes.id, None);
        assert_eq!(changes.fields, vec![("n_family", "O'Brien".to_owned())]);
        assert_eq!(changes.access, Some(Access::Private));
        assert_eq!(changes.expected_last_mod, Some(5));
        assert_eq!(
            changes.categories,
            Some(CategoryInput::Named(vec![("0".into(), "Friends".into())]))
        );
        assert_eq!(
            changes.custom,
            vec![("freebusy_url".into(), "http://x".into())]
        );
        let bad: Struct = [("n_given".into(), Value::Array(vec![]))]
            .into_iter()
            .collect();
        let error = changes_from_struct(&bad, &custom).unwrap_err();
        assert!(error.to_string().contains("n_given"), "{error}");
    }
}
