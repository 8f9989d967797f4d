//! Property tests: any value the model can hold survives a SOAP rpc/encoded response and
//! comes back unchanged when that envelope is decoded as a request, in SOAP 1.1 and 1.2;
//! a written result's response is, byte for byte, its tree's in both versions and styles.

use chrono::{DateTime, NaiveDateTime};
use groupware::codec::XmlLimits;
use groupware::codec::soap::{Style, Version, decode, encode};
use groupware_api::written::Written;
use groupware_api::{Fault, Struct, Value};
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

/// Member names: XML names (written as elements, including the `item` that untyped
/// decoding would read as an array) and arbitrary text (written as an Apache Map).
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-zA-Z_][a-zA-Z0-9_.-]{0,6}",
        1 => Just("item".to_owned()),
        2 => xml_text(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    value_named(member_name().boxed())
}

/// Values whose member names are often the declared ones of [`DECLARED`], in any order.
fn value_with_declared_names() -> impl Strategy<Value = Value> {
    value_named(
        prop_oneof![
            3 => prop::sample::select(DECLARED.to_vec()).prop_map(str::to_owned),
            2 => member_name(),
        ]
        .boxed(),
    )
}

fn value_named(names: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((names.clone(), inner), 0..6).prop_map(|members| {
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

fn round_trip(version: Version, value: &Value) -> Value {
    let body = encode::encode_response(version, Style::Encoded, "urn:x", "echo", value, None)
        .expect("encodable");
    let content_type = match version {
        Version::Soap11 => "text/xml",
        Version::Soap12 => "application/soap+xml",
    };
    let call = decode::decode_request(body.as_bytes(), Some(content_type), &XmlLimits::default())
        .unwrap_or_else(|fault| panic!("{fault:?}\n{body}"));
    assert_eq!(call.method, "echoResponse");
    call.params.into_iter().next().expect("one part").1
}

/// A struct's declared members, as a WSDL would list them.
const DECLARED: [&str; 4] = ["id", "name", "item", "email"];

/// The reply for `value` written directly, and written from its tree.
fn both_replies(
    version: Version,
    style: Style,
    value: &Value,
    order: Option<&[&str]>,
) -> (Result<String, Fault>, Result<String, Fault>) {
    let written = Value::Written(Written::new(Replay(value.clone())));
    (
        encode::encode_response(version, style, "urn:x", "echo", &written, order),
        encode::encode_response(version, style, "urn:x", "echo", value, order),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A written result's reply is the text its tree's reply is, byte for byte, in both
    /// versions and styles, with and without a WSDL member order.
    #[test]
    fn written_results_are_the_text_of_their_tree(original in value_with_declared_names()) {
        for version in [Version::Soap11, Version::Soap12] {
            for style in [Style::Encoded, Style::Literal] {
                for order in [None, Some(&DECLARED[..])] {
                    let (direct, tree) = both_replies(version, style, &original, order);
                    prop_assert_eq!(direct, tree, "{:?} {:?} {:?}", version, style, order);
                }
            }
        }
    }

    /// Truncated or corrupted envelopes, and arbitrary text, fault or decode: never panic.
    #[test]
    fn damaged_envelopes_never_panic(cut in 0usize..600, at in 0usize..600, byte in any::<u8>(), junk in ".{0,80}") {
        let original = encode::encode_response(
            Version::Soap11,
            Style::Encoded,
            "urn:x",
            "echo",
            &Value::structure([("a", Value::Array(vec![Value::Int(1), Value::Nil])), ("b c", Value::from("x"))]),
            None,
        )
        .expect("encodable");
        let mut bytes = original.into_bytes();
        if at < bytes.len() {
            bytes[at] = byte;
        }
        bytes.truncate(cut.max(1));
        let limits = XmlLimits::default();
        let _ = decode::decode_request(&bytes, Some("text/xml"), &limits);
        let _ = decode::decode_request(junk.as_bytes(), None, &limits);
        let wrapped = format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><f>{junk}</f></s:Body></s:Envelope>"
        );
        let _ = decode::decode_request(wrapped.as_bytes(), Some("application/soap+xml"), &limits);
    }

    #[test]
    fn every_value_round_trips(original in value()) {
        prop_assert_eq!(round_trip(Version::Soap11, &original), original.clone());
        prop_assert_eq!(round_trip(Version::Soap12, &original), original);
    }
}
