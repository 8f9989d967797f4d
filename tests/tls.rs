//! HTTPS without a proxy: a certificate made at test time, `system.listMethods` over TLS,
//! and a certificate swapped on `SIGHUP`.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, encode_call, parse_response};
use groupware_api::Value;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA and a leaf for 127.0.0.1 it signed, as PEM: (CA certificate, leaf chain, leaf key).
fn make_certificates(name: &str) -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("groupware test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, format!("groupware test {name}"));
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf certificate");
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn write_pair(dir: &Path, chain: &str, key: &str) {
    // Write to temporary names and rename, as a certificate manager would.
    std::fs::write(dir.join("cert.pem.new"), chain).expect("write certificate");
    std::fs::write(dir.join("key.pem.new"), key).expect("write key");
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).expect("rename");
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).expect("rename");
}

/// A client that trusts only `ca_pem`.
fn client_trusting(ca_pem: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .use_rustls_tls()
        .https_only(true)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTPS client")
}

fn list_methods(client: &reqwest::blocking::Client, url: &str) -> Result<Value, String> {
    let response = client
        .post(format!("{url}/xmlrpc"))
        .header("Content-Type", "text/xml")
        .body(encode_call("system.listMethods", &[]))
        .send()
        .map_err(|error| format!("{error:?}"))?;
    let text = response.text().map_err(|error| error.to_string())?;
    parse_response(&text)?.map_err(|fault| format!("{fault:?}"))
}

fn start_tls(dir: &Path) -> Server {
    let database = format!("sqlite://{}", dir.join("gw.db").display());
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (server, _) = Server::launch(
        &database,
        &[
            "--demo",
            "--session-pin-ip",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &[],
    );
    assert!(server.url().starts_with("https://"), "{}", server.url());
    server
}

#[test]
fn serves_xmlrpc_over_https() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (ca, chain, key) = make_certificates("one");
    write_pair(dir.path(), &chain, &key);
    let server = start_tls(dir.path());
    let methods = list_methods(&client_trusting(&ca), server.url()).expect("listMethods");
    let Value::Array(names) = methods else {
        panic!("not an array: {methods:?}")
    };
    assert!(names.contains(&Value::from("system.listMethods")));

    // A session over TLS: the login's client address reaches the throttle and the
    // --session-pin-ip check through our own accept loop.
    let client = client_trusting(&ca);
    let login = client
        .post(format!("{}/xmlrpc", server.url()))
        .header("Content-Type", "text/xml")
        .body(encode_call(
            "system.login",
            &[Value::Struct(
                [
                    ("username".into(), Value::from("demo")),
                    ("password".into(), Value::from("guest")),
                ]
                .into_iter()
                .collect(),
            )],
        ))
        .send()
        .and_then(reqwest::blocking::Response::text)
        .expect("login over TLS");
    let Ok(Ok(Value::Struct(tokens))) = parse_response(&login) else {
        panic!("{login}")
    };
    let (Some(Value::String(sessionid)), Some(Value::String(kp3))) =
        (tokens.get("sessionid"), tokens.get("kp3"))
    else {
        panic!("{login}")
    };
    let apps = client
        .post(format!("{}/xmlrpc", server.url()))
        .header("Content-Type", "text/xml")
        .basic_auth(sessionid, Some(kp3))
        .body(encode_call("system.listApps", &[]))
        .send()
        .and_then(reqwest::blocking::Response::text)
        .expect("call over TLS");
    assert!(matches!(parse_response(&apps), Ok(Ok(_))), "{apps}");
    let database = format!("sqlite://{}", dir.path().join("gw.db").display());
    let sessions = common::cli_ok(&["session", "list"], &database, None);
    assert!(
        sessions.contains("127.0.0.1"),
        "login address recorded: {sessions}"
    );

    // Plain HTTP on the TLS port gets no answer, and the server keeps serving.
    let plain = server.url().replacen("https://", "http://", 1);
    let refused = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
        .get(format!("{plain}/healthz"))
        .send();
    assert!(refused.is_err(), "{refused:?}");
    let health = client_trusting(&ca)
        .get(format!("{}/healthz", server.url()))
        .send()
        .expect("healthz over TLS");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (old_ca, chain, key) = make_certificates("old");
    write_pair(dir.path(), &chain, &key);
    let server = start_tls(dir.path());
    list_methods(&client_trusting(&old_ca), server.url()).expect("old certificate served");

    let (new_ca, chain, key) = make_certificates("new");
    write_pair(dir.path(), &chain, &key);
    // Not yet: the files changed, the server has not been told.
    assert!(list_methods(&client_trusting(&new_ca), server.url()).is_err());
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match list_methods(&client_trusting(&new_ca), server.url()) {
            Ok(_) => break,
            Err(error) if Instant::now() > deadline => {
                panic!(
                    "new certificate not served after SIGHUP: {error}\n{}",
                    server.stderr()
                )
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
    assert!(
        list_methods(&client_trusting(&old_ca), server.url()).is_err(),
        "the old certificate is gone"
    );
    assert!(server.stderr().contains("TLS certificate reloaded"));

    // A broken file on the next SIGHUP keeps the certificate in use.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.stderr().contains("not reloaded") {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        thread::sleep(Duration::from_millis(100));
    }
    list_methods(&client_trusting(&new_ca), server.url()).expect("still the new certificate");
}
