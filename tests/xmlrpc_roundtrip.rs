//! Property test: any value the model can hold survives encode → decode unchanged.

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
    let response = xmlrpc::encode_response(value).expect("encodable");
    let body = response
        .replace(
            "<methodResponse><params>",
            "<methodCall><methodName>echo</methodName><params>",
        )
        .replace("</params></methodResponse>", "</params></methodCall>");
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
