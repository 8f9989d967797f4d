//! The `fields_json` column: a contact's non-empty stock fields as one JSON object.
//!
//! Listings and reads take the stock fields from this one column instead of 45: most of
//! them are empty in real addressbooks, yet each column costs the database a read and the
//! server a value. The application writes it with `search_text` on every write; the 45
//! columns stay what filters, sorting, indexes and export use.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use groupware_api::text::short_eq;

use crate::model::{STOCK_FIELDS, StockFields};

/// The non-empty fields of `fields` (aligned with [`STOCK_FIELDS`]) as a JSON object, in
/// [`STOCK_FIELDS`] order.
pub fn to_json<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::from("{");
    for (name, value) in STOCK_FIELDS.iter().zip(fields) {
        let value = value.as_ref();
        if value.is_empty() {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        // `Value`'s Display writes a JSON string with every escape JSON needs.
        out.push_str(&serde_json::Value::String(value.to_owned()).to_string());
    }
    out.push('}');
    out
}

/// The stock fields, aligned with [`STOCK_FIELDS`] (`""` where absent), from a
/// [`to_json`] object. Members that name no stock field are skipped, so a column written
/// by a later version with more fields still reads. In the common case (no escapes) the
/// fields are ranges of one copy of `text`: one allocation per contact instead
/// of one per field.
pub fn from_json(text: &str) -> Result<StockFields, serde_json::Error> {
    match read_plain(text) {
        Some(fields) => Ok(fields),
        None => read_any(text),
    }
}

/// The fast path for the common column: an object whose members are all strings without
/// escapes (what the writers produce unless a value holds `"`, `\\` or a control
/// character). `None` for anything else, which [`read_any`] then reads in full; so this
/// never decides that a text is malformed.
///
/// Without a backslash anywhere in the text, every quote opens or closes a string, so a
/// string ends at the next quote; and a member name is first compared in place with the
/// stock names from the one after the previous member's (the writers' order), which finds
/// most names at the first or second try without delimiting them first.
fn read_plain(text: &str) -> Option<StockFields> {
    let bytes = text.as_bytes();
    if memchr::memchr(b'\\', bytes).is_some() {
        return None;
    }
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return (skip_space(bytes, at + 1) == bytes.len()).then(StockFields::default);
    }
    let mut fields = StockFields::over(text);
    let mut next = 0;
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let name_start = at + 1;
        let (index, name_end) = match stock_name_at(bytes, name_start, next) {
            Some(found) => found,
            None => {
                let end = closing_quote(bytes, name_start)?;
                (FieldIndex { next }.find(text.get(name_start..end)?), end)
            }
        };
        at = skip_space(bytes, name_end + 1);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let value_start = at + 1;
        let value_end = closing_quote(bytes, value_start)?;
        if let Some(index) = index {
            // Both ends sit next to an ASCII quote, so they are character boundaries.
            fields.set_range(index, value_start..value_end)?;
            next = index + 1;
        }
        at = skip_space(bytes, value_end + 1);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    (skip_space(bytes, at + 1) == bytes.len()).then_some(fields)
}

/// The stock field among `STOCK_FIELDS[next..]` whose name is the string starting at
/// `at` (just after its opening quote): its index and the position of the closing quote.
fn stock_name_at(bytes: &[u8], at: usize, next: usize) -> Option<(Option<usize>, usize)> {
    let rest = bytes.get(at..)?;
    STOCK_FIELDS
        .get(next..)?
        .iter()
        .enumerate()
        .find_map(|(offset, name)| {
            let name = name.as_bytes();
            (rest.get(name.len()) == Some(&b'"')
                && rest
                    .get(..name.len())
                    .is_some_and(|start| short_eq(start, name)))
            .then_some((Some(next + offset), at + name.len()))
        })
}

/// The position of the quote that closes the string whose contents start at `start`
/// (in a text without backslashes).
fn closing_quote(bytes: &[u8], start: usize) -> Option<usize> {
    Some(start + memchr::memchr(b'"', bytes.get(start..)?)?)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Any JSON object, through serde_json.
fn read_any(text: &str) -> Result<StockFields, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = deserializer.deserialize_map(FieldsVisitor)?;
    deserializer.end()?;
    Ok(fields)
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = StockFields;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object of stock fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StockFields, A::Error> {
        let mut fields = StockFields::default();
        // SQLite and this module write the members in STOCK_FIELDS order, so the search for
        // a name starts after the last one found; PostgreSQL's jsonb reorders them, which
        // only costs a longer search.
        let mut next = 0;
        while let Some(index) = map.next_key_seed(FieldIndex { next })? {
            match index {
                Some(index) => {
                    fields.set(index, &map.next_value::<String>()?);
                    next = index + 1;
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// Reads a member name as its index in [`STOCK_FIELDS`] without allocating it.
struct FieldIndex {
    next: usize,
}

impl FieldIndex {
    fn find(&self, name: &str) -> Option<usize> {
        let (before, after) = STOCK_FIELDS.split_at(self.next.min(STOCK_FIELDS.len()));
        after
            .iter()
            .position(|field| *field == name)
            .map(|offset| self.next + offset)
            .or_else(|| before.iter().position(|field| *field == name))
    }
}

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldIndex {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.find(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Vec<String> {
        STOCK_FIELDS
            .iter()
            .map(|name| {
                pairs
                    .iter()
                    .find(|(field, _)| field == name)
                    .map_or_else(String::new, |(_, value)| (*value).to_owned())
            })
            .collect()
    }

    #[test]
    fn round_trip_keeps_every_character() {
        let fields = with(&[
            ("fn", "Ada \"Countess\" Lovelace"),
            ("n_family", "Lovelace"),
            ("note", "line one\nline two\ttab \\ backslash \u{1} control"),
            ("org_name", "Ünïcødé & <markup> 日本 🎉"),
            ("email_home_type", "INTERNET"),
        ]);
        let json = to_json(&fields);
        assert!(
            !json.contains("n_given"),
            "empty fields are left out: {json}"
        );
        assert_eq!(from_json(&json).unwrap().aligned(), fields);
    }

    #[test]
    fn empty_contact_is_an_empty_object() {
        let fields = with(&[]);
        assert_eq!(to_json(&fields), "{}");
        assert_eq!(from_json("{}").unwrap().aligned(), fields);
    }

    #[test]
    fn any_member_order_and_unknown_members() {
        // PostgreSQL's jsonb orders members by length, then bytes; a later version may add
        // fields this one does not know.
        let json = r#"{"tz": "Europe/Berlin", "fn": "A B", "n_family": "B", "x_future": [1, {"a": 2}], "email": "a@b"}"#;
        assert_eq!(
            from_json(json).unwrap().aligned(),
            with(&[
                ("tz", "Europe/Berlin"),
                ("fn", "A B"),
                ("n_family", "B"),
                ("email", "a@b")
            ])
        );
    }

    #[test]
    fn escaped_member_names_are_read() {
        assert_eq!(
            from_json(r#"{"n_\u0066amily": "B"}"#).unwrap().aligned(),
            with(&[("n_family", "B")])
        );
    }

    #[test]
    fn fast_path_and_full_parser_agree() {
        let plain = r#" { "fn" : "A B" ,"n_family":"B", "email":"a@b" } "#;
        assert_eq!(read_plain(plain), Some(read_any(plain).unwrap()));
        assert_eq!(read_plain("{}").unwrap().aligned(), with(&[]));
        // Escapes, other value types and trailing text are left to the full parser.
        for other in [
            r#"{"fn": "say \"hi\""}"#,
            r#"{"fn": "A", "x": 1}"#,
            r#"{"fn": "A"} x"#,
            r#"{"fn": "A",}"#,
            r#"{"fn" "A"}"#,
            r#"{"fn": "A""#,
        ] {
            assert_eq!(read_plain(other), None, "{other}");
        }
    }

    #[test]
    fn fast_path_reads_any_order_prefixes_and_unknown_names() {
        for plain in [
            r#"{"tz": "Europe/Berlin", "fn": "A B", "email": "a@b", "n_family": "B"}"#,
            r#"{"email":"x","email_home":"y"}"#,
            r#"{"email_home":"y","email":"x"}"#,
            r#"{"x_future":"v","fn":"A","emai":"no","email_homes":"no"}"#,
            r#"{"fn":"A","fn":"B"}"#,
            r#"{"fn":""}"#,
        ] {
            let fast = read_plain(plain);
            assert!(fast.is_some(), "{plain}");
            assert_eq!(fast, Some(read_any(plain).unwrap()), "{plain}");
        }
        assert_eq!(
            read_plain(r#"{"email_home":"y","email":"x"}"#)
                .unwrap()
                .aligned(),
            with(&[("email_home", "y"), ("email", "x")])
        );
    }

    #[test]
    fn written_values_read_back_whatever_they_hold() {
        // Every ASCII character and some multi-byte ones, alone and inside text, in every
        // field position: through the fast path when plain, the full parser when not.
        let mut samples: Vec<String> = (0_u8..128)
            .map(|byte| char::from(byte).to_string())
            .collect();
        samples.extend(
            [
                "é", "日本", "🎉", "a\"b", "\\\\", "x\u{7f}y", " lead", "trail ",
            ]
            .map(String::from),
        );
        for (offset, sample) in samples.iter().enumerate() {
            let fields: Vec<String> = (0..STOCK_FIELDS.len())
                .map(|index| {
                    if (index + offset) % 3 == 0 {
                        format!("{sample}{index}{sample}")
                    } else {
                        String::new()
                    }
                })
                .collect();
            assert_eq!(
                from_json(&to_json(&fields)).unwrap().aligned(),
                fields,
                "{sample:?}"
            );
        }
    }

    #[test]
    fn malformed_text_is_an_error() {
        for bad in [
            "",
            "[]",
            "{\"fn\": 1}",
            "{\"fn\": \"a\"",
            "{} trailing",
            "null",
        ] {
            assert!(from_json(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
