//! The classic UserLand `validator1` XML-RPC conformance suite, plus `interop.echo`.
//!
//! These methods exist so that real clients (Python, Perl, PHP, Ruby, node, Java) can be
//! pointed at the server and checked for round-trip fidelity. The table's application is
//! `interop`: the server only registers it when started with `--enable-interop`, and its
//! methods then need no session.
//!
//! Semantics follow the original validator (see `shared/research/interop.md`, part A2).
//! Sums are computed in `i64` with checked arithmetic: a result that does not fit is a
//! fault, never a wrapped number. Results beyond 32 bits go out as `<i8>` (the codec's rule).

pub mod round2;

use groupware_api::params::convert;
use groupware_api::{
    Ctx, Error, Flags, HandlerFuture, MethodDef, MethodTable, Params, Struct, Value,
};

const AUTHOR: &str = "groupware";

/// The interop application's method table.
pub fn methods() -> MethodTable {
    MethodTable {
        app: "interop",
        title: "Interoperability tests",
        version: env!("CARGO_PKG_VERSION"),
        structs: round2::STRUCTS,
        methods: [vec![
            MethodDef {
                name: "validator1.arrayOfStructsTest",
                function: "array_of_structs_test",
                signatures: &[&["int", "array"]],
                help: "Takes an array of structs, each with at least the int members moe, larry \
                       and curly, and returns the sum of all the curly members.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(array_of_structs_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.countTheEntities",
                function: "count_the_entities",
                signatures: &[&["struct", "string"]],
                help: "Takes a string and returns a struct counting its characters that XML \
                       escapes: ctLeftAngleBrackets (<), ctRightAngleBrackets (>), \
                       ctAmpersands (&), ctApostrophes (') and ctQuotes (\").",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(count_the_entities(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.easyStructTest",
                function: "easy_struct_test",
                signatures: &[&["int", "struct"]],
                help: "Takes a struct with the int members moe, larry and curly, and returns \
                       their sum.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(easy_struct_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.echoStructTest",
                function: "echo_struct_test",
                signatures: &[&["struct", "struct"]],
                help: "Takes a struct and returns it unchanged.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(echo_struct_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.manyTypesTest",
                function: "many_types_test",
                signatures: &[&[
                    "array",
                    "int",
                    "boolean",
                    "string",
                    "double",
                    "dateTime.iso8601",
                    "base64",
                ]],
                help: "Takes six parameters (int, boolean, string, double, dateTime.iso8601, \
                       base64) and returns them as an array, in the same order.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(many_types_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.moderateSizeArrayCheck",
                function: "moderate_size_array_check",
                signatures: &[&["string", "array"]],
                help: "Takes an array of strings (the validator sends 100 to 200) and returns \
                       the first element concatenated with the last.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(moderate_size_array_check(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.nestedStructTest",
                function: "nested_struct_test",
                signatures: &[&["int", "struct"]],
                help: "Takes a calendar struct (year, month and day members, named \"2000\", \
                       \"04\", \"01\") and returns the sum of the int members moe, larry and \
                       curly of the day 2000-04-01.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(nested_struct_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "validator1.simpleStructReturnTest",
                function: "simple_struct_return_test",
                signatures: &[&["struct", "int"]],
                help: "Takes an int n and returns the struct {times10: n*10, times100: n*100, \
                       times1000: n*1000}.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: |ctx, params| Box::pin(simple_struct_return_test(ctx, params)),
                params: &[],
                returns: "",
            },
            MethodDef {
                name: "interop.echo",
                function: "echo",
                signatures: &[
                    &["int", "int"],
                    &["boolean", "boolean"],
                    &["string", "string"],
                    &["double", "double"],
                    &["dateTime.iso8601", "dateTime.iso8601"],
                    &["base64", "base64"],
                    &["struct", "struct"],
                    &["array", "array"],
                    &["nil", "nil"],
                ],
                help: "Takes one parameter of any type and returns it unchanged.",
                author: AUTHOR,
                flags: Flags::PUBLIC,
                handler: echo_handler,
                params: &[],
                returns: "",
            },
        ],
        round2::methods(),
        ]
        .concat(),
    }
}

fn echo_handler(ctx: Ctx, params: Params) -> HandlerFuture {
    Box::pin(echo(ctx, params))
}

/// Adds `moe`, `larry` and `curly` of `members`, naming `what` on overflow.
fn stooge_sum(members: &Struct, what: &str) -> Result<i64, Error> {
    let mut sum: i64 = 0;
    for name in ["moe", "larry", "curly"] {
        let value = members
            .get(name)
            .ok_or_else(|| Error::invalid(format!("{what}: member '{name}' is missing")))?;
        let number: i64 = convert(value, format_args!("{what}: member '{name}'"))?;
        sum = sum
            .checked_add(number)
            .ok_or_else(|| Error::invalid(format!("{what}: the sum overflows 64 bits")))?;
    }
    Ok(sum)
}

async fn array_of_structs_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let items: Vec<Value> = params.single()?;
    let mut sum: i64 = 0;
    for (index, item) in items.iter().enumerate() {
        let what = format!("parameter 1, element {}", index + 1);
        let members: Struct = convert(item, &what)?;
        let value = members
            .get("curly")
            .ok_or_else(|| Error::invalid(format!("{what}: member 'curly' is missing")))?;
        let curly: i64 = convert(value, format_args!("{what}: member 'curly'"))?;
        sum = sum
            .checked_add(curly)
            .ok_or_else(|| Error::invalid("the sum of the curly members overflows 64 bits"))?;
    }
    Ok(Value::Int(sum))
}

async fn count_the_entities(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let text: String = params.single()?;
    let count = |wanted: char| {
        let n = text.chars().filter(|&c| c == wanted).count();
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    };
    Ok(Value::structure([
        ("ctLeftAngleBrackets", count('<')),
        ("ctRightAngleBrackets", count('>')),
        ("ctAmpersands", count('&')),
        ("ctApostrophes", count('\'')),
        ("ctQuotes", count('"')),
    ]))
}

async fn easy_struct_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let members: Struct = params.single()?;
    Ok(Value::Int(stooge_sum(&members, "parameter 1")?))
}

async fn echo_struct_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let members: Struct = params.single()?;
    Ok(Value::Struct(members))
}

async fn many_types_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    params.expect_count(6, 6)?;
    // Each conversion is typed by the `Value` variant it feeds, so the signature's types are
    // enforced (with the usual client coercions) and a wrong one names its parameter.
    Ok(Value::Array(vec![
        params.get(0).map(Value::Int)?,
        params.get(1).map(Value::Bool)?,
        params.get(2).map(|text: String| Value::from(text))?,
        params.get(3).map(Value::Double)?,
        params.get(4).map(Value::DateTime)?,
        params.get(5).map(Value::Base64)?,
    ]))
}

async fn moderate_size_array_check(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let items: Vec<Value> = params.single()?;
    let mut strings = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let text: String = convert(item, format_args!("parameter 1, element {}", index + 1))?;
        strings.push(text);
    }
    match (strings.first(), strings.last()) {
        (Some(first), Some(last)) => Ok(Value::from(format!("{first}{last}"))),
        _ => Err(Error::invalid("parameter 1: the array is empty")),
    }
}

async fn nested_struct_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let calendar: Struct = params.single()?;
    let mut level = &calendar;
    let mut path = String::from("parameter 1");
    for key in ["2000", "04", "01"] {
        let value = level
            .get(key)
            .ok_or_else(|| Error::invalid(format!("{path}: member '{key}' is missing")))?;
        path = format!("{path}: member '{key}'");
        level = value.as_struct().ok_or_else(|| {
            Error::invalid(format!("{path}: wanted struct, got {}", value.type_name()))
        })?;
    }
    Ok(Value::Int(stooge_sum(level, &path)?))
}

async fn simple_struct_return_test(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    let number: i64 = params.single()?;
    let times = |factor: i64| {
        number
            .checked_mul(factor)
            .map(Value::Int)
            .ok_or_else(|| Error::invalid(format!("parameter 1: {number} * {factor} overflows")))
    };
    Ok(Value::structure([
        ("times10", times(10)?),
        ("times100", times(100)?),
        ("times1000", times(1000)?),
    ]))
}

async fn echo(_ctx: Ctx, params: Params) -> Result<Value, Error> {
    params.single::<Value>()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    async fn call(name: &str, params: Vec<Value>) -> Result<Value, Error> {
        let table = methods();
        let method = table
            .methods
            .iter()
            .find(|method| method.name == name)
            .unwrap_or_else(|| panic!("no method {name}"));
        (method.handler)(Ctx::default(), Params::new(params)).await
    }

    fn stooges(moe: i64, larry: i64, curly: i64) -> Value {
        Value::structure([
            ("moe", Value::Int(moe)),
            ("larry", Value::Int(larry)),
            ("curly", Value::Int(curly)),
        ])
    }

    fn assert_invalid(result: Result<Value, Error>, needle: &str) {
        match result {
            Err(Error::InvalidParams(message)) => assert!(
                message.contains(needle),
                "message {message:?} should mention {needle:?}"
            ),
            other => panic!("wanted InvalidParams mentioning {needle:?}, got {other:?}"),
        }
    }

    fn assert_count(result: Result<Value, Error>) {
        assert!(
            matches!(result, Err(Error::ParamCount(_))),
            "wanted ParamCount, got {result:?}"
        );
    }

    #[test]
    fn table_lists_the_suite_as_public_interop_methods() {
        let table = methods();
        assert_eq!(table.app, "interop");
        let names: Vec<_> = table
            .methods
            .iter()
            .map(|method| method.name)
            .filter(|name| !name.starts_with("interop.round2."))
            .collect();
        assert_eq!(
            table.methods.len() - names.len(),
            14,
            "the round 2 base methods"
        );
        assert_eq!(
            names,
            [
                "validator1.arrayOfStructsTest",
                "validator1.countTheEntities",
                "validator1.easyStructTest",
                "validator1.echoStructTest",
                "validator1.manyTypesTest",
                "validator1.moderateSizeArrayCheck",
                "validator1.nestedStructTest",
                "validator1.simpleStructReturnTest",
                "interop.echo",
            ]
        );
        for method in &table.methods {
            assert_eq!(method.flags, Flags::PUBLIC, "{}", method.name);
            assert_eq!(method.author, "groupware", "{}", method.name);
            assert!(!method.help.is_empty(), "{} has no help", method.name);
            assert!(!method.signatures.is_empty(), "{}", method.name);
            assert!(!method.function.is_empty(), "{}", method.name);
        }
        let many = &table.methods[4];
        assert_eq!(
            many.signatures,
            &[&[
                "array",
                "int",
                "boolean",
                "string",
                "double",
                "dateTime.iso8601",
                "base64"
            ][..]]
        );
        assert!(many.accepts_count(6));
        assert!(table.methods[0].accepts_count(1));
        assert!(!table.methods[0].accepts_count(2));
    }

    #[tokio::test]
    async fn array_of_structs_sums_the_curlies() {
        let items = vec![stooges(1, 2, 3), stooges(10, 20, 30), stooges(-5, -5, -7)];
        let result = call("validator1.arrayOfStructsTest", vec![Value::Array(items)]).await;
        assert_eq!(result.unwrap(), Value::Int(26));
        let empty = call("validator1.arrayOfStructsTest", vec![Value::Array(vec![])]).await;
        assert_eq!(empty.unwrap(), Value::Int(0));
    }

    #[tokio::test]
    async fn array_of_structs_goes_beyond_32_bits_but_faults_on_64_bit_overflow() {
        let big = vec![stooges(0, 0, i64::from(i32::MAX)); 2];
        let result = call("validator1.arrayOfStructsTest", vec![Value::Array(big)]).await;
        assert_eq!(result.unwrap(), Value::Int(2 * i64::from(i32::MAX)));
        let huge = vec![stooges(0, 0, i64::MAX), stooges(0, 0, 1)];
        let result = call("validator1.arrayOfStructsTest", vec![Value::Array(huge)]).await;
        assert_invalid(result, "overflow");
    }

    #[tokio::test]
    async fn array_of_structs_names_the_bad_element() {
        let missing = Value::structure([("moe", Value::Int(1))]);
        let items = Value::Array(vec![stooges(1, 2, 3), missing]);
        let result = call("validator1.arrayOfStructsTest", vec![items]).await;
        assert_invalid(result, "element 2: member 'curly' is missing");
        let items = Value::Array(vec![Value::Int(4)]);
        let result = call("validator1.arrayOfStructsTest", vec![items]).await;
        assert_invalid(result, "element 1: wanted struct, got int");
        let bad_curly = Value::structure([("curly", Value::from("many"))]);
        let result = call(
            "validator1.arrayOfStructsTest",
            vec![Value::Array(vec![bad_curly])],
        )
        .await;
        assert_invalid(result, "member 'curly': wanted int, got string");
        let result = call("validator1.arrayOfStructsTest", vec![stooges(1, 2, 3)]).await;
        assert_invalid(result, "parameter 1: wanted array, got struct");
        assert_count(call("validator1.arrayOfStructsTest", vec![]).await);
    }

    #[tokio::test]
    async fn count_the_entities_counts_each_character() {
        let text = Value::from("<<a>&&&'''' \"\"\"\"\" é");
        let result = call("validator1.countTheEntities", vec![text])
            .await
            .unwrap();
        assert_eq!(
            result,
            Value::structure([
                ("ctLeftAngleBrackets", Value::Int(2)),
                ("ctRightAngleBrackets", Value::Int(1)),
                ("ctAmpersands", Value::Int(3)),
                ("ctApostrophes", Value::Int(4)),
                ("ctQuotes", Value::Int(5)),
            ])
        );
        let empty = call("validator1.countTheEntities", vec![Value::from("")]).await;
        let empty = empty.unwrap();
        let members = empty.as_struct().unwrap();
        assert!(members.values().all(|count| *count == Value::Int(0)));
        assert_eq!(members.len(), 5);
    }

    #[tokio::test]
    async fn count_the_entities_wants_one_string() {
        let result = call("validator1.countTheEntities", vec![Value::Array(vec![])]).await;
        assert_invalid(result, "parameter 1: wanted string, got array");
        let two = vec![Value::from("a"), Value::from("b")];
        assert_count(call("validator1.countTheEntities", two).await);
    }

    #[tokio::test]
    async fn easy_struct_sums_the_three() {
        let result = call("validator1.easyStructTest", vec![stooges(2, 3, 4)]).await;
        assert_eq!(result.unwrap(), Value::Int(9));
        // Frontier-style numeric strings are coerced.
        let mixed = Value::structure([
            ("moe", Value::from("5")),
            ("larry", Value::Int(6)),
            ("curly", Value::Int(7)),
            ("shemp", Value::from("ignored")),
        ]);
        let result = call("validator1.easyStructTest", vec![mixed]).await;
        assert_eq!(result.unwrap(), Value::Int(18));
        let big = stooges(i64::from(i32::MAX), i64::from(i32::MAX), 1);
        let result = call("validator1.easyStructTest", vec![big]).await;
        assert_eq!(result.unwrap(), Value::Int(2 * i64::from(i32::MAX) + 1));
    }

    #[tokio::test]
    async fn easy_struct_reports_precise_faults() {
        let missing = Value::structure([("moe", Value::Int(1)), ("curly", Value::Int(1))]);
        let result = call("validator1.easyStructTest", vec![missing]).await;
        assert_invalid(result, "member 'larry' is missing");
        let wrong = Value::structure([
            ("moe", Value::Int(1)),
            ("larry", Value::Array(vec![])),
            ("curly", Value::Int(1)),
        ]);
        let result = call("validator1.easyStructTest", vec![wrong]).await;
        assert_invalid(result, "member 'larry': wanted int, got array");
        let result = call("validator1.easyStructTest", vec![stooges(i64::MAX, 1, 0)]).await;
        assert_invalid(result, "overflow");
        let result = call("validator1.easyStructTest", vec![Value::Int(3)]).await;
        assert_invalid(result, "parameter 1: wanted struct, got int");
        assert_count(call("validator1.easyStructTest", vec![]).await);
        assert_count(call("validator1.easyStructTest", vec![stooges(1, 1, 1); 2]).await);
    }

    #[tokio::test]
    async fn echo_struct_returns_the_struct_in_order() {
        let value = Value::structure([
            ("zeta", Value::Int(1)),
            ("alpha", Value::Array(vec![Value::Bool(true), Value::Nil])),
            (
                "mid",
                Value::structure([("b", Value::from("x")), ("a", Value::Double(1.5))]),
            ),
        ]);
        let result = call("validator1.echoStructTest", vec![value.clone()])
            .await
            .unwrap();
        assert_eq!(result, value);
        let keys: Vec<_> = result.as_struct().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
        let result = call("validator1.echoStructTest", vec![Value::from("s")]).await;
        assert_invalid(result, "wanted struct, got string");
    }

    #[tokio::test]
    async fn many_types_returns_its_six_parameters() {
        let moment = NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        let params = vec![
            Value::Int(-17),
            Value::Bool(true),
            Value::from("<hello & goodbye>"),
            Value::Double(-12.53),
            Value::DateTime(moment),
            Value::Base64(vec![0, 1, 2, 255]),
        ];
        let result = call("validator1.manyTypesTest", params.clone()).await;
        assert_eq!(result.unwrap(), Value::Array(params));
    }

    #[tokio::test]
    async fn many_types_checks_count_and_each_type() {
        let moment = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let good = vec![
            Value::Int(1),
            Value::Bool(false),
            Value::from(""),
            Value::Double(0.0),
            Value::DateTime(moment),
            Value::Base64(vec![]),
        ];
        assert_count(call("validator1.manyTypesTest", good[..5].to_vec()).await);
        let mut seven = good.clone();
        seven.push(Value::Nil);
        assert_count(call("validator1.manyTypesTest", seven).await);
        let mut wrong_date = good.clone();
        wrong_date[4] = Value::Int(20000101);
        let result = call("validator1.manyTypesTest", wrong_date).await;
        assert_invalid(result, "parameter 5: wanted dateTime.iso8601, got int");
        let mut wrong_int = good.clone();
        wrong_int[0] = Value::structure([("a", Value::Int(1))]);
        let result = call("validator1.manyTypesTest", wrong_int).await;
        assert_invalid(result, "parameter 1: wanted int, got struct");
        let mut wrong_bool = good;
        wrong_bool[1] = Value::from("maybe");
        let result = call("validator1.manyTypesTest", wrong_bool).await;
        assert_invalid(result, "parameter 2: wanted boolean, got string");
    }

    #[tokio::test]
    async fn moderate_size_array_joins_first_and_last() {
        let items: Vec<Value> = (0..150).map(|i| Value::from(format!("s{i}"))).collect();
        let result = call(
            "validator1.moderateSizeArrayCheck",
            vec![Value::Array(items)],
        )
        .await;
        assert_eq!(result.unwrap(), Value::from("s0s149"));
        let one = Value::Array(vec![Value::from("only")]);
        let result = call("validator1.moderateSizeArrayCheck", vec![one]).await;
        assert_eq!(result.unwrap(), Value::from("onlyonly"));
    }

    #[tokio::test]
    async fn moderate_size_array_refuses_empty_and_non_strings() {
        let result = call(
            "validator1.moderateSizeArrayCheck",
            vec![Value::Array(vec![])],
        )
        .await;
        assert_invalid(result, "empty");
        let items = Value::Array(vec![
            Value::from("a"),
            Value::Array(vec![]),
            Value::from("b"),
        ]);
        let result = call("validator1.moderateSizeArrayCheck", vec![items]).await;
        assert_invalid(result, "element 2: wanted string, got array");
        assert_count(call("validator1.moderateSizeArrayCheck", vec![]).await);
    }

    fn calendar(day: Value) -> Value {
        let mut year = Struct::default();
        for month in 1..=12 {
            let mut days = Struct::default();
            for day_of_month in 1..=28 {
                days.insert(
                    format!("{day_of_month:02}").into(),
                    Value::Struct(Struct::default()),
                );
            }
            year.insert(format!("{month:02}").into(), Value::Struct(days));
        }
        if let Some(Value::Struct(april)) = year.get_mut("04") {
            april.insert("01".into(), day);
        }
        Value::structure([
            ("1999", Value::Struct(Struct::default())),
            ("2000", Value::Struct(year)),
        ])
    }

    #[tokio::test]
    async fn nested_struct_sums_april_first_2000() {
        let result = call(
            "validator1.nestedStructTest",
            vec![calendar(stooges(3, 4, 5))],
        )
        .await;
        assert_eq!(result.unwrap(), Value::Int(12));
    }

    #[tokio::test]
    async fn nested_struct_names_what_is_missing() {
        let result = call(
            "validator1.nestedStructTest",
            vec![Value::Struct(Struct::default())],
        )
        .await;
        assert_invalid(result, "member '2000' is missing");
        let result = call("validator1.nestedStructTest", vec![calendar(Value::Int(1))]).await;
        assert_invalid(
            result,
            "member '2000': member '04': member '01': wanted struct, got int",
        );
        let partial = calendar(Value::structure([("moe", Value::Int(1))]));
        let result = call("validator1.nestedStructTest", vec![partial]).await;
        assert_invalid(result, "member 'larry' is missing");
    }

    #[tokio::test]
    async fn simple_struct_return_multiplies() {
        let result = call("validator1.simpleStructReturnTest", vec![Value::Int(7)]).await;
        assert_eq!(
            result.unwrap(),
            Value::structure([
                ("times10", Value::Int(70)),
                ("times100", Value::Int(700)),
                ("times1000", Value::Int(7000)),
            ])
        );
        let max = i64::from(i32::MAX);
        let result = call("validator1.simpleStructReturnTest", vec![Value::Int(max)]).await;
        let result = result.unwrap();
        assert_eq!(
            result.as_struct().unwrap()["times1000"],
            Value::Int(max * 1000)
        );
    }

    #[tokio::test]
    async fn simple_struct_return_faults_on_overflow_and_bad_input() {
        let result = call(
            "validator1.simpleStructReturnTest",
            vec![Value::Int(i64::MAX / 50)],
        )
        .await;
        assert_invalid(result, "overflows");
        let result = call(
            "validator1.simpleStructReturnTest",
            vec![Value::from("ten")],
        )
        .await;
        assert_invalid(result, "parameter 1: wanted int, got string");
        assert_count(call("validator1.simpleStructReturnTest", vec![]).await);
    }

    #[tokio::test]
    async fn echo_returns_every_type_unchanged() {
        let moment = NaiveDate::from_ymd_opt(1998, 7, 17)
            .unwrap()
            .and_hms_opt(14, 8, 55)
            .unwrap();
        let values = [
            Value::Int(i64::MIN),
            Value::Bool(false),
            Value::from("  spaced  "),
            Value::Double(f64::MIN_POSITIVE),
            Value::DateTime(moment),
            Value::Base64((0..=255).collect()),
            Value::structure([("b", Value::Nil), ("a", Value::Int(1))]),
            Value::Array(vec![Value::Int(1), Value::from("two")]),
            Value::Nil,
        ];
        for value in values {
            let result = call("interop.echo", vec![value.clone()]).await;
            assert_eq!(result.unwrap(), value);
        }
    }

    #[tokio::test]
    async fn echo_wants_exactly_one_parameter() {
        assert_count(call("interop.echo", vec![]).await);
        assert_count(call("interop.echo", vec![Value::Nil, Value::Nil]).await);
    }
}
