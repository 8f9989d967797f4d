//! Real SOAP toolkits against the real server binary: PHP SoapClient (without WSDL and
//! with the rpc/encoded WSDL), Perl SOAP::Lite (no WSDL), suds (rpc/encoded WSDL), zeep and
//! node-soap (document/literal WSDL). Each drives login → addressbook listing → create →
//! read → delete → logout with a script under `tests/clients/`.
//!
//! A missing toolkit prints a loud SKIPPED line, except under `CI=true`, where it fails
//! the test (`.ci/run` installs them all).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{Server, on_ci};

fn clients_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "clients"]
        .iter()
        .collect()
}

/// Whether `probe` runs successfully: the toolkit is installed.
fn available(toolkit: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        assert!(
            !on_ci(),
            "{toolkit} is required on CI (CI=true) but is not installed; see .ci/run"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: {toolkit} is not installed; its SOAP test was not run !!!!!!!!\n"
        );
    }
    ok
}

/// Runs `program args… BASE_URL` against a fresh `--demo` server and asserts success.
fn run_client(program: &str, args: &[PathBuf]) {
    let server = Server::start(&["--demo"]);
    let output = Command::new(program)
        .args(args)
        .arg(server.url())
        .current_dir(clients_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- {program} {args:?} stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}); its output is above.\n--- server stderr ---\n{}",
        output.status,
        server.stderr()
    );
}

#[test]
fn php_soapclient_with_and_without_wsdl() {
    if !available(
        "php with the soap extension (php-cli php-soap)",
        Command::new("php").args(["-r", "exit(class_exists('SoapClient') ? 0 : 1);"]),
    ) {
        return;
    }
    run_client("php", &[clients_dir().join("soap/php_client.php")]);
}

#[test]
fn perl_soap_lite_without_wsdl() {
    if !available(
        "Perl SOAP::Lite (libsoap-lite-perl)",
        Command::new("perl").args(["-MSOAP::Lite", "-e", "1"]),
    ) {
        return;
    }
    run_client("perl", &[clients_dir().join("soap/soaplite_client.pl")]);
}

#[test]
fn suds_with_the_rpc_encoded_wsdl() {
    if !available(
        "Python suds (pip install suds)",
        Command::new("python3").args(["-c", "import suds.client"]),
    ) {
        return;
    }
    run_client("python3", &[clients_dir().join("soap/suds_client.py")]);
}

#[test]
fn zeep_with_the_document_literal_wsdl() {
    if !available(
        "Python zeep (pip install zeep)",
        Command::new("python3").args(["-c", "import zeep"]),
    ) {
        return;
    }
    run_client("python3", &[clients_dir().join("soap/zeep_client.py")]);
}

#[test]
fn node_soap_with_the_document_literal_wsdl() {
    if !available(
        "node-soap (npm ci in tests/clients/node)",
        Command::new("node")
            .args(["-e", "require('soap')"])
            .current_dir(clients_dir().join("node")),
    ) {
        return;
    }
    run_client("node", &[clients_dir().join("node/soap_client.js")]);
}
