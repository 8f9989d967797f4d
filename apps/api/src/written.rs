//! Results that write themselves to the wire.
//!
//! A listing of contacts is thousands of small values. Building them as a tree of
//! [`Value`]s, only for a codec to walk the tree once and drop it, cost as much as writing
//! the reply; a handler can instead return a [`Written`] value, which a codec asks to write
//! itself into its [`ValueSink`] (XML-RPC, JSON-RPC and SOAP have one; SOAP's falls back
//! to the tree for shapes whose markup depends on a whole container). Anything that needs
//! the value itself (comparison) gets the same value built by [`Written::to_value`], so the
//! shape of a record is written down once.

use std::fmt;
use std::sync::Arc;

use crate::members::Struct;
use crate::value::{Key, Value};

/// Where a [`WriteValue`] writes: a codec's encoder, or [`ValueBuilder`].
///
/// Calls must nest: every `begin_*` has its `end_*`; inside a struct each value is
/// preceded by [`member`](ValueSink::member).
pub trait ValueSink {
    /// `len` is the number of items that follow: SOAP's encoded style announces it in
    /// the array's type before the items (a count that turns out different makes it fall
    /// back to the tree). A struct's `len` is only a capacity hint.
    fn begin_array(&mut self, len: usize);
    fn end_array(&mut self);
    fn begin_struct(&mut self, len: usize);
    fn end_struct(&mut self);
    /// The name of the struct member whose value comes next.
    fn member(&mut self, name: &str);
    /// A member name of the application's own: `'static` and only ASCII letters, digits
    /// and `_` ([`is_plain_name`]), so a codec may write it as it is (debug builds check).
    fn plain_member(&mut self, name: &'static str) {
        self.member(name);
    }
    fn string(&mut self, text: &str);
    /// A [`plain_member`](ValueSink::plain_member) whose value is a string: what a record
    /// writes most, so a codec may write it in one go.
    fn string_member(&mut self, name: &'static str, text: &str) {
        self.plain_member(name);
        self.string(text);
    }
    fn int(&mut self, number: i64);
    /// Any other value, whole.
    fn value(&mut self, value: &Value);
}

/// A value that writes itself into a [`ValueSink`].
pub trait WriteValue: Send + Sync + 'static {
    /// The XML-RPC type name of what [`write`](WriteValue::write) writes.
    fn type_name(&self) -> &'static str;
    fn write(&self, sink: &mut dyn ValueSink);
    /// About how many scalar values it writes, for sizing an output buffer.
    fn values_hint(&self) -> usize {
        0
    }
}

/// A [`WriteValue`] held in a [`Value`] (see [`Value::Written`]).
#[derive(Clone)]
pub struct Written(Arc<dyn WriteValue>);

impl Written {
    pub fn new(value: impl WriteValue) -> Self {
        Written(Arc::new(value))
    }

    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    pub fn write(&self, sink: &mut dyn ValueSink) {
        self.0.write(sink);
    }

    pub fn values_hint(&self) -> usize {
        self.0.values_hint()
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        build(|sink| self.write(sink))
    }
}

impl PartialEq for Written {
    fn eq(&self, other: &Written) -> bool {
        self.to_value() == other.to_value()
    }
}

impl fmt::Debug for Written {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_value(), formatter)
    }
}

/// Whether `name` is only ASCII letters, digits and `_` (and not empty): text no protocol
/// needs to escape.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// The value `write` writes, as a tree.
pub fn build(write: impl FnOnce(&mut dyn ValueSink)) -> Value {
    let mut builder = ValueBuilder::default();
    write(&mut builder);
    builder.finish()
}

/// A [`ValueSink`] that builds the [`Value`] written into it. Struct members are inserted
/// by name, so a name written twice keeps its first place and its last value, as
/// [`Struct::insert`] does.
#[derive(Default)]
pub struct ValueBuilder {
    open: Vec<Open>,
    /// The name given by the last `member`, waiting for its value.
    pending: Option<Key>,
    done: Option<Value>,
}

/// A container being built, with the member name it goes under in its parent.
enum Open {
    Array(Vec<Value>, Option<Key>),
    Struct(Struct, Option<Key>),
}

impl ValueBuilder {
    /// The value written; `nil` when nothing (or not a whole value) was written.
    pub fn finish(self) -> Value {
        self.done.unwrap_or(Value::Nil)
    }

    fn put(&mut self, name: Option<Key>, value: Value) {
        match self.open.last_mut() {
            Some(Open::Array(items, _)) => items.push(value),
            Some(Open::Struct(members, _)) => {
                members.insert(name.unwrap_or_default(), value);
            }
            None => self.done = Some(value),
        }
    }

    /// A scalar: goes under the pending member name.
    fn put_scalar(&mut self, value: Value) {
        let name = self.pending.take();
        self.put(name, value);
    }
}

impl ValueSink for ValueBuilder {
    fn begin_array(&mut self, len: usize) {
        let name = self.pending.take();
        self.open.push(Open::Array(Vec::with_capacity(len), name));
    }

    fn end_array(&mut self) {
        if let Some(Open::Array(items, name)) = self.open.pop() {
            self.put(name, Value::Array(items));
        }
    }

    fn begin_struct(&mut self, len: usize) {
        let name = self.pending.take();
        self.open
            .push(Open::Struct(Struct::with_capacity(len), name));
    }

    fn end_struct(&mut self) {
        if let Some(Open::Struct(members, name)) = self.open.pop() {
            self.put(name, Value::Struct(members));
        }
    }

    fn member(&mut self, name: &str) {
        self.pending = Some(Key::Owned(name.to_owned()));
    }

    fn plain_member(&mut self, name: &'static str) {
        self.pending = Some(Key::Borrowed(name));
    }

    fn string(&mut self, text: &str) {
        self.put_scalar(Value::from(text));
    }

    fn int(&mut self, number: i64) {
        self.put_scalar(Value::Int(number));
    }

    fn value(&mut self, value: &Value) {
        self.put_scalar(value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pairs(Vec<(&'static str, i64)>);

    impl WriteValue for Pairs {
        fn type_name(&self) -> &'static str {
            "array"
        }

        fn write(&self, sink: &mut dyn ValueSink) {
            sink.begin_array(self.0.len());
            for (name, number) in &self.0 {
                sink.begin_struct(3);
                sink.member("name");
                sink.string(name);
                sink.member("number");
                sink.int(*number);
                sink.member("nested");
                sink.value(&Value::Array(vec![Value::Bool(true), Value::Nil]));
                sink.end_struct();
            }
            sink.end_array();
        }
    }

    #[test]
    fn a_written_value_builds_the_same_tree() {
        let written = Written::new(Pairs(vec![("a", 1), ("b", 2)]));
        let record = |name: &str, number: i64| {
            Value::structure([
                ("name", Value::from(name)),
                ("number", Value::Int(number)),
                ("nested", Value::Array(vec![Value::Bool(true), Value::Nil])),
            ])
        };
        assert_eq!(
            written.to_value(),
            Value::Array(vec![record("a", 1), record("b", 2)])
        );
        assert_eq!(written.type_name(), "array");
        assert_eq!(Value::Written(written.clone()), Value::Written(written));
    }

    #[test]
    fn a_name_written_twice_keeps_its_place_and_last_value() {
        let value = build(|sink| {
            sink.begin_struct(3);
            sink.member("x");
            sink.int(1);
            sink.member("y");
            sink.int(2);
            sink.member("x");
            sink.int(3);
            sink.end_struct();
        });
        assert_eq!(
            value,
            Value::structure([("x", Value::Int(3)), ("y", Value::Int(2))])
        );
        let Value::Struct(members) = value else {
            unreachable!()
        };
        assert_eq!(members.keys().collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn containers_nest_under_their_member_names() {
        let value = build(|sink| {
            sink.begin_struct(3);
            sink.member("outer");
            sink.begin_struct(1);
            sink.member("inner");
            sink.int(1);
            sink.end_struct();
            sink.member("list");
            sink.begin_array(1);
            sink.begin_struct(1);
            sink.member("deep");
            sink.string("x");
            sink.end_struct();
            sink.end_array();
            sink.member("after");
            sink.int(2);
            sink.end_struct();
        });
        assert_eq!(
            value,
            Value::structure([
                ("outer", Value::structure([("inner", Value::Int(1))])),
                (
                    "list",
                    Value::Array(vec![Value::structure([("deep", Value::from("x"))])])
                ),
                ("after", Value::Int(2)),
            ])
        );
    }

    #[test]
    fn plain_names_need_no_escaping_anywhere() {
        for name in ["id", "n_family", "adr_one_postalcode", "tel_work2", "X"] {
            assert!(is_plain_name(name), "{name}");
        }
        for name in ["", "a-b", "a b", "a<b", "a&b", "é", "a.b", "a\"b"] {
            assert!(!is_plain_name(name), "{name:?}");
        }
        let value = build(|sink| {
            sink.begin_struct(1);
            sink.plain_member("id");
            sink.int(1);
            sink.end_struct();
        });
        assert_eq!(value, Value::structure([("id", Value::Int(1))]));
    }

    #[test]
    fn nothing_written_is_nil() {
        assert_eq!(build(|_| {}), Value::Nil);
    }
}
