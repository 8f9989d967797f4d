//! Protocol codecs: bytes in, a protocol-neutral [`Call`] out; a result or fault in, bytes out.
//!
//! Codecs know nothing about applications, sessions or storage. Each one decodes into the
//! same [`Call`] and encodes the same `Value`/`Fault`, so dispatch is shared by all.

pub mod datetime;
pub mod encoding;
pub mod json_writer;
pub mod jsonrpc;
mod plain_call;
pub mod prescan;
pub mod soap;
pub mod xmlrpc;

use groupware_api::Value;

/// A decoded method call, whatever protocol carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// Limits applied to untrusted XML before and while it is parsed.
///
/// The defaults admit any real client's request (an XML-RPC value costs about three levels
/// of nesting per struct or array) and refuse what only an attacker sends.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    /// Deepest element nesting. roxmltree recurses per level and a stack overflow aborts
    /// the process, so this must stay far below its limit (about 200 in debug builds).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Most attributes on one element (roxmltree's duplicate check is quadratic).
    pub max_attributes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 64,
            max_elements: 200_000,
            max_attributes: 32,
        }
    }
}

/// About how many values `value` holds, without walking below its top level (a written
/// value says itself): encoders multiply it by their typical bytes per value to size the
/// reply's buffer, so that even a listing of thousands of records is written into one
/// allocation instead of a dozen doublings, each copying everything written so far and
/// holding old and new buffers at once. Not capped: the reply is at least that big.
pub(crate) fn values_hint(value: &Value) -> usize {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Struct(members) => members.len(),
                _ => 1,
            })
            .sum(),
        Value::Struct(members) => members.len(),
        Value::Written(written) => written.values_hint(),
        _ => 1,
    }
}

/// Checks a method name against the XML-RPC alphabet (`A-Z a-z 0-9 _ . : /`).
///
/// Anything else can never name a registered method; refusing it early keeps odd bytes
/// out of logs and lookups.
pub fn is_valid_method_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupware_api::Struct;

    /// A page shaped like the benchmark's: 25 records of 20 members with short values.
    fn page() -> Value {
        let record = |n: usize| {
            let mut members = Struct::default();
            members.insert("id".into(), Value::Int(i64::try_from(n).unwrap_or(0)));
            for field in 0..19 {
                members.insert(
                    format!("field_{field}").into(),
                    Value::from(format!("value {n} & {field}")),
                );
            }
            Value::Struct(members)
        };
        Value::Array((0..25).map(record).collect())
    }

    #[test]
    fn the_hint_counts_top_level_members() {
        assert_eq!(values_hint(&page()), 25 * 20);
        assert_eq!(values_hint(&Value::Int(1)), 1);
        assert_eq!(values_hint(&Value::structure([("a", Value::Nil)])), 1);
    }

    /// Each encoder sizes its buffer from the hint; a page must fit without growing it
    /// (growth would copy everything written so far, and at the end of a big listing hold
    /// two buffers at once).
    #[test]
    fn a_listing_page_fits_the_buffer_each_encoder_sizes() {
        let value = page();
        let Ok(xml) = xmlrpc::encode_response(&value) else {
            panic!("encodable");
        };
        let json = jsonrpc::encode_reply(
            jsonrpc::Version::V2,
            &serde_json::json!(1),
            &Ok(value.clone()),
        );
        let mut replies = vec![
            ("xmlrpc", xml, xmlrpc::encoded_size_hint(&value)),
            ("jsonrpc", json, jsonrpc::reply_capacity(&Ok(value.clone()))),
        ];
        for style in [soap::Style::Encoded, soap::Style::Literal] {
            let Ok(soap) = soap::encode::encode_response(
                soap::Version::Soap11,
                style,
                "urn:groupware",
                "addressbook_boaddressbook_read_entries",
                &value,
                None,
            ) else {
                panic!("encodable");
            };
            replies.push(("soap", soap, soap::encode::response_capacity(style, &value)));
        }
        for (name, reply, sized) in replies {
            // A buffer that had to grow has another capacity than the one it was given.
            assert_eq!(reply.capacity(), sized, "{name}: {} bytes", reply.len());
            assert!(
                reply.len() * 5 / 4 > sized,
                "{name}: {} bytes in {sized}",
                reply.len()
            );
        }
    }
}
