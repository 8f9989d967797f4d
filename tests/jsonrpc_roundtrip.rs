//! Property test: any value the model can hold survives the JSON-RPC codec unchanged, as a
//! parameter (request → `Call`) and as a result (reply → value); and a reply's text is what
//! serde_json would write for it.

use chrono::{DateTime, NaiveDateTime};
use groupware::codec::jsonrpc::{self, Body, RawParams, Version};
use groupware_api::written::Written;
use groupware_api::{Struct, Value};
use proptest::prelude::*;

#[path = "common/replay.rs"]
mod replay;
use replay::Replay;
use serde_json::json;

/// Member names: anything but the `__jsonclass__` hint, which marks a typed value.
fn name() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("not the class hint", |name| name != "__jsonclass__")
}

fn moment() -> impl Strategy<Value = NaiveDateTime> {
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
        any::<String>().prop_map(Value::from),
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
            proptest::collection::vec((name(), inner), 0..6).prop_map(|members| {
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

/// Encodes `value` as a result, then sends that JSON back as a request's only parameter.
fn round_trip(value: &Value) -> Value {
    let text = jsonrpc::encode_reply(Version::V2, &json!(1), &Ok(value.clone()));
    let reply: serde_json::Value = serde_json::from_str(&text).expect("the reply is JSON");
    let request = json!({"jsonrpc": "2.0", "method": "echo", "params": [reply["result"]], "id": 1});
    let Ok(Body::Single(request)) = jsonrpc::decode_body(request.to_string().as_bytes()) else {
        panic!("not a single request: {request}");
    };
    match request.call {
        Ok((_, RawParams::Positional(mut params))) if params.len() == 1 => params.remove(0),
        other => panic!("unexpected decode {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_value_round_trips(original in value()) {
        prop_assert_eq!(round_trip(&original), original);
    }

    /// The reply is written directly, not through a serde_json tree; its text must be
    /// what serde_json writes for the tree, byte for byte.
    #[test]
    fn replies_are_the_text_serde_json_writes(original in value()) {
        let reply = jsonrpc::encode_reply(Version::V2, &json!(7), &Ok(original.clone()));
        let tree = json!({
            "jsonrpc": "2.0",
            "result": jsonrpc::value_to_json(&original, 1).expect("encodes"),
            "id": 7,
        });
        prop_assert_eq!(&reply, &tree.to_string());
        // The same value written through `JsonSink`, call by call.
        let written = Value::Written(Written::new(Replay(original)));
        let direct = jsonrpc::encode_reply(Version::V2, &json!(7), &Ok(written));
        prop_assert_eq!(direct, reply);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes and arbitrary GET fields never panic the decoder.
    #[test]
    fn any_input_decodes_or_faults(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = jsonrpc::decode_body(&body);
    }

    #[test]
    fn any_query_decodes_or_faults(
        method in proptest::option::of(any::<String>()),
        params in proptest::option::of(any::<String>()),
        id in proptest::option::of(any::<String>()),
    ) {
        let request = jsonrpc::decode_get(method.as_deref(), params.as_deref(), id.as_deref());
        prop_assert!(request.id.is_some(), "a GET is always answered");
    }

    /// Structurally valid JSON of any shape decodes or faults, never panics.
    #[test]
    fn any_json_request_decodes_or_faults(value in json_value()) {
        let body = serde_json::json!([value.clone(), {"jsonrpc": "2.0", "method": "m", "params": value, "id": 1}]);
        let _ = jsonrpc::decode_body(body.to_string().as_bytes());
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "__jsonclass__",
            "datetime",
            "binary",
            "x",
            "2024-01-02T03:04:05"
        ])
        .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::vec(
                (
                    prop::sample::select(vec![
                        "__jsonclass__",
                        "a",
                        "jsonrpc",
                        "method",
                        "id",
                        "params"
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|members| serde_json::Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            )),
        ]
    })
}
