//! The documentation page: served on `/` and on GET of every RPC endpoint, generated from
//! the registry, showing each caller what they may call, and rendered by a real browser
//! (headless Chromium).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, basic_authorization, on_ci};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

/// The browser binaries tried, Debian's name first.
const BROWSERS: &[&str] = &["chromium", "chromium-browser", "google-chrome"];

fn page(server: &Server, path: &str, auth: Option<&str>) -> String {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    let (status, response_headers, body) = server.request("GET", path, &headers, None);
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    let header = |name: &str| {
        response_headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert!(header("content-security-policy").starts_with("default-src 'none'"));
    body
}

/// The methods `system.listMethods` returns for these credentials (over JSON-RPC).
fn listed_methods(server: &Server, auth: Option<&str>) -> Vec<String> {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let body = json!({"jsonrpc": "2.0", "method": "system.listMethods", "id": 1}).to_string();
    let (_, _, text) = server.request("POST", "/jsonrpc", &headers, Some(body.into_bytes()));
    let reply: Json = serde_json::from_str(&text).expect("JSON");
    reply["result"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|name| name.as_str().expect("a name").to_owned())
        .collect()
}

fn documented(html: &str) -> Vec<String> {
    html.split("data-method=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn signed_in_page_documents_exactly_what_the_user_may_call() {
    let server = Server::start(&["--demo"]);
    let auth = basic_authorization("demo", "guest");
    let html = page(&server, "/", Some(&auth));
    let mut expected = listed_methods(&server, Some(&auth));
    expected.sort();
    let mut shown = documented(&html);
    shown.sort();
    assert_eq!(
        shown, expected,
        "the page shows every method the user may call"
    );
    assert!(shown.contains(&"addressbook.boaddressbook.read_entries".to_owned()));
    assert!(html.contains("Signed in as <strong>demo</strong>"));
    // Every endpoint serves the same page.
    for path in ["/xmlrpc", "/xmlrpc.php", "/jsonrpc"] {
        assert_eq!(page(&server, path, Some(&auth)), html, "{path}");
    }
}

#[test]
fn anonymous_page_shows_public_methods_and_names_the_rest() {
    let server = Server::start(&["--demo"]);
    let html = page(&server, "/", None);
    let mut shown = documented(&html);
    shown.sort();
    let mut public = listed_methods(&server, None);
    public.sort();
    assert_eq!(shown, public, "public methods are documented in full");
    assert!(html.contains("<li><code>addressbook.boaddressbook.read_entries</code></li>"));
    assert!(html.contains("Log in"));
    // Refused credentials fall back to the anonymous view, without a challenge.
    let wrong = basic_authorization("demo", "wrong");
    let refused = page(&server, "/", Some(&wrong));
    assert!(refused.contains("were not accepted"));
    assert_eq!(documented(&refused), documented(&html));
}

#[test]
fn page_is_self_contained_and_escaped() {
    let server = Server::start(&["--demo", "--enable-interop"]);
    let html = page(&server, "/", None);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    for forbidden in ["<script", "<link", "src=", "<iframe", "@import"] {
        assert!(!html.contains(forbidden), "{forbidden} in the page");
    }
    assert!(html.contains("data-method=\"validator1.echoStructTest\""));
    // Examples for every protocol, with the host the client used.
    for needle in [
        "import xmlrpc.client",
        "-H &#39;Content-Type: text/xml&#39;",
        "-H &#39;Content-Type: application/json&#39;",
        "soap:Envelope",
        &format!("{}/soap", server.url()),
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let (status, headers, _) = server.request("POST", "/", &[("Content-Type", "text/xml")], None);
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
}

/// Loads the page in headless Chromium and checks the rendered DOM lists the methods.
#[test]
fn page_renders_in_headless_chromium() {
    let Some(browser) = BROWSERS.iter().copied().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }) else {
        assert!(
            !on_ci(),
            "chromium is required on CI (CI=true) but was not found (apt-get install chromium)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED page_renders_in_headless_chromium: chromium not found !!!!!!!!\n"
        );
        return;
    };
    let server = Server::start(&["--demo"]);
    let profile = tempfile::tempdir().expect("profile directory");
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("{}/", server.url()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read the output on another thread, so a large DOM never blocks on a full pipe.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("chromium output"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("chromium did not finish within two minutes");
        }
    };
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut shown = documented(&dom);
    shown.sort();
    let mut public = listed_methods(&server, None);
    public.sort();
    assert_eq!(
        shown, public,
        "the browser rendered every public method:\n{dom}"
    );
    assert!(dom.contains("<title>groupware remote API</title>"));
    assert!(dom.contains("addressbook.boaddressbook.read_entries"));
}
