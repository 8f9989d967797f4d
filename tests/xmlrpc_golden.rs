//! Codec golden files: `tests/data/xmlrpc/NAME.request.xml` is decoded, and the call's
//! parameters (or the fault) are encoded back as a response, which must equal
//! `NAME.response.xml` byte for byte. Run with `UPDATE_EXPECT=1` to rewrite the
//! expectations after an intended change, then review the diff.

use std::path::Path;

use groupware::codec::{XmlLimits, xmlrpc};
use groupware_api::Value;

fn render(request: &[u8]) -> String {
    match xmlrpc::decode_call(request, &XmlLimits::default()) {
        Ok(call) => {
            let echoed = Value::structure([
                ("method", Value::from(call.method)),
                ("params", Value::Array(call.params)),
            ]);
            xmlrpc::encode_response(&echoed).unwrap_or_else(|fault| xmlrpc::encode_fault(&fault))
        }
        Err(fault) => xmlrpc::encode_fault(&fault),
    }
}

#[test]
fn golden_pairs() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/xmlrpc");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut requests: Vec<_> = std::fs::read_dir(&directory)
        .expect("tests/data/xmlrpc exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".request.xml"))
        .collect();
    requests.sort();
    assert!(
        requests.len() >= 15,
        "expected the golden corpus, found {}",
        requests.len()
    );
    let mut failures = Vec::new();
    for request_path in requests {
        let request = std::fs::read(&request_path).expect("readable request");
        let actual = render(&request);
        let response_path = request_path
            .to_string_lossy()
            .replace(".request.xml", ".response.xml");
        if update {
            std::fs::write(&response_path, &actual).expect("writable expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&response_path)
            .unwrap_or_else(|_| panic!("missing {response_path}; run with UPDATE_EXPECT=1"));
        if expected != actual {
            failures.push(format!(
                "{}\n--- expected\n{expected}\n--- actual\n{actual}",
                request_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n\n")
    );
}
