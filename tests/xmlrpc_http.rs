//! Raw-HTTP tests of the XML-RPC endpoint against the real server binary.
//!
//! Each request is written by hand, so these tests pin down the wire rules of
//! `shared/research/interop.md` part A1: content types, status codes, headers, fault codes,
//! encodings, extension types and the spellings real clients send.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use common::{
    Server, assert_fault, call_with_value_xml, encode_call, first_text_of, parse_response,
    result_type_tag,
};
use groupware_api::{Struct, Value};
use reqwest::StatusCode;

const PARSE_ERROR: i32 = -32700;
const UNSUPPORTED_ENCODING: i32 = -32701;
const INVALID_REQUEST: i32 = -32600;
const METHOD_NOT_FOUND: i32 = -32601;
const BAD_PARAMS: i32 = 1004;

fn interop() -> Arc<Server> {
    Server::shared(&["--enable-interop"])
}

/// A small valid call (`interop.echo("ping")`).
fn ping() -> String {
    encode_call("interop.echo", &[Value::from("ping")])
}

/// Echoes one raw `<value>` element and returns the decoded result (or fault).
fn echo_xml(server: &Server, value_xml: &str) -> Result<Value, groupware_api::Fault> {
    server.call_raw(call_with_value_xml("interop.echo", value_xml))
}

/// Echoes one raw `<value>` element and returns the response text too.
fn echo_xml_text(
    server: &Server,
    value_xml: &str,
) -> (String, Result<Value, groupware_api::Fault>) {
    server.call_raw_at("/xmlrpc", call_with_value_xml("interop.echo", value_xml))
}

fn jan2() -> Value {
    Value::DateTime(
        NaiveDate::from_ymd_opt(2024, 1, 2)
            .and_then(|date| date.and_hms_opt(3, 4, 5))
            .expect("valid date"),
    )
}

// ---------------------------------------------------------------------------------------
// HTTP envelope

#[test]
fn xml_content_types_are_accepted() {
    let server = interop();
    for content_type in [
        "text/xml",
        "text/xml; charset=utf-8",
        "text/xml;charset=UTF-8",
        "application/xml",
        "application/xml; charset=utf-8",
        "application/vnd.example.rpc+xml",
        "text/x-custom+xml; charset=utf-8",
    ] {
        let (status, _, body) = server.post("/xmlrpc", content_type, ping());
        assert_eq!(
            status,
            StatusCode::OK,
            "Content-Type {content_type:?}: {body}"
        );
        let decoded = parse_response(&body).expect("valid response");
        assert_eq!(
            decoded,
            Ok(Value::from("ping")),
            "Content-Type {content_type:?}"
        );
    }
}

#[test]
fn content_type_matching_ignores_case() {
    // Media type names are case-insensitive (RFC 9110 section 8.3.1).
    let server = interop();
    for content_type in ["TEXT/XML", "Text/Xml; Charset=UTF-8", "Application/XML"] {
        let (status, _, body) = server.post("/xmlrpc", content_type, ping());
        assert_eq!(
            status,
            StatusCode::OK,
            "Content-Type {content_type:?}: {body}"
        );
    }
}

#[test]
fn non_xml_content_types_are_refused_with_415() {
    let server = interop();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=XyZ",
    ] {
        let (status, _, body) = server.post("/xmlrpc", content_type, ping());
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type {content_type:?}: {body}"
        );
        let (status, _, _) = server.post("/xmlrpc.php", content_type, ping());
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?} at /xmlrpc.php"
        );
    }
}

/// `fetch` with an `ArrayBuffer` body sends no Content-Type and no preflight, so a missing
/// type is refused like the cross-site ones.
#[test]
fn a_missing_content_type_is_refused_with_415() {
    let server = interop();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let response = client
        .post(format!("{}/xmlrpc", server.url()))
        .body(ping())
        .send()
        .expect("POST without Content-Type");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[test]
fn get_shows_the_documentation_and_other_methods_are_405() {
    let server = interop();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    for path in ["/xmlrpc", "/xmlrpc.php"] {
        let (status, headers, body) = server.get(path);
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8")
        );
        assert!(
            body.contains("data-method=\"system.listMethods\""),
            "{body}"
        );
        let response = client
            .put(format!("{}{path}", server.url()))
            .send()
            .expect("PUT");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT {path}"
        );
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some("GET, POST")
        );
    }
}

#[test]
fn body_over_the_limit_is_413() {
    let server = Server::start(&["--enable-interop", "--max-body-bytes", "1024"]);
    // Exactly at the limit: a valid call padded with trailing whitespace (allowed after the
    // root element) is served.
    let mut at_limit = ping().into_bytes();
    assert!(at_limit.len() < 1024);
    at_limit.resize(1024, b' ');
    let (status, _, body) = server.post("/xmlrpc", "text/xml", at_limit.clone());
    assert_eq!(
        status,
        StatusCode::OK,
        "a body of exactly the limit: {body}"
    );
    assert_eq!(
        parse_response(&body).expect("valid"),
        Ok(Value::from("ping"))
    );

    let mut over = at_limit;
    over.push(b' ');
    let (status, headers, body) = server.post("/xmlrpc", "text/xml", over);
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit + 1 byte: {body}"
    );
    // The rest of the body is never read, so the connection is closed, and said to be:
    // otherwise a client sends its next request on it and gets no answer.
    assert_eq!(
        headers.get("connection").map(|value| value.as_bytes()),
        Some(&b"close"[..])
    );

    let mut big = ping().into_bytes();
    big.resize(2048, b' ');
    let (status, _, body) = server.post("/xmlrpc.php", "text/xml", big.clone());
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "2 KiB at /xmlrpc.php: {body}"
    );

    // Without a Content-Length the limit must still hold.
    let (status, _, body) = server.post_chunked("/xmlrpc", "text/xml", big);
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "2 KiB chunked: {body}"
    );

    // And the server still serves normal requests.
    assert_eq!(server.call_raw(ping()), Ok(Value::from("ping")));
}

#[test]
fn chunked_request_is_served() {
    let server = interop();
    let (status, _, body) = server.post_chunked("/xmlrpc", "text/xml", ping().into_bytes());
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        parse_response(&body).expect("valid"),
        Ok(Value::from("ping"))
    );
}

#[test]
fn responses_have_exact_headers_and_a_utf8_prolog() {
    let server = interop();
    let unknown = encode_call("no.such.method", &[]);
    for (what, request) in [("result", ping()), ("fault", unknown)] {
        let (status, headers, body) = server.post("/xmlrpc", "text/xml", request);
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: faults are HTTP 200 too; {body}"
        );
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("?"));
        assert_eq!(content_type, Some("text/xml; charset=utf-8"), "{what}");
        let length = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        assert_eq!(length, Some(body.len()), "{what}: exact Content-Length");
        assert!(
            headers.get("transfer-encoding").is_none(),
            "{what}: not chunked"
        );
        assert!(
            body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{what}: prolog; body {body:?}"
        );
        let _ = parse_response(&body).expect("a conforming methodResponse");
    }
}

#[test]
fn xmlrpc_php_alias_serves_calls() {
    let server = interop();
    let (_, result) = server.call_raw_at("/xmlrpc.php", ping());
    assert_eq!(result, Ok(Value::from("ping")));
    let (_, result) = server.call_raw_at(
        "/xmlrpc.php",
        encode_call("validator1.easyStructTest", &[stooges(1, 2, 3)]),
    );
    assert_eq!(result, Ok(Value::Int(6)));
}

fn stooges(moe: i64, larry: i64, curly: i64) -> Value {
    Value::structure([
        ("moe", Value::Int(moe)),
        ("larry", Value::Int(larry)),
        ("curly", Value::Int(curly)),
    ])
}

// ---------------------------------------------------------------------------------------
// Fault codes

#[test]
fn malformed_xml_is_32700() {
    let server = interop();
    for body in [
        "",
        "   ",
        "this is not xml",
        "<methodCall><methodName>interop.echo</methodName>",
        "<methodCall><methodName>interop.echo</methodName></methodcall>",
        "<methodCall><methodName>a &bogus; b</methodName></methodCall>",
        "<methodCall><methodName>x</methodName></methodCall><methodCall/>",
        "<methodCall attr=unquoted><methodName>x</methodName></methodCall>",
    ] {
        assert_fault(
            &server.call_raw(body),
            PARSE_ERROR,
            &format!("body {body:?}"),
        );
    }
}

#[test]
fn doctype_is_refused_32700() {
    let server = interop();
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">\
        <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\
        <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\
        <methodCall><methodName>interop.echo</methodName><params><param><value>&lol3;</value>\
        </param></params></methodCall>";
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
        <methodCall><methodName>interop.echo</methodName><params><param><value>&x;</value>\
        </param></params></methodCall>";
    let plain = "<!DOCTYPE methodCall><methodCall><methodName>interop.echo</methodName>\
        <params><param><value>x</value></param></params></methodCall>";
    for (what, body) in [
        ("billion laughs", laughs.to_owned()),
        ("XXE", xxe.to_owned()),
        ("bare DOCTYPE", plain.to_owned()),
    ] {
        let result = server.call_raw(body);
        assert_fault(&result, PARSE_ERROR, what);
    }
}

#[test]
fn deeply_nested_body_is_refused_and_the_server_survives() {
    // 100,000 levels of <value><array><data> are about 4.3 MB, so raise the body limit to
    // make sure it is the nesting that is refused, not the size.
    let mut server = Server::start(&["--enable-interop", "--max-body-bytes", "16777216"]);
    let depth = 100_000;
    let mut value = String::with_capacity(depth * 43 + 64);
    for _ in 0..depth {
        value.push_str("<value><array><data>");
    }
    value.push_str("<value><int>1</int></value>");
    for _ in 0..depth {
        value.push_str("</data></array></value>");
    }
    let body = call_with_value_xml("interop.echo", &value);
    assert!(body.len() > 4 * 1024 * 1024);
    let result = server.call_raw(body);
    assert_fault(&result, PARSE_ERROR, "100,000 levels of nesting");
    server.assert_alive();
    assert_eq!(
        server.call_raw(ping()),
        Ok(Value::from("ping")),
        "the next request"
    );

    // Deep nesting of non-XML-RPC elements is refused as well.
    let mut plain = String::from("<methodCall><methodName>interop.echo</methodName>");
    plain.push_str(&"<a>".repeat(depth));
    plain.push_str(&"</a>".repeat(depth));
    plain.push_str("</methodCall>");
    let result = server.call_raw(plain);
    assert!(result.is_err(), "100,000 nested <a>: {result:?}");
    server.assert_alive();
    assert_eq!(
        server.call_raw(ping()),
        Ok(Value::from("ping")),
        "the next request"
    );
}

#[test]
fn unsupported_encoding_is_32701() {
    let server = interop();
    for encoding in ["EBCDIC-XYZ", "x-unknown", "UTF-99"] {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\
             <methodCall><methodName>interop.echo</methodName><params><param>\
             <value>abc</value></param></params></methodCall>"
        );
        assert_fault(&server.call_raw(body), UNSUPPORTED_ENCODING, encoding);
    }
}

#[test]
fn not_a_method_call_is_32600() {
    let server = interop();
    for body in [
        "<foo/>",
        "<?xml version=\"1.0\"?><methodResponse><params><param><value>1</value></param>\
         </params></methodResponse>",
        "<methodCall><params/></methodCall>",
        "<methodCall><methodName></methodName><params/></methodCall>",
        "<methodCall><methodName>   </methodName></methodCall>",
        "<methodCall><methodName>interop.echo</methodName><params><value>1</value>\
         </params></methodCall>",
        "<methodCall><methodName>interop.echo</methodName><params><param><int>1</int>\
         </param></params></methodCall>",
        "<methodCall><methodName>interop.echo</methodName><params><param><value>\
         <struct><member><value>1</value></member></struct></value></param></params>\
         </methodCall>",
        "<methodCall><methodName>interop.echo</methodName><params><param><value>\
         <array><value>1</value></array></value></param></params></methodCall>",
        "<methodCall><methodName>interop.echo</methodName><params><param><value>\
         <bogus>1</bogus></value></param></params></methodCall>",
    ] {
        assert_fault(
            &server.call_raw(body),
            INVALID_REQUEST,
            &format!("body {body:?}"),
        );
    }
}

#[test]
fn invalid_scalars_are_faults() {
    // The fault code for a malformed scalar is not pinned down by the spec; any fault will
    // do, but it must not be silently accepted (or wrapped around).
    let server = interop();
    for value in [
        "<value><int>abc</int></value>",
        "<value><int>1.5</int></value>",
        "<value><int>99999999999999999999</int></value>",
        "<value><i8>9223372036854775808</i8></value>",
        "<value><boolean>2</boolean></value>",
        "<value><double>NaN</double></value>",
        "<value><double>inf</double></value>",
        "<value><double>1e400</double></value>",
        "<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>",
        "<value><dateTime.iso8601>20241302T03:04:05</dateTime.iso8601></value>",
        "<value><base64>***</base64></value>",
    ] {
        let result = echo_xml(&server, value);
        assert!(result.is_err(), "{value} should be a fault, got {result:?}");
    }
}

#[test]
fn apache_serializable_and_dom_are_refused() {
    let server = interop();
    for value in [
        "<value><ex:serializable>rO0ABXQAA2FiYw==</ex:serializable></value>",
        "<value><ex:dom><x/></ex:dom></value>",
    ] {
        let body = format!(
            "<methodCall xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\">\
             <methodName>interop.echo</methodName><params><param>{value}</param></params>\
             </methodCall>"
        );
        let result = server.call_raw(body);
        assert!(result.is_err(), "{value} should be a fault, got {result:?}");
    }
}

#[test]
fn unknown_method_is_32601() {
    let server = interop();
    for name in [
        "no.such.method",
        "system.nothing",
        "validator1.nope",
        "interop",
    ] {
        let result = server.call(name, &[]);
        assert_fault(&result, METHOD_NOT_FOUND, name);
        let message = result.err().map(|fault| fault.message).unwrap_or_default();
        assert!(!message.is_empty());
    }
}

#[test]
fn interop_methods_are_off_by_default() {
    let server = Server::shared(&[]);
    let result = server.call("validator1.easyStructTest", &[stooges(1, 2, 3)]);
    assert_fault(
        &result,
        METHOD_NOT_FOUND,
        "validator1 without --enable-interop",
    );
    let result = server.call("interop.echo", &[Value::from("x")]);
    assert_fault(
        &result,
        METHOD_NOT_FOUND,
        "interop.echo without --enable-interop",
    );
    // The core still answers.
    let methods = server.call("system.listMethods", &[]).expect("listMethods");
    let Value::Array(names) = methods else {
        panic!("listMethods returned {methods:?}")
    };
    assert!(names.contains(&Value::from("system.listMethods")));
    assert!(!names.contains(&Value::from("interop.echo")));
    assert!(!names.contains(&Value::from("validator1.easyStructTest")));
}

#[test]
fn wrong_params_are_1004() {
    let server = interop();
    let cases: Vec<(&str, Vec<Value>)> = vec![
        ("validator1.easyStructTest", vec![]),
        (
            "validator1.easyStructTest",
            vec![stooges(1, 2, 3), stooges(1, 2, 3)],
        ),
        ("validator1.easyStructTest", vec![Value::Int(6)]),
        (
            "validator1.easyStructTest",
            vec![Value::structure([("moe", Value::Int(1))])],
        ),
        (
            "validator1.simpleStructReturnTest",
            vec![Value::from("ten")],
        ),
        ("validator1.manyTypesTest", vec![Value::Int(1)]),
        (
            "validator1.moderateSizeArrayCheck",
            vec![Value::Array(vec![])],
        ),
        ("interop.echo", vec![]),
        ("interop.echo", vec![Value::Int(1), Value::Int(2)]),
        ("system.methodHelp", vec![]),
        ("system.methodSignature", vec![Value::Array(vec![])]),
    ];
    for (method, params) in cases {
        let result = server.call(method, &params);
        assert_fault(&result, BAD_PARAMS, &format!("{method}{params:?}"));
    }
}

#[test]
fn simple_struct_return_overflow_is_a_fault_not_a_wrap() {
    let server = interop();
    let result = server.call(
        "validator1.simpleStructReturnTest",
        &[Value::Int(i64::MAX / 20)],
    );
    assert_fault(&result, BAD_PARAMS, "n * 1000 beyond i64");
}

// ---------------------------------------------------------------------------------------
// Encodings and text

#[test]
fn iso_8859_1_prolog_is_decoded() {
    let server = interop();
    let mut body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\
        <methodCall><methodName>interop.echo</methodName><params><param><value><string>caf"
        .to_vec();
    body.push(0xE9);
    body.extend_from_slice(b" \xC0 \xFF</string></value></param></params></methodCall>");
    let (text, result) = server.call_raw_at("/xmlrpc", body);
    assert_eq!(result, Ok(Value::from("café À ÿ")));
    assert!(text.contains("café") || text.contains("caf&#233;") || text.contains("caf&#xE9;"));
    // Lower-case and alias spellings of the label.
    for label in ["iso-8859-1", "latin1"] {
        let mut body = format!(
            "<?xml version=\"1.0\" encoding=\"{label}\"?><methodCall><methodName>interop.echo\
             </methodName><params><param><value>"
        )
        .into_bytes();
        body.push(0xE9);
        body.extend_from_slice(b"</value></param></params></methodCall>");
        assert_eq!(
            server.call_raw(body),
            Ok(Value::from("é")),
            "encoding {label}"
        );
    }
}

#[test]
fn us_ascii_prolog_with_character_references() {
    let server = interop();
    let body = "<?xml version=\"1.0\" encoding=\"us-ascii\"?><methodCall><methodName>\
        interop.echo</methodName><params><param><value><string>caf&#233; &#xE9;&#x1F600;\
        </string></value></param></params></methodCall>";
    assert_eq!(server.call_raw(body), Ok(Value::from("café é😀")));
}

#[test]
fn utf8_bom_and_missing_prolog_are_tolerated() {
    let server = interop();
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend_from_slice(ping().as_bytes());
    assert_eq!(
        server.call_raw(with_bom),
        Ok(Value::from("ping")),
        "BOM + prolog"
    );
    let bare = "<methodCall><methodName>interop.echo</methodName><params><param>\
        <value><string>é€</string></value></param></params></methodCall>";
    assert_eq!(
        server.call_raw(bare),
        Ok(Value::from("é€")),
        "no prolog = UTF-8"
    );
    let single_quotes = "<?xml version='1.0'?>\n<methodCall>\n<methodName>interop.echo\
        </methodName>\n<params>\n<param>\n<value><string>x</string></value>\n</param>\n\
        </params>\n</methodCall>\n";
    assert_eq!(
        server.call_raw(single_quotes),
        Ok(Value::from("x")),
        "Python's prolog"
    );
}

#[test]
fn untyped_value_is_a_string() {
    let server = interop();
    assert_eq!(
        echo_xml(&server, "<value>abc</value>"),
        Ok(Value::from("abc"))
    );
    assert_eq!(
        echo_xml(&server, "<value>  two  words \n</value>"),
        Ok(Value::from("  two  words \n")),
        "whitespace in an untyped value is kept"
    );
    assert_eq!(echo_xml(&server, "<value/>"), Ok(Value::from("")));
    assert_eq!(echo_xml(&server, "<value></value>"), Ok(Value::from("")));
    assert_eq!(
        echo_xml(&server, "<value>42</value>"),
        Ok(Value::from("42"))
    );
    assert_eq!(
        echo_xml(&server, "<value>\n   <int>7</int>\n</value>"),
        Ok(Value::Int(7)),
        "whitespace around a typed child is insignificant"
    );
    assert_eq!(
        echo_xml(&server, "<value><string/></value>"),
        Ok(Value::from(""))
    );
    assert_eq!(
        echo_xml(&server, "<value><string>  x  </string></value>"),
        Ok(Value::from("  x  ")),
        "strings are never trimmed"
    );
}

#[test]
fn entities_and_cdata_are_text() {
    let server = interop();
    assert_eq!(
        echo_xml(
            &server,
            "<value><string>&lt;&amp;&gt;&quot;&apos;&#233;&#xE9;</string></value>"
        ),
        Ok(Value::from("<&>\"'éé"))
    );
    assert_eq!(
        echo_xml(
            &server,
            "<value><string><![CDATA[<a & b>]]></string></value>"
        ),
        Ok(Value::from("<a & b>"))
    );
    assert_eq!(
        echo_xml(&server, "<value>x<![CDATA[ <y> ]]>z</value>"),
        Ok(Value::from("x <y> z")),
        "CDATA in an untyped value"
    );
    // Text that looks like markup goes back escaped and round-trips.
    let tricky = "]]> <methodResponse> &amp; </value>";
    assert_eq!(
        server.call("interop.echo", &[Value::from(tricky)]),
        Ok(Value::from(tricky))
    );
}

#[test]
fn control_and_astral_characters_round_trip() {
    let server = interop();
    let text = "tab\tnewline\ncr\r😀 \u{FFFD}";
    let result = server.call("interop.echo", &[Value::from(text)]);
    assert_eq!(result, Ok(Value::from(text)));
}

// ---------------------------------------------------------------------------------------
// Types

#[test]
fn i8_is_accepted_and_small_values_go_back_as_int() {
    let server = interop();
    let (text, result) = echo_xml_text(&server, "<value><i8>5</i8></value>");
    assert_eq!(result, Ok(Value::Int(5)));
    assert!(
        matches!(result_type_tag(&text).as_str(), "int" | "i4"),
        "a value that fits in 32 bits must go out as <int>: {text}"
    );
    let (text, result) = echo_xml_text(&server, "<value><i8>9007199254740993</i8></value>");
    assert_eq!(result, Ok(Value::Int(9_007_199_254_740_993)));
    assert_eq!(result_type_tag(&text), "i8", "{text}");
    let (_, result) = echo_xml_text(&server, "<value><i8>-9223372036854775808</i8></value>");
    assert_eq!(result, Ok(Value::Int(i64::MIN)));
}

#[test]
fn integer_beyond_i32_comes_back_as_i8() {
    let server = interop();
    for (input, expected) in [
        ("<int>3000000000</int>", 3_000_000_000_i64),
        ("<int>-3000000000</int>", -3_000_000_000),
        ("<int>2147483648</int>", 2_147_483_648),
    ] {
        let (text, result) = echo_xml_text(&server, &format!("<value>{input}</value>"));
        assert_eq!(result, Ok(Value::Int(expected)), "{input}");
        assert_eq!(result_type_tag(&text), "i8", "{input} -> {text}");
        assert_eq!(first_text_of(&text, "i8"), Some(expected.to_string()));
    }
    for (input, expected) in [
        ("<int>2147483647</int>", i64::from(i32::MAX)),
        ("<i4>-2147483648</i4>", i64::from(i32::MIN)),
        ("<int> +0042 </int>", 42),
    ] {
        let (text, result) = echo_xml_text(&server, &format!("<value>{input}</value>"));
        assert_eq!(result, Ok(Value::Int(expected)), "{input}");
        assert!(
            matches!(result_type_tag(&text).as_str(), "int" | "i4"),
            "{input} -> {text}"
        );
    }
}

#[test]
fn apache_extension_namespace_i8_and_nil() {
    let server = interop();
    let ns = "http://ws.apache.org/xmlrpc/namespaces/extensions";
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall xmlns:ex=\"{ns}\">\
         <methodName>interop.echo</methodName><params><param><value><array><data>\
         <value><ex:i8>9007199254740993</ex:i8></value><value><ex:nil/></value>\
         <value><ex:i8>12</ex:i8></value><value><nil/></value><value><nil></nil></value>\
         </data></array></value></param></params></methodCall>"
    );
    let (text, result) = server.call_raw_at("/xmlrpc", body);
    assert_eq!(
        result,
        Ok(Value::Array(vec![
            Value::Int(9_007_199_254_740_993),
            Value::Nil,
            Value::Int(12),
            Value::Nil,
            Value::Nil,
        ])),
        "{text}"
    );
    let (text, result) = echo_xml_text(&server, "<value><nil/></value>");
    assert_eq!(result, Ok(Value::Nil));
    assert_eq!(result_type_tag(&text), "nil");
}

#[test]
fn every_datetime_spelling_comes_back_compact() {
    let server = interop();
    for spelling in [
        "20240102T03:04:05",
        "2024-01-02T03:04:05",
        "20240102T030405",
        "20240102T03:04:05Z",
        "2024-01-02T03:04:05Z",
        "20240102T04:04:05+01:00",
        "2024-01-02T04:04:05+01:00",
        "20240102T04:04:05+0100",
        "20240102T01:34:05-01:30",
        "20240101T23:04:05-04:00",
    ] {
        let (text, result) = echo_xml_text(
            &server,
            &format!("<value><dateTime.iso8601>{spelling}</dateTime.iso8601></value>"),
        );
        assert_eq!(result, Ok(jan2()), "{spelling}: {text}");
        assert_eq!(
            first_text_of(&text, "dateTime.iso8601").as_deref(),
            Some("20240102T03:04:05"),
            "{spelling}"
        );
    }
}

#[test]
fn base64_with_embedded_whitespace() {
    let server = interop();
    let (text, result) = echo_xml_text(
        &server,
        "<value><base64>\n  aGVs\nbG8g\r\n d29y bGQ=\n</base64></value>",
    );
    assert_eq!(result, Ok(Value::Base64(b"hello world".to_vec())), "{text}");
    assert_eq!(
        echo_xml(&server, "<value><base64></base64></value>"),
        Ok(Value::Base64(vec![]))
    );
    assert_eq!(
        echo_xml(&server, "<value><base64/></value>"),
        Ok(Value::Base64(vec![]))
    );
    let all: Vec<u8> = (0..=255).collect();
    let result = server.call("interop.echo", &[Value::Base64(all.clone())]);
    assert_eq!(result, Ok(Value::Base64(all)));
}

#[test]
fn booleans_are_lenient_in_and_strict_out() {
    let server = interop();
    for (input, expected) in [("1", true), ("0", false), ("true", true), ("false", false)] {
        let (text, result) = echo_xml_text(
            &server,
            &format!("<value><boolean>{input}</boolean></value>"),
        );
        assert_eq!(result, Ok(Value::Bool(expected)), "{input}");
        assert_eq!(
            first_text_of(&text, "boolean").as_deref(),
            Some(if expected { "1" } else { "0" })
        );
    }
}

#[test]
fn doubles_round_trip_in_plain_decimal() {
    let server = interop();
    for input in [
        "1e10",
        "-2.5E-3",
        "0.1",
        "+3.25",
        "42",
        "123456789.123456789",
        "-0.0",
    ] {
        let expected: f64 = input.parse().expect("a float");
        let (text, result) =
            echo_xml_text(&server, &format!("<value><double>{input}</double></value>"));
        assert_eq!(result, Ok(Value::Double(expected)), "{input}: {text}");
        let emitted = first_text_of(&text, "double").unwrap_or_default();
        assert!(
            !emitted.contains(['e', 'E']),
            "{input} went out with an exponent: {emitted}"
        );
    }
    for number in [f64::MAX, f64::MIN_POSITIVE, 5e-324, -1.0 / 3.0] {
        let result = server.call("interop.echo", &[Value::Double(number)]);
        assert_eq!(
            result,
            Ok(Value::Double(number)),
            "{number:e} must round-trip exactly"
        );
    }
}

#[test]
fn params_may_be_empty_absent_or_pretty_printed() {
    let server = interop();
    for body in [
        "<methodCall><methodName>system.listMethods</methodName><params/></methodCall>",
        "<methodCall><methodName>system.listMethods</methodName><params></params></methodCall>",
        "<methodCall><methodName>system.listMethods</methodName></methodCall>",
        "<methodCall><methodName>  system.listMethods\n</methodName></methodCall>",
    ] {
        let result = server.call_raw(body);
        assert!(matches!(result, Ok(Value::Array(_))), "{body}: {result:?}");
    }
    let pretty = r#"<?xml version="1.0" encoding="UTF-8"?>
<methodCall>
  <methodName>validator1.echoStructTest</methodName>
  <params>
    <param>
      <value>
        <struct>
          <member>
            <name>count</name>
            <value>
              <int>3</int>
            </value>
          </member>
          <member>
            <name>list</name>
            <value>
              <array>
                <data>
                  <value><string>a</string></value>
                  <value>
                    <boolean>1</boolean>
                  </value>
                </data>
              </array>
            </value>
          </member>
          <member>
            <name>empty</name>
            <value>
              <struct>
              </struct>
            </value>
          </member>
        </struct>
      </value>
    </param>
  </params>
</methodCall>
"#;
    let expected = Value::structure([
        ("count", Value::Int(3)),
        (
            "list",
            Value::Array(vec![Value::from("a"), Value::Bool(true)]),
        ),
        ("empty", Value::Struct(Struct::default())),
    ]);
    assert_eq!(server.call_raw(pretty), Ok(expected));
}

#[test]
fn struct_member_order_is_preserved() {
    let server = interop();
    let names = [
        "zulu", "alpha", "mike", "bravo", "yankee", "charlie", "x", "a",
    ];
    let members: Struct = names
        .iter()
        .enumerate()
        .map(|(index, name)| ((*name).to_owned().into(), Value::Int(index as i64)))
        .collect();
    let result = server.call(
        "validator1.echoStructTest",
        &[Value::Struct(members.clone())],
    );
    let Ok(Value::Struct(back)) = result else {
        panic!("echoStructTest returned {result:?}")
    };
    let order: Vec<&str> = back.keys().map(AsRef::as_ref).collect();
    assert_eq!(order, names);
    assert_eq!(back, members);
}

#[test]
fn nested_values_round_trip() {
    let server = interop();
    let value = Value::structure([
        ("when", jan2()),
        ("bytes", Value::Base64(vec![0, 255])),
        (
            "rows",
            Value::Array(vec![
                Value::structure([("id", Value::Int(1)), ("ok", Value::Bool(true))]),
                Value::Array(vec![]),
                Value::Struct(Struct::default()),
                Value::Nil,
                Value::Double(-0.5),
            ]),
        ),
        ("", Value::from("empty name")),
    ]);
    assert_eq!(
        server.call("interop.echo", std::slice::from_ref(&value)),
        Ok(value)
    );
}

// ---------------------------------------------------------------------------------------
// System methods

#[test]
fn introspection_lists_the_interop_methods() {
    let server = interop();
    let Ok(Value::Array(names)) = server.call("system.listMethods", &[]) else {
        panic!("listMethods did not return an array")
    };
    for name in [
        "system.listMethods",
        "system.methodHelp",
        "system.methodSignature",
        "system.multicall",
        "system.listApps",
        "system.time",
        "system.phpgw_api_version",
        "system.getCapabilities",
        "validator1.arrayOfStructsTest",
        "validator1.countTheEntities",
        "validator1.easyStructTest",
        "validator1.echoStructTest",
        "validator1.manyTypesTest",
        "validator1.moderateSizeArrayCheck",
        "validator1.nestedStructTest",
        "validator1.simpleStructReturnTest",
        "interop.echo",
    ] {
        assert!(
            names.contains(&Value::from(name)),
            "listMethods lacks {name}"
        );
    }
    let signature = server.call(
        "system.methodSignature",
        &[Value::from("validator1.manyTypesTest")],
    );
    let expected = Value::Array(vec![Value::Array(
        [
            "array",
            "int",
            "boolean",
            "string",
            "double",
            "dateTime.iso8601",
            "base64",
        ]
        .into_iter()
        .map(Value::from)
        .collect(),
    )]);
    assert_eq!(signature, Ok(expected));
    let help = server.call(
        "system.methodHelp",
        &[Value::from("validator1.easyStructTest")],
    );
    assert!(
        matches!(&help, Ok(Value::String(text)) if !text.is_empty()),
        "{help:?}"
    );
    let result = server.call("system.methodHelp", &[Value::from("no.such.method")]);
    assert_fault(&result, METHOD_NOT_FOUND, "methodHelp of an unknown method");
}

#[test]
fn multicall_slots_follow_the_boxcarring_spec() {
    let server = interop();
    let call = |name: &str, params: Vec<Value>| {
        Value::structure([
            ("methodName", Value::from(name)),
            ("params", Value::Array(params)),
        ])
    };
    let calls = Value::Array(vec![
        call("validator1.easyStructTest", vec![stooges(1, 2, 3)]),
        call("no.such.method", vec![]),
        call("interop.echo", vec![Value::from("x")]),
        call("system.multicall", vec![Value::Array(vec![])]),
        Value::from("not a struct"),
        Value::structure([("params", Value::Array(vec![]))]),
        Value::structure([
            ("methodName", Value::from("interop.echo")),
            ("params", Value::Int(1)),
        ]),
        call("interop.echo", vec![]),
    ]);
    let result = server.call("system.multicall", &[calls]);
    let Ok(Value::Array(slots)) = result else {
        panic!("multicall returned {result:?}")
    };
    assert_eq!(slots.len(), 8);
    assert_eq!(
        slots[0],
        Value::Array(vec![Value::Int(6)]),
        "success is a one-element array"
    );
    assert_eq!(slots[2], Value::Array(vec![Value::from("x")]));
    let fault_code = |slot: &Value| -> i64 {
        let members = slot
            .as_struct()
            .unwrap_or_else(|| panic!("not a fault struct: {slot:?}"));
        assert_eq!(members.len(), 2, "{slot:?}");
        assert!(
            matches!(members.get("faultString"), Some(Value::String(_))),
            "{slot:?}"
        );
        match members.get("faultCode") {
            Some(Value::Int(code)) => *code,
            _ => panic!("no int faultCode in {slot:?}"),
        }
    };
    assert_eq!(fault_code(&slots[1]), i64::from(METHOD_NOT_FOUND));
    let nested = fault_code(&slots[3]);
    assert!(nested != 0, "nested multicall is refused in its slot");
    fault_code(&slots[4]);
    fault_code(&slots[5]);
    fault_code(&slots[6]);
    assert_eq!(fault_code(&slots[7]), i64::from(BAD_PARAMS));

    // The outer call faults only when its parameter is not an array.
    let result = server.call("system.multicall", &[Value::from("nope")]);
    assert_fault(&result, BAD_PARAMS, "multicall of a string");
    let result = server.call("system.multicall", &[Value::Array(vec![])]);
    assert_eq!(result, Ok(Value::Array(vec![])));
}

#[test]
fn multicall_refuses_more_than_50_calls() {
    let server = interop();
    let one = Value::structure([
        ("methodName", Value::from("interop.echo")),
        ("params", Value::Array(vec![Value::Int(1)])),
    ]);
    let fifty = Value::Array(vec![one.clone(); 50]);
    let result = server.call("system.multicall", &[fifty]);
    assert!(
        matches!(&result, Ok(Value::Array(slots)) if slots.len() == 50),
        "50 calls are allowed: {result:?}"
    );
    let result = server.call("system.multicall", &[Value::Array(vec![one; 51])]);
    assert!(result.is_err(), "51 calls must be refused: {result:?}");
}

#[test]
fn system_calls_need_no_session() {
    let server = interop();
    for method in [
        "system.time",
        "system.phpgw_api_version",
        "system.getCapabilities",
        "system.listApps",
    ] {
        let result = server.call(method, &[]);
        assert!(result.is_ok(), "{method}: {result:?}");
    }
    let Ok(Value::Struct(capabilities)) = server.call("system.getCapabilities", &[]) else {
        panic!("getCapabilities is not a struct")
    };
    for name in [
        "xmlrpc",
        "system.multicall",
        "introspect",
        "faultcode_interop",
    ] {
        let entry = capabilities.get(name).and_then(Value::as_struct);
        let entry = entry.unwrap_or_else(|| panic!("capability {name} missing"));
        assert!(
            matches!(entry.get("specUrl"), Some(Value::String(_))),
            "{name}"
        );
        assert!(
            matches!(entry.get("specVersion"), Some(Value::Int(_))),
            "{name}"
        );
    }
}
