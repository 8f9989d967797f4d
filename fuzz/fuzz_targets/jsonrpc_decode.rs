//! Any bytes posted to `/jsonrpc`: the body (single request or batch) decodes to calls
//! each carrying their own fault, or to one fault, never a panic or runaway.
#![no_main]

use groupware::codec::jsonrpc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jsonrpc::decode_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let (method, rest) = text.split_once('&').unwrap_or((text, ""));
        let (params, id) = rest.split_once('&').unwrap_or((rest, ""));
        let _ = jsonrpc::decode_get(Some(method), Some(params), Some(id));
    }
});
