//! The SOAPBuilders interop "Round 2 base" echo methods (`echoString` … `echoBoolean`).
//!
//! SOAP toolkits call them in the namespace `http://soapinterop.org/` by their short
//! names; the SOAP binding maps that namespace onto the class `interop.round2`. Each
//! method checks that its argument has the promised type (leniently: a literal toolkit
//! sends numbers as text) and returns it unchanged.

use chrono::NaiveDateTime;
use groupware_api::params::convert;
use groupware_api::{Error, Flags, HandlerFuture, MethodDef, ParamDef, Params, StructDef, Value};

/// `SOAPStruct` of the interop rounds.
pub const STRUCTS: &[StructDef] = &[StructDef {
    name: "SOAPStruct",
    description: "The interop rounds' struct.",
    members: &[
        ("varString", "string", "A string."),
        ("varInt", "int", "An int."),
        ("varFloat", "double", "A float."),
    ],
}];

/// What an echo method promises to take and return.
#[derive(Clone, Copy)]
enum Kind {
    String,
    Int,
    Double,
    Bool,
    Bytes,
    Date,
    Struct,
    Array(&'static Kind),
}

fn check(kind: Kind, value: &Value, what: &str) -> Result<Value, Error> {
    Ok(match kind {
        Kind::String => Value::from(convert::<String>(value, what)?),
        Kind::Int => Value::Int(i64::from(convert::<i32>(value, what)?)),
        Kind::Double => Value::Double(convert(value, what)?),
        Kind::Bool => Value::Bool(convert(value, what)?),
        Kind::Bytes => Value::Base64(convert(value, what)?),
        Kind::Date => Value::DateTime(convert::<NaiveDateTime>(value, what)?),
        Kind::Struct => {
            let members: groupware_api::Struct = convert(value, what)?;
            let mut echoed = groupware_api::Struct::default();
            for (name, member_kind) in [
                ("varString", Kind::String),
                ("varInt", Kind::Int),
                ("varFloat", Kind::Double),
            ] {
                let member = members.get(name).ok_or_else(|| {
                    Error::invalid(format!("{what}: SOAPStruct member '{name}' is missing"))
                })?;
                echoed.insert(name.into(), check(member_kind, member, name)?);
            }
            Value::Struct(echoed)
        }
        Kind::Array(item) => match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|element| check(*item, element, what))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Nil => Value::Array(Vec::new()),
            other => {
                return Err(Error::invalid(format!(
                    "{what}: wanted array, got {}",
                    other.type_name()
                )));
            }
        },
    })
}

fn echo(kind: Kind, what: &'static str, params: Params) -> HandlerFuture {
    Box::pin(async move {
        let value: Value = params.single()?;
        check(kind, &value, what)
    })
}

macro_rules! echo_method {
    ($name:literal, $function:literal, $input:literal, $xmlrpc:literal, $wsdl:literal, $kind:expr) => {
        MethodDef {
            name: concat!("interop.round2.", $name),
            function: $function,
            signatures: &[&[$xmlrpc, $xmlrpc]],
            help: concat!(
                "SOAPBuilders round 2: returns its argument ",
                $input,
                " unchanged."
            ),
            author: super::AUTHOR,
            flags: Flags::PUBLIC,
            handler: |_ctx, params| echo($kind, $input, params),
            params: &[ParamDef {
                name: $input,
                ty: $wsdl,
                description: "The value to echo.",
            }],
            returns: $wsdl,
        }
    };
}

/// The round 2 base methods.
pub fn methods() -> Vec<MethodDef> {
    vec![
        echo_method!(
            "echoString",
            "echo_string",
            "inputString",
            "string",
            "string",
            Kind::String
        ),
        echo_method!(
            "echoStringArray",
            "echo_string_array",
            "inputStringArray",
            "array",
            "string[]",
            Kind::Array(&Kind::String)
        ),
        echo_method!(
            "echoInteger",
            "echo_integer",
            "inputInteger",
            "int",
            "int",
            Kind::Int
        ),
        echo_method!(
            "echoIntegerArray",
            "echo_integer_array",
            "inputIntegerArray",
            "array",
            "int[]",
            Kind::Array(&Kind::Int)
        ),
        echo_method!(
            "echoFloat",
            "echo_float",
            "inputFloat",
            "double",
            "double",
            Kind::Double
        ),
        echo_method!(
            "echoFloatArray",
            "echo_float_array",
            "inputFloatArray",
            "array",
            "double[]",
            Kind::Array(&Kind::Double)
        ),
        echo_method!(
            "echoStruct",
            "echo_struct",
            "inputStruct",
            "struct",
            "SOAPStruct",
            Kind::Struct
        ),
        echo_method!(
            "echoStructArray",
            "echo_struct_array",
            "inputStructArray",
            "array",
            "SOAPStruct[]",
            Kind::Array(&Kind::Struct)
        ),
        echo_method!(
            "echoBase64",
            "echo_base64",
            "inputBase64",
            "base64",
            "base64",
            Kind::Bytes
        ),
        echo_method!(
            "echoDate",
            "echo_date",
            "inputDate",
            "dateTime.iso8601",
            "dateTime.iso8601",
            Kind::Date
        ),
        echo_method!(
            "echoHexBinary",
            "echo_hex_binary",
            "inputHexBinary",
            "base64",
            "base64",
            Kind::Bytes
        ),
        echo_method!(
            "echoDecimal",
            "echo_decimal",
            "inputDecimal",
            "double",
            "double",
            Kind::Double
        ),
        echo_method!(
            "echoBoolean",
            "echo_boolean",
            "inputBoolean",
            "boolean",
            "boolean",
            Kind::Bool
        ),
        MethodDef {
            name: "interop.round2.echoVoid",
            function: "echo_void",
            signatures: &[&["nil"]],
            help: "SOAPBuilders round 2: takes nothing and returns nothing.",
            author: super::AUTHOR,
            flags: Flags::PUBLIC,
            handler: |_ctx, _params| Box::pin(async { Ok(Value::Nil) }),
            params: &[],
            returns: "",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_types_leniently() {
        assert_eq!(
            check(Kind::Int, &Value::from("42"), "x").ok(),
            Some(Value::Int(42))
        );
        assert!(check(Kind::Int, &Value::from("4.2"), "x").is_err());
        let soap_struct = Value::structure([
            ("varString", Value::from("s")),
            ("varInt", Value::from("1")),
            ("varFloat", Value::Double(0.5)),
        ]);
        assert_eq!(
            check(
                Kind::Array(&Kind::Struct),
                &Value::Array(vec![soap_struct]),
                "x"
            )
            .ok(),
            Some(Value::Array(vec![Value::structure([
                ("varString", Value::from("s")),
                ("varInt", Value::Int(1)),
                ("varFloat", Value::Double(0.5)),
            ])]))
        );
        assert!(
            check(
                Kind::Struct,
                &Value::structure([("varInt", Value::Int(1))]),
                "x"
            )
            .is_err()
        );
    }
}
