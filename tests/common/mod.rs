//! Shared helpers for the integration tests: run the real `groupware` binary, talk HTTP to it,
//! and decode XML-RPC responses strictly.
//!
//! Each test binary includes this module with `mod common;`, and not every binary uses every
//! helper.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::NaiveDateTime;
use groupware_api::{Fault, Struct, Value};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;

/// How long the server may take to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP exchange may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// What the server prints on stdout once it accepts connections.
const LISTENING: &str = "groupware listening on ";

/// A running `groupware serve` process on a loopback port the kernel chose.
pub struct Server {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    client: Client,
    // Dropped after the child is killed (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `groupware serve --listen 127.0.0.1:0 --database sqlite://<tmp>/gw.db <args…>`
    /// and waits until it says where it listens.
    pub fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = format!("sqlite://{}", dir.path().join("gw.db").display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_groupware"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot run {}: {error}", env!("CARGO_BIN_EXE_groupware"))
        });

        // Drain both pipes for the whole life of the process, so the server never blocks on
        // a full pipe; stdout lines go through a channel until the listening line is seen.
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || drain_into(stderr_pipe, &stderr_sink));
        let stdout_pipe = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout_pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        // The receiver goes away once the server is up; keep draining anyway.
                        let _ = lines_tx.send(String::from_utf8_lossy(&line).into_owned());
                    }
                }
            }
        });

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut stdout_seen = String::new();
        let url = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(remaining) {
                Ok(line) => {
                    stdout_seen.push_str(&line);
                    if let Some(at) = line.find(LISTENING) {
                        let url = line[at + LISTENING.len()..].trim().to_owned();
                        assert!(
                            (url.starts_with("http://127.0.0.1:")
                                || url.starts_with("https://127.0.0.1:"))
                                && url.len() > 17,
                            "unexpected listening line {line:?}"
                        );
                        break url;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = stderr_thread.join();
                    panic!(
                        "groupware did not print {LISTENING:?} within {STARTUP_TIMEOUT:?}\n\
                         --- stdout ---\n{stdout_seen}\n--- stderr ---\n{}",
                        lock(&stderr)
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    let _ = stderr_thread.join();
                    panic!(
                        "groupware exited before listening ({status:?})\n\
                         --- stdout ---\n{stdout_seen}\n--- stderr ---\n{}",
                        lock(&stderr)
                    );
                }
            }
        };

        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .expect("HTTP client");
        Server {
            child,
            url,
            stderr,
            client,
            _dir: dir,
        }
    }

    /// A server started with `args` that other tests of this binary may share while they run.
    ///
    /// The process lives as long as some test holds the `Arc`, and is killed when the last
    /// holder drops it; a later test then starts a fresh one.
    pub fn shared(args: &[&str]) -> Arc<Server> {
        static SERVERS: OnceLock<Mutex<HashMap<Vec<String>, Weak<Server>>>> = OnceLock::new();
        let key: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let servers = SERVERS.get_or_init(|| Mutex::new(HashMap::new()));
        let mut servers = servers.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(server) = servers.get(&key).and_then(Weak::upgrade) {
            return server;
        }
        let server = Arc::new(Server::start(args));
        servers.insert(key, Arc::downgrade(&server));
        server
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id (to send it signals, or to read `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the server signal `name` (`HUP`, `TERM`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Panics (with the server's stderr) if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "the server exited ({status}); its stderr:\n{}",
                self.stderr()
            );
        }
    }

    /// Waits up to `limit` for the process to exit by itself: its exit status, or `None`
    /// while it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// POSTs `body` to `path` with the given `Content-Type`.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, HeaderMap, String) {
        let request = self
            .client
            .post(format!("{}{path}", self.url))
            .header("Content-Type", content_type)
            .body(body.into());
        self.send(request)
    }

    /// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length).
    pub fn post_chunked(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, HeaderMap, String) {
        let reader = std::io::Cursor::new(body);
        let request = self
            .client
            .post(format!("{}{path}", self.url))
            .header("Content-Type", content_type)
            .body(reqwest::blocking::Body::new(reader));
        self.send(request)
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        self.send(self.client.get(format!("{}{path}", self.url)))
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> (StatusCode, HeaderMap, String) {
        let response = request.send().unwrap_or_else(|error| {
            panic!(
                "HTTP request failed: {error:?}\nserver stderr:\n{}",
                self.stderr()
            )
        });
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().expect("response body").to_vec();
        let body = String::from_utf8(body)
            .unwrap_or_else(|error| panic!("response body is not UTF-8: {error}"));
        (status, headers, body)
    }

    /// POSTs a raw XML-RPC request body to `/xmlrpc` as `text/xml`, checks the HTTP envelope
    /// every XML-RPC answer must have, and decodes the response strictly.
    pub fn call_raw(&self, body: impl Into<Vec<u8>>) -> Result<Value, Fault> {
        self.call_raw_at("/xmlrpc", body).1
    }

    /// Like [`Server::call_raw`], also returning the response text for tag-level checks.
    pub fn call_raw_at(
        &self,
        path: &str,
        body: impl Into<Vec<u8>>,
    ) -> (String, Result<Value, Fault>) {
        let (status, headers, text) = self.post(path, "text/xml", body);
        assert_eq!(
            status,
            StatusCode::OK,
            "XML-RPC answers are 200; body: {text}"
        );
        let content_type = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok());
        assert_eq!(
            content_type,
            Some("text/xml; charset=utf-8"),
            "body: {text}"
        );
        let decoded = parse_response(&text).unwrap_or_else(|error| {
            panic!("the response is not a valid XML-RPC response: {error}\n{text}")
        });
        (text, decoded)
    }

    /// Calls `method` with `params` (encoded by [`encode_call`]).
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, Fault> {
        self.call_raw(encode_call(method, params))
    }

    /// Runs `python3 tests/clients/<script> <url> <args…>`.
    ///
    /// Returns `None` (after printing a loud SKIPPED line) when python3 is missing, unless
    /// `CI=true`, where a missing python3 is a failure.
    pub fn python(&self, script: &str, args: &[&str]) -> Option<Output> {
        let available = Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("python3 is required on CI (CI=true) but was not found");
            }
            eprintln!("\n!!!!!!!! SKIPPED: python3 not found; {script} was not run !!!!!!!!\n");
            return None;
        }
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "clients", script]
            .iter()
            .collect();
        let output = Command::new("python3")
            .arg(&path)
            .arg(&self.url)
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run python3 {}: {error}", path.display()));
        Some(output)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lock(text: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    text.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn drain_into(mut pipe: impl Read, sink: &Mutex<String>) {
    let mut buffer = [0u8; 8192];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut text = lock(sink);
                text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                // Keep the tail only: a chatty server must not grow the test's memory.
                if text.len() > 256 * 1024 {
                    let cut = text.len() - 128 * 1024;
                    let cut = (cut..text.len())
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(text.len());
                    text.replace_range(..cut, "…");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoding requests

/// Escapes text for element content (`\r` too, which XML parsers would otherwise turn
/// into `\n`).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#13;")
}

/// Encodes a value as `<value>…</value>` (strict spec forms; `nil` as `<nil/>`).
pub fn encode_value(value: &Value) -> String {
    let inner = match value {
        Value::Written(written) => return encode_value(&written.to_value()),
        Value::Int(number) if i32::try_from(*number).is_ok() => format!("<int>{number}</int>"),
        Value::Int(number) => format!("<i8>{number}</i8>"),
        Value::Bool(flag) => format!("<boolean>{}</boolean>", u8::from(*flag)),
        Value::String(text) => format!("<string>{}</string>", escape(text)),
        Value::Double(number) => format!("<double>{number}</double>"),
        Value::DateTime(moment) => format!(
            "<dateTime.iso8601>{}</dateTime.iso8601>",
            moment.format("%Y%m%dT%H:%M:%S")
        ),
        Value::Base64(bytes) => format!(
            "<base64>{}</base64>",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
        Value::Struct(members) => {
            let mut out = String::from("<struct>");
            for (name, member) in members {
                out.push_str(&format!(
                    "<member><name>{}</name>{}</member>",
                    escape(name),
                    encode_value(member)
                ));
            }
            out.push_str("</struct>");
            out
        }
        Value::Array(items) => {
            let mut out = String::from("<array><data>");
            for item in items {
                out.push_str(&encode_value(item));
            }
            out.push_str("</data></array>");
            out
        }
        Value::Nil => "<nil/>".to_owned(),
    };
    format!("<value>{inner}</value>")
}

/// A whole `methodCall` document with a UTF-8 prolog.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let params: String = params
        .iter()
        .map(|param| format!("<param>{}</param>", encode_value(param)))
        .collect();
    call_with_params_xml(method, &params)
}

/// A `methodCall` document whose `<params>` content is given as raw XML.
pub fn call_with_params_xml(method: &str, params_xml: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodCall><methodName>{method}</methodName>\
         <params>{params_xml}</params></methodCall>"
    )
}

/// A call with exactly one parameter whose `<value>` element is given as raw XML.
pub fn call_with_value_xml(method: &str, value_xml: &str) -> String {
    call_with_params_xml(method, &format!("<param>{value_xml}</param>"))
}

// ---------------------------------------------------------------------------------------
// Decoding responses (strictly: the server must emit the spec's forms)

/// Decodes a `methodResponse`: `Ok(value)` for a result, `Err(fault)` for a fault.
/// The outer `Err(String)` says why the document is not a conforming response.
pub fn parse_response(text: &str) -> Result<Result<Value, Fault>, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    let document =
        roxmltree::Document::parse_with_options(text, options).map_err(|e| e.to_string())?;
    let root = document.root_element();
    if root.tag_name().name() != "methodResponse" {
        return Err(format!("root is <{}>", root.tag_name().name()));
    }
    let children = elements(root)?;
    let [child] = children.as_slice() else {
        return Err("methodResponse must have exactly one child".into());
    };
    match child.tag_name().name() {
        "params" => {
            let params = elements(*child)?;
            let [param] = params.as_slice() else {
                return Err(format!(
                    "a response has exactly one param, got {}",
                    params.len()
                ));
            };
            expect_name(*param, "param")?;
            let values = elements(*param)?;
            let [value] = values.as_slice() else {
                return Err("param must hold exactly one value".into());
            };
            Ok(Ok(decode_value(*value)?))
        }
        "fault" => {
            let values = elements(*child)?;
            let [value] = values.as_slice() else {
                return Err("fault must hold exactly one value".into());
            };
            let Value::Struct(members) = decode_value(*value)? else {
                return Err("fault value must be a struct".into());
            };
            if members.len() != 2 {
                return Err(format!(
                    "fault struct must have exactly 2 members: {members:?}"
                ));
            }
            let code = match members.get("faultCode") {
                Some(Value::Int(code)) => i32::try_from(*code).map_err(|e| e.to_string())?,
                other => return Err(format!("faultCode must be an int, got {other:?}")),
            };
            let message = match members.get("faultString") {
                Some(Value::String(message)) => message.to_string(),
                other => return Err(format!("faultString must be a string, got {other:?}")),
            };
            Ok(Err(Fault::new(code, message)))
        }
        other => Err(format!("unexpected <{other}> in methodResponse")),
    }
}

fn expect_name(node: roxmltree::Node<'_, '_>, name: &str) -> Result<(), String> {
    if node.tag_name().name() == name {
        Ok(())
    } else {
        Err(format!("wanted <{name}>, got <{}>", node.tag_name().name()))
    }
}

/// The element children; non-whitespace text between elements is an error.
fn elements<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
) -> Result<Vec<roxmltree::Node<'a, 'input>>, String> {
    let mut found = Vec::new();
    for child in node.children() {
        if child.is_element() {
            found.push(child);
        } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
            return Err(format!(
                "stray text {:?} in <{}>",
                child.text(),
                node.tag_name().name()
            ));
        }
    }
    Ok(found)
}

fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.children()
        .filter(|child| child.is_text())
        .filter_map(|child| child.text())
        .collect()
}

/// Decodes one `<value>` element.
pub fn decode_value(node: roxmltree::Node<'_, '_>) -> Result<Value, String> {
    expect_name(node, "value")?;
    let children = elements(node)?;
    let typed = match children.as_slice() {
        [] => return Ok(Value::from(text_of(node))),
        [typed] => *typed,
        _ => return Err("value must hold one typed element".into()),
    };
    let text = text_of(typed);
    let value = match typed.tag_name().name() {
        "int" | "i4" => {
            let number: i32 = text
                .parse()
                .map_err(|_| format!("<{}> holds {text:?}", typed.tag_name().name()))?;
            Value::Int(i64::from(number))
        }
        "i8" => Value::Int(text.parse().map_err(|_| format!("<i8> holds {text:?}"))?),
        "boolean" => match text.as_str() {
            "0" => Value::Bool(false),
            "1" => Value::Bool(true),
            _ => return Err(format!("<boolean> must be 0 or 1, got {text:?}")),
        },
        "string" => Value::from(text),
        "double" => {
            let number: f64 = text
                .parse()
                .map_err(|_| format!("<double> holds {text:?}"))?;
            if !number.is_finite() {
                return Err(format!("<double> is not finite: {text:?}"));
            }
            Value::Double(number)
        }
        "dateTime.iso8601" => {
            if text.len() != 17 {
                return Err(format!("dateTime not in compact form: {text:?}"));
            }
            Value::DateTime(
                NaiveDateTime::parse_from_str(&text, "%Y%m%dT%H:%M:%S")
                    .map_err(|_| format!("dateTime not in compact form: {text:?}"))?,
            )
        }
        "base64" => {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            Value::Base64(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| format!("bad base64 {text:?}: {e}"))?,
            )
        }
        "nil" => {
            if !elements(typed)?.is_empty() || !text.trim().is_empty() {
                return Err("<nil/> must be empty".into());
            }
            Value::Nil
        }
        "struct" => {
            let mut members = Struct::default();
            for member in elements(typed)? {
                expect_name(member, "member")?;
                let parts = elements(member)?;
                let [name, value] = parts.as_slice() else {
                    return Err("member must hold <name> and <value>".into());
                };
                expect_name(*name, "name")?;
                if members
                    .insert(text_of(*name).into(), decode_value(*value)?)
                    .is_some()
                {
                    return Err(format!("duplicate member {:?}", text_of(*name)));
                }
            }
            Value::Struct(members)
        }
        "array" => {
            let parts = elements(typed)?;
            let [data] = parts.as_slice() else {
                return Err("array must hold exactly one <data>".into());
            };
            expect_name(*data, "data")?;
            let mut items = Vec::new();
            for item in elements(*data)? {
                items.push(decode_value(item)?);
            }
            Value::Array(items)
        }
        other => return Err(format!("unknown type <{other}>")),
    };
    Ok(value)
}

/// The type tag (local name) of the single result value, e.g. `int` or `i8`.
pub fn result_type_tag(text: &str) -> String {
    let document = roxmltree::Document::parse(text).expect("response parses");
    let value = document
        .descendants()
        .find(|node| node.has_tag_name("value"))
        .expect("a value");
    value.children().find(|node| node.is_element()).map_or_else(
        || "(untyped)".to_owned(),
        |node| node.tag_name().name().to_owned(),
    )
}

/// The text of the first element named `tag` in `text`.
pub fn first_text_of(text: &str, tag: &str) -> Option<String> {
    let document = roxmltree::Document::parse(text).ok()?;
    let node = document.descendants().find(|node| node.has_tag_name(tag))?;
    Some(text_of(node))
}

/// Asserts that `result` is a fault with `code`.
#[track_caller]
pub fn assert_fault(result: &Result<Value, Fault>, code: i32, context: &str) {
    match result {
        Err(fault) => assert_eq!(
            fault.code, code,
            "{context}: wanted fault {code}, got {fault:?}"
        ),
        Ok(value) => panic!("{context}: wanted fault {code}, got result {value:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Servers on a database of the test's choice, credentials, PostgreSQL schemas, the CLI

/// What `groupware serve` printed on stdout before its listening line (first-start
/// messages such as the generated administrator password).
pub struct Startup {
    pub stdout: String,
}

impl Server {
    /// Starts `groupware serve --listen 127.0.0.1:0 --database <database> <args…>` with the
    /// extra environment `envs` (and without any inherited `GROUPWARE_*` variable), and
    /// returns it with what it printed on stdout before listening.
    ///
    /// Unlike [`Server::start`] the database is the caller's: a SQLite file in a directory
    /// the test keeps (so it can restart on it) or a PostgreSQL schema.
    pub fn launch(database: &str, args: &[&str], envs: &[(&str, &str)]) -> (Server, Startup) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_groupware"));
        for (name, _) in std::env::vars() {
            if name.starts_with("GROUPWARE_") {
                command.env_remove(name);
            }
        }
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot run {}: {error}", env!("CARGO_BIN_EXE_groupware"))
        });

        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || drain_into(stderr_pipe, &stderr_sink));
        let stdout_pipe = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout_pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let _ = lines_tx.send(String::from_utf8_lossy(&line).into_owned());
                    }
                }
            }
        });

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut stdout_seen = String::new();
        let url = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(remaining) {
                Ok(line) => {
                    if let Some(at) = line.find(LISTENING) {
                        let url = line[at + LISTENING.len()..].trim().to_owned();
                        assert!(
                            (url.starts_with("http://127.0.0.1:")
                                || url.starts_with("https://127.0.0.1:"))
                                && url.len() > 17,
                            "unexpected listening line {line:?}"
                        );
                        break url;
                    }
                    stdout_seen.push_str(&line);
                }
                Err(error) => {
                    let _ = child.kill();
                    let status = child.wait();
                    let _ = stderr_thread.join();
                    panic!(
                        "groupware did not print {LISTENING:?} ({error:?}, {status:?})\n\
                         --- stdout ---\n{stdout_seen}\n--- stderr ---\n{}",
                        lock(&stderr)
                    );
                }
            }
        };
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .expect("HTTP client");
        let server = Server {
            child,
            url,
            stderr,
            client,
            _dir: dir,
        };
        (
            server,
            Startup {
                stdout: stdout_seen,
            },
        )
    }

    /// POSTs an XML-RPC call to `/xmlrpc` with the given `Authorization` header values
    /// (none, one, or several) and returns the status, headers and the decoded answer.
    /// The body must be a conforming XML-RPC response whatever the status.
    pub fn call_with_authorization(
        &self,
        method: &str,
        params: &[Value],
        authorization: &[&str],
    ) -> (StatusCode, HeaderMap, Result<Value, Fault>) {
        let mut request = self
            .client
            .post(format!("{}/xmlrpc", self.url))
            .header("Content-Type", "text/xml")
            .body(encode_call(method, params));
        for value in authorization {
            request = request.header("Authorization", *value);
        }
        let (status, headers, text) = self.send(request);
        let decoded = parse_response(&text).unwrap_or_else(|error| {
            panic!("the response is not a valid XML-RPC response: {error}\n{text}")
        });
        (status, headers, decoded)
    }

    /// Calls `method` with `Authorization: Basic base64(user:secret)`, asserting HTTP 200.
    pub fn call_as(
        &self,
        user: &str,
        secret: &str,
        method: &str,
        params: &[Value],
    ) -> Result<Value, Fault> {
        let header = basic_authorization(user, secret);
        let (status, _, result) = self.call_with_authorization(method, params, &[&header]);
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} with credentials: {result:?}"
        );
        result
    }

    /// `system.login` with a username and password: `Ok((sessionid, kp3))` or the fault.
    pub fn try_login(&self, username: &str, password: &str) -> Result<(String, String), Fault> {
        let members = Value::structure([
            ("username", Value::from(username)),
            ("password", Value::from(password)),
        ]);
        let value = self.call("system.login", &[members])?;
        let Value::Struct(members) = value else {
            panic!("system.login returned {value:?}")
        };
        let text = |name: &str| match members.get(name) {
            Some(Value::String(text)) => text.to_string(),
            other => panic!("system.login member {name}: {other:?}"),
        };
        assert_eq!(text("domain"), "default");
        Ok((text("sessionid"), text("kp3")))
    }

    /// `system.login` that must succeed.
    #[track_caller]
    pub fn login(&self, username: &str, password: &str) -> (String, String) {
        self.try_login(username, password)
            .unwrap_or_else(|fault| panic!("login as {username} failed: {fault:?}"))
    }
}

/// `Basic base64(user:secret)`.
pub fn basic_authorization(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// Asserts a fault with exactly this code and message.
#[track_caller]
pub fn assert_fault_message(
    result: &Result<Value, Fault>,
    code: i32,
    message: &str,
    context: &str,
) {
    match result {
        Err(fault) => assert_eq!(
            (fault.code, fault.message.as_str()),
            (code, message),
            "{context}"
        ),
        Ok(value) => panic!("{context}: wanted fault {code} {message:?}, got {value:?}"),
    }
}

/// Whether `CI=true`: then missing services fail the run instead of being skipped.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// The PostgreSQL the tests use: `GROUPWARE_TEST_DATABASE_URL`, or the local default.
pub fn postgres_base_url() -> String {
    std::env::var("GROUPWARE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh PostgreSQL schema `gw_test_<random>`, dropped (with everything in it) when the
/// guard is, also while a failing test unwinds.
pub struct PgSchema {
    base_url: String,
    pub name: String,
}

impl PgSchema {
    /// Creates the schema, or returns `None` after a loud SKIPPED line when PostgreSQL is
    /// unreachable (a panic under `CI=true`). `test` names the caller in that line.
    pub fn create(test: &str) -> Option<PgSchema> {
        let base_url = postgres_base_url();
        let token = groupware::crypto::generate_token().expect("random token");
        let name = format!("gw_test_{}", &token[..16]);
        match pg_execute(&base_url, format!("CREATE SCHEMA {name}")) {
            Ok(()) => Some(PgSchema { base_url, name }),
            Err(error) => {
                if on_ci() {
                    panic!("PostgreSQL is required when CI=true but is unreachable: {error}");
                }
                eprintln!(
                    "\n!!!!!!!! SKIPPED {test}: PostgreSQL unreachable at {} (set \
                     GROUPWARE_TEST_DATABASE_URL): {error} !!!!!!!!\n",
                    postgres_base_url()
                );
                None
            }
        }
    }

    /// The server's `--database` URL for this schema.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}schema={}", self.base_url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(error) = pg_execute(&self.base_url, sql) {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// Runs one SQL batch on its own thread and runtime (callers may be inside a runtime).
fn pg_execute(url: &str, sql: String) -> Result<(), String> {
    use deadpool_postgres::tokio_postgres;
    let url = url.to_owned();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(async {
            let mut config: tokio_postgres::Config =
                url.parse().map_err(|error| format!("{error}"))?;
            config.connect_timeout(Duration::from_secs(5));
            let (client, connection) =
                config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|error| {
                        let cause = std::error::Error::source(&error).map(ToString::to_string);
                        format!("{error}: {}", cause.unwrap_or_default())
                    })?;
            let connection = tokio::spawn(connection);
            let result = client
                .batch_execute(&sql)
                .await
                .map_err(|error| error.to_string());
            drop(client);
            let _ = connection.await;
            result
        })
    })
    .join()
    .map_err(|_| "the PostgreSQL helper thread panicked".to_owned())?
}

/// Runs `groupware <args…> --database <database>` to completion (no inherited
/// `GROUPWARE_*` variables), feeding `stdin` if given.
pub fn run_cli(args: &[&str], database: &str, stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_groupware"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GROUPWARE_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .args(["--database", database])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run groupware {args:?}: {error}"));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("groupware CLI output")
}

/// Like [`run_cli`], asserting success; returns stdout.
#[track_caller]
pub fn cli_ok(args: &[&str], database: &str, stdin: Option<&str>) -> String {
    let output = run_cli(args, database, stdin);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "groupware {args:?} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    stdout
}

// Arbitrary requests (JSON-RPC, the documentation page)

impl Server {
    /// Sends `method path` with extra headers and an optional body; returns the status,
    /// headers and body text.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (StatusCode, HeaderMap, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        self.send(request)
    }
}

/// Whether `program --version` runs. Missing, it is a failure under `CI=true` and a loud
/// SKIPPED line (returning false) otherwise; `what` names the skipped test.
pub fn tool_available(program: &str, what: &str) -> bool {
    let available = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        if on_ci() {
            panic!("{program} is required on CI (CI=true) but was not found ({what})");
        }
        eprintln!("\n!!!!!!!! SKIPPED {what}: {program} not found !!!!!!!!\n");
    }
    available
}

/// Sends process `pid` signal `name` (`HUP`, `TERM`, `KILL`, …) with `kill`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}
