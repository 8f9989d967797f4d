//! Any `Authorization` header value (one or two of them): absent, malformed or Basic
//! credentials, never a panic.
#![no_main]

use groupware::credentials::{Credentials, parse_authorization};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let one = parse_authorization([data]);
    if let Credentials::Basic { user, secret } = &one {
        assert!(!user.is_empty() && !secret.is_empty());
    }
    let (first, second) = data.split_at(data.len() / 2);
    assert_ne!(parse_authorization([first, second]), Credentials::Absent);
});
