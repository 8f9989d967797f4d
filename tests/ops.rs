//! Operations endpoints and logs, against the real binary: `/healthz`, `/readyz` (also
//! while the database is unreachable), `/metrics` (with and without its token), structured
//! JSON logs without secrets, and `groupware config`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{PgSchema, Server, basic_authorization, postgres_base_url, run_cli};
use groupware_api::Value;
use reqwest::StatusCode;

fn metrics_line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|line| line.starts_with(prefix))
}

#[test]
fn health_ready_and_metrics() {
    let server = Server::start(&["--demo"]);
    let (status, _, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, _, body) = server.get("/readyz");
    assert_eq!(status, StatusCode::OK, "{body}");

    let (sessionid, kp3) = server.login("demo", "guest");
    server
        .call_as(&sessionid, &kp3, "system.listMethods", &[])
        .expect("listMethods");
    assert!(server.try_login("demo", "wrong password").is_err());
    assert!(server.call("no.such.method.anywhere", &[]).is_err());
    let (status, _, _) = server.request(
        "POST",
        "/jsonrpc",
        &[("Content-Type", "application/json")],
        Some(br#"{"jsonrpc":"2.0","method":"system.time","id":1}"#.to_vec()),
    );
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.post("/xmlrpc", "text/xml", "<not-xml");
    assert_eq!(status, StatusCode::OK);

    let (status, headers, text) = server.get("/metrics");
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        headers["content-type"]
            .to_str()
            .is_ok_and(|value| value.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    for expected in [
        "groupware_calls_total{protocol=\"xmlrpc\",method=\"system.listMethods\"} 1",
        "groupware_calls_total{protocol=\"xmlrpc\",method=\"system.login\"} 2",
        "groupware_calls_total{protocol=\"jsonrpc\",method=\"system.time\"} 1",
        "groupware_calls_total{protocol=\"xmlrpc\",method=\"(unknown)\"} 1",
        "groupware_call_faults_total{protocol=\"xmlrpc\",method=\"(unknown)\",code=\"-32601\"} 1",
        "groupware_call_faults_total{protocol=\"xmlrpc\",method=\"(undecoded)\",code=\"-32700\"} 1",
        "groupware_call_duration_seconds_bucket{protocol=\"xmlrpc\",method=\"system.listMethods\",le=\"+Inf\"} 1",
        "groupware_call_duration_seconds_count{protocol=\"xmlrpc\",method=\"system.login\"} 2",
        "groupware_login_failures_total 1",
        "groupware_active_sessions 1",
    ] {
        assert!(
            text.lines().any(|line| line == expected),
            "{expected}\n{text}"
        );
    }
    assert!(!text.contains("no.such.method"), "{text}");
    // SQLite: one connection per CPU the server may use, from 2 to 8.
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let pool = format!("groupware_db_pool_max_connections {}", cpus.clamp(2, 8));
    assert!(text.lines().any(|line| line == pool), "{pool}\n{text}");
    let available =
        metrics_line(&text, "groupware_db_pool_available_connections ").expect("pool gauge");
    assert!(available.ends_with(char::is_numeric), "{available}");
    // Only PostgreSQL holds connections for reads to share.
    let shared = "groupware_db_pool_shared_connections 0";
    assert!(text.lines().any(|line| line == shared), "{shared}\n{text}");
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(value.parse::<f64>().is_ok(), "bad sample {line:?}");
    }

    let (status, _, _) = server.request("POST", "/healthz", &[], Some(Vec::new()));
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn sighup_without_tls_does_not_stop_the_server() {
    let mut server = Server::start(&[]);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("no TLS certificate to reload") {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        thread::sleep(Duration::from_millis(50));
    }
    server.assert_alive();
    let (status, _, _) = server.get("/healthz");
    assert_eq!(status, StatusCode::OK);
}

/// A SIGTERM as soon as the server has announced its address still drains and exits
/// cleanly: the handler is installed before the announcement, not by the accept loop.
#[test]
fn sigterm_right_after_start_is_a_clean_shutdown() {
    let mut server = Server::start(&[]);
    server.signal("TERM");
    let exit = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits");
    assert!(exit.success(), "{exit:?}\n{}", server.stderr());
}

#[test]
fn metrics_token_protects_only_metrics() {
    let server = Server::start(&["--metrics-token", "scrape-me-0123"]);
    let (status, _, _) = server.get("/metrics");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = server.request(
        "GET",
        "/metrics",
        &[("Authorization", "Bearer wrong")],
        None,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, text) = server.request(
        "GET",
        "/metrics",
        &[("Authorization", "Bearer scrape-me-0123")],
        None,
    );
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("groupware_login_failures_total 0"), "{text}");
    let (status, _, _) = server.get("/healthz");
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.get("/readyz");
    assert_eq!(status, StatusCode::OK);
}

/// A TCP forwarder the test can cut: while closed it drops new connections at once and
/// has shut every open one, so the database looks unreachable to the server.
struct Cuttable {
    address: String,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Cuttable {
    fn start(target: String) -> Cuttable {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind forwarder");
        let address = listener.local_addr().expect("address").to_string();
        let open = Arc::new(AtomicBool::new(true));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (accept_open, accept_streams) = (Arc::clone(&open), Arc::clone(&streams));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !accept_open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut held = accept_streams.lock().unwrap_or_else(|p| p.into_inner());
                for stream in [&client, &upstream] {
                    if let Ok(clone) = stream.try_clone() {
                        held.push(clone);
                    }
                }
                drop(held);
                pipe(&client, &upstream);
                pipe(&upstream, &client);
            }
        });
        Cuttable {
            address,
            open,
            streams,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let mut held = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for stream in held.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if to.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// `host:port` of a `postgres://user@host:port/db…` URL.
fn host_port(url: &str) -> (usize, usize) {
    let start = url
        .find('@')
        .map_or_else(|| url.find("://").map_or(0, |at| at + 3), |at| at + 1);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |at| start + at);
    (start, end)
}

fn wait_for_status(server: &Server, path: &str, want: StatusCode) -> (StatusCode, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = server.get(path);
        if status == want || Instant::now() > deadline {
            return (status, body);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn readyz_fails_while_the_database_is_unreachable() {
    let Some(schema) = PgSchema::create("readyz_fails_while_the_database_is_unreachable") else {
        return;
    };
    let url = schema.url();
    let (start, end) = host_port(&url);
    let target = url[start..end].to_owned();
    assert!(
        target.contains(':'),
        "{} needs an explicit port",
        postgres_base_url()
    );
    let forwarder = Cuttable::start(target);
    let proxied = format!("{}{}{}", &url[..start], forwarder.address, &url[end..]);
    let (server, _) = Server::launch(&proxied, &[], &[]);
    let (status, body) = wait_for_status(&server, "/readyz", StatusCode::OK);
    assert_eq!(status, StatusCode::OK, "{body}");

    forwarder.cut();
    let started = Instant::now();
    let (status, _, body) = server.get("/readyz");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("not ready"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "readyz took {:?}",
        started.elapsed()
    );
    let (status, _, _) = server.get("/healthz");
    assert_eq!(
        status,
        StatusCode::OK,
        "the process itself is still healthy"
    );

    forwarder.restore();
    let (status, body) = wait_for_status(&server, "/readyz", StatusCode::OK);
    assert_eq!(status, StatusCode::OK, "ready again once reachable: {body}");
}

#[test]
fn json_logs_name_the_call_and_never_a_secret() {
    let server = Server::start(&["--demo", "--log-format", "json"]);
    let (sessionid, kp3) = server.login("demo", "guest");
    server
        .call_as(&sessionid, &kp3, "system.listApps", &[])
        .expect("listApps");
    let (status, _, _) = server.request(
        "POST",
        "/jsonrpc",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &basic_authorization("demo", "guest")),
        ],
        Some(br#"{"jsonrpc":"2.0","method":"system.time","id":1}"#.to_vec()),
    );
    assert_eq!(status, StatusCode::OK);
    let _ = server.call(
        "system.login",
        &[Value::Struct(
            [
                ("username".into(), Value::from("demo")),
                ("password".into(), Value::from("not-the-password-x7")),
            ]
            .into_iter()
            .collect(),
        )],
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = server.stderr();
        // The failed login is the last call; its line may reach stderr after its reply.
        let failed_login_logged = logs
            .lines()
            .any(|line| line.contains("system.login") && line.contains("\"fault\""));
        if (logs.contains("system.time") && failed_login_logged) || Instant::now() > deadline {
            break logs;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let mut calls = Vec::new();
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let record: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
        if record["fields"]["message"] == "call" {
            calls.push(record);
        }
    }
    let find = |method: &str| {
        calls
            .iter()
            .find(|record| record["fields"]["method"] == method)
            .unwrap_or_else(|| panic!("no call line for {method}:\n{logs}"))
    };
    let list_apps = find("system.listApps");
    assert_eq!(list_apps["fields"]["user"], "demo", "{list_apps}");
    assert_eq!(list_apps["fields"]["protocol"], "xmlrpc");
    assert!(list_apps["fields"]["duration_ms"].is_number());
    assert!(
        list_apps["span"]["id"].is_string(),
        "request id: {list_apps}"
    );
    let time = find("system.time");
    assert_eq!(time["fields"]["protocol"], "jsonrpc");
    assert_eq!(time["fields"]["user"], "demo");
    assert!(
        calls
            .iter()
            .any(|record| record["fields"]["method"] == "system.login"
                && record["fields"]["fault"].is_number()),
        "{logs}"
    );
    assert!(logs.contains("\"message\":\"request\""), "{logs}");
    for secret in [
        sessionid.as_str(),
        kp3.as_str(),
        "guest",
        "not-the-password-x7",
    ] {
        assert!(!logs.contains(secret), "secret {secret:?} logged:\n{logs}");
    }
}

#[test]
fn config_prints_every_setting_with_secrets_masked() {
    let output = run_cli(
        &["config", "--metrics-token", "tok-3141"],
        "postgres://gw:hunter2-db@db.example:5432/gw",
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout
            .lines()
            .any(|line| line == "GROUPWARE_DATABASE_URL=postgres://gw:********@db.example:5432/gw"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|line| line == "GROUPWARE_METRICS_TOKEN=********")
    );
    assert!(
        stdout
            .lines()
            .any(|line| line == "GROUPWARE_LISTEN=127.0.0.1:8080")
    );
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("tok-3141"),
        "{stdout}"
    );

    // `.env.example` documents exactly the settings `groupware config` prints.
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example"))
        .expect(".env.example");
    let documented: std::collections::BTreeSet<&str> = example
        .lines()
        .map(|line| line.trim_start_matches('#').trim())
        .filter(|line| line.starts_with("GROUPWARE_"))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    let printed: std::collections::BTreeSet<&str> = stdout
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    assert_eq!(documented, printed);
}
