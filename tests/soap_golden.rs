//! SOAP golden files, end to end: each `tests/data/soap/NAME.request.xml` is POSTed to a
//! real server (`--demo --enable-interop`) at `/soap`, as `application/soap+xml` when the
//! name contains `.soap12.` and `text/xml` otherwise, and the answer must equal
//! `NAME.response.txt` byte for byte: a first line `HTTP <status> <content type>` (plus
//! ` challenge` when `WWW-Authenticate` is sent), then the body. Run with
//! `UPDATE_EXPECT=1` to rewrite the expectations after an intended change, then review
//! the diff.

mod common;

use std::path::Path;

use common::Server;

#[test]
fn golden_envelopes() {
    let server = Server::start(&["--demo", "--enable-interop"]);
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/soap");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut requests: Vec<_> = std::fs::read_dir(&directory)
        .expect("tests/data/soap exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".request.xml"))
        .collect();
    requests.sort();
    assert!(
        requests.len() >= 20,
        "expected the golden corpus, found {}",
        requests.len()
    );
    let mut failures = Vec::new();
    for request_path in requests {
        let name = request_path.to_string_lossy().into_owned();
        let request = std::fs::read(&request_path).expect("readable request");
        let content_type = if name.contains(".soap12.") {
            "application/soap+xml; charset=utf-8"
        } else {
            "text/xml; charset=utf-8"
        };
        let (status, headers, body) = server.post("/soap", content_type, request);
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let challenge = if headers.contains_key("www-authenticate") {
            " challenge"
        } else {
            ""
        };
        let actual = format!(
            "HTTP {} {}{challenge}\n{body}",
            status.as_u16(),
            header("content-type")
        );
        let response_path = name.replace(".request.xml", ".response.txt");
        if update {
            std::fs::write(&response_path, &actual).expect("writable expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&response_path)
            .unwrap_or_else(|_| panic!("missing {response_path}; run with UPDATE_EXPECT=1"));
        if expected != actual {
            failures.push(format!(
                "{name}\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn wsdl_is_served_in_both_bindings() {
    let server = Server::start(&["--enable-interop"]);
    for (query, style, namespace) in [
        ("?wsdl", "document", "urn:groupware:literal"),
        ("?wsdl=rpc", "rpc", "urn:groupware"),
    ] {
        let (status, headers, body) = server.get(&format!("/soap{query}"));
        assert_eq!(status.as_u16(), 200, "{query}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/xml; charset=utf-8")
        );
        let document = roxmltree::Document::parse(&body).expect("well-formed WSDL");
        assert_eq!(
            document.root_element().attribute("targetNamespace"),
            Some(namespace)
        );
        assert!(body.contains(&format!("style=\"{style}\"")), "{query}");
        assert!(body.contains("name=\"system_login\""), "{query}");
        assert!(
            body.contains("name=\"interop_round2_echoString\""),
            "{query}"
        );
        // Anonymous callers see only the public methods.
        assert!(!body.contains("addressbook_boaddressbook"), "{query}");
    }
    // Without ?wsdl a browser gets the documentation page, as on every RPC endpoint.
    let (status, headers, body) = server.get("/soap");
    assert_eq!(status.as_u16(), 200, "GET without ?wsdl");
    assert!(
        headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html")),
        "GET /soap content type: {headers:?}"
    );
    assert!(body.contains("system.login"), "the page lists the methods");
}

/// The value of the first element named `name` in `text`.
fn element_text(text: &str, name: &str) -> String {
    let document = roxmltree::Document::parse(text).expect("well-formed response");
    document
        .descendants()
        .find(|node| node.tag_name().name() == name)
        .and_then(|node| node.text())
        .unwrap_or_else(|| panic!("no <{name}> in {text}"))
        .to_owned()
}

#[test]
fn a_session_header_block_stands_in_for_basic_auth() {
    let server = Server::start(&["--demo"]);
    let login = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><system_login xmlns="urn:egw"><username>demo</username><password>guest</password></system_login></s:Body></s:Envelope>"#;
    let (status, _, body) = server.post("/soap", "text/xml", login);
    assert_eq!(status.as_u16(), 200, "{body}");
    let (sessionid, kp3) = (element_text(&body, "sessionid"), element_text(&body, "kp3"));
    let listing = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:session xmlns:h="urn:groupware" s:mustUnderstand="1"><h:sessionid>{sessionid}</h:sessionid><h:kp3>{kp3}</h:kp3></h:session></s:Header><s:Body><addressbook_boaddressbook_read_entries xmlns="urn:egw"><params><start>0</start><limit>2</limit></params></addressbook_boaddressbook_read_entries></s:Body></s:Envelope>"#
    );
    let (status, _, body) = server.post("/soap", "text/xml", listing.clone());
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(
        roxmltree::Document::parse(&body)
            .expect("well-formed")
            .descendants()
            .filter(|node| node.tag_name().name() == "n_given")
            .count(),
        2,
        "{body}"
    );
    let logout = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><system_logout xmlns="urn:egw"><sessionid>{sessionid}</sessionid><kp3>{kp3}</kp3></system_logout></s:Body></s:Envelope>"#
    );
    let (status, _, body) = server.post("/soap", "text/xml", logout);
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(element_text(&body, "GOODBYE"), "XOXO");
    let (status, _, body) = server.post("/soap", "text/xml", listing);
    assert_eq!(status.as_u16(), 500, "{body}");
    assert_eq!(element_text(&body, "faultCode"), "1001");
}

#[test]
fn wsdl_with_credentials_lists_the_callers_methods() {
    let server = Server::start(&["--demo"]);
    let (sessionid, kp3) = server.login("demo", "guest");
    let response = reqwest::blocking::Client::new()
        .get(format!("{}/soap?wsdl", server.url()))
        .basic_auth(&sessionid, Some(&kp3))
        .send()
        .expect("WSDL request");
    let body = response.text().expect("WSDL text");
    assert!(body.contains("name=\"addressbook_boaddressbook_read_entries\""));
    assert!(body.contains("<xsd:complexType name=\"Contact\">"));
    assert!(body.contains("name=\"n_given\" type=\"xsd:string\""));
    // The calendar and InfoLog declare their records too.
    for declared in ["Event", "InfologEntry", "InfologLink"] {
        assert!(
            body.contains(&format!("<xsd:complexType name=\"{declared}\">")),
            "{declared} in the WSDL"
        );
    }
    assert!(body.contains("name=\"calendar_bocalendar_write\""));
}
