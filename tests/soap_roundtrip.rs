//! Property test: any value the model can hold survives a SOAP rpc/encoded response and
//! comes back unchanged when that envelope is decoded as a request, in SOAP 1.1 and 1.2.

use chrono::{DateTime, NaiveDateTime};
use groupware::codec::XmlLimits;
use groupware::codec::soap::{Style, Version, decode, encode};
use groupware_api::{Struct, Value};
use proptest::prelude::*;

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
    scalar().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((member_name(), inner), 0..6).prop_map(|members| {
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

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
