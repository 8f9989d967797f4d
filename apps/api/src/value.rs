//! The value model shared by every protocol.
//!
//! It is the XML-RPC type system (the richest of the three protocols we speak) plus `nil`.
//! SOAP and JSON-RPC map onto it; applications only ever see these values.

pub use crate::members::Struct;
use crate::text::Text;
use crate::written::Written;
use chrono::NaiveDateTime;

/// A struct member name: the names an application writes are `&'static str` and are
/// borrowed, not copied (a listing writes thousands per call); names from clients are owned.
pub type Key = std::borrow::Cow<'static, str>;

/// An empty struct with room for `capacity` members.
pub fn struct_with_capacity(capacity: usize) -> Struct {
    Struct::with_capacity(capacity)
}

/// One protocol-neutral value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A signed integer. Codecs emit values that fit in 32 bits as `<int>` and larger ones as
    /// `<i8>`, so strict XML-RPC clients only ever see `<i8>` when they must.
    Int(i64),
    Bool(bool),
    String(Text),
    /// A finite double. NaN and infinities are not representable on the wire and are refused
    /// by the codecs' decoders; handlers must not produce them.
    Double(f64),
    /// A date and time without zone, as XML-RPC defines it. Inputs that carried a `Z` or an
    /// offset are normalised to UTC by the decoder.
    DateTime(NaiveDateTime),
    Base64(Vec<u8>),
    Struct(Struct),
    Array(Vec<Value>),
    Nil,
    /// A result that writes itself (a large listing); see [`crate::written`]. Handlers
    /// return it; codecs write it or build it with [`Written::to_value`]. Decoders never
    /// produce it.
    Written(Written),
}

impl Value {
    /// The XML-RPC type name, as used in method signatures and fault messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
            Value::Written(written) => written.type_name(),
        }
    }

    /// Builds a struct value from `(name, value)` pairs, keeping their order.
    pub fn structure<K: Into<Key>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Struct(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The struct inside, if this is a struct.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(members) => Some(members),
            _ => None,
        }
    }

    /// How deeply this value nests (a scalar is 1). Iterative, so it is safe on any input.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((value, level)) = stack.pop() {
            deepest = deepest.max(level);
            match value {
                Value::Array(items) => stack.extend(items.iter().map(|item| (item, level + 1))),
                Value::Struct(members) => {
                    stack.extend(members.values().map(|member| (member, level + 1)));
                }
                _ => {}
            }
        }
        deepest
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.into())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text.into())
    }
}

impl From<Text> for Value {
    fn from(text: Text) -> Self {
        Value::String(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Value::Int(number)
    }
}

impl From<i32> for Value {
    fn from(number: i32) -> Self {
        Value::Int(i64::from(number))
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Self {
        Value::Double(number)
    }
}

impl From<NaiveDateTime> for Value {
    fn from(moment: NaiveDateTime) -> Self {
        Value::DateTime(moment)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<Struct> for Value {
    fn from(members: Struct) -> Self {
        Value::Struct(members)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(maybe: Option<T>) -> Self {
        maybe.map_or(Value::Nil, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_levels() {
        let nested = Value::Array(vec![Value::structure([("a", Value::Array(vec![]))])]);
        assert_eq!(Value::Int(1).depth(), 1);
        assert_eq!(nested.depth(), 3);
    }

    #[test]
    fn struct_keeps_insertion_order_and_last_value_wins() {
        let mut members = Struct::default();
        members.insert("b".into(), Value::Int(1));
        members.insert("a".into(), Value::Int(2));
        members.insert("b".into(), Value::Int(3));
        let names: Vec<_> = members.keys().cloned().collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(members["b"], Value::Int(3));
    }
}
