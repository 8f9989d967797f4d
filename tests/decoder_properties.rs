//! A short, bounded fuzz run of every decoder of untrusted input inside the normal test
//! suite (the long runs are the cargo-fuzz targets in `fuzz/`): arbitrary bytes and
//! damaged copies of the fuzz seed corpus never panic, and each input is decoded quickly.
//!
//! `jsonrpc_roundtrip.rs` and `soap_roundtrip.rs` hold further properties of those codecs.

use std::path::Path;
use std::time::{Duration, Instant};

use groupware::codec::soap::decode as soap;
use groupware::codec::{XmlLimits, jsonrpc, xmlrpc};
use groupware::credentials::{Credentials, parse_authorization};
use proptest::prelude::*;

/// One input may take this long even in a debug build; a runaway would take far longer.
const PER_INPUT: Duration = Duration::from_secs(2);

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// A seed damaged the way fuzzers do: bytes overwritten, a range cut out, a range doubled.
fn damaged(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    let count = seeds.len();
    (
        0..count,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..3_u8,
    )
        .prop_map(move |(which, edits, start, end, shape)| {
            let mut bytes = seeds[which].clone();
            if bytes.is_empty() {
                return bytes;
            }
            for (at, byte) in edits {
                let index = at.index(bytes.len());
                bytes[index] = byte;
            }
            let (a, b) = (start.index(bytes.len()), end.index(bytes.len()));
            let (low, high) = (a.min(b), a.max(b));
            match shape {
                0 => bytes.drain(low..high).for_each(drop),
                1 => {
                    let copy = bytes[low..high].to_vec();
                    bytes.splice(high..high, copy);
                }
                _ => {}
            }
            bytes
        })
}

fn timed(what: &str, run: impl FnOnce()) {
    let started = Instant::now();
    run();
    let took = started.elapsed();
    assert!(took < PER_INPUT, "{what} took {took:?}");
}

fn xmlrpc_decodes_or_faults(body: &[u8]) {
    timed("XML-RPC decode", || {
        if let Ok(call) = xmlrpc::decode_call(body, &XmlLimits::default()) {
            for param in &call.params {
                let _ = xmlrpc::encode_response(param);
            }
        }
    });
}

fn soap_decodes_or_faults(body: &[u8]) {
    timed("SOAP decode", || {
        let limits = XmlLimits::default();
        let _ = soap::decode_request(body, Some("text/xml"), &limits);
        let _ = soap::decode_request(body, Some("application/soap+xml"), &limits);
    });
}

fn jsonrpc_decodes_or_faults(body: &[u8]) {
    timed("JSON-RPC decode", || {
        let _ = jsonrpc::decode_body(body);
    });
}

fn authorization_parses(value: &[u8]) {
    if let Credentials::Basic { user, secret } = parse_authorization([value]) {
        assert!(!user.is_empty() && !secret.is_empty());
    }
    assert_ne!(parse_authorization([value, value]), Credentials::Absent);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn xmlrpc_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        xmlrpc_decodes_or_faults(&body);
    }

    #[test]
    fn xmlrpc_damaged_seeds(body in damaged("xmlrpc_decode")) {
        xmlrpc_decodes_or_faults(&body);
    }

    #[test]
    fn soap_damaged_seeds(body in damaged("soap_decode")) {
        soap_decodes_or_faults(&body);
    }

    #[test]
    fn jsonrpc_damaged_seeds(body in damaged("jsonrpc_decode")) {
        jsonrpc_decodes_or_faults(&body);
    }

    #[test]
    fn authorization_arbitrary_bytes(value in proptest::collection::vec(any::<u8>(), 0..256)) {
        authorization_parses(&value);
    }

    #[test]
    fn authorization_damaged_seeds(value in damaged("authorization")) {
        authorization_parses(&value);
    }
}

/// Every seed itself decodes without trouble (and the XML-RPC seeds decode to calls).
#[test]
fn seeds_decode() {
    for seed in seeds("xmlrpc_decode") {
        xmlrpc_decodes_or_faults(&seed);
    }
    for seed in seeds("soap_decode") {
        soap_decodes_or_faults(&seed);
    }
    for seed in seeds("jsonrpc_decode") {
        jsonrpc_decodes_or_faults(&seed);
    }
    for seed in seeds("authorization") {
        authorization_parses(&seed);
    }
}
