//! The JSON-RPC endpoint end to end: real clients (Python's json + urllib, curl, npm
//! jayson), batches, notifications, the 1.0 form, authentication, the GET rule, JSONP and
//! hostile input, all against the real server binary.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{Server, basic_authorization, on_ci, tool_available};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// POSTs a JSON document to /jsonrpc with optional Basic credentials.
fn post(
    server: &Server,
    body: &Json,
    auth: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    post_raw(server, body.to_string().into_bytes(), auth)
}

fn post_raw(
    server: &Server,
    body: Vec<u8>,
    auth: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut headers = vec![JSON];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    server.request("POST", "/jsonrpc", &headers, Some(body))
}

/// POSTs and decodes, asserting HTTP 200 and a JSON content type.
fn call(server: &Server, body: &Json, auth: Option<&str>) -> Json {
    let (status, headers, text) = post(server, body, auth);
    assert_eq!(status, StatusCode::OK, "{body} → {text}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

fn request(method: &str, params: Json, id: Json) -> Json {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id})
}

/// Logs the demo user in over JSON-RPC; returns the `Authorization` header value.
fn login(server: &Server) -> String {
    let reply = call(
        server,
        &request(
            "system.login",
            json!({"username": "demo", "password": "guest"}),
            json!(1),
        ),
        None,
    );
    let tokens = &reply["result"];
    basic_authorization(
        tokens["sessionid"].as_str().expect("sessionid"),
        tokens["kp3"].as_str().expect("kp3"),
    )
}

fn error_code(reply: &Json) -> i64 {
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error reply: {reply}"))
}

fn assert_script_passed(what: &str, output: &Output, server: &Server) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- {what} stdout ---\n{stdout}\n--- {what} stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "{what} failed ({}); its output is above.\n--- server stderr ---\n{}",
        output.status,
        server.stderr()
    );
}

#[test]
fn python_json_over_http_client() {
    let server = Server::start(&["--demo"]);
    let Some(output) = server.python("jsonrpc_python.py", &["demo", "guest"]) else {
        return;
    };
    assert_script_passed("jsonrpc_python.py", &output, &server);
}

#[test]
fn npm_jayson_client() {
    if !tool_available("node", "npm_jayson_client") {
        return;
    }
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "clients",
        "node-jsonrpc",
    ]
    .iter()
    .collect();
    if !dir.join("node_modules").join("jayson").is_dir() {
        let message = format!(
            "jayson is not installed: run `npm ci` in {} (.ci/run does)",
            dir.display()
        );
        assert!(!on_ci(), "{message}");
        eprintln!("\n!!!!!!!! SKIPPED npm_jayson_client: {message} !!!!!!!!\n");
        return;
    }
    let server = Server::start(&["--demo"]);
    let output = Command::new("node")
        .arg(dir.join("jayson_client.js"))
        .args([server.url(), "demo", "guest"])
        .output()
        .expect("run node");
    assert_script_passed("jayson_client.js", &output, &server);
}

#[test]
fn curl_client() {
    if !tool_available("curl", "curl_client") {
        return;
    }
    let server = Server::start(&["--demo"]);
    let url = format!("{}/jsonrpc", server.url());
    let curl = |body: &Json, user: Option<&str>| -> Json {
        let mut command = Command::new("curl");
        command.args([
            "-sS",
            "--fail-with-body",
            "-H",
            "Content-Type: application/json",
        ]);
        if let Some(user) = user {
            command.args(["-u", user]);
        }
        let output = command
            .args(["--data-binary", &body.to_string(), &url])
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "curl {body}: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
    };
    let tokens = curl(
        &request(
            "system.login",
            json!({"username": "demo", "password": "guest"}),
            json!(1),
        ),
        None,
    );
    let session = format!(
        "{}:{}",
        tokens["result"]["sessionid"].as_str().expect("sessionid"),
        tokens["result"]["kp3"].as_str().expect("kp3")
    );
    let listing = curl(
        &request(
            "addressbook.boaddressbook.read_entries",
            json!({"start": 0}),
            json!(2),
        ),
        Some(&session),
    );
    assert!(listing["result"].is_array(), "{listing}");
    let bye = curl(
        &request("system.logout", json!([]), json!(3)),
        Some(&session),
    );
    assert_eq!(bye["result"], json!({"GOODBYE": "XOXO"}));
    let after = curl(
        &request(
            "addressbook.boaddressbook.read_entries",
            json!([]),
            json!(4),
        ),
        Some(&session),
    );
    assert_eq!(error_code(&after), 1001, "{after}");
}

#[test]
fn batch_mixes_results_and_errors() {
    let server = Server::start(&["--demo"]);
    let auth = login(&server);
    let batch = json!([
        request("addressbook.boaddressbook.read_entries", json!({"limit": 5}), json!("list")),
        request("no.such.method", json!([]), json!("unknown")),
        request("system.methodHelp", json!({"name": "x"}), json!("named")),
        {"jsonrpc": "2.0", "method": "system.time"},
        {"jsonrpc": "2.0", "id": "nomethod"},
        42,
        {"method": "system.phpgw_api_version", "params": [], "id": "old"},
        request("addressbook.boaddressbook.read", json!([{"id": 999_999}]), json!(7)),
        request("system.login", json!({"username": "demo", "password": "guest"}), json!("login")),
    ]);
    let reply = call(&server, &batch, Some(&auth));
    let replies = reply.as_array().expect("a batch reply is an array");
    assert_eq!(
        replies.len(),
        8,
        "one reply per request, none for the notification: {reply}"
    );
    let find = |id: Json| {
        replies
            .iter()
            .find(|reply| reply["id"] == id)
            .unwrap_or_else(|| panic!("no reply with id {id}: {reply}"))
    };
    assert!(find(json!("list"))["result"].is_array());
    assert_eq!(error_code(find(json!("unknown"))), -32601);
    assert_eq!(error_code(find(json!("named"))), -32602);
    assert_eq!(error_code(find(json!(7))), 1004);
    let old = find(json!("old"));
    assert_eq!(old["error"], Json::Null, "1.0 form inside a batch: {old}");
    assert!(old.get("jsonrpc").is_none());
    assert_eq!(error_code(find(json!("nomethod"))), -32600);
    let invalid: Vec<_> = replies.iter().filter(|r| r["id"].is_null()).collect();
    assert_eq!(invalid.len(), 1, "{reply}");
    assert_eq!(error_code(invalid[0]), -32600);
    // The one login a request may carry works in a batch, too.
    assert!(find(json!("login"))["result"]["sessionid"].is_string());

    // Limits and edge cases of batches themselves.
    let empty = call(&server, &json!([]), None);
    assert_eq!(
        (error_code(&empty), empty["id"].clone()),
        (-32600, Json::Null)
    );
    let too_many: Vec<Json> = (0..51)
        .map(|i| request("system.time", json!([]), json!(i)))
        .collect();
    let reply = call(&server, &Json::Array(too_many), None);
    assert_eq!(error_code(&reply), -32600, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("50"))
    );
    let fifty: Vec<Json> = (0..50)
        .map(|i| request("system.time", json!([]), json!(i)))
        .collect();
    let reply = call(&server, &Json::Array(fifty), None);
    assert_eq!(reply.as_array().map(Vec::len), Some(50));
}

#[test]
fn notifications_get_no_reply() {
    let server = Server::start(&["--demo"]);
    let auth = login(&server);
    let (status, headers, body) = post(
        &server,
        &json!({"jsonrpc": "2.0", "method": "system.time"}),
        None,
    );
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    assert!(headers.get("content-type").is_none());
    let (status, _, body) = post(
        &server,
        &json!([
            {"jsonrpc": "2.0", "method": "system.time"},
            {"method": "system.time", "params": [], "id": null},
        ]),
        None,
    );
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NO_CONTENT, ""),
        "only notifications"
    );
    // A notification still runs: logging out this way ends the session.
    let (status, _, _) = post(
        &server,
        &json!({"jsonrpc": "2.0", "method": "system.logout", "params": []}),
        Some(&auth),
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = call(
        &server,
        &request(
            "addressbook.boaddressbook.read_entries",
            json!([]),
            json!(1),
        ),
        Some(&auth),
    );
    assert_eq!(error_code(&after), 1001, "{after}");
    // An unreadable "notification" is still answered.
    let reply = call(&server, &json!({"jsonrpc": "2.0", "method": 5}), None);
    assert_eq!(
        (error_code(&reply), reply["id"].clone()),
        (-32600, Json::Null)
    );
}

#[test]
fn version_1_requests_get_version_1_replies() {
    let server = Server::start(&["--enable-interop"]);
    let reply = call(
        &server,
        &json!({"method": "interop.echo", "params": ["hi"], "id": "a"}),
        None,
    );
    assert_eq!(reply, json!({"result": "hi", "error": null, "id": "a"}));
    let reply = call(
        &server,
        &json!({"method": "no.such", "params": [], "id": 3}),
        None,
    );
    assert_eq!(reply["result"], Json::Null);
    assert_eq!(reply["id"], json!(3));
    assert_eq!(error_code(&reply), -32601);
    let reply = call(
        &server,
        &json!({"jsonrpc": "1.1", "method": "interop.echo", "params": [], "id": 3}),
        None,
    );
    assert_eq!(error_code(&reply), -32600);
}

#[test]
fn types_follow_the_trac_convention() {
    let server = Server::start(&["--enable-interop"]);
    let value = json!({
        "when": {"__jsonclass__": ["datetime", "2024-01-02T03:04:05"]},
        "data": {"__jsonclass__": ["binary", "AAEC/w=="]},
        "big": i64::MAX,
        "negative": i64::MIN,
        "nothing": null,
        "list": [1.5, true, "ü"]
    });
    let reply = call(
        &server,
        &request("interop.echo", json!([value]), json!(1)),
        None,
    );
    assert_eq!(reply["result"], value, "{reply}");
    let text = post(
        &server,
        &request("interop.echo", json!([i64::MAX]), json!(1)),
        None,
    )
    .2;
    assert!(
        text.contains("9223372036854775807"),
        "exact i8 on the wire: {text}"
    );
    // Other spellings of a date are accepted and answered in the canonical form.
    let reply = call(
        &server,
        &request(
            "interop.echo",
            json!([{"__jsonclass__": ["datetime", "20240102T04:04:05+01:00"]}]),
            json!(1),
        ),
        None,
    );
    assert_eq!(
        reply["result"],
        json!({"__jsonclass__": ["datetime", "2024-01-02T03:04:05"]})
    );
    for bad in [
        json!({"__jsonclass__": ["pickle", "x"]}),
        json!({"__jsonclass__": ["datetime", "soon"]}),
        json!({"__jsonclass__": ["binary", "*"]}),
        json!(18_446_744_073_709_551_615_u64),
    ] {
        let reply = call(
            &server,
            &request("interop.echo", json!([bad]), json!(1)),
            None,
        );
        assert_eq!(error_code(&reply), -32602, "{bad}: {reply}");
    }
}

#[test]
fn authentication_matches_xmlrpc() {
    let server = Server::start(&["--demo"]);
    let listing = request(
        "addressbook.boaddressbook.read_entries",
        json!([]),
        json!(1),
    );
    let (status, headers, text) = post(&server, &listing, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"groupware\"")
    );
    let reply: Json = serde_json::from_str(&text).expect("JSON body with the 401");
    assert_eq!(
        reply["error"],
        json!({"code": 1001, "message": "Session expired"})
    );
    let password = basic_authorization("demo", "guest");
    assert!(call(&server, &listing, Some(&password))["result"].is_array());
    let wrong = basic_authorization("demo", "wrong");
    assert_eq!(error_code(&call(&server, &listing, Some(&wrong))), 1001);
    let session = login(&server);
    assert!(call(&server, &listing, Some(&session))["result"].is_array());
}

#[test]
fn get_runs_only_read_only_methods() {
    let server = Server::start(&["--demo"]);
    let get = |query: &str, auth: Option<&str>| {
        let mut headers = Vec::new();
        if let Some(auth) = auth {
            headers.push(("Authorization", auth));
        }
        let (status, response_headers, text) =
            server.request("GET", &format!("/jsonrpc?{query}"), &headers, None);
        let content_type = response_headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, content_type, text)
    };
    let (status, content_type, text) = get("method=system.listMethods&id=4", None);
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(reply["id"], json!(4));
    assert!(
        reply["result"]
            .as_array()
            .is_some_and(|names| names.contains(&json!("system.login")))
    );

    let auth = basic_authorization("demo", "guest");
    let (_, _, text) = get(
        "method=addressbook.boaddressbook.read_entries&params=%5B%7B%22limit%22%3A1%7D%5D&id=x",
        Some(&auth),
    );
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    assert!(reply["result"].is_array(), "{reply}");

    for method in [
        "addressbook.boaddressbook.write",
        "addressbook.boaddressbook.delete",
        "system.login",
        "system.logout",
        "system.multicall",
    ] {
        let (status, _, text) = get(&format!("method={method}&params=%5B%5D&id=1"), Some(&auth));
        let reply: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            (status, error_code(&reply)),
            (StatusCode::OK, -32600),
            "{method}"
        );
        let message = reply["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("GET never changes data"),
            "{method}: {message}"
        );
    }
    let (_, _, text) = get("method=system.time&method=system.listApps", None);
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(error_code(&reply), -32600, "a repeated query field");
    let (_, _, text) = get("method=system.time&params=%5B", None);
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(error_code(&reply), -32700, "params that are not JSON");
    // Without method= the endpoint shows the documentation.
    let (status, content_type, text) = get("", None);
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html; charset=utf-8")
    );
    assert!(text.contains("data-method=\"system.login\""));
}

#[test]
fn jsonp_is_off_by_default() {
    let server = Server::start(&["--demo"]);
    let (status, headers, text) = server.request(
        "GET",
        "/jsonrpc?method=system.time&id=1&callback=cb",
        &[],
        None,
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "never JavaScript while JSONP is off"
    );
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    assert_eq!(error_code(&reply), -32600);
    assert!(text.contains("--jsonp"), "{text}");
}

#[test]
fn jsonp_is_anonymous_and_checks_callbacks() {
    let server = Server::start(&["--demo", "--jsonp"]);
    let (status, headers, text) = server.request(
        "GET",
        "/jsonrpc?method=system.phpgw_api_version&id=1&callback=jQuery_1.cbs%5B0%5D",
        &[],
        None,
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(
        headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    let inner = text
        .strip_prefix("/**/jQuery_1.cbs[0](")
        .and_then(|rest| rest.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a JSONP body: {text}"));
    let reply: Json = serde_json::from_str(inner).expect("JSON inside");
    assert!(reply["result"].is_string());

    for callback in ["alert(1)", "a%3Bb", "%3Cscript%3E", "a%20b", ""] {
        let (_, headers, text) = server.request(
            "GET",
            &format!("/jsonrpc?method=system.time&id=1&callback={callback}"),
            &[],
            None,
        );
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{callback}"
        );
        let reply: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(error_code(&reply), -32600, "{callback}");
    }

    // The browser's ambient credentials are never used: a session method answers with an
    // error even with a valid Authorization header, and no 401 challenge is sent.
    let auth = basic_authorization("demo", "guest");
    let (status, headers, text) = server.request(
        "GET",
        "/jsonrpc?method=addressbook.boaddressbook.read_entries&id=1&callback=cb",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("www-authenticate").is_none());
    assert!(text.starts_with("/**/cb("), "{text}");
    assert!(
        text.contains("\"code\":1001") && text.contains("JSONP calls are anonymous"),
        "{text}"
    );
    // A public method sees the caller as anonymous, too.
    let (_, _, text) = server.request(
        "GET",
        "/jsonrpc?method=system.listMethods&id=1&callback=cb",
        &[("Authorization", &auth)],
        None,
    );
    assert!(
        !text.contains("addressbook.boaddressbook.read_entries"),
        "{text}"
    );
}

#[test]
fn hostile_and_malformed_input() {
    let mut server = Server::start(&["--enable-interop", "--max-body-bytes", "65536"]);
    for body in [
        &b"{"[..],
        b"",
        b"nonsense",
        b"{\"jsonrpc\":\"2.0\",}",
        b"\xff\xfe",
    ] {
        let (status, _, text) = post_raw(&server, body.to_vec(), None);
        let reply: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            (status, error_code(&reply)),
            (StatusCode::OK, -32700),
            "{body:?}"
        );
        assert_eq!(reply["id"], Json::Null);
    }
    // Nesting beyond serde_json's recursion limit, and beyond the value depth limit.
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let (_, _, text) = post_raw(&server, deep.into_bytes(), None);
    assert_eq!(
        error_code(&serde_json::from_str(&text).expect("JSON")),
        -32700
    );
    let nested = format!(
        r#"{{"jsonrpc":"2.0","method":"interop.echo","params":[{}1{}],"id":1}}"#,
        "[".repeat(60),
        "]".repeat(60)
    );
    let (_, _, text) = post_raw(&server, nested.into_bytes(), None);
    assert_eq!(
        error_code(&serde_json::from_str(&text).expect("JSON")),
        -32700
    );
    // Over the body limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","method":"interop.echo","params":["{}"],"id":1}}"#,
        "x".repeat(70_000)
    );
    let (status, _, _) = post_raw(&server, huge.into_bytes(), None);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Content types a hostile page can send cross-site without a preflight are refused.
    let body = request("system.time", json!([]), json!(1)).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|value| vec![("Content-Type", value)])
            .unwrap_or_default();
        let (status, _, _) = server.request(
            "POST",
            "/jsonrpc",
            &headers,
            Some(body.clone().into_bytes()),
        );
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    // Odd method names never reach a lookup.
    for method in ["", "a b", "x\u{0}y", "system.time\n"] {
        let reply = call(&server, &request(method, json!([]), json!(1)), None);
        assert_eq!(error_code(&reply), -32600, "{method:?}");
    }
    server.assert_alive();
}
