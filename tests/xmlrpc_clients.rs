//! Real XML-RPC clients against the real server binary.
//!
//! Each client is a script under `tests/clients/` that exits non-zero and names what failed;
//! these tests start the server with `--enable-interop`, run the script against it and show
//! its output.

mod common;

use std::process::Output;

use common::Server;

/// Prints a script's output (shown by the test harness on failure or with `--nocapture`)
/// and asserts it succeeded.
fn assert_script_passed(script: &str, output: &Output, server: &Server) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- {script} stdout ---\n{stdout}");
    println!("--- {script} stderr ---\n{stderr}");
    assert!(
        output.status.success(),
        "{script} failed ({}); its output is above.\n--- server stderr ---\n{}",
        output.status,
        server.stderr()
    );
}

#[test]
fn python_xmlrpc_client_suite() {
    let server = Server::start(&["--enable-interop"]);
    // A fixed seed can be given to reproduce a failing run: GROUPWARE_TEST_SEED=1234.
    let seed = std::env::var("GROUPWARE_TEST_SEED").unwrap_or_default();
    let args: Vec<&str> = if seed.is_empty() {
        vec![]
    } else {
        vec![seed.as_str()]
    };
    let Some(output) = server.python("xmlrpc_python.py", &args) else {
        return;
    };
    assert_script_passed("xmlrpc_python.py", &output, &server);
}
