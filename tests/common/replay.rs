//! A [`WriteValue`] that writes any [`Value`] through the sink calls a written result
//! makes, so that a codec's direct writer can be compared with its tree writer on every
//! shape (`tests/soap_roundtrip.rs`, `tests/jsonrpc_roundtrip.rs`).

use groupware_api::Value;
use groupware_api::written::{ValueSink, WriteValue};

/// Writes its value call by call; a struct of three members goes in whole
/// (`ValueSink::value`), as a listing writes its accounts.
pub struct Replay(pub Value);

impl WriteValue for Replay {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn write(&self, sink: &mut dyn ValueSink) {
        replay(&self.0, sink);
    }
}

fn replay(value: &Value, sink: &mut dyn ValueSink) {
    match value {
        Value::Array(items) => {
            sink.begin_array(items.len());
            for item in items {
                replay(item, sink);
            }
            sink.end_array();
        }
        Value::Struct(members) if members.len() != 3 => {
            sink.begin_struct(members.len());
            for (name, member) in members {
                sink.member(name);
                replay(member, sink);
            }
            sink.end_struct();
        }
        Value::String(text) => sink.string(text),
        Value::Int(number) => sink.int(*number),
        other => sink.value(other),
    }
}
