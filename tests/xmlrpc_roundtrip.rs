//! Property tests: any value the model can hold survives encode → decode unchanged; a
//! written result's response is its tree's; and the plain request decoder and the
//! document decoder agree on every request, damaged or not.

use chrono::{DateTime, NaiveDateTime};
use groupware::codec::{XmlLimits, xmlrpc};
use groupware_api::written::Written;
use groupware_api::{Struct, Value};
use proptest::prelude::*;

#[path = "common/replay.rs"]
mod replay;
use replay::Replay;

/// Text XML 1.0 can carry: everything but C0 controls other than tab, LF and CR.
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => any::<char>().prop_filter("XML character", |c| {
                let code = *c as u32;
                code >= 0x20 && !matches!(code, 0xFFFE | 0xFFFF) || matches!(c, '\t' | '\n' | '\r')
            }),
            1 => prop::sample::select(vec!['<', '&', '>', ']', '"', '\'', '\r', ' ']),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn moment() -> impl Strategy<Value = NaiveDateTime> {
    // Years 0001..=9999, whole seconds: what the compact wire form can express.
    (-62_135_596_800i64..253_402_300_799i64).prop_map(|seconds| {
        DateTime::from_timestamp(seconds, 0)
            .map(|m| m.naive_utc())
            .unwrap_or_default()
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        xml_text().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Value::Double),
        moment().prop_map(Value::DateTime),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Base64),
        Just(Value::Nil),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((xml_text(), inner), 0..6).prop_map(|members| {
                Value::Struct(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.into(), v))
                        .collect::<Struct>(),
                )
            }),
        ]
    })
}

fn round_trip(value: &Value) -> Value {
    let body = request(value, false);
    let call = xmlrpc::decode_call(body.as_bytes(), &XmlLimits::default()).expect("decodable");
    call.params.into_iter().next().expect("one param")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_value_round_trips(original in value()) {
        prop_assert_eq!(round_trip(&original), original);
    }

    /// A written result's response (through `XmlSink`, call by call) is the text of its
    /// tree's.
    #[test]
    fn written_results_are_the_text_of_their_tree(original in value()) {
        let written = Value::Written(Written::new(Replay(original.clone())));
        prop_assert_eq!(
            xmlrpc::encode_response(&written),
            xmlrpc::encode_response(&original)
        );
    }
}

/// A request carrying `value`, written by our encoder (compact) or with a line feed
/// between tags, as Python's `xmlrpc.client` lays requests out.
fn request(value: &Value, spaced: bool) -> String {
    let response = xmlrpc::encode_response(value).expect("encodable");
    let body = response
        .replace(
            "<methodResponse><params>",
            "<methodCall><methodName>app.class.method</methodName><params>",
        )
        .replace("</params></methodResponse>", "</params></methodCall>");
    if spaced {
        body.replace("><", ">\n<")
    } else {
        body
    }
}

/// Edits that push a request out of the plain form, or into faults, or nowhere.
const EDITS: &[&str] = &[
    "",
    " ",
    "\n",
    "\r",
    "\t",
    "x",
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#x41;",
    "&bogus;",
    "]]>",
    "<!-- c -->",
    "<![CDATA[c]]>",
    "<?pi x?>",
    "<nil/>",
    "<value>",
    "</value>",
    "<string>",
    "</string>",
    "<int>",
    "<i4>1</i4>",
    "<struct>",
    "</member>",
    "<data>",
    "<x a=\"1\">",
    "<ex:i8>",
    "<I4>",
    "\u{fffe}",
    "\u{1}",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The plain decoder and the document decoder give the same call, or the same fault,
    /// for requests as clients write them and for the same requests damaged anywhere.
    #[test]
    fn both_decoders_agree_on_any_request(
        original in value(),
        spaced in any::<bool>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..4,
        edit in prop::sample::select(EDITS),
    ) {
        let limits = XmlLimits::default();
        let text = request(&original, spaced);
        prop_assert_eq!(
            xmlrpc::decode_call(text.as_bytes(), &limits),
            xmlrpc::decode_call_via_document(text.as_bytes(), &limits)
        );
        let mut damaged = text.clone();
        let mut position = at.index(damaged.len() + 1);
        while !damaged.is_char_boundary(position) {
            position -= 1;
        }
        let mut end = (position + cut).min(damaged.len());
        while !damaged.is_char_boundary(end) {
            end -= 1;
        }
        damaged.replace_range(position..end, edit);
        prop_assert_eq!(
            xmlrpc::decode_call(damaged.as_bytes(), &limits),
            xmlrpc::decode_call_via_document(damaged.as_bytes(), &limits),
            "{:?}", damaged
        );
    }
}

/// Pieces of XML-RPC markup and text that a token soup is made of.
const TOKENS: &[&str] = &[
    "<value>",
    "</value>",
    "<string>",
    "</string>",
    "<int>",
    "</int>",
    "<i4>",
    "</i4>",
    "<i8>",
    "</i8>",
    "<boolean>",
    "</boolean>",
    "<double>",
    "</double>",
    "<dateTime.iso8601>",
    "</dateTime.iso8601>",
    "<base64>",
    "</base64>",
    "<nil/>",
    "<struct>",
    "</struct>",
    "<member>",
    "</member>",
    "<name>",
    "</name>",
    "<array>",
    "</array>",
    "<data>",
    "</data>",
    "<param>",
    "</param>",
    "1",
    "-7",
    "x",
    "true",
    "20240102T03:04:05",
    "aGVsbG8=",
    "1.5",
    " ",
    "\n",
    "&lt;",
    "&#65;",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any soup of XML-RPC tokens inside a call decodes to the same call or the same
    /// fault through both decoders.
    #[test]
    fn both_decoders_agree_on_token_soup(
        tokens in proptest::collection::vec(prop::sample::select(TOKENS), 0..24),
        declared in any::<bool>(),
    ) {
        let limits = XmlLimits::default();
        let text = format!(
            "{}<methodCall><methodName>m.x</methodName><params><param>{}</param></params></methodCall>",
            if declared { "<?xml version=\"1.0\"?>\n" } else { "" },
            tokens.concat()
        );
        prop_assert_eq!(
            xmlrpc::decode_call(text.as_bytes(), &limits),
            xmlrpc::decode_call_via_document(text.as_bytes(), &limits),
            "{:?}", text
        );
    }
}
