//! Typed parameter conversion with precise faults.
//!
//! Handlers take their arguments through [`Params`] and [`FromValue`] instead of indexing
//! raw arrays, so every application reports a wrong count, a wrong type or a missing struct
//! member the same way. Coercions are the ones real clients need: Perl's Frontier and
//! SOAP::Lite send numeric strings as `<i4>`, several clients send numbers as strings, and
//! booleans arrive as `true`/`false`/`1`/`0` text.

use chrono::NaiveDateTime;

use crate::error::Error;
use crate::value::{Struct, Value};

/// Conversion from a wire value to a Rust type, with the coercions clients rely on.
pub trait FromValue: Sized {
    /// The XML-RPC type name used in messages ("wanted int, got struct").
    const TYPE_NAME: &'static str;

    /// Converts, or returns `None` when the value cannot stand for this type.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for Value {
    const TYPE_NAME: &'static str = "value";
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl FromValue for String {
    const TYPE_NAME: &'static str = "string";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(text) => Some(text.to_string()),
            Value::Int(number) => Some(number.to_string()),
            Value::Double(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_owned()),
            Value::Nil => Some(String::new()),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    const TYPE_NAME: &'static str = "int";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(number) => Some(*number),
            Value::String(text) => text.trim().parse().ok(),
            Value::Bool(flag) => Some(i64::from(*flag)),
            Value::Double(number) if number.fract() == 0.0 && number.abs() < 9.0e15 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Some(*number as i64)
            }
            _ => None,
        }
    }
}

impl FromValue for i32 {
    const TYPE_NAME: &'static str = "int";
    fn from_value(value: &Value) -> Option<Self> {
        i64::from_value(value).and_then(|number| i32::try_from(number).ok())
    }
}

impl FromValue for bool {
    const TYPE_NAME: &'static str = "boolean";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(flag) => Some(*flag),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Some(true),
                "0" | "false" | "no" | "off" | "" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const TYPE_NAME: &'static str = "double";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Double(number) => Some(*number),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(number) => Some(*number as f64),
            Value::String(text) => text.trim().parse().ok().filter(|n: &f64| n.is_finite()),
            _ => None,
        }
    }
}

impl FromValue for NaiveDateTime {
    const TYPE_NAME: &'static str = "dateTime.iso8601";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::DateTime(moment) => Some(*moment),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const TYPE_NAME: &'static str = "base64";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Base64(bytes) => Some(bytes.clone()),
            Value::String(text) => Some(text.as_bytes().to_vec()),
            _ => None,
        }
    }
}

impl FromValue for Struct {
    const TYPE_NAME: &'static str = "struct";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Struct(members) => Some(members.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<Value> {
    const TYPE_NAME: &'static str = "array";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(items.clone()),
            _ => None,
        }
    }
}

/// Describes a value's type for a message, e.g. `int` or `struct`.
fn got(value: &Value) -> &'static str {
    value.type_name()
}

/// Converts one value, naming `what` (e.g. "parameter 1" or "member 'id'") in the error.
/// `what` is written only into an error: callers pass `format_args!`, so a value that
/// converts costs no formatting.
pub fn convert<T: FromValue>(value: &Value, what: impl std::fmt::Display) -> Result<T, Error> {
    T::from_value(value).ok_or_else(|| {
        Error::InvalidParams(format!(
            "{what}: wanted {}, got {}",
            T::TYPE_NAME,
            got(value)
        ))
    })
}

/// A call's positional parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<Value>);

impl Params {
    pub fn new(values: Vec<Value>) -> Self {
        Params(values)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Value] {
        &self.0
    }

    /// Fails unless there are between `min` and `max` parameters.
    pub fn expect_count(&self, min: usize, max: usize) -> Result<(), Error> {
        let count = self.0.len();
        if count < min || count > max {
            let wanted = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(Error::ParamCount(format!("wanted {wanted}, got {count}")));
        }
        Ok(())
    }

    /// The parameter at `index` (0-based), converted.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, Error> {
        let value = self
            .0
            .get(index)
            .ok_or_else(|| Error::ParamCount(format!("parameter {} is missing", index + 1)))?;
        convert(value, format_args!("parameter {}", index + 1))
    }

    /// The parameter at `index` if present, converted.
    pub fn optional<T: FromValue>(&self, index: usize) -> Result<Option<T>, Error> {
        match self.0.get(index) {
            None | Some(Value::Nil) => Ok(None),
            Some(value) => convert(value, format_args!("parameter {}", index + 1)).map(Some),
        }
    }

    /// Exactly one parameter, converted: the common eGroupWare shape `method(struct)`.
    pub fn single<T: FromValue>(&self) -> Result<T, Error> {
        self.expect_count(1, 1)?;
        self.get(0)
    }

    /// The one parameter of the `deleted` methods: a time (unix seconds) given directly
    /// or as the member `lastmod` of a struct (absent there means every tombstone, `-1`).
    pub fn lastmod(&self) -> Result<i64, Error> {
        match self.single::<Value>()? {
            Value::Struct(members) => Ok(members.optional_member::<i64>("lastmod")?.unwrap_or(-1)),
            other => convert::<i64>(&other, "parameter 1 (lastmod)"),
        }
    }
}

/// Typed access to a struct parameter's members.
pub trait StructExt {
    /// A required member, converted.
    fn member<T: FromValue>(&self, name: &str) -> Result<T, Error>;
    /// An optional member, converted; absent and `nil` are `None`.
    fn optional_member<T: FromValue>(&self, name: &str) -> Result<Option<T>, Error>;
}

impl StructExt for Struct {
    fn member<T: FromValue>(&self, name: &str) -> Result<T, Error> {
        let value = self
            .get(name)
            .ok_or_else(|| Error::InvalidParams(format!("member '{name}' is missing")))?;
        convert(value, format_args!("member '{name}'"))
    }

    fn optional_member<T: FromValue>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.get(name) {
            None | Some(Value::Nil) => Ok(None),
            Some(value) => convert(value, format_args!("member '{name}'")).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lastmod_comes_directly_or_in_a_struct() {
        let lastmod = |values: Vec<Value>| Params::new(values).lastmod();
        assert_eq!(lastmod(vec![Value::Int(42)]).ok(), Some(42));
        assert_eq!(lastmod(vec![Value::from("42")]).ok(), Some(42));
        let inside = Value::structure([("lastmod", Value::Int(7))]);
        assert_eq!(lastmod(vec![inside]).ok(), Some(7));
        let empty = Value::structure::<&str>([]);
        assert_eq!(lastmod(vec![empty]).ok(), Some(-1));
        assert!(matches!(
            lastmod(vec![Value::from("yesterday")]),
            Err(Error::InvalidParams(_))
        ));
        assert!(matches!(lastmod(vec![]), Err(Error::ParamCount(_))));
        assert!(matches!(
            lastmod(vec![Value::Int(1), Value::Int(2)]),
            Err(Error::ParamCount(_))
        ));
    }

    #[test]
    fn int_becomes_its_decimal_text_where_a_string_is_wanted() {
        assert_eq!(String::from_value(&Value::Int(12)), Some("12".to_owned()));
    }

    #[test]
    fn numeric_strings_become_ints() {
        assert_eq!(i64::from_value(&Value::from(" 42 ")), Some(42));
        assert_eq!(i64::from_value(&Value::from("4x")), None);
    }

    #[test]
    fn i32_refuses_values_out_of_range() {
        assert_eq!(i32::from_value(&Value::Int(3_000_000_000)), None);
    }

    #[test]
    fn wrong_type_names_both_types_and_the_position() {
        let params = Params::new(vec![Value::structure([("a", Value::Int(1))])]);
        let error = params.get::<i64>(0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid parameter: parameter 1: wanted int, got struct"
        );
    }

    #[test]
    fn wrong_count_is_reported() {
        let params = Params::new(vec![]);
        let error = params.single::<Struct>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "Wrong number of parameters: wanted 1, got 0"
        );
    }

    #[test]
    fn missing_member_is_named() {
        let members = Struct::default();
        let error = members.member::<String>("username").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid parameter: member 'username' is missing"
        );
    }
}
