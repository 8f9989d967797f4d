//! JSON-RPC 2.0 and 1.0: request bodies in, protocol-neutral calls out; results and faults
//! back in the form the request used.
//!
//! Types follow Trac's XmlRpcPlugin convention for what JSON lacks: a dateTime is
//! `{"__jsonclass__": ["datetime", "2024-01-02T03:04:05"]}` and base64 is
//! `{"__jsonclass__": ["binary", "…base64…"]}`, both accepted and produced. `null` is nil,
//! integers are exact over the whole `i64` range, and object member order is kept.
//! Nothing else is ever read from a `__jsonclass__` hint: the two kinds above are data, not
//! objects to construct.
//!
//! Like every codec this one knows nothing of applications, sessions or storage. Named
//! parameters are resolved against a method's signatures by [`resolve_params`], which the
//! caller feeds from the registry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use groupware_api::{Fault, Struct, Value};
use serde_json::{Map, Number, Value as Json};

use super::xmlrpc::MAX_VALUE_DEPTH;
use super::{datetime, is_valid_method_name, json_writer};

/// Most requests one batch may carry (the same bound as `system.multicall`).
pub const MAX_BATCH: usize = crate::dispatch::MAX_MULTICALL;

/// The member that marks a typed value (Trac's convention).
pub(crate) const CLASS_HINT: &str = "__jsonclass__";

/// Longest JSONP callback name accepted.
const MAX_CALLBACK_LEN: usize = 128;

/// The protocol version of one request; its reply takes the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// No `jsonrpc` member: replied to as `{result, error, id}`.
    V1,
    /// `"jsonrpc": "2.0"`: replied to as `{jsonrpc, result | error, id}`.
    V2,
}

/// Parameters as the request spelled them.
#[derive(Debug, Clone, PartialEq)]
pub enum RawParams {
    /// `params: [...]`.
    Positional(Vec<Value>),
    /// `params: {...}`: see [`resolve_params`].
    Named(Struct),
}

/// One request of a body, valid or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub version: Version,
    /// `None` for a notification (no reply is sent). Invalid requests always carry an id
    /// (`null` when theirs could not be read), so they are always answered.
    pub id: Option<Json>,
    /// The method and its parameters, or why the request cannot run.
    pub call: Result<(String, RawParams), Fault>,
}

/// A decoded body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Single(Request),
    Batch(Vec<Request>),
}

fn parse_error(message: impl std::fmt::Display) -> Fault {
    Fault::new(Fault::PARSE_ERROR, format!("Parse error: {message}"))
}

fn invalid_request(message: impl std::fmt::Display) -> Fault {
    Fault::new(
        Fault::INVALID_REQUEST,
        format!("Invalid request: {message}"),
    )
}

fn invalid_params(message: impl std::fmt::Display) -> Fault {
    Fault::new(Fault::INVALID_PARAMS, format!("Invalid params: {message}"))
}

/// Decodes a POST body: one request or a batch.
///
/// An error is a fault for the whole body (not JSON, an empty or oversized batch), to be
/// answered once with id `null` in 2.0 form.
pub fn decode_body(body: &[u8]) -> Result<Body, Fault> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // serde_json refuses nesting deeper than 128 before it can exhaust the stack.
    let document: Json = serde_json::from_slice(body).map_err(parse_error)?;
    match document {
        Json::Array(items) => {
            if items.is_empty() {
                return Err(invalid_request("an empty batch"));
            }
            if items.len() > MAX_BATCH {
                return Err(invalid_request(format!(
                    "a batch may hold at most {MAX_BATCH} requests, this one has {}",
                    items.len()
                )));
            }
            Ok(Body::Batch(items.into_iter().map(decode_request).collect()))
        }
        other => Ok(Body::Single(decode_request(other))),
    }
}

/// Decodes one request object.
pub fn decode_request(request: Json) -> Request {
    let Json::Object(mut members) = request else {
        return rejected(Version::V2, invalid_request("a request must be an object"));
    };
    let version = match members.remove("jsonrpc") {
        None => Version::V1,
        Some(Json::String(text)) if text == "2.0" => Version::V2,
        Some(_) => {
            return rejected(
                Version::V2,
                invalid_request("\"jsonrpc\" must be \"2.0\" (or absent for JSON-RPC 1.0)"),
            );
        }
    };
    let id = match (members.remove("id"), version) {
        (None, Version::V2) | (None | Some(Json::Null), Version::V1) => None,
        (Some(id @ (Json::Null | Json::String(_) | Json::Number(_))), _) => Some(id),
        (Some(_), _) => {
            return rejected(
                version,
                invalid_request("\"id\" must be a string, a number or null"),
            );
        }
    };
    let call = decode_call(members, version);
    // A request that cannot even be read is answered although it looks like a notification.
    let id = match (&call, id) {
        (Err(fault), None) if fault.code == Fault::INVALID_REQUEST => Some(Json::Null),
        (_, id) => id,
    };
    Request { version, id, call }
}

fn rejected(version: Version, fault: Fault) -> Request {
    Request {
        version,
        id: Some(Json::Null),
        call: Err(fault),
    }
}

fn decode_call(
    mut members: Map<String, Json>,
    version: Version,
) -> Result<(String, RawParams), Fault> {
    let method = match members.remove("method") {
        Some(Json::String(method)) => method,
        Some(_) => return Err(invalid_request("\"method\" must be a string")),
        None => return Err(invalid_request("\"method\" is missing")),
    };
    if !is_valid_method_name(&method) {
        return Err(invalid_request(
            "the method name is empty or has characters outside A-Z a-z 0-9 _ . : /",
        ));
    }
    let params = match (members.remove("params"), version) {
        (None, _) | (Some(Json::Null), Version::V1) => RawParams::Positional(Vec::new()),
        (Some(Json::Array(items)), _) => RawParams::Positional(
            items
                .iter()
                .map(|item| value_from_json(item, 1))
                .collect::<Result<_, _>>()?,
        ),
        (Some(Json::Object(object)), _) => RawParams::Named(struct_from_json(&object, 1)?),
        (Some(_), _) => {
            return Err(invalid_request("\"params\" must be an array or an object"));
        }
    };
    Ok((method, params))
}

/// Decodes a `GET /jsonrpc?method=…&params=…&id=…` request (2.0 form).
///
/// `params` is JSON text (an array or an object); `id` is read as JSON when it is a number
/// or a quoted string and taken as a plain string otherwise. A GET always gets a reply.
pub fn decode_get(method: Option<&str>, params: Option<&str>, id: Option<&str>) -> Request {
    let id = match id {
        None => Json::Null,
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(parsed @ (Json::Number(_) | Json::String(_))) => parsed,
            _ => Json::String(text.to_owned()),
        },
    };
    let mut members = Map::new();
    members.insert("jsonrpc".into(), Json::from("2.0"));
    members.insert("id".into(), id.clone());
    if let Some(method) = method {
        members.insert("method".into(), Json::from(method));
    }
    if let Some(params) = params {
        match serde_json::from_str::<Json>(params) {
            Ok(parsed) => {
                members.insert("params".into(), parsed);
            }
            Err(error) => {
                return Request {
                    version: Version::V2,
                    id: Some(id),
                    call: Err(parse_error(format_args!("params: {error}"))),
                };
            }
        }
    }
    decode_request(Json::Object(members))
}

/// Turns the request's parameters into the positional list dispatch takes.
///
/// The rule for named parameters (`params: {...}`): they are one struct parameter, the
/// eGroupWare convention (`read_entries({start: 0, limit: 10})`), when the method is unknown
/// here (`signatures` is `None`), declares no signatures, or has a signature taking exactly
/// one struct. An empty object for a method with a parameterless signature means no
/// parameters. Otherwise the method takes positional parameters only and named ones are
/// refused with -32602.
pub fn resolve_params(
    method: &str,
    params: RawParams,
    signatures: Option<&[&[&str]]>,
) -> Result<Vec<Value>, Fault> {
    let members = match params {
        RawParams::Positional(items) => return Ok(items),
        RawParams::Named(members) => members,
    };
    let Some(signatures) = signatures.filter(|list| !list.is_empty()) else {
        return Ok(vec![Value::Struct(members)]);
    };
    if members.is_empty() && signatures.iter().any(|sig| sig.len() == 1) {
        return Ok(Vec::new());
    }
    if signatures
        .iter()
        .any(|sig| sig.len() == 2 && sig[1] == "struct")
    {
        return Ok(vec![Value::Struct(members)]);
    }
    Err(invalid_params(format!(
        "{method} takes positional parameters; send \"params\" as an array"
    )))
}

/// Converts a JSON value at nesting level `depth` (a parameter is level 1).
pub fn value_from_json(json: &Json, depth: usize) -> Result<Value, Fault> {
    if depth > MAX_VALUE_DEPTH {
        return Err(parse_error(format_args!(
            "values nested deeper than {MAX_VALUE_DEPTH} levels"
        )));
    }
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => number_from_json(number)?,
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| value_from_json(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(object) => match object.get(CLASS_HINT) {
            Some(hint) => {
                if object.len() != 1 {
                    return Err(invalid_params(format_args!(
                        "an object with {CLASS_HINT} may have no other members"
                    )));
                }
                typed_from_json(hint)?
            }
            None => Value::Struct(struct_from_json(object, depth)?),
        },
    })
}

fn struct_from_json(object: &Map<String, Json>, depth: usize) -> Result<Struct, Fault> {
    object
        .iter()
        .map(|(name, member)| Ok((name.clone().into(), value_from_json(member, depth + 1)?)))
        .collect()
}

fn number_from_json(number: &Number) -> Result<Value, Fault> {
    if let Some(integer) = number.as_i64() {
        return Ok(Value::Int(integer));
    }
    if number.is_u64() {
        return Err(invalid_params("an integer beyond the 64-bit signed range"));
    }
    match number.as_f64() {
        Some(double) if double.is_finite() => Ok(Value::Double(double)),
        _ => Err(invalid_params("a number that is not a finite double")),
    }
}

/// `["datetime", "…"]` or `["binary", "…"]`.
fn typed_from_json(hint: &Json) -> Result<Value, Fault> {
    let (kind, payload) = match hint.as_array().map(Vec::as_slice) {
        Some([Json::String(kind), Json::String(payload)]) => (kind.as_str(), payload.as_str()),
        _ => {
            return Err(invalid_params(format_args!(
                "{CLASS_HINT} must be [\"datetime\", text] or [\"binary\", base64]"
            )));
        }
    };
    match kind {
        "datetime" => datetime::parse(payload)
            .map(Value::DateTime)
            .ok_or_else(|| invalid_params("a datetime that does not parse")),
        "binary" => {
            let compact: String = payload.split_ascii_whitespace().collect();
            STANDARD
                .decode(compact)
                .map(Value::Base64)
                .map_err(|_| invalid_params("binary data that is not valid base64"))
        }
        _ => Err(invalid_params(format_args!(
            "unsupported {CLASS_HINT} kind; use \"datetime\" or \"binary\""
        ))),
    }
}

/// Converts a value for the wire at nesting level `depth`.
///
/// Fails only for values JSON cannot carry (NaN, nesting beyond the limit).
pub fn value_to_json(value: &Value, depth: usize) -> Result<Json, Fault> {
    if depth > MAX_VALUE_DEPTH * 2 {
        return Err(Fault::new(
            Fault::INTERNAL_RPC,
            "Internal error: result nested too deeply",
        ));
    }
    Ok(match value {
        Value::Int(number) => Json::from(*number),
        Value::Bool(flag) => Json::Bool(*flag),
        Value::String(text) => Json::String(text.to_string()),
        Value::Double(double) => Number::from_f64(*double).map(Json::Number).ok_or_else(|| {
            Fault::new(
                Fault::INTERNAL_RPC,
                "Internal error: a result number is not finite",
            )
        })?,
        Value::DateTime(moment) => {
            typed_to_json("datetime", moment.format("%Y-%m-%dT%H:%M:%S").to_string())
        }
        Value::Base64(bytes) => typed_to_json("binary", STANDARD.encode(bytes)),
        Value::Struct(members) => Json::Object(
            members
                .iter()
                .map(|(name, member)| Ok((name.to_string(), value_to_json(member, depth + 1)?)))
                .collect::<Result<_, Fault>>()?,
        ),
        Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|item| value_to_json(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Nil => Json::Null,
        Value::Written(written) => value_to_json(&written.to_value(), depth)?,
    })
}

fn typed_to_json(kind: &str, payload: String) -> Json {
    let mut object = Map::new();
    object.insert(
        CLASS_HINT.into(),
        Json::Array(vec![Json::from(kind), Json::String(payload)]),
    );
    Json::Object(object)
}

/// The reply to one request, as JSON text: its result, or its fault as
/// `{code, message}`. Written directly ([`json_writer`]), not through a `serde_json`
/// tree; members in the order serde_json's tree would keep them.
///
/// A result JSON cannot carry becomes error -32603.
/// The reply's buffer size: a listing's string member takes ~24 bytes in JSON; with a
/// margin, because a guess short of the reply doubles the buffer at the very end.
pub(crate) fn reply_capacity(result: &Result<Value, Fault>) -> usize {
    const PER_VALUE: usize = 28;
    64 + result.as_ref().map_or(0, super::values_hint) * PER_VALUE
}

pub fn encode_reply(version: Version, id: &Json, result: &Result<Value, Fault>) -> String {
    let mut out = String::with_capacity(reply_capacity(result));
    out.push('{');
    if version == Version::V2 {
        out.push_str("\"jsonrpc\":\"2.0\",");
    }
    let written = match result {
        Ok(value) => {
            // A result that fails part-way is cut off whole; the error takes its place.
            let result_at = out.len();
            out.push_str("\"result\":");
            let written = json_writer::write_value(&mut out, value, 1);
            if written.is_err() {
                out.truncate(result_at);
            }
            written
        }
        Err(fault) => Err(fault.clone()),
    };
    match written {
        Ok(()) => {
            if version == Version::V1 {
                out.push_str(",\"error\":null");
            }
        }
        Err(fault) => {
            if version == Version::V1 {
                out.push_str("\"result\":null,");
            }
            out.push_str("\"error\":{\"code\":");
            out.push_str(itoa::Buffer::new().format(fault.code));
            out.push_str(",\"message\":");
            json_writer::write_str(&mut out, &fault.message);
            out.push('}');
        }
    }
    out.push_str(",\"id\":");
    out.push_str(&id.to_string());
    out.push('}');
    out
}

/// The reply to a body that could not be read at all (2.0 form, id `null`).
pub fn encode_body_error(fault: &Fault) -> String {
    encode_reply(Version::V2, &Json::Null, &Err(fault.clone()))
}

/// Whether a JSONP callback name is safe to echo: `[A-Za-z0-9_.\[\]]`, 1 to 128 bytes.
pub fn is_valid_callback(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CALLBACK_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
}

/// Wraps a reply for JSONP. The leading comment keeps the body from starting with
/// attacker-chosen bytes (the Rosetta Flash family of attacks).
pub fn wrap_jsonp(callback: &str, reply: &str) -> String {
    format!("/**/{callback}({reply});")
}

/// A struct holding every kind of value JSON-RPC carries (the typed ones included), for
/// the codec's tests.
#[cfg(test)]
pub(crate) fn typed_sample() -> Value {
    let moment = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .and_then(|date| date.and_hms_opt(3, 4, 5))
        .expect("valid date");
    Value::structure([
        ("when", Value::DateTime(moment)),
        ("data", Value::Base64(vec![0, 1, 2, 255])),
        ("big", Value::Int(i64::MAX)),
        ("small", Value::Int(i64::MIN)),
        ("nothing", Value::Nil),
        ("pi", Value::Double(3.25)),
        (
            "list",
            Value::Array(vec![Value::Bool(true), Value::from("ü")]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn single(text: &str) -> Request {
        match decode_body(text.as_bytes()) {
            Ok(Body::Single(request)) => request,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn call_of(request: &Request) -> (&str, &RawParams) {
        match &request.call {
            Ok((method, params)) => (method, params),
            Err(fault) => panic!("unexpected fault {fault:?}"),
        }
    }

    fn fault_code(request: &Request) -> i32 {
        match &request.call {
            Err(fault) => fault.code,
            Ok(call) => panic!("expected a fault, got {call:?}"),
        }
    }

    #[test]
    fn version_2_positional_and_named() {
        let request = single(r#"{"jsonrpc":"2.0","method":"a.b","params":[1,"x"],"id":7}"#);
        assert_eq!(request.version, Version::V2);
        assert_eq!(request.id, Some(json!(7)));
        let (method, params) = call_of(&request);
        assert_eq!(method, "a.b");
        assert_eq!(
            params,
            &RawParams::Positional(vec![Value::Int(1), Value::from("x")])
        );
        let request = single(r#"{"jsonrpc":"2.0","method":"a.b","params":{"z":1,"a":2},"id":"q"}"#);
        let (_, params) = call_of(&request);
        let RawParams::Named(members) = params else {
            panic!("{params:?}")
        };
        assert_eq!(members.keys().collect::<Vec<_>>(), ["z", "a"], "order kept");
    }

    #[test]
    fn notifications_and_version_1() {
        let request = single(r#"{"jsonrpc":"2.0","method":"a.b"}"#);
        assert_eq!(request.id, None);
        assert_eq!(call_of(&request).1, &RawParams::Positional(vec![]));
        let request = single(r#"{"jsonrpc":"2.0","method":"a.b","id":null}"#);
        assert_eq!(request.id, Some(Json::Null), "2.0 id null is a request");
        let request = single(r#"{"method":"a.b","params":[],"id":1}"#);
        assert_eq!(request.version, Version::V1);
        assert_eq!(request.id, Some(json!(1)));
        let request = single(r#"{"method":"a.b","params":null,"id":null}"#);
        assert_eq!(request.id, None, "1.0 id null is a notification");
    }

    #[test]
    fn invalid_requests_are_answered() {
        for text in [
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            r#"{"jsonrpc":"2.0","params":[]}"#,
            r#"{"jsonrpc":"1.5","method":"a.b","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"a.b","params":"x","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"a.b","id":{"x":1}}"#,
            r#"{"jsonrpc":"2.0","method":"a b\u0000","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"","id":1}"#,
            "1",
            "\"text\"",
        ] {
            let request = single(text);
            assert_eq!(fault_code(&request), -32600, "{text}");
            assert!(request.id.is_some(), "{text} must be answered");
        }
    }

    #[test]
    fn body_errors() {
        for (text, code) in [
            ("", -32700),
            ("{", -32700),
            ("[1,", -32700),
            ("{\"method\": \"a\"} trailing", -32700),
            ("[]", -32600),
        ] {
            assert_eq!(
                decode_body(text.as_bytes()).map_err(|fault| fault.code),
                Err(code),
                "{text}"
            );
        }
        let too_many = format!("[{}]", vec!["1"; MAX_BATCH + 1].join(","));
        assert_eq!(
            decode_body(too_many.as_bytes()).map_err(|f| f.code),
            Err(-32600)
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            decode_body(deep.as_bytes()).map_err(|f| f.code),
            Err(-32700)
        );
        let deep_value = format!(
            r#"{{"jsonrpc":"2.0","method":"a.b","params":{}1{},"id":1}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(fault_code(&single(&deep_value)), -32700);
        let body = b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"method\":\"a.b\",\"id\":1}";
        assert!(decode_body(body).is_ok(), "a UTF-8 BOM is skipped");
        assert_eq!(decode_body(b"\"\xff\"").map_err(|f| f.code), Err(-32700));
    }

    #[test]
    fn batch_keeps_each_slot() {
        let Ok(Body::Batch(requests)) = decode_body(
            br#"[{"jsonrpc":"2.0","method":"a.b","id":1}, 5, {"method":"c.d","id":2}]"#,
        ) else {
            panic!("not a batch")
        };
        assert_eq!(requests.len(), 3);
        assert!(requests[0].call.is_ok());
        assert_eq!(fault_code(&requests[1]), -32600);
        assert_eq!(requests[2].version, Version::V1);
    }

    #[test]
    fn typed_values_round_trip() {
        let value = typed_sample();
        let json = value_to_json(&value, 1).expect("encodes");
        assert_eq!(
            json["when"],
            json!({"__jsonclass__": ["datetime", "2024-01-02T03:04:05"]})
        );
        assert_eq!(
            json["data"],
            json!({"__jsonclass__": ["binary", "AAEC/w=="]})
        );
        assert!(json.to_string().contains("9223372036854775807"));
        assert_eq!(value_from_json(&json, 1), Ok(value));
    }

    #[test]
    fn typed_value_input_forms() {
        let parse = |json: Json| value_from_json(&json, 1);
        let expected = NaiveDate::from_ymd_opt(2024, 1, 2)
            .and_then(|date| date.and_hms_opt(2, 4, 5))
            .map(Value::DateTime)
            .expect("valid date");
        assert_eq!(
            parse(json!({"__jsonclass__": ["datetime", "20240102T03:04:05+01:00"]})),
            Ok(expected)
        );
        assert_eq!(
            parse(json!({"__jsonclass__": ["binary", "AA\nEC"]})),
            Ok(Value::Base64(vec![0, 1, 2]))
        );
        for bad in [
            json!({"__jsonclass__": ["datetime", "yesterday"]}),
            json!({"__jsonclass__": ["binary", "!!"]}),
            json!({"__jsonclass__": ["pickle", "x"]}),
            json!({"__jsonclass__": "datetime"}),
            json!({"__jsonclass__": ["datetime", "2024-01-02"], "other": 1}),
            json!(18_446_744_073_709_551_615_u64),
        ] {
            assert_eq!(parse(bad.clone()).map_err(|f| f.code), Err(-32602), "{bad}");
        }
    }

    #[test]
    fn named_params_rule() {
        let members = Struct::from_iter([("start".into(), Value::Int(0))]);
        let named = RawParams::Named(members.clone());
        let one_struct: &[&[&str]] = &[&["array", "struct"], &["array"]];
        assert_eq!(
            resolve_params("m", named.clone(), Some(one_struct)),
            Ok(vec![Value::Struct(members.clone())])
        );
        assert_eq!(
            resolve_params("m", RawParams::Named(Struct::default()), Some(one_struct)),
            Ok(vec![])
        );
        assert_eq!(
            resolve_params("m", named.clone(), None),
            Ok(vec![Value::Struct(members.clone())])
        );
        let positional: &[&[&str]] = &[&["string", "string"]];
        assert_eq!(
            resolve_params("m", named, Some(positional)).map_err(|f| f.code),
            Err(-32602)
        );
    }

    #[test]
    fn replies_in_both_forms() {
        let reply = |version, id: Json, result| {
            let text = encode_reply(version, &id, &result);
            let parsed: Json = serde_json::from_str(&text).expect("valid JSON");
            // Compact, members in order: what serde_json writes for the same tree.
            assert_eq!(text, parsed.to_string());
            parsed
        };
        let ok = reply(Version::V2, json!(1), Ok(Value::Int(5)));
        assert_eq!(ok, json!({"jsonrpc": "2.0", "result": 5, "id": 1}));
        assert_eq!(
            encode_reply(Version::V2, &json!(1), &Ok(Value::Int(5))),
            r#"{"jsonrpc":"2.0","result":5,"id":1}"#
        );
        let error = reply(
            Version::V2,
            json!("a"),
            Err(Fault::new(1001, "Session \"expired\"")),
        );
        assert_eq!(
            error,
            json!({"jsonrpc": "2.0", "error": {"code": 1001, "message": "Session \"expired\""}, "id": "a"})
        );
        let ok = reply(Version::V1, json!(1), Ok(Value::Nil));
        assert_eq!(ok, json!({"result": null, "error": null, "id": 1}));
        assert_eq!(
            encode_reply(Version::V1, &json!(1), &Ok(Value::Nil)),
            r#"{"result":null,"error":null,"id":1}"#
        );
        let error = reply(Version::V1, json!(1), Err(Fault::new(-32601, "x")));
        assert_eq!(
            error,
            json!({"result": null, "error": {"code": -32601, "message": "x"}, "id": 1})
        );
        assert_eq!(
            encode_reply(Version::V1, &json!(null), &Err(Fault::new(-32601, "x"))),
            r#"{"result":null,"error":{"code":-32601,"message":"x"},"id":null}"#
        );
        for version in [Version::V1, Version::V2] {
            // Part of the result is written before the NaN: none of it may remain.
            let result = Ok(Value::Array(vec![Value::Int(1), Value::Double(f64::NAN)]));
            let nan = reply(version, json!({"k": [1]}), result);
            assert_eq!(nan["error"]["code"], json!(-32603));
            assert_eq!(nan["id"], json!({"k": [1]}));
            assert!(nan.get("result").is_none_or(Json::is_null), "{nan}");
        }
    }

    #[test]
    fn get_requests() {
        let request = decode_get(Some("a.b"), Some("[1]"), Some("7"));
        assert_eq!(request.id, Some(json!(7)));
        assert_eq!(
            call_of(&request).1,
            &RawParams::Positional(vec![Value::Int(1)])
        );
        let request = decode_get(Some("a.b"), None, Some("abc"));
        assert_eq!(request.id, Some(json!("abc")));
        let request = decode_get(Some("a.b"), Some("[1"), None);
        assert_eq!(
            (request.id.clone(), fault_code(&request)),
            (Some(Json::Null), -32700)
        );
        assert_eq!(fault_code(&decode_get(None, None, None)), -32600);
    }

    #[test]
    fn callbacks() {
        for ok in ["cb", "jQuery123_456", "a.b[0]", "x"] {
            assert!(is_valid_callback(ok), "{ok}");
        }
        for bad in ["", "alert(1)", "a b", "a;b", "a\u{2028}", &"a".repeat(129)] {
            assert!(!is_valid_callback(bad), "{bad}");
        }
        assert_eq!(wrap_jsonp("cb", "{}"), "/**/cb({});");
    }
}
